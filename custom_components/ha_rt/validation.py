"""Checks that an RT server, API token, queue and catalog are ready for the integration.

The config flow runs them before it creates or changes a config entry, and entry setup
runs them again, so both report a problem the same way. The order is fixed: URL syntax
and HTTPS, the address policy, reachability and the token, the queue, the catalog, and
last the custom fields applied to both.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Final

from homeassistant.util.ssl import get_default_context, get_default_no_verify_context

from .const import ASSET_CUSTOM_FIELDS, TICKET_CUSTOM_FIELDS
from .net import (
    UnsafeURLError,
    create_guarded_session,
    resolve_and_check,
    validate_url,
)
from .rt import (
    RTAPIError,
    RTAuthenticationError,
    RTClient,
    RTConnectionError,
    RTInvalidResponseError,
    RTNotFoundError,
    RTPermissionError,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from ssl import SSLContext

    from aiohttp import ClientSession
    from yarl import URL

    from .data import EntrySettings
    from .rt import Catalog, Queue, ServerInfo

# Seconds to wait for one RT response while checking or while the entry runs.
REQUEST_TIMEOUT: Final = 15.0

# Users often paste the REST2 address from RT's documentation, but the client appends
# /REST/2.0 itself.
_REST2_SUFFIX: Final = re.compile(r"/REST/2\.0/*$", re.IGNORECASE)


class CheckFailure(StrEnum):
    """Cause of a failed check, whose value is an error key of the config flow translations."""

    INVALID_URL = "invalid_url"
    CANNOT_CONNECT = "cannot_connect"
    NOT_RT_SERVER = "not_rt_server"
    INVALID_AUTH = "invalid_auth"
    QUEUE_NOT_FOUND = "queue_not_found"
    CATALOG_NOT_FOUND = "catalog_not_found"
    MISSING_CUSTOM_FIELDS = "missing_custom_fields"


class RTCheckError(Exception):
    """A check failed for a reason the user can fix.

    `token_rejected` is True only when RT responded with 401, the one status that means
    the token itself is bad and a new one is needed.
    """

    def __init__(
        self,
        failure: CheckFailure,
        message: str,
        *,
        token_rejected: bool = False,
        missing: MissingCustomFields | None = None,
    ) -> None:
        """Store the failure, a message for the log and the missing custom fields."""
        super().__init__(message)
        self.failure = failure
        self.token_rejected = token_rejected
        self.missing = missing


@dataclass(frozen=True, slots=True)
class MissingCustomFields:
    """Custom fields the integration needs that RT does not show on the queue or catalog."""

    queue: str
    ticket_fields: tuple[str, ...]
    catalog: str
    asset_fields: tuple[str, ...]

    def __bool__(self) -> bool:
        """Return whether any custom field is missing."""
        return bool(self.ticket_fields or self.asset_fields)

    def describe(self) -> str:
        """List the missing names per RT object, for example "Facilities: Area, Address"."""
        parts = []
        if self.ticket_fields:
            parts.append(f"{self.queue}: {', '.join(self.ticket_fields)}")
        if self.asset_fields:
            parts.append(f"{self.catalog}: {', '.join(self.asset_fields)}")
        return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class RTCheckResult:
    """Records RT returned during passed checks, and the custom fields RT does not show."""

    server: ServerInfo
    queue: Queue
    catalog: Catalog
    missing: MissingCustomFields


def normalize_rt_url(url: str, *, allow_private_network: bool) -> str:
    """Return the RT web URL as a config entry stores it, after the syntax and HTTPS checks.

    The result is lower-case in scheme and host, without a trailing slash, a default
    port or a /REST/2.0 suffix.

    Raises:
        RTCheckError: INVALID_URL, with the reason from the address policy.

    """
    without_suffix = _REST2_SUFFIX.sub("", url.strip())
    try:
        normalized = validate_url(without_suffix, allow_private_network=allow_private_network)
    except UnsafeURLError as err:
        raise RTCheckError(CheckFailure.INVALID_URL, str(err)) from err
    return str(normalized)


def config_entry_unique_id(url: str, queue: str) -> str:
    """Return the unique ID of the config entry for a normalized RT URL and a queue name."""
    return f"{url}|{queue}"


def ssl_context(*, verify_ssl: bool) -> SSLContext:
    """Return Home Assistant's shared client SSL context, verifying or not."""
    if verify_ssl:
        return get_default_context()
    return get_default_no_verify_context()


def create_rt_session(settings: EntrySettings) -> ClientSession:
    """Create an aiohttp session that enforces the address policy on every connection.

    The caller closes the session.
    """
    return create_guarded_session(
        allow_private_network=settings.allow_private_network,
        verify_ssl=settings.verify_ssl,
        ssl_context=get_default_context(),
    )


def create_rt_client(session: ClientSession, settings: EntrySettings) -> RTClient:
    """Create the RT client for a config entry's settings on a session from create_rt_session."""
    return RTClient(
        session,
        settings.url,
        settings.token,
        request_timeout=REQUEST_TIMEOUT,
        ssl=ssl_context(verify_ssl=settings.verify_ssl),
    )


async def async_validate_settings(settings: EntrySettings) -> RTCheckResult:
    """Run every check for settings whose URL came from normalize_rt_url.

    Opens a session for the checks only and closes it again. Unlike async_check_rt,
    a missing custom field is an error here.

    Raises:
        RTCheckError: a check failed for a reason the user can fix.
        RTError: RT failed in another way, such as HTTP 500.

    """
    session = create_rt_session(settings)
    try:
        result = await async_check_rt(create_rt_client(session, settings), settings)
    finally:
        await session.close()

    if result.missing:
        msg = f"Custom fields missing in RT: {result.missing.describe()}"
        raise RTCheckError(CheckFailure.MISSING_CUSTOM_FIELDS, msg, missing=result.missing)

    return result


async def async_check_rt(client: RTClient, settings: EntrySettings) -> RTCheckResult:
    """Check the address, the server and token, the queue and the catalog.

    The custom fields RT does not show are returned, not raised: the config flow
    rejects them, while a loaded entry raises a repair issue.

    Raises:
        RTCheckError: a check failed for a reason the user can fix.
        RTError: RT failed in another way, such as HTTP 500.

    """
    await _async_check_address(
        client.rest_url, allow_private_network=settings.allow_private_network
    )

    with _check_failures(settings, not_found=CheckFailure.NOT_RT_SERVER):
        server = await client.get_server_info()

    with _check_failures(settings, not_found=CheckFailure.QUEUE_NOT_FOUND):
        queue = await client.get_queue(settings.queue)

    with _check_failures(settings, not_found=CheckFailure.CATALOG_NOT_FOUND):
        catalog = await client.get_catalog(settings.catalog)

    return RTCheckResult(
        server=server,
        queue=queue,
        catalog=catalog,
        missing=find_missing_custom_fields(queue, catalog),
    )


def find_missing_custom_fields(queue: Queue, catalog: Catalog) -> MissingCustomFields:
    """Compare the custom fields RT shows on the queue and catalog with the ones needed.

    RT matches custom field names without regard to case, so the comparison does too.
    """
    return MissingCustomFields(
        queue=queue.name,
        ticket_fields=_missing(TICKET_CUSTOM_FIELDS, queue.custom_fields),
        catalog=catalog.name,
        # NOTE: RT 5.0.3 shows a catalog's custom fields only through its assets unless
        # SeeCustomField is granted globally, so an empty list from a catalog without
        # assets cannot be distinguished from a catalog without custom fields. Such a catalog
        # passes here, and the check runs again once the asset sync has created assets.
        asset_fields=(
            _missing(ASSET_CUSTOM_FIELDS, catalog.custom_fields) if catalog.custom_fields else ()
        ),
    )


def _missing(needed: tuple[str, ...], present: frozenset[str]) -> tuple[str, ...]:
    present_folded = {name.casefold() for name in present}
    return tuple(name for name in needed if name.casefold() not in present_folded)


async def _async_check_address(url: URL, *, allow_private_network: bool) -> None:
    """Resolve the RT host and check every address before the first request.

    The guarded session checks every connection again. This step runs first so that a
    blocked address is reported as such even when nothing listens there.
    """
    host = url.raw_host or ""
    try:
        await resolve_and_check(host, url.port or 443, allow_private_network=allow_private_network)
    except UnsafeURLError as err:
        raise RTCheckError(CheckFailure.INVALID_URL, str(err)) from err
    except OSError as err:
        msg = f"Cannot resolve RT host {host!r}: {err}"
        raise RTCheckError(CheckFailure.CANNOT_CONNECT, msg) from err


@contextmanager
def _check_failures(settings: EntrySettings, *, not_found: CheckFailure) -> Iterator[None]:
    """Turn the RT errors of one check into RTCheckError.

    RT 5.0.3 responds with 403 for a queue or catalog that does not exist or that the
    token may not see, and newer releases do so for more records the token may not see.
    So 403 and 404 mean "not found" for the check at hand, and only 401 rejects the token.
    """
    try:
        yield
    except UnsafeURLError as err:
        # BlockedAddressError included: the connector checks every connection again.
        raise RTCheckError(CheckFailure.INVALID_URL, str(err)) from err
    except RTConnectionError as err:
        raise RTCheckError(CheckFailure.CANNOT_CONNECT, str(err)) from err
    except RTAuthenticationError as err:
        raise RTCheckError(CheckFailure.INVALID_AUTH, str(err), token_rejected=True) from err
    except (RTPermissionError, RTNotFoundError) as err:
        raise RTCheckError(_not_found(not_found, err), _describe(settings, not_found, err)) from err
    except RTInvalidResponseError as err:
        if not_found is not CheckFailure.NOT_RT_SERVER:
            raise
        raise RTCheckError(CheckFailure.NOT_RT_SERVER, str(err)) from err
    except RTAPIError as err:
        # A redirect: REST2 never redirects, so the URL points at something else.
        if not_found is not CheckFailure.NOT_RT_SERVER or err.status >= 400:  # noqa: PLR2004
            raise
        raise RTCheckError(CheckFailure.NOT_RT_SERVER, str(err)) from err


def _not_found(not_found: CheckFailure, err: Exception) -> CheckFailure:
    # RT 5.0.3 never responds with 403 to GET /REST/2.0/rt, because its REST2 auth
    # middleware returns 403 only for cross-site requests that change data. A proxy in
    # front of RT that rejects the token is the likely cause, so report the token.
    if not_found is CheckFailure.NOT_RT_SERVER and isinstance(err, RTPermissionError):
        return CheckFailure.INVALID_AUTH
    return not_found


def _describe(settings: EntrySettings, failure: CheckFailure, err: Exception) -> str:
    match failure:
        case CheckFailure.QUEUE_NOT_FOUND:
            return f"Queue {settings.queue!r} not found or not visible to the token: {err}"
        case CheckFailure.CATALOG_NOT_FOUND:
            return f"Catalog {settings.catalog!r} not found or not visible to the token: {err}"
        case _:
            return str(err)
