"""The outbox: ticket requests kept in Home Assistant's storage until RT can take them.

A create_ticket or resolve_ticket call goes to the outbox and returns "queued" with an
outbox id in three cases. RT stays unreachable after the retries of a transient fault
(connection error, timeout, HTTP 429, 502, 503, 504), RT is already known to be
unreachable, or earlier requests for the same device still wait, so that calls keep their
order. Faults a retry cannot fix (401, 403, 400, invalid input) are raised, never queued.

The requests are delivered in call order per device, through the same search-before-write
steps as a live call, so a create that reached RT before its reply was lost becomes a
comment and not a second ticket. While RT is unreachable the outbox probes it with
exponential backoff and jitter, and it starts delivering as soon as RT responds. Each
delivery fires the ha_rt_ticket event with the request's outbox id. A probe or a delivery
pass runs as a short background task of the config entry and a timer waits between
probes, so nothing runs while there is nothing to do.

Every change is written to storage before the call returns, so the requests survive an
entry reload and a restart of Home Assistant. A request older than the maximum age is
dropped, a full outbox rejects new requests, and both are logged and reported (a repair
issue and a translated error), never silent.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final, Literal, NotRequired, TypedDict

from homeassistant.core import HassJob, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.start import async_at_started
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util
from homeassistant.util.ulid import ulid_now

from .const import DOMAIN, LOGGER
from .net import UnsafeURLError
from .rt import RTAuthenticationError, RTConnectionError, RTError
from .tickets import TicketDeliveryError, TicketRequest

if TYPE_CHECKING:
    from collections.abc import Callable

    from homeassistant.util.json import JsonObjectType

    from .data import EntrySettings, RTConfigEntry
    from .rt import RTClient
    from .tickets import TicketManager

STORAGE_VERSION: Final = 1

# Devices delivered at the same time. Requests of one device always go one after another.
MAX_PARALLEL_DEVICES: Final = 4

# How long RT may stay unreachable before a repair issue reports it.
UNREACHABLE_ISSUE_DELAY: Final = timedelta(minutes=15)

ISSUE_RT_UNREACHABLE: Final = "rt_unreachable"
ISSUE_OUTBOX_EXPIRED: Final = "outbox_expired"
ISSUE_OUTBOX_REJECTED: Final = "outbox_rejected"
OUTBOX_ISSUES: Final = (ISSUE_RT_UNREACHABLE, ISSUE_OUTBOX_EXPIRED, ISSUE_OUTBOX_REJECTED)

type QueuedAction = Literal["create_ticket", "resolve_ticket"]


@dataclass(frozen=True, slots=True)
class ProbeBackoff:
    """Seconds between two probes of an unreachable RT.

    The delay doubles from `base_delay` with each failed probe up to `max_delay`, and
    random jitter takes up to half of it off, so that instances that lost RT together
    do not probe it together.
    """

    base_delay: float = 1.0
    max_delay: float = 15.0

    def delay(self, failures: int) -> float:
        """Return the delay after `failures` failed probes in a row (1-based)."""
        capped = min(self.base_delay * 2.0 ** (failures - 1), self.max_delay)

        # Jitter spreads the probes out. It is not a security measure.
        return capped * random.uniform(0.5, 1.0)  # noqa: S311


DEFAULT_PROBE_BACKOFF: Final = ProbeBackoff()


@dataclass(frozen=True, slots=True)
class QueuedRequest:
    """The response of a call that went to the outbox."""

    outbox_id: str
    pending: int

    def as_response(self) -> JsonObjectType:
        """Return the action response."""
        return {"action": "queued", "outbox_id": self.outbox_id, "pending": self.pending}


@dataclass(frozen=True, slots=True)
class OutboxRequest:
    """A create_ticket or resolve_ticket call waiting in the outbox.

    `ticket` is the checked create_ticket request, or None for resolve_ticket, whose
    optional comment is `resolve_text`.
    """

    outbox_id: str
    queued_at: datetime
    device_id: str
    ticket: TicketRequest | None = None
    resolve_text: str | None = None

    @property
    def action(self) -> QueuedAction:
        """The action that was called."""
        return "create_ticket" if self.ticket is not None else "resolve_ticket"

    def describe(self) -> str:
        """Describe the request for the log, for example "01J... (create_ticket for ...)"."""
        subject = f", subject {self.ticket.subject!r}" if self.ticket is not None else ""
        queued = self.queued_at.isoformat(timespec="seconds")
        return (
            f"{self.outbox_id} ({self.action} for device {self.device_id}{subject}, "
            f"queued {queued})"
        )


class _StoredRequest(TypedDict):
    id: str
    action: str
    queued_at: str
    device_id: str
    text: str | None
    subject: NotRequired[str]
    area: NotRequired[str]
    device_url: NotRequired[str]
    create_sent: NotRequired[bool]


class _StoredOutbox(TypedDict):
    requests: list[_StoredRequest]
    # The RT URL that last passed the setup checks: only then may setup go on without RT.
    checked_url: str | None
    unreachable_since: str | None


def _create_store(hass: HomeAssistant, entry_id: str) -> Store[_StoredOutbox]:
    # Atomic writes fsync the file before it replaces the old one, so a power cut during
    # a write leaves the previous outbox rather than an empty or torn file.
    return Store(hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}.outbox", atomic_writes=True)


def _request_to_storage(request: OutboxRequest) -> _StoredRequest:
    stored: _StoredRequest = {
        "id": request.outbox_id,
        "action": request.action,
        "queued_at": request.queued_at.isoformat(),
        "device_id": request.device_id,
        "text": request.resolve_text,
    }
    if request.ticket is not None:
        stored["text"] = request.ticket.text
        stored["subject"] = request.ticket.subject
        stored["area"] = request.ticket.area
        stored["device_url"] = request.ticket.device_url
        stored["create_sent"] = request.ticket.create_sent
    return stored


def _request_from_storage(item: _StoredRequest) -> OutboxRequest:
    # The file may have been edited by hand, so the shape is checked, not trusted.
    queued_at = dt_util.parse_datetime(str(item["queued_at"]))
    if queued_at is None or queued_at.tzinfo is None:
        msg = f"queued_at {item['queued_at']!r} is not a date and time with a time zone"
        raise ValueError(msg)

    device_id = str(item["device_id"])
    text: object = item["text"]
    if text is not None and not isinstance(text, str):
        msg = f"text of {item['id']!r} is not a string"
        raise TypeError(msg)

    match item["action"]:
        case "create_ticket":
            ticket = TicketRequest(
                device_id=device_id,
                subject=str(item["subject"]),
                text=text or "",
                area=str(item.get("area", "")),
                device_url=str(item.get("device_url", "")),
                create_sent=item.get("create_sent") is True,
            )
            return OutboxRequest(str(item["id"]), queued_at, device_id, ticket=ticket)
        case "resolve_ticket":
            return OutboxRequest(str(item["id"]), queued_at, device_id, resolve_text=text)
        case other:
            msg = f"unknown action {other!r}"
            raise ValueError(msg)


class Outbox:
    """The outbox of one config entry: stored requests, their delivery and RT reachability.

    `connected` is the outcome of the last request to RT. Live calls report it through
    `async_rt_responded` and `async_rt_unreachable`. While it is False, the outbox probes RT.
    """

    def __init__(
        self,
        hass: HomeAssistant,
        entry: RTConfigEntry,
        client: RTClient,
        settings: EntrySettings,
        tickets: TicketManager,
        *,
        probe_backoff: ProbeBackoff | None = None,
    ) -> None:
        """Prepare the outbox. Nothing is read until `async_load`.

        Without `probe_backoff`, DEFAULT_PROBE_BACKOFF as it is at this call applies.
        """
        self._hass = hass
        self._entry = entry
        self._client = client
        self._settings = settings
        self._tickets = tickets
        self._probe_backoff = probe_backoff or DEFAULT_PROBE_BACKOFF
        self._store = _create_store(hass, entry.entry_id)

        self._requests: list[OutboxRequest] = []
        self._checked_url: str | None = None
        self._connected = True
        self._unreachable_since: datetime | None = None
        self._unreachable_issue_raised = False

        # Set when the entry was set up without RT. Once RT responds, the entry is reloaded
        # so that setup runs the checks it skipped.
        self._started_without_rt = False
        self._token_rejected = False
        self._full_logged = False

        # The probe or delivery pass that runs, the timer of the next probe, and the
        # failed probes in a row, which set the backoff.
        self._task: asyncio.Task[None] | None = None
        self._cancel_probe_timer: Callable[[], None] | None = None
        self._cancel_start: Callable[[], None] | None = None
        self._failed_probes = 0
        self._stopped = True
        self._listeners: list[Callable[[], None]] = []

    @property
    def pending(self) -> int:
        """The number of requests waiting in the outbox."""
        return len(self._requests)

    @property
    def connected(self) -> bool:
        """Whether RT responded to the last request sent to it."""
        return self._connected

    @property
    def requests(self) -> tuple[OutboxRequest, ...]:
        """The waiting requests in call order."""
        return tuple(self._requests)

    # Life cycle

    async def async_load(self) -> None:
        """Read the stored requests. Damaged ones are logged and dropped."""
        stored = await self._store.async_load()
        if stored is None:
            return

        self._checked_url = stored.get("checked_url")
        since = stored.get("unreachable_since")
        self._unreachable_since = dt_util.parse_datetime(since) if since else None

        for item in stored.get("requests", []):
            try:
                self._requests.append(_request_from_storage(item))
            except (KeyError, TypeError, ValueError) as err:
                LOGGER.error(
                    "Dropped the damaged outbox request %r of %s from %s: %s",
                    item,
                    self._entry.title,
                    self._store.path,
                    err,
                )

        if self._requests:
            LOGGER.info(
                "%s ticket requests of %s wait in the outbox for RT server %s",
                len(self._requests),
                self._entry.title,
                self._settings.url,
            )

    def can_start_without_rt(self) -> bool:
        """Tell whether setup may go on while RT is unreachable, so calls can be queued.

        Only when the outbox is on and the entry's RT URL passed the setup checks before,
        because an entry that never reached this server should fail setup with the reason.
        """
        return self._settings.outbox_enabled and self._checked_url == self._settings.url

    @callback
    def async_start_without_rt(self, error: Exception) -> None:
        """Mark RT unreachable for an entry that is set up without it."""
        LOGGER.warning(
            "RT server %s is unreachable (%s), so %s is set up without it and ticket "
            "requests wait in the outbox until it responds",
            self._settings.url,
            error,
            self._entry.title,
        )
        self._started_without_rt = True
        self._connected = False
        if self._unreachable_since is None:
            self._unreachable_since = dt_util.utcnow()
            self._schedule_save()

    async def async_rt_checked(self) -> None:
        """Record that the entry's RT URL passed the setup checks."""
        if self._checked_url != self._settings.url or self._unreachable_since is not None:
            self._checked_url = self._settings.url
            self._unreachable_since = None
            await self._async_save()
        ir.async_delete_issue(self._hass, DOMAIN, _issue_id(ISSUE_RT_UNREACHABLE, self._entry))

    @callback
    def async_start(self) -> None:
        """Start delivering the stored requests, or probing RT, once Home Assistant runs.

        After a restart, automations that wait for the delivery events are set up only
        while Home Assistant starts, so the delivery waits for it to have started.
        """
        self._cancel_start = async_at_started(self._hass, self._async_hass_started)

    @callback
    def _async_hass_started(self, _hass: HomeAssistant) -> None:
        self._cancel_start = None
        self._stopped = False
        self._async_wake()

    async def async_stop(self) -> None:
        """Stop probing and delivering, and write what is not written yet.

        The requests stay in storage for the next setup of the entry.
        """
        self._stopped = True
        self._cancel_probe()
        if self._cancel_start is not None:
            self._cancel_start()
            self._cancel_start = None

        if self._task is not None:
            self._task.cancel()
            # asyncio.wait does not raise the task's CancelledError into this coroutine.
            await asyncio.wait([self._task])
            self._task = None

        await self._async_save()

    @callback
    def async_add_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call `listener` when the pending count or the reachability changes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    # Queueing

    def must_queue(self, device_id: str) -> bool:
        """Tell whether a new call for the device goes to the outbox without trying RT.

        True while RT is known to be unreachable, and while earlier requests for the
        device wait, so that the new one cannot overtake them. With the outbox turned off
        every call goes to RT, and requests stored before are still delivered.
        """
        if not self._settings.outbox_enabled:
            return False
        return not self._connected or any(
            request.device_id == device_id for request in self._requests
        )

    def accepts(self, failure: TicketDeliveryError) -> bool:
        """Tell whether a failed live call goes to the outbox instead of raising.

        Only transient faults qualify. The RT client raises RTConnectionError for all of
        them, and the ticket manager has retried them.
        """
        return self._settings.outbox_enabled and isinstance(failure.error, RTConnectionError)

    async def async_add_create(
        self, request: TicketRequest, *, cause: TicketDeliveryError | None = None
    ) -> QueuedRequest:
        """Store a create_ticket request and return the queued response.

        Raises HomeAssistantError when the outbox is full.
        """
        return await self._async_add(
            OutboxRequest(ulid_now(), dt_util.utcnow(), request.device_id, ticket=request), cause
        )

    async def async_add_resolve(
        self, device_id: str, text: str | None, *, cause: TicketDeliveryError | None = None
    ) -> QueuedRequest:
        """Store a resolve_ticket request and return the queued response.

        Raises HomeAssistantError when the outbox is full.
        """
        return await self._async_add(
            OutboxRequest(ulid_now(), dt_util.utcnow(), device_id, resolve_text=text), cause
        )

    async def _async_add(
        self, request: OutboxRequest, cause: TicketDeliveryError | None
    ) -> QueuedRequest:
        if len(self._requests) >= self._settings.outbox_max_pending:
            self._raise_full(request, cause)

        self._requests.append(request)
        await self._async_save()

        LOGGER.debug(
            "Queued %s of %s, %s pending: %s",
            request.describe(),
            self._entry.title,
            len(self._requests),
            cause or "RT is unreachable or earlier requests of the device wait",
        )
        self._notify_listeners()
        if self._connected:
            self._async_wake()
        return QueuedRequest(request.outbox_id, len(self._requests))

    def _raise_full(self, request: OutboxRequest, cause: TicketDeliveryError | None) -> None:
        """Log a full outbox once until it has room again, and raise a translated error."""
        limit = self._settings.outbox_max_pending
        if not self._full_logged:
            LOGGER.error(
                "The outbox of %s is full with %s ticket requests for RT server %s. Rejecting "
                "%s and every further request until RT takes some (%s)",
                self._entry.title,
                limit,
                self._settings.url,
                request.describe(),
                cause or "RT is unreachable",
            )
            self._full_logged = True

        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="outbox_full",
            translation_placeholders={
                "title": self._entry.title,
                "max_pending": str(limit),
                "url": self._settings.url,
                "device_id": request.device_id,
            },
        )

    # Reachability

    @callback
    def async_rt_responded(self) -> None:
        """Record that RT responded to a request, and start delivering what waits."""
        if self._connected:
            return

        since = self._unreachable_since
        downtime = f" after {dt_util.utcnow() - since}" if since is not None else ""
        LOGGER.info(
            "RT server %s responds again%s. Delivering %s queued ticket requests of %s",
            self._settings.url,
            downtime,
            len(self._requests),
            self._entry.title,
        )
        self._connected = True
        self._unreachable_since = None
        self._schedule_save()

        ir.async_delete_issue(self._hass, DOMAIN, _issue_id(ISSUE_RT_UNREACHABLE, self._entry))
        self._unreachable_issue_raised = False

        self._async_wake()
        self._notify_listeners()

    @callback
    def async_rt_unreachable(self, error: RTError | UnsafeURLError) -> None:
        """Record that RT could not be reached, and start probing it."""
        if not self._connected:
            return

        LOGGER.warning(
            "RT server %s is unreachable: %s. %s",
            self._settings.url,
            error,
            (
                "Ticket requests wait in the outbox until it responds"
                if self._settings.outbox_enabled
                else "The outbox is off, so ticket requests fail until it responds"
            ),
        )
        self._connected = False
        if self._unreachable_since is None:
            self._unreachable_since = dt_util.utcnow()
        self._schedule_save()

        self._async_wake()
        self._notify_listeners()

    # Delivery

    @callback
    def _async_wake(self) -> None:
        """Start a probe or a delivery pass now, unless one runs or a probe is scheduled.

        A scheduled probe keeps its backoff while RT is unreachable. Once RT responded,
        the timer is cancelled and the delivery starts at once.
        """
        if self._stopped or self._token_rejected or self._task is not None:
            return
        if not self._connected and self._cancel_probe_timer is not None:
            return
        if self._connected and not self._requests:
            return

        self._cancel_probe()
        self._task = self._entry.async_create_background_task(
            self._hass, self._async_work(), f"{DOMAIN} outbox of {self._entry.title}"
        )

    async def _async_work(self) -> None:
        """Run one probe or delivery pass, then schedule what comes next."""
        try:
            next_probe = await self._async_probe_or_deliver()
        finally:
            self._task = None

        if next_probe is not None:
            self._schedule_probe(next_probe)
        else:
            # Calls may have queued requests while the pass ran.
            self._async_wake()

    async def _async_probe_or_deliver(self) -> float | None:
        """Probe an unreachable RT or deliver, and return the seconds until the next probe."""
        await self._async_drop_expired()

        if not self._connected:
            if not await self._async_probe():
                self._failed_probes += 1
                self._update_unreachable_issue()
                return self._probe_backoff.delay(self._failed_probes)

            self._failed_probes = 0
            if self._started_without_rt:
                # Setup skipped its checks of the queue, catalog and custom fields, so it
                # runs again now that it can reach RT, and the new setup delivers.
                LOGGER.info("Reloading %s to finish its setup with RT", self._entry.title)
                self._stopped = True
                self._hass.config_entries.async_schedule_reload(self._entry.entry_id)
                return None

        await self._async_deliver_pending()

        if not self._connected:
            # The pass stopped at an unreachable RT, so probe it after the first backoff step.
            self._failed_probes = 1
            return self._probe_backoff.delay(self._failed_probes)
        return None

    @callback
    def _schedule_probe(self, seconds: float) -> None:
        if self._stopped or self._token_rejected:
            return
        self._cancel_probe()
        self._cancel_probe_timer = async_call_later(
            self._hass, seconds, HassJob(self._async_probe_due, cancel_on_shutdown=True)
        )

    @callback
    def _async_probe_due(self, _now: datetime) -> None:
        self._cancel_probe_timer = None
        self._async_wake()

    @callback
    def _cancel_probe(self) -> None:
        if self._cancel_probe_timer is not None:
            self._cancel_probe_timer()
            self._cancel_probe_timer = None

    async def _async_probe(self) -> bool:
        """Send RT one cheap request and return whether it responded.

        A rejected token counts as a response. It starts a reauthentication and stops the
        delivery until the entry reloads with a new token. An entry set up without RT is
        reloaded instead, and its setup checks start the reauthentication.
        """
        try:
            await self._client.get_server_info()
        except (RTConnectionError, UnsafeURLError) as err:
            LOGGER.debug("Probe of RT server %s failed: %s", self._settings.url, err)
            self.async_rt_unreachable(err)
            return False
        except RTAuthenticationError as err:
            self.async_rt_responded()
            if not self._started_without_rt:
                self._stop_for_token(err)
        except RTError as err:
            # RT responded, if oddly. The delivery reports what RT rejects.
            LOGGER.debug("Probe of RT server %s: %s", self._settings.url, err)
            self.async_rt_responded()
        else:
            self.async_rt_responded()
        return True

    async def _async_deliver_pending(self) -> None:
        """Deliver the waiting requests, devices in parallel, each device in call order."""
        device_ids = list(dict.fromkeys(request.device_id for request in self._requests))
        slots = asyncio.Semaphore(MAX_PARALLEL_DEVICES)

        async def deliver(device_id: str) -> None:
            async with slots:
                await self._async_deliver_device(device_id)

        await asyncio.gather(*(deliver(device_id) for device_id in device_ids))

    async def _async_deliver_device(self, device_id: str) -> None:
        """Deliver the device's requests oldest first, until none is left or RT fails."""
        while self._connected and not self._token_rejected:
            request = next((item for item in self._requests if item.device_id == device_id), None)
            if request is None:
                return

            if not await self._async_deliver_one(request):
                return

    async def _async_deliver_one(self, request: OutboxRequest) -> bool:
        """Deliver one request, and return False when delivery must wait for RT to respond."""
        try:
            if request.ticket is not None:
                await self._tickets.async_deliver(request.ticket, outbox_id=request.outbox_id)
            else:
                await self._tickets.async_deliver_resolve(
                    request.device_id, request.resolve_text, outbox_id=request.outbox_id
                )
        except TicketDeliveryError as err:
            return await self._async_delivery_failed(request, err)

        LOGGER.debug("Delivered %s of %s", request.describe(), self._entry.title)
        await self._async_remove([request])
        return True

    async def _async_delivery_failed(
        self, request: OutboxRequest, failure: TicketDeliveryError
    ) -> bool:
        """Keep, or drop and report, a request whose delivery failed."""
        error = failure.error

        # The ticket manager has marked RT unreachable already, and the request stays.
        if isinstance(error, (RTConnectionError, UnsafeURLError)):
            if isinstance(error, UnsafeURLError):
                self.async_rt_unreachable(error)
            return False

        if isinstance(error, RTAuthenticationError):
            self._stop_for_token(error)
            return False

        if failure.step == "verify":
            # RT created the ticket but did not store its custom fields. The ticket
            # exists, so the request is done, and the next create checks the fields again.
            LOGGER.error(
                "Delivered %s of %s, but RT did not store the ticket's custom fields: %s",
                request.describe(),
                self._entry.title,
                error,
            )
            await self._async_remove([request])
            return True

        LOGGER.error(
            "RT server %s rejected %s of %s at step %s, so it is dropped from the outbox: %s",
            self._settings.url,
            request.describe(),
            self._entry.title,
            failure.step,
            error,
        )
        await self._async_remove([request])
        self._raise_dropped_issue(ISSUE_OUTBOX_REJECTED, 1, error=str(error))
        return True

    def _stop_for_token(self, error: RTAuthenticationError) -> None:
        """Stop delivering and start a reauthentication. The requests wait for the reload."""
        if self._token_rejected:
            return

        LOGGER.error(
            "RT server %s rejected the API token of %s (%s). %s queued ticket requests "
            "wait until the entry is re-authenticated",
            self._settings.url,
            self._entry.title,
            error,
            len(self._requests),
        )
        self._token_rejected = True
        self._entry.async_start_reauth(self._hass)

    # Limits and repair issues

    async def _async_drop_expired(self) -> None:
        """Drop, log and report the requests older than the maximum age."""
        max_age = timedelta(hours=self._settings.outbox_max_age_hours)
        now = dt_util.utcnow()
        expired = [request for request in self._requests if now - request.queued_at > max_age]
        if not expired:
            return

        LOGGER.error(
            "Dropped %s ticket requests of %s from the outbox: they waited longer than %s h "
            "for RT server %s: %s",
            len(expired),
            self._entry.title,
            self._settings.outbox_max_age_hours,
            self._settings.url,
            "; ".join(request.describe() for request in expired),
        )
        await self._async_remove(expired)
        self._raise_dropped_issue(
            ISSUE_OUTBOX_EXPIRED, len(expired), max_age=str(self._settings.outbox_max_age_hours)
        )

    def _update_unreachable_issue(self) -> None:
        """Raise the repair issue once RT has been unreachable for UNREACHABLE_ISSUE_DELAY."""
        since = self._unreachable_since
        if self._unreachable_issue_raised or since is None:
            return
        if dt_util.utcnow() - since < UNREACHABLE_ISSUE_DELAY:
            return

        ir.async_create_issue(
            self._hass,
            DOMAIN,
            _issue_id(ISSUE_RT_UNREACHABLE, self._entry),
            is_fixable=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key=ISSUE_RT_UNREACHABLE,
            translation_placeholders={
                "title": self._entry.title,
                "url": self._settings.url,
                "since": dt_util.as_local(since).strftime("%Y-%m-%d %H:%M"),
            },
        )
        self._unreachable_issue_raised = True

    def _raise_dropped_issue(self, key: str, count: int, **placeholders: str) -> None:
        """Raise or update the issue that counts requests dropped without a ticket.

        The issue stays, with a growing count, until the user acknowledges it. Home
        Assistant 2026.10 gives a fixable issue of an integration without a repairs
        platform a fix flow with one confirm step, which deletes the issue.
        """
        issue_id = _issue_id(key, self._entry)
        existing = ir.async_get(self._hass).async_get_issue(DOMAIN, issue_id)
        earlier = 0
        if existing is not None and existing.translation_placeholders is not None:
            earlier = int(existing.translation_placeholders.get("count", "0"))

        ir.async_create_issue(
            self._hass,
            DOMAIN,
            issue_id,
            is_fixable=True,
            is_persistent=True,
            severity=ir.IssueSeverity.WARNING,
            translation_key=key,
            translation_placeholders={
                "title": self._entry.title,
                "url": self._settings.url,
                "count": str(earlier + count),
                **placeholders,
            },
        )

    # Storage and listeners

    async def _async_remove(self, requests: list[OutboxRequest]) -> None:
        removed = {request.outbox_id for request in requests}
        self._requests = [item for item in self._requests if item.outbox_id not in removed]
        self._full_logged = False

        await self._async_save()
        self._notify_listeners()

    async def _async_save(self) -> None:
        # NOTE: Store.async_save logs a failed write instead of raising (Home Assistant
        # 2026.10), so a full disk shows in the log, not in the action's response.
        await self._store.async_save(self._data_to_save())

    @callback
    def _schedule_save(self) -> None:
        """Save within a second, for changes a restart may lose, such as the reachability."""
        self._store.async_delay_save(self._data_to_save, 1.0)

    def _data_to_save(self) -> _StoredOutbox:
        since = self._unreachable_since
        return {
            "requests": [_request_to_storage(request) for request in self._requests],
            "checked_url": self._checked_url,
            "unreachable_since": since.isoformat() if since is not None else None,
        }

    @callback
    def _notify_listeners(self) -> None:
        for listener in list(self._listeners):
            listener()


def _issue_id(key: str, entry: RTConfigEntry) -> str:
    return f"{key}_{entry.entry_id}"


async def async_remove_outbox(hass: HomeAssistant, entry: RTConfigEntry) -> None:
    """Delete a removed entry's outbox and its issues, logging how many requests are lost."""
    store = _create_store(hass, entry.entry_id)
    stored = await store.async_load()
    requests = stored.get("requests", []) if stored is not None else []

    if requests:
        LOGGER.warning(
            "Removed %s with %s ticket requests still in its outbox. They are dropped "
            "without a ticket",
            entry.title,
            len(requests),
        )
    await store.async_remove()

    for key in OUTBOX_ISSUES:
        ir.async_delete_issue(hass, DOMAIN, _issue_id(key, entry))
