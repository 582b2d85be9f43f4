"""Tickets for devices: deduplication, create or comment, resolve, alert storms.

One device has at most one open ticket that the integration writes to. A create_ticket
call searches the queue for the device's open tickets (status new, open or stalled, with
the device's id in the DeviceId custom field) and comments on the oldest one, or creates
a ticket when there is none. Calls for one device run one after another, so a storm of
calls produces one ticket and comments; calls for different devices run in parallel.

When the config entry has an outbox (outbox.py), a call that RT cannot take is stored
there and returns "queued" instead of raising. The outbox later delivers it through
`async_deliver` or `async_deliver_resolve`, the same steps a live call runs.
"""

from __future__ import annotations

import asyncio
import random
import unicodedata
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from http import HTTPStatus
from typing import TYPE_CHECKING, Final, Literal, NoReturn

from homeassistant.exceptions import HomeAssistantError, ServiceValidationError

from .const import (
    ATTR_OUTBOX_ID,
    CF_ADDRESS,
    CF_AREA,
    CF_DEVICE_ID,
    CF_DEVICE_INFORMATION,
    DOMAIN,
    EVENT_TICKET,
    LOGGER,
    OPEN_TICKET_STATUSES,
)
from .devices import get_device, resolve_ha_url
from .net import UnsafeURLError
from .rt import (
    RTAPIError,
    RTAuthenticationError,
    RTConnectionError,
    RTError,
    RTPermissionError,
)
from .rt.sql import all_of, any_of, custom_field_equals, equals

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from homeassistant.core import HomeAssistant
    from homeassistant.util.json import JsonObjectType

    from .data import EntrySettings, RTConfigEntry
    from .devices import DeviceSnapshot
    from .outbox import Outbox, QueuedRequest
    from .rt import RTClient

# RT 5.0.3 cuts a ticket subject to 200 bytes of UTF-8.
MAX_SUBJECT_BYTES: Final = 200

RESOLVED_STATUS: Final = "resolved"

# The RT message for a missing right. RT 5.0.3 sends it alone in a 400 for a comment
# without CommentOnTicket, and after "Ticket N: " in the message list of a refused update.
_PERMISSION_DENIED: Final = "Permission Denied"

type TicketAction = Literal["created", "commented", "resolved"]
type Step = Literal["search", "asset", "create", "verify", "comment", "resolve"]

# The RT right each step needs, on the queue or (for the asset search) on the catalog.
# Permission errors name it.
_RIGHT_FOR_STEP: Final[dict[Step, str]] = {
    "search": "ShowTicket",
    "asset": "ShowAsset",
    "create": "CreateTicket",
    "verify": "ModifyCustomField",
    "comment": "CommentOnTicket",
    "resolve": "ModifyTicket",
}


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry a request after a transient RT fault.

    Transient faults are connection errors, timeouts and HTTP 429, 502, 503 and 504 (the
    RT client raises RTConnectionError for all of them). Delays are in seconds: before
    retry n (1-based) the delay is `base_delay * 2**(n-1)` with random jitter of up to
    half of it, at least the server's Retry-After, and never more than `max_delay`.
    """

    attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 10.0

    def delay(self, retry: int, retry_after: float | None) -> float:
        """Return the seconds to wait before retry number `retry` (1-based)."""
        backoff = self.base_delay * 2.0 ** (retry - 1)

        # Jitter spreads the retries of calls that failed together; it is not security.
        jittered = backoff * random.uniform(0.5, 1.0)  # noqa: S311

        if retry_after is not None:
            jittered = max(jittered, retry_after)
        return min(jittered, self.max_delay)


DEFAULT_RETRY_POLICY: Final = RetryPolicy()


@dataclass(frozen=True, slots=True)
class TicketRequest:
    """A checked create_ticket call, with what RT needs to create the ticket.

    It contains only strings so that a request can be stored and delivered later.
    """

    device_id: str
    subject: str
    text: str
    area: str
    device_url: str
    # True when an earlier delivery sent the create and its response was lost (a timeout),
    # so RT may contain the ticket already. TicketManager._async_find_own_ticket uses it.
    create_sent: bool = False


@dataclass(frozen=True, slots=True)
class TicketResult:
    """The ticket a create_ticket call wrote to, and whether it created or commented."""

    ticket_id: int
    ticket_url: str
    action: Literal["created", "commented"]

    def as_response(self) -> JsonObjectType:
        """Return the action response."""
        return {"ticket_id": self.ticket_id, "ticket_url": self.ticket_url, "action": self.action}


@dataclass(frozen=True, slots=True)
class ResolveResult:
    """The tickets a resolve_ticket call resolved."""

    ticket_ids: tuple[int, ...]

    @property
    def action(self) -> Literal["resolved", "none"]:
        """The action response's action: "none" when the device had no open ticket."""
        return "resolved" if self.ticket_ids else "none"

    def as_response(self) -> JsonObjectType:
        """Return the action response."""
        return {"ticket_ids": list(self.ticket_ids), "action": self.action}


class TicketDeliveryError(Exception):
    """An RT request for a device's tickets failed after its retries.

    `step` is what failed, `ticket_id` the ticket it failed on when known, and `error` the
    RT client's exception, or the address policy's when it refused the RT server's address
    at connect time (also the `__cause__`).
    """

    def __init__(
        self, device_id: str, step: Step, ticket_id: int | None, error: RTError | UnsafeURLError
    ) -> None:
        """Store where the delivery failed."""
        where = f"ticket {ticket_id}" if ticket_id is not None else "no ticket yet"
        super().__init__(f"{step} failed for device {device_id} ({where}): {error}")
        self.device_id = device_id
        self.step = step
        self.ticket_id = ticket_id
        self.error = error
        # Set by the create path when a create was sent in any attempt.
        self.create_sent = False


@dataclass(slots=True)
class _Progress:
    """The step an attempt is at, so a failure can name it and its ticket."""

    step: Step = "search"
    ticket_id: int | None = None


@dataclass(slots=True)
class _CreateAttempts:
    """The writes that earlier attempts of one create_ticket delivery sent to RT."""

    create_sent: bool = False


@dataclass(slots=True)
class _LockSlot:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class DeviceLocks:
    """One asyncio lock per device, dropped again when no task holds or awaits it."""

    def __init__(self) -> None:
        """Start with no locks."""
        self._slots: dict[str, _LockSlot] = {}

    def __len__(self) -> int:
        """Return the number of devices with a held or awaited lock."""
        return len(self._slots)

    @asynccontextmanager
    async def hold(self, device_id: str) -> AsyncIterator[None]:
        """Hold the device's lock for the duration of the `async with` block."""
        slot = self._slots.setdefault(device_id, _LockSlot())
        slot.users += 1

        try:
            async with slot.lock:
                yield
        finally:
            slot.users -= 1
            if slot.users == 0:
                del self._slots[device_id]


def clean_subject(subject: str) -> str:
    """Return the subject as one line of at most 200 bytes of UTF-8.

    Control characters (line breaks and tabs included) and Unicode line and paragraph
    separators become spaces, runs of whitespace become one space, and the result is cut
    on a character boundary. RT 5.0.3 itself would drop a line feed without a space, keep
    a carriage return and cut inside the subject without care for words.
    """
    spaced = "".join(
        " " if unicodedata.category(char) in {"Cc", "Zl", "Zp"} else char for char in subject
    )
    collapsed = " ".join(spaced.split())

    # Decoding with errors="ignore" drops only the incomplete character at the cut.
    encoded = collapsed.encode()[:MAX_SUBJECT_BYTES]
    return encoded.decode(errors="ignore").rstrip()


def ticket_body(text: str, address: str, area: str) -> str:
    """Return a new ticket's body: the text, then the location lines that are known."""
    location = [
        line
        for line in (f"Address: {address}" if address else "", f"Area: {area}" if area else "")
        if line
    ]
    if not location:
        return text
    if not text:
        return "\n".join(location)
    return text + "\n\n" + "\n".join(location)


def open_tickets_query(queue: str, device_id: str) -> str:
    """Return the TicketSQL for the device's open tickets in the queue."""
    return all_of(
        (
            equals("Queue", queue),
            any_of(equals("Status", status) for status in OPEN_TICKET_STATUSES),
            custom_field_equals(CF_DEVICE_ID, device_id),
        )
    )


def _is_permission_denied(error: RTError) -> bool:
    """Tell whether RT refused a request for a missing right.

    RT 5.0.3 responds with 403 to some refusals, 400 "Permission Denied" to a comment, and
    200 with "Ticket N: Permission Denied" in the message list for an update.
    """
    if isinstance(error, RTPermissionError):
        return True
    if isinstance(error, RTAPIError):
        return any(message.endswith(_PERMISSION_DENIED) for message in error.messages)
    return False


def _rt_reason(error: RTError) -> str:
    """Return RT's own words for a refusal, or the client's message without them."""
    if isinstance(error, RTPermissionError) and error.rt_message:
        return error.rt_message
    if isinstance(error, RTAPIError) and error.messages:
        return "; ".join(error.messages)
    return str(error)


class TicketManager:
    """Creates, comments on and resolves the tickets of one config entry's devices."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: RTConfigEntry,
        client: RTClient,
        settings: EntrySettings,
        *,
        retry_policy: RetryPolicy = DEFAULT_RETRY_POLICY,
    ) -> None:
        """Set up the manager for a config entry and its RT client."""
        self._hass = hass
        self._entry = entry
        self._client = client
        self._settings = settings
        self.retry_policy = retry_policy
        self.locks = DeviceLocks()
        self._rt_url = settings.url.rstrip("/")
        self._custom_fields_verified = False

        # Set by the entry setup once the outbox exists. None keeps every failure raised.
        self.outbox: Outbox | None = None

    def ticket_url(self, ticket_id: int) -> str:
        """Return the link to the ticket's page in RT."""
        return f"{self._rt_url}/Ticket/Display.html?id={ticket_id}"

    async def async_create_ticket(
        self, device_id: str, subject: str, text: str
    ) -> TicketResult | QueuedRequest:
        """Comment on the device's oldest open ticket, or create a ticket when it has none.

        The request goes to the outbox instead, and the call returns "queued", in three
        cases: RT stays unreachable after the retries, RT is already known to be
        unreachable, or earlier requests for the device still wait there.
        Raises ServiceValidationError for an unknown device or an empty subject, and
        HomeAssistantError when RT fails in a way a retry cannot fix or the outbox is
        full, after logging the failure.
        """
        device = self._get_device(device_id)
        request = TicketRequest(
            device_id=device.device_id,
            subject=self._check_subject(subject),
            text=text,
            area=device.area,
            device_url=device.page_url,
        )
        outbox = self.outbox

        # The outbox is consulted under the device's lock, so a call cannot overtake an
        # earlier call for the device that is about to be queued.
        async with self.locks.hold(request.device_id):
            if outbox is not None and outbox.must_queue(request.device_id):
                return await outbox.async_add_create(request)

            try:
                return await self._async_deliver_locked(request, outbox_id=None)
            except TicketDeliveryError as err:
                if outbox is not None and outbox.accepts(err):
                    sent = replace(request, create_sent=request.create_sent or err.create_sent)
                    return await outbox.async_add_create(sent, cause=err)
                self._raise_failure("create or comment on a ticket", err)

    async def async_resolve_ticket(
        self, device_id: str, text: str | None
    ) -> ResolveResult | QueuedRequest:
        """Resolve every open ticket of the device, after a comment when `text` is given.

        Goes to the outbox in the same cases as async_create_ticket. Raises
        ServiceValidationError for an unknown device, and HomeAssistantError when RT
        fails or refuses the status change, or the outbox is full, after logging the
        failure.
        """
        device = self._get_device(device_id)
        outbox = self.outbox

        async with self.locks.hold(device.device_id):
            if outbox is not None and outbox.must_queue(device.device_id):
                return await outbox.async_add_resolve(device.device_id, text)

            try:
                return await self._async_deliver_resolve_locked(
                    device.device_id, text, outbox_id=None
                )
            except TicketDeliveryError as err:
                if outbox is not None and outbox.accepts(err):
                    return await outbox.async_add_resolve(device.device_id, text, cause=err)
                self._raise_failure("resolve tickets", err)

    async def async_deliver(
        self, request: TicketRequest, *, outbox_id: str | None = None
    ) -> TicketResult:
        """Deliver a checked create_ticket request to RT, with retries.

        Holds the device's lock, so no other request for the device runs meanwhile. Every
        attempt searches before it writes: a create that timed out after RT received it
        is found by the next attempt and reported as created, never created twice. The
        event carries `outbox_id` when the outbox delivers the request. Raises
        TicketDeliveryError when the last attempt fails or the fault is not transient.

        NOTE: the lock works within one Home Assistant process. Two processes, or a create
        that a multi-worker RT is still processing when the retry's search runs, can still
        give two tickets.
        """
        async with self.locks.hold(request.device_id):
            return await self._async_deliver_locked(request, outbox_id)

    async def async_deliver_resolve(
        self, device_id: str, text: str | None, *, outbox_id: str | None = None
    ) -> ResolveResult:
        """Comment on and resolve every open ticket of the device, with retries.

        Each ticket is resolved in its own retried steps, so a retry does not repeat the
        work already done on earlier tickets. Raises TicketDeliveryError on the first
        ticket that fails; tickets resolved before it stay resolved.
        """
        async with self.locks.hold(device_id):
            return await self._async_deliver_resolve_locked(device_id, text, outbox_id)

    async def _async_deliver_locked(
        self, request: TicketRequest, outbox_id: str | None
    ) -> TicketResult:
        attempts = _CreateAttempts(create_sent=request.create_sent)
        try:
            result = await self._async_retry(
                request.device_id,
                lambda progress: self._async_create_or_comment(request, progress, attempts),
            )
        except TicketDeliveryError as err:
            err.create_sent = attempts.create_sent
            raise
        self._fire_event(result.action, result.ticket_id, request.device_id, outbox_id)

        if result.action == "created" and not self._custom_fields_verified:
            await self._async_verify_custom_fields(request, result.ticket_id)

        return result

    async def _async_deliver_resolve_locked(
        self, device_id: str, text: str | None, outbox_id: str | None
    ) -> ResolveResult:
        ticket_ids = await self._async_retry(
            device_id, lambda _progress: self._async_find_open_tickets(device_id)
        )

        for ticket_id in ticket_ids:
            await self._async_resolve_one(device_id, ticket_id, text)
            self._fire_event("resolved", ticket_id, device_id, outbox_id)

        return ResolveResult(ticket_ids=tuple(ticket_ids))

    async def _async_create_or_comment(
        self, request: TicketRequest, progress: _Progress, attempts: _CreateAttempts
    ) -> TicketResult:
        progress.step = "search"
        if attempts.create_sent:
            open_ticket_ids, own_ticket_id = await self._async_find_own_ticket(request)
            if own_ticket_id is not None:
                return TicketResult(own_ticket_id, self.ticket_url(own_ticket_id), "created")
        else:
            open_ticket_ids = await self._async_find_open_tickets(request.device_id)

        if open_ticket_ids:
            ticket_id = open_ticket_ids[0]
            progress.step, progress.ticket_id = "comment", ticket_id

            # NOTE: a comment that timed out after RT stored it is sent again by the retry,
            # so the ticket can get the same comment twice. REST2 has no idempotency key.
            await self._client.comment_ticket(ticket_id, request.text)
            return TicketResult(ticket_id, self.ticket_url(ticket_id), "commented")

        progress.step = "asset"
        asset_id = await self._async_asset_id(request.device_id)

        progress.step = "create"
        attempts.create_sent = True
        ticket_id = await self._client.create_ticket(
            self._settings.queue,
            request.subject,
            ticket_body(request.text, self._settings.address, request.area),
            custom_fields=self._custom_fields(request),
            refers_to=[f"asset:{asset_id}"] if asset_id is not None else [],
        )
        return TicketResult(ticket_id, self.ticket_url(ticket_id), "created")

    async def _async_verify_custom_fields(self, request: TicketRequest, ticket_id: int) -> None:
        """Read a created ticket back and raise when RT dropped its custom fields.

        RT 5.0.3 responds with 201 to a create even when it does not store a custom field (the
        field is not applied to the queue, or the token's user lacks ModifyCustomField) and
        hides fields from users without SeeCustomField. Without DeviceId the deduplication
        search cannot find the ticket, so every later call would create another one. The
        first created ticket of each loaded config entry is checked, which keeps later
        creates at two requests. A failed read skips the check until the next create.
        """
        try:
            ticket = await self._client.get_ticket(ticket_id)
        except (RTError, UnsafeURLError) as err:
            LOGGER.debug(
                "Could not read ticket %s back to check its custom fields: %s", ticket_id, err
            )
            return

        missing = [
            name
            for name in self._custom_fields(request)
            if not ticket.custom_fields.get(name, "").strip()
        ]
        if missing:
            msg = f"RT did not store custom fields {', '.join(missing)} on ticket {ticket_id}"
            error = RTAPIError(msg, status=HTTPStatus.CREATED, messages=tuple(missing))
            raise TicketDeliveryError(request.device_id, "verify", ticket_id, error)

        self._custom_fields_verified = True

    async def _async_find_own_ticket(self, request: TicketRequest) -> tuple[list[int], int | None]:
        """Return the device's open tickets and the one an earlier attempt's create made.

        An attempt creates only after its search found no open ticket, and the device's lock
        keeps other calls of this Home Assistant out meanwhile. So after a create whose response
        was lost (a timeout after RT received it), an open ticket with this request's
        subject is the one that create made. The call reports it as created and does not
        add its text again as a comment. The search is the same single request as the usual one.
        """
        query = open_tickets_query(self._settings.queue, request.device_id)
        tickets = await self._client.search_tickets(query, fields=("Subject",))
        own = next((ticket.id for ticket in tickets if ticket.subject == request.subject), None)
        return [ticket.id for ticket in tickets], own

    async def _async_find_open_tickets(self, device_id: str) -> list[int]:
        """Return the ids of the device's open tickets in the queue, oldest first."""
        query = open_tickets_query(self._settings.queue, device_id)
        tickets = await self._client.search_tickets(query, fields=())
        return [ticket.id for ticket in tickets]

    async def _async_asset_id(self, device_id: str) -> int | None:
        """Return the id of the device's RT asset, or None when it has none.

        The asset sync's device-to-asset map returns it without a request once the device
        is synced; only a device not synced yet costs an asset search.
        """
        return await self._entry.runtime_data.assets.async_find_asset_id(device_id)

    async def _async_resolve_one(self, device_id: str, ticket_id: int, text: str | None) -> None:
        if text is not None:

            async def comment(progress: _Progress) -> None:
                progress.step, progress.ticket_id = "comment", ticket_id
                await self._client.comment_ticket(ticket_id, text)

            await self._async_retry(device_id, comment)

        async def resolve(progress: _Progress) -> None:
            # The client reads the ticket back, because RT 5.0.3 responds with 200 to a
            # status change that it refused and reports the refusal only in its messages.
            progress.step, progress.ticket_id = "resolve", ticket_id
            await self._client.set_ticket_status(ticket_id, RESOLVED_STATUS)

        await self._async_retry(device_id, resolve)

    async def _async_retry[T](
        self, device_id: str, operation: Callable[[_Progress], Awaitable[T]]
    ) -> T:
        """Run the operation, again after a transient fault, at most `attempts` times."""
        policy = self.retry_policy
        attempt = 1

        while True:
            progress = _Progress()
            try:
                result = await operation(progress)
            except RTConnectionError as err:
                if attempt >= policy.attempts:
                    self._report_reachability(err)
                    raise TicketDeliveryError(
                        device_id, progress.step, progress.ticket_id, err
                    ) from err

                delay = policy.delay(attempt, err.retry_after)
                LOGGER.debug(
                    "Retrying %s for device %s (ticket %s) in %.1f s, attempt %s of %s: %s",
                    progress.step,
                    device_id,
                    progress.ticket_id,
                    delay,
                    attempt + 1,
                    policy.attempts,
                    err,
                )
                await asyncio.sleep(delay)
                attempt += 1
            except (RTError, UnsafeURLError) as err:
                self._report_reachability(err)
                raise TicketDeliveryError(
                    device_id, progress.step, progress.ticket_id, err
                ) from err
            else:
                self._report_reachability(None)
                return result

    def _report_reachability(self, error: RTError | UnsafeURLError | None) -> None:
        """Tell the outbox whether RT responded to the last request, for it to show and act on.

        Any response counts, a rejection included. A connection that the address policy
        blocked reveals nothing about RT, so it is not reported.
        """
        if self.outbox is None or isinstance(error, UnsafeURLError):
            return
        if isinstance(error, RTConnectionError):
            self.outbox.async_rt_unreachable(error)
        else:
            self.outbox.async_rt_responded()

    def _custom_fields(self, request: TicketRequest) -> dict[str, str]:
        """Return the ticket custom fields that have a value; empty ones are left out."""
        values = {
            CF_DEVICE_ID: request.device_id,
            CF_DEVICE_INFORMATION: request.device_url,
            CF_AREA: request.area,
            CF_ADDRESS: self._settings.address,
        }
        return {name: value for name, value in values.items() if value}

    def _get_device(self, device_id: str) -> DeviceSnapshot:
        """Return the device's snapshot, or raise ServiceValidationError naming the id."""
        # A template that finds no device renders "" or the text "None".
        if not device_id.strip() or device_id == "None":
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="device_id_missing",
                translation_placeholders={"device_id": device_id},
            )

        device = get_device(
            self._hass, device_id, resolve_ha_url(self._hass, self._settings.ha_url)
        )
        if device is None:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="device_not_found",
                translation_placeholders={"device_id": device_id},
            )
        return device

    @staticmethod
    def _check_subject(subject: str) -> str:
        cleaned = clean_subject(subject)
        if not cleaned:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="subject_empty",
                translation_placeholders={"subject": repr(subject)},
            )
        return cleaned

    def _fire_event(
        self, action: TicketAction, ticket_id: int, device_id: str, outbox_id: str | None
    ) -> None:
        data: dict[str, str | int] = {
            "action": action,
            "ticket_id": ticket_id,
            "ticket_url": self.ticket_url(ticket_id),
            "device_id": device_id,
            "config_entry_id": self._entry.entry_id,
        }
        if outbox_id is not None:
            data[ATTR_OUTBOX_ID] = outbox_id
        self._hass.bus.async_fire(EVENT_TICKET, data)

    def _raise_failure(self, operation: str, failure: TicketDeliveryError) -> NoReturn:
        """Log a failed delivery once and raise it as a translated HomeAssistantError."""
        error = failure.error
        ticket = str(failure.ticket_id) if failure.ticket_id is not None else "none"
        placeholders = {
            "device_id": failure.device_id,
            "ticket_id": ticket,
            "step": failure.step,
            "queue": self._settings.queue,
            "url": self._rt_url,
            "error": str(error),
        }

        LOGGER.error(
            "Could not %s for device %s (ticket %s, step %s) in RT %s: %s",
            operation,
            failure.device_id,
            ticket,
            failure.step,
            self._rt_url,
            error,
        )

        if isinstance(error, UnsafeURLError):
            key = "ticket_unsafe_url"
        elif isinstance(error, RTConnectionError):
            key = "ticket_cannot_connect"
        elif isinstance(error, RTAuthenticationError):
            # An action call cannot raise ConfigEntryAuthFailed to start a reauth the way
            # setup can, so the flow is started here.
            self._entry.async_start_reauth(self._hass)
            key = "ticket_invalid_auth"
        elif failure.step == "verify" and isinstance(error, RTAPIError):
            key = "ticket_custom_fields_missing"
            placeholders["fields"] = ", ".join(error.messages)
        elif _is_permission_denied(error):
            key = "ticket_permission_denied"
            placeholders["right"] = _RIGHT_FOR_STEP[failure.step]
            placeholders["rt_object"] = (
                f"catalog {self._settings.catalog}"
                if failure.step == "asset"
                else f"queue {self._settings.queue}"
            )
            placeholders["error"] = _rt_reason(error)
        else:
            key = "ticket_rt_error"
            placeholders["error"] = _rt_reason(error)

        raise HomeAssistantError(
            translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders
        ) from failure
