"""Outbox: ticket requests kept while RT is unreachable and delivered once it responds.

RT outages are real here: the tests stop the web server of the `rt_server` fixture
(SIGTERM to its pid) and start it again on the same port with the same data. Faults RT
cannot produce on demand (a reply held back past the client timeout after RT acted, a
503 or 401 at a chosen request) come from FaultProxy, the local aiohttp server of
test_tickets.py that forwards everything else to the real RT.

A restart of Home Assistant is emulated the way pytest-homeassistant-custom-component
allows: its `hass_storage` fixture keeps Home Assistant's storage in one dict for the whole
test (it patches the Store class, not one instance), so a second instance made with
`async_test_home_assistant` after the first one stopped reads the same storage, which is
what a new process on the same configuration directory would read. The plugin's bare
instances do not keep the device and entity registries, so the second instance starts
with empty registries; the queued requests carry everything their delivery needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from unittest.mock import patch

import aiohttp
import pytest
from homeassistant import loader
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import (
    EVENT_HOMEASSISTANT_STARTED,
    STATE_OFF,
    STATE_ON,
    EntityCategory,
)
from homeassistant.core import CoreState
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import frame
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
    async_test_home_assistant,
)

from custom_components.ha_rt import outbox as outbox_module
from custom_components.ha_rt.assets import COALESCE_MAX_SECONDS
from custom_components.ha_rt.const import (
    CONF_CATALOG,
    CONF_OUTBOX_ENABLED,
    CONF_OUTBOX_MAX_AGE,
    CONF_OUTBOX_MAX_PENDING,
    CONF_SYNC_INTERVAL,
    CONF_URL,
    DOMAIN,
    EVENT_TICKET,
)
from custom_components.ha_rt.data import EntrySettings
from custom_components.ha_rt.outbox import (
    Outbox,
    OutboxRequest,
    ProbeBackoff,
    QueuedRequest,
    _request_from_storage,
    _request_to_storage,
)
from custom_components.ha_rt.rt.sql import equals
from custom_components.ha_rt.tickets import TicketManager, TicketRequest, open_tickets_query

from .helpers import (
    ADDRESS,
    HA_URL,
    add_device,
    async_setup_rt_entry,
    rt_client,
    rt_entry,
    rt_settings,
)
from .test_tickets import (
    FAST_RETRY,
    LOGGER_NAME,
    Fault,
    ManagerRig,
    closed_port,
    create_ticket,
    resolve_ticket,
    rights_without,
    transaction_contents,
    unique_name,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator

    from homeassistant.core import Event, HomeAssistant

    from .rt_server import RTServer

pytestmark = pytest.mark.usefixtures("socket_enabled")

# Probes a few times per second, for tests that do not measure the backoff.
FAST_PROBE = ProbeBackoff(base_delay=0.05, max_delay=0.2)

ACCEPTANCE_DEADLINE = 60.0


# --- Helpers ------------------------------------------------------------------------


async def wait_for(condition: Callable[[], bool], what: str, limit: float = 30.0) -> float:
    """Wait until `condition` is true and return the seconds it took. Fail after `limit`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > limit:
            pytest.fail(f"timed out after {limit:g} s waiting for {what}")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


def storage_key(entry_id: str) -> str:
    return f"{DOMAIN}.{entry_id}.outbox"


def stored_requests(hass_storage: dict[str, Any], entry_id: str) -> list[dict[str, Any]]:
    stored = hass_storage.get(storage_key(entry_id))
    return [] if stored is None else list(stored["data"]["requests"])


def outbox_entity_id(hass: HomeAssistant, platform: str, entry_id: str, key: str) -> str:
    entity_id = er.async_get(hass).async_get_entity_id(platform, DOMAIN, f"{entry_id}_{key}")
    assert entity_id is not None, f"no {platform} entity {key} for entry {entry_id}"
    return entity_id


def entity_state(hass: HomeAssistant, platform: str, entry_id: str, key: str) -> str:
    state = hass.states.get(outbox_entity_id(hass, platform, entry_id, key))
    assert state is not None
    return state.state


def pending_state(hass: HomeAssistant, entry_id: str) -> str:
    return entity_state(hass, "sensor", entry_id, "pending_requests")


def connectivity_state(hass: HomeAssistant, entry_id: str) -> str:
    return entity_state(hass, "binary_sensor", entry_id, "rt_connectivity")


def issue_ids(hass: HomeAssistant) -> set[str]:
    return {issue_id for domain, issue_id in ir.async_get(hass).issues if domain == DOMAIN}


def warnings_and_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith(LOGGER_NAME) and record.levelno >= logging.WARNING
    ]


def ticket_request(device_id: str, text: str = "Water detected.") -> TicketRequest:
    return TicketRequest(
        device_id=device_id,
        subject="Water leak",
        text=text,
        area="",
        device_url=f"{HA_URL}/config/devices/device/{device_id}",
    )


def fixed_entry(rt_server: RTServer, entry_id: str, **changes: Any) -> MockConfigEntry:
    """Return a config entry for the test RT with a fixed id, for a second instance."""
    template = rt_entry(rt_server, **changes)
    return MockConfigEntry(
        domain=DOMAIN,
        entry_id=entry_id,
        title=template.title,
        data=dict(template.data),
        options=dict(template.options),
    )


@contextlib.asynccontextmanager
async def home_assistant_instance() -> AsyncIterator[HomeAssistant]:
    """Run one more Home Assistant on the test's storage, and stop it at the end.

    It gets what the plugin's `hass` and `enable_custom_integrations` fixtures give
    theirs: the frame helper and the custom integration loader. Stopping it does not
    unload config entries, as a real shutdown does not either.
    """
    async with async_test_home_assistant() as instance:
        frame.async_setup(instance)
        instance.data.pop(loader.DATA_CUSTOM_COMPONENTS)
        try:
            yield instance
        finally:
            await instance.async_stop(force=True)


# --- Fixtures -----------------------------------------------------------------------


@pytest.fixture
def fast_probe() -> Iterator[None]:
    """Make the outboxes of loaded entries probe RT a few times per second."""
    with patch.object(outbox_module, "DEFAULT_PROBE_BACKOFF", FAST_PROBE):
        yield


@pytest.fixture
def restore_rt(rt_server: RTServer) -> Iterator[RTServer]:
    """Return the test RT, and start it again after a test that stopped it."""
    yield rt_server
    rt_server.start()


@dataclass
class OutboxRig(ManagerRig):
    """Ticket managers with outboxes outside a loaded entry, for clients with faults."""

    outboxes: list[Outbox] = field(default_factory=list)

    async def async_close(self) -> None:
        for outbox in self.outboxes:
            await outbox.async_stop()
        await super().async_close()

    async def build(
        self,
        *,
        url: str | None = None,
        token: str | None = None,
        queue: str | None = None,
        request_timeout: float = 10.0,
        start: bool = True,
        **outbox_settings: Any,
    ) -> tuple[TicketManager, Outbox]:
        session = aiohttp.ClientSession()
        self.sessions.append(session)
        settings = rt_settings(self.rt_server, url=url, token=token, queue=queue, **outbox_settings)
        client = rt_client(session, self.rt_server, settings, request_timeout=request_timeout)
        tickets = TicketManager(self.hass, self.entry, client, settings, retry_policy=FAST_RETRY)
        outbox = Outbox(self.hass, self.entry, client, settings, tickets, probe_backoff=FAST_PROBE)
        await outbox.async_load()
        tickets.outbox = outbox
        self.outboxes.append(outbox)

        if start:
            outbox.async_start()
        return tickets, outbox


@pytest.fixture
async def rig(
    hass: HomeAssistant, rt_server: RTServer, source_entry: MockConfigEntry
) -> AsyncIterator[OutboxRig]:
    """Outboxes outside a loaded entry, for clients with faults."""
    rig = await OutboxRig.async_create(hass, rt_server, source_entry)
    yield rig
    await rig.async_close()


# --- Backoff and storage ------------------------------------------------------------


@pytest.mark.parametrize(
    ("failures", "low", "high"),
    [
        (1, 0.5, 1.0),
        (2, 1.0, 2.0),
        (4, 4.0, 8.0),
        (5, 7.5, 15.0),  # 16 s capped at 15 s
        (40, 7.5, 15.0),
    ],
)
def test_probe_backoff_delay_bounds(failures, low, high):
    delays = [ProbeBackoff().delay(failures) for _ in range(200)]

    assert min(delays) >= low
    assert max(delays) <= high
    # Jitter: the delays are not all the same.
    assert len(set(delays)) > 1


@pytest.mark.parametrize(
    "request_",
    [
        OutboxRequest(
            "01ARZ3NDEKTSV4RRFFQ69G5FAV",
            dt_util.parse_datetime("2026-12-04T10:00:00+00:00"),  # type: ignore[arg-type]
            "device-1",
            ticket=TicketRequest("device-1", "Leak", "Water.\nMore.", "Basement", "http://x/d"),
        ),
        OutboxRequest(
            "01ARZ3NDEKTSV4RRFFQ69G5FAW",
            dt_util.parse_datetime("2026-12-04T10:00:00+01:00"),  # type: ignore[arg-type]
            "device-1",
            resolve_text="Dry again.",
        ),
        OutboxRequest(
            "01ARZ3NDEKTSV4RRFFQ69G5FAX",
            dt_util.parse_datetime("2026-12-04T10:00:00+00:00"),  # type: ignore[arg-type]
            "device-2",
        ),
    ],
    ids=["create", "resolve with text", "resolve without text"],
)
def test_stored_request_round_trip(request_):
    assert _request_from_storage(_request_to_storage(request_)) == request_


async def test_damaged_stored_requests_are_dropped(hass, hass_storage, rig, caplog):
    good = _request_to_storage(
        OutboxRequest("good", dt_util.utcnow(), "device-1", ticket=ticket_request("device-1"))
    )
    hass_storage[storage_key(rig.entry.entry_id)] = {
        "version": 1,
        "data": {
            "requests": [
                {**good, "id": "no time zone", "queued_at": "2026-12-04T10:00:00"},
                {**good, "id": "unknown action", "action": "delete_ticket"},
                {key: value for key, value in good.items() if key != "subject"},
                good,
            ],
            "checked_url": None,
            "unreachable_since": None,
        },
    }

    _, outbox = await rig.build(start=False)

    assert [request.outbox_id for request in outbox.requests] == ["good"]
    errors = warnings_and_errors(caplog)
    assert len(errors) == 3
    assert all(message.startswith("Dropped the damaged outbox request") for message in errors)


# --- Queueing decisions -------------------------------------------------------------


async def test_transient_fault_queues_then_delivers(hass, rig):
    proxy, url = await rig.proxy(Fault("GET", "tickets", status=503, times=3))
    tickets, outbox = await rig.build(url=url)
    device_id = rig.device("Queued sensor")
    events = async_capture_events(hass, EVENT_TICKET)

    queued = await tickets.async_create_ticket(device_id, "Leak", "Water detected.")

    assert isinstance(queued, QueuedRequest)
    assert queued.as_response() == {
        "action": "queued",
        "outbox_id": queued.outbox_id,
        "pending": 1,
    }
    await wait_for(lambda: outbox.pending == 0, "the delivery")
    assert outbox.connected
    assert len(events) == 1
    ticket_id = events[0].data["ticket_id"]
    assert events[0].data == {
        "action": "created",
        "ticket_id": ticket_id,
        "ticket_url": f"{url}/Ticket/Display.html?id={ticket_id}",
        "device_id": device_id,
        "config_entry_id": rig.entry.entry_id,
        "outbox_id": queued.outbox_id,
    }
    # Three failed searches, the probe, then the delivery's search, create and read-back.
    assert proxy.requests == [
        "GET tickets",
        "GET tickets",
        "GET tickets",
        "GET rt",
        "GET tickets",
        "POST ticket",
        f"GET ticket/{ticket_id}",
    ]


async def test_timed_out_create_gives_one_ticket(hass, rig, admin_client):
    # The first search passes, RT creates the ticket but its reply is held back past the
    # client's 1 s timeout, and both retries meet a 503, so the call is queued.
    proxy, url = await rig.proxy(
        Fault("GET", "tickets"),
        Fault("POST", "ticket", stall_after_forward=True),
        Fault("GET", "tickets", status=503, times=2),
    )
    tickets, outbox = await rig.build(url=url, request_timeout=1.0)
    device_id = rig.device("Slow sensor")
    events = async_capture_events(hass, EVENT_TICKET)

    queued = await tickets.async_create_ticket(device_id, "Leak", "Water detected.")
    await wait_for(lambda: outbox.pending == 0, "the delivery")

    in_rt = await admin_client.search_tickets(
        open_tickets_query(rig.rt_server.queue, device_id), fields=()
    )
    assert isinstance(queued, QueuedRequest)
    assert len(in_rt) == 1
    # The delivery recognises the ticket its own lost create made: it reports it as
    # created and does not add the text again as a comment.
    assert [(event.data["action"], event.data["ticket_id"]) for event in events] == [
        ("created", in_rt[0].id)
    ]
    assert events[0].data["outbox_id"] == queued.outbox_id
    assert transaction_contents(rig.rt_server, in_rt[0].id, "Comment") == []
    # After the probe and the search comes the one-off read-back of the custom fields.
    assert proxy.requests[-3:] == ["GET rt", "GET tickets", f"GET ticket/{in_rt[0].id}"]


@dataclass(frozen=True)
class Refusal:
    """A fault a retry cannot fix: what to break, and the error the call must raise."""

    name: str
    translation_key: str
    error: type[HomeAssistantError] = HomeAssistantError
    missing_rights: tuple[str, ...] = ()
    token: str | None = None
    subject: str = "Leak"
    unknown_device: bool = False
    on_existing_ticket: bool = False


REFUSALS = [
    Refusal("401 token rejected", "ticket_invalid_auth", token="1-999-" + "0" * 32),
    Refusal(
        "403 without CreateTicket", "ticket_permission_denied", missing_rights=("CreateTicket",)
    ),
    # RT 5.0.3 responds with 400 "Permission Denied" to a comment without the right.
    Refusal(
        "400 without CommentOnTicket",
        "ticket_permission_denied",
        missing_rights=("CommentOnTicket", "ModifyTicket"),
        on_existing_ticket=True,
    ),
    Refusal("unknown device", "device_not_found", ServiceValidationError, unknown_device=True),
    Refusal("empty subject", "subject_empty", ServiceValidationError, subject="\r\n"),
]


@pytest.mark.parametrize("refusal", REFUSALS, ids=lambda refusal: refusal.name)
async def test_fault_retry_cannot_fix_is_raised_not_queued(
    hass, hass_storage, rig, admin_client, refusal
):
    queue = None
    if refusal.missing_rights:
        queue = unique_name("Outbox refusal")
        rig.rt_server.create_queue(queue, rights=rights_without(*refusal.missing_rights))
    device_id = (
        "0123456789abcdef0123456789abcdef" if refusal.unknown_device else rig.device("Refused")
    )
    if refusal.on_existing_ticket:
        await admin_client.create_ticket(queue, "Older", "x", custom_fields={"DeviceId": device_id})
    tickets, outbox = await rig.build(token=refusal.token, queue=queue)

    with pytest.raises(refusal.error) as caught:
        await tickets.async_create_ticket(device_id, refusal.subject, "x")

    assert caught.value.translation_key == refusal.translation_key
    assert outbox.pending == 0
    assert stored_requests(hass_storage, rig.entry.entry_id) == []


async def test_outbox_off_raises_cannot_connect(hass_storage, rig):
    tickets, outbox = await rig.build(
        url=f"https://127.0.0.1:{closed_port()}", outbox_enabled=False
    )
    device_id = rig.device("Impatient sensor")

    with pytest.raises(HomeAssistantError) as caught:
        await tickets.async_create_ticket(device_id, "Leak", "x")

    assert caught.value.translation_key == "ticket_cannot_connect"
    assert outbox.pending == 0
    assert stored_requests(hass_storage, rig.entry.entry_id) == []


async def test_full_outbox_raises_translated_error_and_logs_once(hass_storage, rig, caplog):
    tickets, _ = await rig.build(
        url=f"https://127.0.0.1:{closed_port()}", start=False, outbox_max_pending=2
    )
    device_id = rig.device("Noisy sensor")
    first = await tickets.async_create_ticket(device_id, "Leak", "1")
    second = await tickets.async_create_ticket(device_id, "Leak", "2")

    failures = []
    for text in ("3", "4"):
        with pytest.raises(HomeAssistantError) as caught:
            await tickets.async_create_ticket(device_id, "Leak", text)
        failures.append(caught.value)

    assert isinstance(first, QueuedRequest)
    assert isinstance(second, QueuedRequest)
    assert second.pending == 2
    assert [failure.translation_key for failure in failures] == ["outbox_full"] * 2
    assert str(failures[0]).startswith("The outbox of Test RT is full: 2 ticket requests")
    assert device_id in str(failures[0])
    assert [item["text"] for item in stored_requests(hass_storage, rig.entry.entry_id)] == [
        "1",
        "2",
    ]
    full_errors = [message for message in warnings_and_errors(caplog) if "is full" in message]
    assert len(full_errors) == 1


async def test_call_waits_behind_queued_requests_of_its_device(hass, rig, admin_client):
    tickets, outbox = await rig.build(start=False)
    waiting_device = rig.device("Waiting sensor")
    other_device = rig.device("Other sensor")
    earlier = await outbox.async_add_create(ticket_request(waiting_device, "Alarm 1"))
    events = async_capture_events(hass, EVENT_TICKET)

    behind = await tickets.async_create_ticket(waiting_device, "Leak", "Alarm 2")
    resolved_behind = await tickets.async_resolve_ticket(waiting_device, "Dry again.")
    live = await tickets.async_create_ticket(other_device, "Leak", "Other alarm")

    assert isinstance(behind, QueuedRequest)
    assert isinstance(resolved_behind, QueuedRequest)
    assert resolved_behind.pending == 3
    assert live.as_response()["action"] == "created"

    outbox.async_start()
    await wait_for(lambda: outbox.pending == 0, "the delivery")

    ticket_id = events[1].data["ticket_id"]
    assert [(event.data["action"], event.data.get("outbox_id")) for event in events] == [
        ("created", None),
        ("created", earlier.outbox_id),
        ("commented", behind.outbox_id),
        ("resolved", resolved_behind.outbox_id),
    ]
    assert transaction_contents(rig.rt_server, ticket_id, "Comment") == ["Alarm 2", "Dry again."]
    assert (await admin_client.get_ticket(ticket_id)).status == "resolved"


async def test_delivery_waits_for_home_assistant_start(hass, rig):
    hass.set_state(CoreState.starting)
    tickets, outbox = await rig.build()
    device_id = rig.device("Early sensor")
    await outbox.async_add_create(ticket_request(device_id, "Alarm during start"))
    events = async_capture_events(hass, EVENT_TICKET)

    await hass.async_block_till_done(wait_background_tasks=True)
    waiting = outbox.pending

    hass.set_state(CoreState.running)
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STARTED)
    await wait_for(lambda: outbox.pending == 0, "the delivery after start")

    assert waiting == 1
    assert [event.data["action"] for event in events] == ["created"]
    assert tickets.outbox is outbox


# --- Faults during delivery ---------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "pending", "issue", "reauth"),
    [
        (401, 1, None, True),
        (403, 0, "outbox_rejected", False),
    ],
)
async def test_delivery_fault_keeps_or_drops_request(
    hass, rig, caplog, status, pending, issue, reauth
):
    # Three 503s queue the call; the delivery's search then meets the fault.
    _, url = await rig.proxy(
        Fault("GET", "tickets", status=503, times=3),
        Fault("GET", "tickets", status=status, body=b'{"message": "Denied by the proxy"}'),
    )
    tickets, outbox = await rig.build(url=url)
    device_id = rig.device("Unlucky sensor")

    queued = await tickets.async_create_ticket(device_id, "Leak", "x")
    await wait_for(lambda: outbox._token_rejected or outbox.pending == 0, "the failed delivery")
    await hass.async_block_till_done()

    assert isinstance(queued, QueuedRequest)
    assert outbox.pending == pending
    assert outbox.connected
    logged = [message for message in warnings_and_errors(caplog) if "rejected" in message]
    assert len(logged) == 1
    assert ("queued ticket requests wait" in logged[0]) is reauth
    assert (queued.outbox_id in logged[0]) is not reauth

    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert bool(flows) is reauth
    expected_issues = {f"{issue}_{rig.entry.entry_id}"} if issue else set()
    assert issue_ids(hass) == expected_issues
    if issue is not None:
        found = ir.async_get(hass).async_get_issue(DOMAIN, f"{issue}_{rig.entry.entry_id}")
        assert found is not None
        assert found.is_fixable
        assert found.translation_placeholders is not None
        assert found.translation_placeholders["count"] == "1"
        assert "Denied by the proxy" in found.translation_placeholders["error"]


async def test_unreachable_issue_raised_after_delay_and_cleared(hass, rig):
    _, url = await rig.proxy(
        Fault("GET", "tickets", status=503, times=3),
        Fault("GET", "rt", status=503, times=3),
    )
    tickets, outbox = await rig.build(url=url)
    device_id = rig.device("Patient sensor")
    issue_events: list[Event] = async_capture_events(hass, ir.EVENT_REPAIRS_ISSUE_REGISTRY_UPDATED)

    with patch.object(outbox_module, "UNREACHABLE_ISSUE_DELAY", timedelta(0)):
        await tickets.async_create_ticket(device_id, "Leak", "x")
        await wait_for(lambda: outbox.pending == 0, "the delivery")

    issue_id = f"rt_unreachable_{rig.entry.entry_id}"
    assert [
        event.data["action"] for event in issue_events if event.data["issue_id"] == issue_id
    ] == ["create", "remove"]
    assert issue_id not in issue_ids(hass)


async def test_expired_requests_dropped_and_reported(hass, hass_storage, rig, caplog):
    device_id = rig.device("Forgotten sensor")
    long_ago = dt_util.utcnow() - timedelta(hours=80)
    old = [
        OutboxRequest(f"old-{number}", long_ago, device_id, ticket=ticket_request(device_id))
        for number in range(2)
    ]
    fresh = OutboxRequest("fresh", dt_util.utcnow(), device_id, resolve_text=None)
    hass_storage[storage_key(rig.entry.entry_id)] = {
        "version": 1,
        "data": {
            "requests": [_request_to_storage(request) for request in (*old, fresh)],
            "checked_url": None,
            "unreachable_since": None,
        },
    }
    events = async_capture_events(hass, EVENT_TICKET)

    _, outbox = await rig.build(outbox_max_age_hours=72)
    await wait_for(lambda: outbox.pending == 0, "the expiry and delivery")

    # The resolve found no open ticket, so it fired no event.
    assert events == []
    dropped = [message for message in warnings_and_errors(caplog) if "72 h" in message]
    assert len(dropped) == 1
    assert "old-0" in dropped[0]
    assert "old-1" in dropped[0]
    assert "fresh" not in dropped[0]

    issue_id = f"outbox_expired_{rig.entry.entry_id}"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_placeholders == {
        "title": "Test RT",
        "url": rig.rt_server.url,
        "count": "2",
        "max_age": "72",
    }

    # Home Assistant's repairs integration acknowledges it with a confirm step.
    assert await async_setup_component(hass, "repairs", {})
    manager = hass.data["repairs"]["flow_manager"]
    form = await manager.async_init(DOMAIN, context={"issue_id": issue_id})
    done = await manager.async_configure(form["flow_id"], {})

    assert form["step_id"] == "confirm"
    assert form["description_placeholders"]["count"] == "2"
    assert done["type"] == "create_entry"
    assert issue_id not in issue_ids(hass)


# --- Loaded entries against the real RT ---------------------------------------------


async def test_entities_describe_outbox(hass, rt_server):
    entry = await async_setup_rt_entry(hass, rt_entry(rt_server))
    entities = er.async_get(hass)
    sensor_id = outbox_entity_id(hass, "sensor", entry.entry_id, "pending_requests")
    binary_id = outbox_entity_id(hass, "binary_sensor", entry.entry_id, "rt_connectivity")

    sensor = entities.async_get(sensor_id)
    binary = entities.async_get(binary_id)
    assert sensor is not None
    assert binary is not None
    assert sensor.entity_category is EntityCategory.DIAGNOSTIC
    assert binary.entity_category is EntityCategory.DIAGNOSTIC
    assert sensor.translation_key == "pending_requests"
    assert binary.translation_key == "rt_connectivity"
    assert binary.original_device_class == "connectivity"

    device = dr.async_get(hass).async_get(sensor.device_id or "")
    assert device is not None
    assert device.entry_type is dr.DeviceEntryType.SERVICE
    assert device.name == "Test RT"
    assert device.configuration_url == rt_server.url
    assert binary.device_id == device.id

    sensor_state = hass.states.get(sensor_id)
    binary_state = hass.states.get(binary_id)
    assert sensor_state is not None
    assert binary_state is not None
    assert sensor_state.state == "0"
    assert binary_state.state == STATE_ON
    assert sensor_state.attributes["friendly_name"] == "Test RT Pending ticket requests"
    assert binary_state.attributes["friendly_name"] == "Test RT Connectivity"

    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_outage_keeps_requests_over_reload_in_call_order(
    hass, hass_storage, restore_rt, source_entry, admin_client, fast_probe
):
    rt_server = restore_rt
    queue = unique_name("Outbox outage")
    rt_server.create_queue(queue)
    entry = await async_setup_rt_entry(hass, rt_entry(rt_server, queue=queue))
    first = add_device(hass, source_entry, "Kitchen leak sensor", area="Kitchen").id
    second = add_device(hass, source_entry, "Hall leak sensor").id
    events = async_capture_events(hass, EVENT_TICKET)

    rt_server.stop()
    responses = [
        await create_ticket(hass, first, text="Alarm 1"),
        await create_ticket(hass, second, text="Alarm 2"),
        await create_ticket(hass, first, text="Alarm 3"),
        await resolve_ticket(hass, first, text="Dry again."),
    ]
    await hass.async_block_till_done()

    assert [response["action"] for response in responses] == ["queued"] * 4
    assert [response["pending"] for response in responses] == [1, 2, 3, 4]
    assert pending_state(hass, entry.entry_id) == "4"
    assert connectivity_state(hass, entry.entry_id) == STATE_OFF

    # Unloading keeps the requests in storage for the next setup.
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert [item["id"] for item in stored_requests(hass_storage, entry.entry_id)] == [
        response["outbox_id"] for response in responses
    ]

    rt_server.start()
    assert await hass.config_entries.async_setup(entry.entry_id)
    await wait_for(lambda: entry.runtime_data.outbox.pending == 0, "the delivery")
    await hass.async_block_till_done()

    in_queue = await admin_client.search_tickets(equals("Queue", queue), fields=())
    first_ticket = next(
        event.data["ticket_id"] for event in events if event.data["device_id"] == first
    )
    assert len(in_queue) == 2
    assert transaction_contents(rt_server, first_ticket, "Create") == [
        f"Alarm 1\n\nAddress: {ADDRESS}\nArea: Kitchen"
    ]
    assert transaction_contents(rt_server, first_ticket, "Comment") == ["Alarm 3", "Dry again."]
    assert (await admin_client.get_ticket(first_ticket)).status == "resolved"

    by_device = {
        device_id: [
            (event.data["action"], event.data["outbox_id"])
            for event in events
            if event.data["device_id"] == device_id
        ]
        for device_id in (first, second)
    }
    assert by_device[first] == [
        ("created", responses[0]["outbox_id"]),
        ("commented", responses[2]["outbox_id"]),
        ("resolved", responses[3]["outbox_id"]),
    ]
    assert by_device[second] == [("created", responses[1]["outbox_id"])]
    assert pending_state(hass, entry.entry_id) == "0"
    assert connectivity_state(hass, entry.entry_id) == STATE_ON
    assert stored_requests(hass_storage, entry.entry_id) == []

    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_removing_entry_logs_dropped_requests(
    hass, hass_storage, restore_rt, source_entry, caplog
):
    rt_server = restore_rt
    entry = await async_setup_rt_entry(hass, rt_entry(rt_server))
    device_id = add_device(hass, source_entry, "Doomed sensor").id

    rt_server.stop()
    await create_ticket(hass, device_id, text="Alarm 1")
    await create_ticket(hass, device_id, text="Alarm 2")
    await hass.config_entries.async_remove(entry.entry_id)

    removed = [message for message in warnings_and_errors(caplog) if "Removed" in message]
    assert removed == [
        (
            "Removed Test RT with 2 ticket requests still in its outbox. They are dropped "
            "without a ticket"
        )
    ]
    assert storage_key(entry.entry_id) not in hass_storage


@pytest.mark.parametrize(
    ("checked_before", "enabled", "state"),
    [
        (True, True, ConfigEntryState.LOADED),
        (False, True, ConfigEntryState.SETUP_RETRY),
        (True, False, ConfigEntryState.SETUP_RETRY),
    ],
)
async def test_setup_without_rt(hass, hass_storage, rt_server, checked_before, enabled, state):
    url = f"https://127.0.0.1:{closed_port()}"
    entry = rt_entry(rt_server)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry,
        data={**entry.data, CONF_URL: url},
        options={**entry.options, CONF_OUTBOX_ENABLED: enabled},
    )
    hass_storage[storage_key(entry.entry_id)] = {
        "version": 1,
        "data": {
            "requests": [],
            "checked_url": url if checked_before else None,
            "unreachable_since": None,
        },
    }

    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    assert entry.state is state
    if state is ConfigEntryState.LOADED:
        assert connectivity_state(hass, entry.entry_id) == STATE_OFF
        response = await hass.services.async_call(
            DOMAIN,
            "resolve_ticket",
            {"device_id": add_device(hass, entry, "Cellar sensor").id},
            blocking=True,
            return_response=True,
        )
        assert response is not None
        assert response["action"] == "queued"
    else:
        assert entry.error_reason_translation_key == "setup_cannot_connect"
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_options_flow_saves_outbox_settings(hass, rt_server):
    entry = await async_setup_rt_entry(hass, rt_entry(rt_server))

    form = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        form["flow_id"],
        {
            CONF_CATALOG: rt_server.catalog,
            CONF_SYNC_INTERVAL: 6,
            CONF_OUTBOX_ENABLED: False,
            CONF_OUTBOX_MAX_PENDING: 50,
            CONF_OUTBOX_MAX_AGE: 6,
        },
    )
    await hass.async_block_till_done()

    fields = {str(key) for key in form["data_schema"].schema}
    assert {CONF_OUTBOX_ENABLED, CONF_OUTBOX_MAX_PENDING, CONF_OUTBOX_MAX_AGE} <= fields
    assert result["type"] == "create_entry"
    settings = EntrySettings.from_entry(entry)
    assert settings.outbox_enabled is False
    assert settings.outbox_max_pending == 50
    assert settings.outbox_max_age_hours == 6
    assert entry.state is ConfigEntryState.LOADED

    assert await hass.config_entries.async_unload(entry.entry_id)


# --- Acceptance: an outage across a restart of Home Assistant -----------------------


async def test_restart_during_outage_delivers_every_request(hass_storage, restore_rt, admin_client):
    """30 calls over 3 devices while RT is down, a restart, then RT back: 3 tickets.

    Runs with the default probe backoff, so the one-minute bound is the product's own.
    """
    rt_server = restore_rt
    queue = unique_name("Outbox restart")
    rt_server.create_queue(queue)
    # The second instance starts with an empty device registry, so its asset sync marks
    # the catalog's assets as removed. A catalog of its own keeps that from other tests.
    catalog = unique_name("Outbox restart devices")
    rt_server.create_catalog(catalog)
    entry_id = "outbox_restart_entry"

    async with home_assistant_instance() as first:
        source = MockConfigEntry(domain="test", title="Leak sensors")
        source.add_to_hass(first)
        devices = [add_device(first, source, f"Restart sensor {number}").id for number in range(3)]
        await async_setup_rt_entry(
            first, fixed_entry(rt_server, entry_id, queue=queue, catalog=catalog)
        )

        rt_server.stop()
        responses = [
            await create_ticket(first, devices[call % 3], text=f"Alarm {call}")
            for call in range(30)
        ]
        assert [response["action"] for response in responses] == ["queued"] * 30
        assert pending_state(first, entry_id) == "30"

        # A real process ends with its timers. These instances share the test's event
        # loop, so the asset sync's coalescing timer (armed by the entry's own service
        # device) must fire before the stop closes the RT session it uses.
        async_fire_time_changed(first, dt_util.utcnow() + timedelta(seconds=COALESCE_MAX_SECONDS))
        await first.async_block_till_done(wait_background_tasks=True)

    async with home_assistant_instance() as second:
        events = async_capture_events(second, EVENT_TICKET)
        entry = await async_setup_rt_entry(
            second, fixed_entry(rt_server, entry_id, queue=queue, catalog=catalog)
        )
        await second.async_block_till_done()

        assert entry.runtime_data.outbox.pending == 30
        assert pending_state(second, entry_id) == "30"
        assert connectivity_state(second, entry_id) == STATE_OFF

        rt_server.start()
        seconds = await wait_for(
            lambda: (
                entry.state is ConfigEntryState.LOADED and entry.runtime_data.outbox.pending == 0
            ),
            "the delivery after the restart",
            limit=ACCEPTANCE_DEADLINE,
        )
        await second.async_block_till_done()

        assert seconds < ACCEPTANCE_DEADLINE
        assert pending_state(second, entry_id) == "0"
        assert connectivity_state(second, entry_id) == STATE_ON
        assert len(events) == 30
        assert all(isinstance(event.data["ticket_id"], int) for event in events)

        in_queue = await admin_client.search_tickets(equals("Queue", queue), fields=())
        assert len(in_queue) == 3
        comments = 0
        for number, device_id in enumerate(devices):
            texts = [f"Alarm {call}" for call in range(number, 30, 3)]
            outbox_ids = [responses[call]["outbox_id"] for call in range(number, 30, 3)]
            device_events = [event for event in events if event.data["device_id"] == device_id]
            ticket_id = device_events[0].data["ticket_id"]

            assert [event.data["outbox_id"] for event in device_events] == outbox_ids
            assert {event.data["ticket_id"] for event in device_events} == {ticket_id}
            assert transaction_contents(rt_server, ticket_id, "Create")[0].startswith(texts[0])
            assert transaction_contents(rt_server, ticket_id, "Comment") == texts[1:]
            comments += len(texts) - 1
        assert comments == 27

        assert await second.config_entries.async_unload(entry_id)
