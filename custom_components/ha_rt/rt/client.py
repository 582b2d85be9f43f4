"""Asynchronous client for the Request Tracker REST2 API (RT 5.0 and 6.0)."""

from __future__ import annotations

import asyncio
import json
import re
import ssl as ssl_module
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, NoReturn, Self
from urllib.parse import quote as quote_path_segment

from aiohttp import (
    ClientConnectorCertificateError,
    ClientError,
    ClientSession,
    ClientSSLError,
    hdrs,
)
from yarl import URL

from .errors import (
    RTAPIError,
    RTAuthenticationError,
    RTConnectionError,
    RTInvalidResponseError,
    RTNotFoundError,
    RTPermissionError,
    RTTimeoutError,
)
from .models import (
    ASSET_CUSTOM_FIELD_LOOKUP_TYPE,
    Asset,
    Catalog,
    Queue,
    ServerInfo,
    Ticket,
    parse_custom_field_values,
    parse_id,
)
from .paging import MAX_PAGES, PER_PAGE, PER_PAGE_WITH_CUSTOM_FIELDS, Page, next_page_url
from .sql import equals

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from types import TracebackType

# RT responds to an unauthenticated client whose User-Agent contains "Mozilla" with a
# redirect to its login page instead of a 401, so the client must not look like a browser.
USER_AGENT = "ha_rt-rest2-client/1.0"

TICKET_FIELDS = ("Subject", "Status", "CustomFields")
_ASSET_FIELDS = ("Name", "Status", "LastUpdated")

_TRANSIENT_STATUSES = frozenset(
    {
        HTTPStatus.TOO_MANY_REQUESTS,
        HTTPStatus.BAD_GATEWAY,
        HTTPStatus.SERVICE_UNAVAILABLE,
        HTTPStatus.GATEWAY_TIMEOUT,
    }
)

# RT returns 200 for PUT /ticket/N and PUT /asset/N even when it rejects a change, and
# reports the rejection only in the message list. These patterns are RT 5.0.3's English
# rejection messages (lib/RT/Record.pm, lib/RT/Record/Role/Status.pm). Messages about
# attributes start with "<Type> <name>: ", and messages about custom fields do not.
_ATTRIBUTE_REJECTION = re.compile(
    r"\w+ .*: (?:"
    r"You can't change status from '.*' to '.*'\."
    r"|Status '.*' isn't a valid status for this .*\."
    r"|Permission Denied"
    r"|.* could not be set to .*\."
    r"|Illegal value for .*"
    r"|Immutable field"
    r"|Invalid data"
    r")",
    re.DOTALL,
)
_CUSTOM_FIELD_REJECTION = re.compile(
    r"Permission Denied"
    r"|Custom field .* not found"
    r"|Custom field .* does not apply to this object"
    r"|Invalid value for custom field"
    r"|Could not add .*"
    r"|Couldn't .*",
    re.DOTALL,
)


def _rest_base_url(url: str) -> URL:
    """Return the REST2 base URL (ending in /REST/2.0/) for RT's web URL."""
    parsed = URL(url)
    if parsed.scheme not in {"http", "https"} or not parsed.host:
        msg = f"Invalid RT URL {url!r}: use an absolute URL such as https://rt.example.com"
        raise ValueError(msg)

    path = parsed.path.rstrip("/")
    return parsed.with_query(None).with_fragment(None).with_path(f"{path}/REST/2.0/")


def _path(*segments: str | int) -> str:
    """Join path segments below /REST/2.0/, each percent-encoded as one segment."""
    return "/".join(quote_path_segment(str(segment), safe="") for segment in segments)


def _retry_after(value: str | None) -> float | None:
    """Parse Retry-After as seconds or as an HTTP date; None when absent or invalid."""
    if value is None:
        return None

    try:
        return max(0.0, float(value))
    except ValueError:
        pass

    try:
        when = parsedate_to_datetime(value)
    except TypeError, ValueError:
        return None

    if when.tzinfo is None:
        return None

    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _rt_message(body: bytes) -> str | None:
    """Return the "message" RT puts in a JSON error body, or None."""
    try:
        data = json.loads(body)
    except ValueError:
        return None

    message = data.get("message") if isinstance(data, dict) else None
    return message.strip() if isinstance(message, str) else None


def _message_list(data: object, context: str) -> tuple[str, ...]:
    if not isinstance(data, list) or not all(isinstance(item, str) for item in data):
        msg = f"Invalid RT response for {context}: expected a list of messages"
        raise RTInvalidResponseError(msg)
    return tuple(data)


def _rejections(messages: tuple[str, ...]) -> tuple[str, ...]:
    """Return the messages of an update response that report a rejected change."""
    return tuple(
        message
        for message in messages
        if _ATTRIBUTE_REJECTION.fullmatch(message) or _CUSTOM_FIELD_REJECTION.fullmatch(message)
    )


def _created_id(data: object, context: str) -> int:
    if not isinstance(data, dict):
        msg = f"Invalid RT response for {context}: expected a JSON object with 'id'"
        raise RTInvalidResponseError(msg)
    return parse_id(data.get("id"), context)


class RTClient:
    """Client for one RT server and API token.

    Pass the aiohttp session to share. Without one, the client opens its own session and
    closes it in `close()` or on leaving `async with`. The client never logs.
    """

    def __init__(
        self,
        session: ClientSession | None,
        url: str,
        token: str,
        *,
        request_timeout: float = 10.0,
        ssl: ssl_module.SSLContext | bool = True,
    ) -> None:
        """Set up the client for RT's web URL (the URL without /REST/2.0).

        Raises ValueError for a URL that is not absolute http(s).
        """
        self._session = session
        self._close_session = False
        self._base_url = _rest_base_url(url)
        self._token = token
        self._request_timeout = request_timeout
        self._ssl = ssl

    def __repr__(self) -> str:
        """Describe the client without its API token."""
        return f"RTClient(url={str(self._base_url)!r})"

    @property
    def rest_url(self) -> URL:
        """REST2 base URL, ending in /REST/2.0/."""
        return self._base_url

    async def close(self) -> None:
        """Close the aiohttp session if the client opened it."""
        if self._session is not None and self._close_session:
            await self._session.close()
            self._session = None
            self._close_session = False

    async def __aenter__(self) -> Self:
        """Return the client."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close the session if the client opened it."""
        await self.close()

    def _redact(self, text: str) -> str:
        if self._token:
            return text.replace(self._token, "<token>")
        return text

    async def _request(
        self,
        method: str,
        path: str | URL,
        *,
        params: Mapping[str, str] | None = None,
        json: object = None,
        data: str | bytes | None = None,
        content_type: str | None = None,
    ) -> object:
        """Send one request to RT and return the decoded JSON body.

        `path` is relative to /REST/2.0/, or an absolute URL for a checked next_page link.
        aiohttp errors, OSError and timeouts become RT exceptions. Other exceptions, such
        as one from a connector that rejects an address, pass through unchanged.
        """
        url = path if isinstance(path, URL) else self._base_url.join(URL(path, encoded=True))
        if params is not None:
            url = url.update_query(params)

        headers = {
            hdrs.AUTHORIZATION: f"token {self._token}",
            hdrs.USER_AGENT: USER_AGENT,
            hdrs.ACCEPT: "application/json",
        }
        if content_type is not None:
            headers[hdrs.CONTENT_TYPE] = content_type

        request = f"{method} {url.path}"

        # No RT token contains whitespace or control characters, and a line break would
        # end the Authorization header, so such a token never leaves the client.
        if not self._token or any(
            character.isspace() or not character.isprintable() for character in self._token
        ):
            msg = (
                f"Invalid RT API token ({request} not sent): it is empty or contains spaces, "
                "line breaks or control characters; copy the token from RT again"
            )
            raise RTAuthenticationError(msg)

        if self._session is None:
            self._session = ClientSession()
            self._close_session = True

        try:
            async with asyncio.timeout(self._request_timeout):
                # REST2 never redirects, so a redirect means the URL does not point at
                # RT. Following it would send the token to another address.
                async with self._session.request(
                    method,
                    url,
                    headers=headers,
                    json=json,
                    data=data,
                    ssl=self._ssl,
                    allow_redirects=False,
                ) as response:
                    status = response.status
                    location = response.headers.get(hdrs.LOCATION)
                    retry_after = response.headers.get(hdrs.RETRY_AFTER)
                    body = await response.read()
        except TimeoutError as err:
            msg = (
                f"Timed out after {self._request_timeout:g} s waiting for RT ({request}); "
                "the request may still have reached RT"
            )
            raise RTTimeoutError(msg) from err
        except (ClientConnectorCertificateError, ClientSSLError, ssl_module.SSLError) as err:
            msg = self._redact(
                f"TLS connection to {url.host} failed ({err}); install the server's CA "
                "certificate or turn off certificate verification"
            )
            raise RTConnectionError(msg) from err
        except (ClientError, OSError) as err:
            msg = self._redact(f"Cannot connect to RT at {url.host} ({request}): {err}")
            raise RTConnectionError(msg) from err

        return self._decode(request, status, body, location=location, retry_after=retry_after)

    def _decode(
        self,
        request: str,
        status: int,
        body: bytes,
        *,
        location: str | None,
        retry_after: str | None,
    ) -> object:
        """Map an HTTP status to an RT exception, or return the decoded JSON body."""
        if status >= HTTPStatus.MULTIPLE_CHOICES:
            self._raise_for_status(request, status, body, location, retry_after)

        try:
            return json.loads(body)
        except ValueError as err:
            msg = (
                f"Invalid RT response for {request}: HTTP {status} with a body that is not "
                "JSON; check that the URL points at RT"
            )
            raise RTInvalidResponseError(msg) from err

    def _raise_for_status(
        self,
        request: str,
        status: int,
        body: bytes,
        location: str | None,
        retry_after: str | None,
    ) -> NoReturn:
        rt_message = _rt_message(body)
        detail = self._redact(f": {rt_message}" if rt_message else "")

        if status == HTTPStatus.UNAUTHORIZED:
            msg = f"RT rejected the API token ({request}: HTTP 401); create a new token in RT"
            raise RTAuthenticationError(msg)

        if status == HTTPStatus.FORBIDDEN:
            msg = (
                f"RT rejected {request} (HTTP 403{detail}); check that the queue or catalog "
                "exists and that the token's user has the rights on it"
            )
            raise RTPermissionError(msg, rt_message=rt_message)

        if status == HTTPStatus.NOT_FOUND:
            msg = f"Not found in RT: {request} (HTTP 404{detail})"
            raise RTNotFoundError(msg)

        if status in _TRANSIENT_STATUSES:
            msg = f"RT is unavailable: {request} returned HTTP {status}{detail}; try again later"
            raise RTConnectionError(msg, retry_after=_retry_after(retry_after))

        if status < HTTPStatus.BAD_REQUEST:
            msg = self._redact(
                f"RT redirected {request} to {location!r} (HTTP {status}); "
                "set the RT URL to the address the redirect points at"
            )
            raise RTAPIError(msg, status=status)

        msg = f"RT rejected {request} (HTTP {status}{detail})"
        raise RTAPIError(msg, status=status, messages=(rt_message,) if rt_message else ())

    async def _get_all_items(
        self,
        path: str,
        params: Mapping[str, str],
        context: str,
        *,
        per_page: int = PER_PAGE,
    ) -> list[dict[str, Any]]:
        """Return the items of every page of a collection, in RT's order, without repeats."""
        first_page = self._base_url.join(URL(path, encoded=True)).update_query(
            {**params, "per_page": str(per_page), "page": "1"}
        )
        items: dict[int, dict[str, Any]] = {}
        url = first_page
        requested_page = 1

        for _ in range(MAX_PAGES):
            page = Page.from_json(await self._request(hdrs.METH_GET, url), context)

            # RT 5.0.6 and newer return the last page again for a page past the end.
            if page.page is not None and page.page != requested_page:
                return list(items.values())

            for item in page.items:
                items.setdefault(parse_id(item.get("id"), context), item)

            if page.is_last(requested_page, per_page):
                return list(items.values())

            requested_page += 1
            url = next_page_url(page.next_page, first_page, requested_page)

        msg = (
            f"RT returned more than {MAX_PAGES} pages of {per_page} items for {context}; "
            "narrow the search"
        )
        raise RTInvalidResponseError(msg)

    async def get_server_info(self) -> ServerInfo:
        """Fetch RT's version, which also proves that the URL and the token work."""
        return ServerInfo.from_json(await self._request(hdrs.METH_GET, "rt"))

    async def get_queue(self, name: str) -> Queue:
        """Fetch a queue by name, with its ticket custom field names.

        RT 5.0.3 responds with 403 (RTPermissionError) for a queue that does not exist or that
        the token may not see.
        """
        queue = Queue.from_json(await self._request(hdrs.METH_GET, _path("queue", name)))

        # RT loads /queue/<digits> by id, so a queue named "7" would come back as queue 7.
        if queue.name.casefold() != name.casefold():
            msg = f"Queue {name!r} not found in RT (RT returned queue {queue.name!r})"
            raise RTNotFoundError(msg)

        return queue

    async def get_catalog(self, name: str) -> Catalog:
        """Fetch an asset catalog by name, with its asset custom field names.

        RT 5.0.3 lists a catalog's custom fields in /catalog/N/customfields only to users
        with SeeCustomField granted globally or on the field itself, because it checks the
        right without the catalog as context. Each asset lists every custom field applied
        to its catalog to users with SeeCustomField on the catalog. The names are the
        union of both, so they are empty for a catalog without assets when the token's
        rights are granted on the catalog only.
        """
        record = await self._request(hdrs.METH_GET, _path("catalog", name))
        catalog = Catalog.from_json(record)
        if catalog.name.casefold() != name.casefold():
            msg = f"Catalog {name!r} not found in RT (RT returned catalog {catalog.name!r})"
            raise RTNotFoundError(msg)

        applied = await self._get_all_items(
            _path("catalog", catalog.id, "customfields"),
            {"fields": "Name,LookupType"},
            f"custom fields of catalog {name!r}",
        )
        names = {
            item["Name"]
            for item in applied
            if item.get("LookupType") == ASSET_CUSTOM_FIELD_LOOKUP_TYPE
            and isinstance(item.get("Name"), str)
        }

        sample = Page.from_json(
            await self._request(
                hdrs.METH_GET,
                "assets",
                params={
                    "query": equals("Catalog", str(catalog.id)),
                    "fields": "CustomFields",
                    "per_page": "1",
                },
            ),
            f"assets of catalog {name!r}",
        )
        for item in sample.items:
            names.update(
                parse_custom_field_values(item.get("CustomFields"), f"asset in catalog {name!r}")
            )

        return Catalog.from_json(record, custom_fields=frozenset(names))

    async def search_tickets(
        self, query: str, *, fields: Sequence[str] = TICKET_FIELDS
    ) -> list[Ticket]:
        """Return every ticket that matches the TicketSQL query, oldest first.

        Subject and Status are always requested because a Ticket carries them. Build
        `query` with the helpers in `sql` so that every value is quoted.
        """
        requested = dict.fromkeys(("Subject", "Status", *fields))
        items = await self._get_all_items(
            "tickets",
            {"query": query, "fields": ",".join(requested), "orderby": "id", "order": "ASC"},
            "ticket search",
        )
        return [Ticket.from_json(item) for item in items]

    async def get_ticket(self, ticket_id: int) -> Ticket:
        """Fetch one ticket with its custom fields."""
        return Ticket.from_json(await self._request(hdrs.METH_GET, _path("ticket", ticket_id)))

    async def create_ticket(
        self,
        queue: str,
        subject: str,
        content: str,
        *,
        custom_fields: Mapping[str, str] | None = None,
        refers_to: Sequence[str] = (),
    ) -> int:
        """Create a ticket with a plain-text body and return its id.

        `refers_to` takes RT link targets such as "asset:12". RT 5.0.3 silently drops
        custom fields the queue does not have or the token may not modify.
        """
        payload: dict[str, Any] = {
            "Queue": queue,
            "Subject": subject,
            "Content": content,
            "ContentType": "text/plain",
        }
        if custom_fields:
            payload["CustomFields"] = dict(custom_fields)
        if refers_to:
            payload["RefersTo"] = list(refers_to)

        created = await self._request(hdrs.METH_POST, "ticket", json=payload)
        return _created_id(created, f"ticket created in queue {queue!r}")

    async def comment_ticket(self, ticket_id: int, content: str) -> None:
        """Add a plain-text comment to a ticket.

        RT 5.0.3 responds with 400 "Permission Denied" (RTAPIError) for a ticket that does not
        exist.
        """
        await self._request(
            hdrs.METH_POST,
            _path("ticket", ticket_id, "comment"),
            json={"Content": content, "ContentType": "text/plain"},
        )

    async def set_ticket_status(self, ticket_id: int, status: str) -> None:
        """Set a ticket's status, and raise RTAPIError when RT did not apply it.

        RT returns 200 even when it rejects the change, so the ticket is read back.
        """
        messages = _message_list(
            await self._request(hdrs.METH_PUT, _path("ticket", ticket_id), json={"Status": status}),
            f"status change of ticket {ticket_id}",
        )

        ticket = await self.get_ticket(ticket_id)
        if ticket.status.casefold() != status.casefold():
            msg = (
                f"RT did not set ticket {ticket_id} to status {status!r}, it is still "
                f"{ticket.status!r}: {'; '.join(messages) or 'RT gave no reason'}"
            )
            raise RTAPIError(msg, status=HTTPStatus.OK, messages=messages)

    async def search_assets(self, query: str, *, with_custom_fields: bool = True) -> list[Asset]:
        """Return every asset that matches the AssetSQL query, oldest first.

        Uses `query=` because RT 5.0.3's JSON search form drops custom field conditions.
        RT leaves assets with status "deleted" out of every search.
        """
        fields = (*_ASSET_FIELDS, "CustomFields") if with_custom_fields else _ASSET_FIELDS
        items = await self._get_all_items(
            "assets",
            {"query": query, "fields": ",".join(fields), "orderby": "id", "order": "ASC"},
            "asset search",
            per_page=PER_PAGE_WITH_CUSTOM_FIELDS if with_custom_fields else PER_PAGE,
        )
        return [Asset.from_json(item) for item in items]

    async def list_catalog_assets(self, catalog: str, *, with_custom_fields: bool) -> list[Asset]:
        """Return every asset in the catalog, by catalog name or id."""
        return await self.search_assets(
            equals("Catalog", catalog), with_custom_fields=with_custom_fields
        )

    async def get_asset(self, asset_id: int) -> Asset:
        """Fetch one asset with its custom fields."""
        return Asset.from_json(await self._request(hdrs.METH_GET, _path("asset", asset_id)))

    async def create_asset(
        self,
        catalog: str,
        name: str,
        custom_fields: Mapping[str, str],
        status: str | None = None,
    ) -> int:
        """Create an asset and return its id.

        Without `status` RT uses the lifecycle's initial status ("new" for RT's assets
        lifecycle). RT 5.0.3 silently drops custom fields the catalog does not have.
        """
        payload: dict[str, Any] = {"Catalog": catalog, "Name": name}
        if custom_fields:
            payload["CustomFields"] = dict(custom_fields)
        if status is not None:
            payload["Status"] = status

        created = await self._request(hdrs.METH_POST, "asset", json=payload)
        return _created_id(created, f"asset created in catalog {catalog!r}")

    async def update_asset(
        self,
        asset_id: int,
        *,
        name: str | None = None,
        status: str | None = None,
        custom_fields: Mapping[str, str] | None = None,
    ) -> None:
        """Change an asset's name, status or custom fields. A value of "" clears a field.

        RT returns 200 even when it rejects a change, so the client looks for rejections
        in RT's message list and reads the asset back after a status change. RT 5.0.3's
        assets lifecycle allows new -> allocated, in-use, stolen or deleted.
        """
        payload: dict[str, Any] = {}
        if name is not None:
            payload["Name"] = name
        if status is not None:
            payload["Status"] = status
        if custom_fields:
            payload["CustomFields"] = dict(custom_fields)
        if not payload:
            return

        context = f"update of asset {asset_id}"
        messages = _message_list(
            await self._request(hdrs.METH_PUT, _path("asset", asset_id), json=payload), context
        )

        # NOTE: RT translates these messages into the token user's language. The patterns
        # match English only, so for other languages only the status read-back below
        # detects a rejection.
        rejected = _rejections(messages)
        if rejected:
            msg = f"RT rejected the {context}: {'; '.join(rejected)}"
            raise RTAPIError(msg, status=HTTPStatus.OK, messages=messages)

        if status is None:
            return

        asset = await self.get_asset(asset_id)
        if asset.status.casefold() != status.casefold():
            msg = (
                f"RT did not set asset {asset_id} to status {status!r}, it is still "
                f"{asset.status!r}: {'; '.join(messages) or 'RT gave no reason'}"
            )
            raise RTAPIError(msg, status=HTTPStatus.OK, messages=messages)
