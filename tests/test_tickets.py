"""Tickets: deduplication, create or comment, resolve, alert storms and RT faults.

Behaviour RT can show is tested against the real RT 5.0.3 from the `rt_server` fixture.
Faults RT cannot produce on demand (HTTP 429, 502, 503 and 504, a reply lost after RT
acted, a malformed reply) come from FaultProxy, a local aiohttp server in front of it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Self

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events
from yarl import URL

from custom_components.ha_rt.const import DOMAIN, EVENT_TICKET
from custom_components.ha_rt.net import create_guarded_session
from custom_components.ha_rt.rt.sql import equals
from custom_components.ha_rt.tickets import (
    MAX_SUBJECT_BYTES,
    DeviceLocks,
    RetryPolicy,
    TicketManager,
    clean_subject,
    open_tickets_query,
    ticket_body,
)

from .helpers import (
    ADDRESS,
    HA_URL,
    add_device,
    async_setup_rt_entry,
    rt_client,
    rt_entry,
    rt_settings,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from homeassistant.core import HomeAssistant

    from .rt_server import RTServer

QUEUE_RIGHTS = (
    "SeeQueue",
    "ShowTicket",
    "CreateTicket",
    "ModifyTicket",
    "CommentOnTicket",
    "ReplyToTicket",
    "ShowTicketComments",
    "SeeCustomField",
    "ModifyCustomField",
)

# Retries without waiting, for tests that do not measure the backoff.
FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05)

LOGGER_NAME = "custom_components.ha_rt"


# --- Helpers ------------------------------------------------------------------------


async def create_ticket(
    hass: HomeAssistant, device_id: str, text: str = "Water detected.", **extra: Any
) -> dict[str, Any]:
    response = await hass.services.async_call(
        DOMAIN,
        "create_ticket",
        {"device_id": device_id, "subject": "Water leak", "text": text, **extra},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    return dict(response)


async def resolve_ticket(hass: HomeAssistant, device_id: str, **extra: Any) -> dict[str, Any]:
    response = await hass.services.async_call(
        DOMAIN,
        "resolve_ticket",
        {"device_id": device_id, **extra},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    return dict(response)


def transaction_contents(rt_server: RTServer, ticket_id: int, kind: str) -> list[str]:
    """Return the text of the ticket's transactions of one type (Create, Comment), oldest first."""
    output = rt_server.perl(
        """
        my $ticket = RT::Ticket->new(RT->SystemUser);
        $ticket->Load($args->{id});
        my $transactions = $ticket->Transactions;
        $transactions->Limit(FIELD => 'Type', VALUE => $args->{type});
        $transactions->OrderBy(FIELD => 'id', ORDER => 'ASC');
        my @contents;
        while (my $transaction = $transactions->Next) {
            push @contents, $transaction->Content;
        }
        print JSON->new->encode(\\@contents);
        """,
        {"id": ticket_id, "type": kind},
    )
    return [content.rstrip("\n") for content in json.loads(output)]


def integration_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Return the warnings and errors the integration logged."""
    return [
        record
        for record in caplog.records
        if record.name.startswith(LOGGER_NAME) and record.levelno >= logging.WARNING
    ]


def unique_name(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


def closed_port() -> int:
    """Return a loopback port that nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@dataclass
class Fault:
    """A scripted response for the next `times` requests whose method and path match.

    `path` is a regular expression for the path below /REST/2.0/. With `status` the proxy
    responds itself; with `stall_after_forward` it forwards the request to RT and holds
    back RT's response until the test ends, so the client times out after RT acted.
    """

    method: str
    path: str
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b'{"message": "injected by the test proxy"}'
    content_type: str = "application/json"
    stall_after_forward: bool = False
    times: int = 1


class FaultProxy:
    """A local aiohttp server that forwards to the real RT, except for scripted faults."""

    def __init__(self, rt_server: RTServer) -> None:
        self.requests: list[str] = []
        self.faults: list[Fault] = []
        self._target = rt_server.url
        self._ssl = rt_server.ssl_context()
        self._released = asyncio.Event()
        self._server: TestServer | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()
        self._session = aiohttp.ClientSession()
        return str(self._server.make_url("")).rstrip("/")

    async def close(self) -> None:
        self._released.set()
        if self._server is not None:
            await self._server.close()
        if self._session is not None:
            await self._session.close()

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.times > 0 and fault.method == method and re.fullmatch(fault.path, path):
                fault.times -= 1
                return fault
        return None

    async def _handle(self, request: web.Request) -> web.Response:
        path = request.path.removeprefix("/REST/2.0/")
        self.requests.append(f"{request.method} {path}")
        fault = self._take_fault(request.method, path)

        if fault is not None and fault.status is not None:
            return web.Response(
                status=fault.status,
                body=fault.body,
                headers=fault.headers,
                content_type=fault.content_type,
            )

        assert self._session is not None
        async with self._session.request(
            request.method,
            URL(self._target + str(request.rel_url), encoded=True),
            headers={
                name: value
                for name, value in request.headers.items()
                if name.lower() in {"authorization", "content-type", "accept", "user-agent"}
            },
            data=await request.read(),
            ssl=self._ssl,
        ) as response:
            status, body, content_type = (
                response.status,
                await response.read(),
                response.content_type,
            )

        if fault is not None and fault.stall_after_forward:
            await self._released.wait()

        return web.Response(status=status, body=body, content_type=content_type)


class StubAssets:
    """Stands in for AssetSync where a test runs the ticket manager without a loaded entry."""

    def __init__(self, asset_ids: dict[str, int] | None = None) -> None:
        self.asset_ids = asset_ids or {}

    async def async_find_asset_id(self, device_id: str) -> int | None:
        return self.asset_ids.get(device_id)


@dataclass
class ManagerRig:
    """A ticket manager wired to a client of the test's choice, without a loaded entry."""

    hass: HomeAssistant
    rt_server: RTServer
    entry: MockConfigEntry
    source_entry: MockConfigEntry
    sessions: list[aiohttp.ClientSession] = field(default_factory=list)
    proxies: list[FaultProxy] = field(default_factory=list)

    @classmethod
    async def async_create(
        cls, hass: HomeAssistant, rt_server: RTServer, source_entry: MockConfigEntry
    ) -> Self:
        """Set the integration up without entries, so its translations load, then add an entry.

        The entry is not set up: its asset lookups go to a StubAssets that finds no asset.
        """
        assert await async_setup_component(hass, DOMAIN, {})
        entry = rt_entry(rt_server)
        entry.add_to_hass(hass)
        entry.runtime_data = SimpleNamespace(assets=StubAssets())
        return cls(hass, rt_server, entry, source_entry)

    async def async_close(self) -> None:
        for proxy in self.proxies:
            await proxy.close()
        for session in self.sessions:
            await session.close()

    async def proxy(self, *faults: Fault) -> tuple[FaultProxy, str]:
        proxy = FaultProxy(self.rt_server)
        proxy.faults.extend(faults)
        self.proxies.append(proxy)
        return proxy, await proxy.start()

    def manager(
        self,
        *,
        url: str | None = None,
        token: str | None = None,
        queue: str | None = None,
        request_timeout: float = 10.0,
        retry_policy: RetryPolicy = FAST_RETRY,
        session: aiohttp.ClientSession | None = None,
    ) -> TicketManager:
        if session is None:
            session = aiohttp.ClientSession()
        self.sessions.append(session)

        settings = rt_settings(self.rt_server, url=url, token=token, queue=queue)
        client = rt_client(session, self.rt_server, settings, request_timeout=request_timeout)
        return TicketManager(self.hass, self.entry, client, settings, retry_policy=retry_policy)

    def device(self, name: str, area: str | None = None) -> str:
        return add_device(self.hass, self.source_entry, name, area=area).id


# --- Fixtures -----------------------------------------------------------------------


@pytest.fixture
async def loaded_entry(
    hass: HomeAssistant, rt_server: RTServer, socket_enabled: None
) -> AsyncIterator[MockConfigEntry]:
    """Config entry for the test RT, set up through Home Assistant."""
    entry = await async_setup_rt_entry(hass, rt_entry(rt_server))
    yield entry
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.fixture
async def rig(
    hass: HomeAssistant, rt_server: RTServer, source_entry: MockConfigEntry, socket_enabled: None
) -> AsyncIterator[ManagerRig]:
    """Ticket managers outside a loaded entry, for clients with faults or odd settings."""
    rig = await ManagerRig.async_create(hass, rt_server, source_entry)
    yield rig
    await rig.async_close()


# --- Subject, body and query --------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Water leak", "Water leak"),
        ("  Water   leak  ", "Water leak"),
        ("Water\r\nBcc: someone@example.test", "Water Bcc: someone@example.test"),
        ("Water\tleak\x00\x1b[31m", "Water leak [31m"),
        ("Water\u2028leak\u2029now", "Water leak now"),
        ("Water\x85leak\x9b", "Water leak"),
        ("Wasser im Keller \u2013 \U0001f6b0", "Wasser im Keller \u2013 \U0001f6b0"),
        ("\r\n\t ", ""),
    ],
)
def test_clean_subject_cases(subject, expected):
    assert clean_subject(subject) == expected


@pytest.mark.parametrize(
    ("character", "kept"),
    [
        ("a", 200),  # 1 byte each
        ("\u00e9", 100),  # 2 bytes each: 200 bytes exactly
        ("\u20ac", 66),  # 3 bytes each: 198 bytes, the 67th would split
        ("\U0001f6b0", 50),  # 4 bytes each: 200 bytes exactly
    ],
)
def test_clean_subject_cuts_on_character_boundary(character, kept):
    cleaned = clean_subject(character * 250)

    assert cleaned == character * kept
    assert len(cleaned.encode()) <= MAX_SUBJECT_BYTES


def test_clean_subject_strips_space_left_at_cut():
    cleaned = clean_subject("a" * 199 + " b")

    assert cleaned == "a" * 199


@pytest.mark.parametrize(
    ("text", "address", "area", "expected"),
    [
        ("Water.", "1 Main St", "Basement", "Water.\n\nAddress: 1 Main St\nArea: Basement"),
        ("Water.", "", "Basement", "Water.\n\nArea: Basement"),
        ("Water.", "1 Main St", "", "Water.\n\nAddress: 1 Main St"),
        ("Water.", "", "", "Water."),
        ("", "1 Main St", "Basement", "Address: 1 Main St\nArea: Basement"),
        ("Line 1\nLine 2\n", "", "Attic", "Line 1\nLine 2\n\n\nArea: Attic"),
    ],
)
def test_ticket_body_cases(text, address, area, expected):
    assert ticket_body(text, address, area) == expected


def test_open_tickets_query_quotes_values():
    query = open_tickets_query('Fac"ilities', 'dev\\ice"id')

    assert query == (
        '(Queue = "Fac\\"ilities") AND '
        '((Status = "new" OR Status = "open" OR Status = "stalled")) AND '
        '(CF.{DeviceId} = "dev\\\\ice\\"id")'
    )


# --- Retry policy and per-device locks ----------------------------------------------


@pytest.mark.parametrize(
    ("retry", "retry_after", "low", "high"),
    [
        (1, None, 0.25, 0.5),
        (2, None, 0.5, 1.0),
        (3, None, 1.0, 2.0),
        (10, None, 10.0, 10.0),  # capped at max_delay
        (1, 3.0, 3.0, 3.0),  # Retry-After wins over a shorter backoff
        (1, 120.0, 10.0, 10.0),  # and is capped too
    ],
)
def test_retry_policy_delay_bounds(retry, retry_after, low, high):
    delay = RetryPolicy().delay(retry, retry_after)

    assert low <= delay <= high


async def test_device_locks_serialise_one_device_only():
    locks = DeviceLocks()
    first_entered = asyncio.Event()
    release_first = asyncio.Event()
    entered: list[str] = []

    async def hold(name: str, device_id: str) -> None:
        async with locks.hold(device_id):
            entered.append(name)
            if name == "first":
                first_entered.set()
                await release_first.wait()

    first = asyncio.create_task(hold("first", "device-a"))
    await first_entered.wait()
    same_device = asyncio.create_task(hold("same device", "device-a"))
    other_device = asyncio.create_task(hold("other device", "device-b"))
    await other_device

    assert entered == ["first", "other device"]
    assert len(locks) == 1

    release_first.set()
    await asyncio.gather(first, same_device)

    assert entered == ["first", "other device", "same device"]
    assert len(locks) == 0


async def test_device_locks_drop_lock_of_cancelled_waiter():
    locks = DeviceLocks()
    release = asyncio.Event()

    async def hold() -> None:
        async with locks.hold("device-a"):
            await release.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(hold())
    await asyncio.sleep(0)
    waiter.cancel()
    release.set()
    await holder

    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert len(locks) == 0


# --- Actions against the real RT ----------------------------------------------------


async def test_ticket_lifecycle_against_rt(
    hass, rt_server, loaded_entry, source_entry, admin_client
):
    device = add_device(hass, source_entry, "Basement leak sensor", area="Basement")
    events = async_capture_events(hass, EVENT_TICKET)
    sync = await hass.services.async_call(
        DOMAIN, "sync_assets", {"device_id": device.id}, blocking=True, return_response=True
    )
    assert sync is not None
    asset_id = loaded_entry.runtime_data.assets.asset_id_for(device.id)
    assert asset_id is not None

    first = await create_ticket(hass, device.id, text="Water detected.")
    ticket_id = first["ticket_id"]
    second = await create_ticket(hass, device.id, text="Still wet.")
    resolved = await resolve_ticket(hass, device.id, text="Dry again.")
    again = await create_ticket(hass, device.id, text="Water again.")

    ticket_url = f"{rt_server.url}/Ticket/Display.html?id={ticket_id}"
    assert first == {"ticket_id": ticket_id, "ticket_url": ticket_url, "action": "created"}
    assert second == {"ticket_id": ticket_id, "ticket_url": ticket_url, "action": "commented"}
    assert resolved == {"ticket_ids": [ticket_id], "action": "resolved"}
    assert again["action"] == "created"
    assert again["ticket_id"] != ticket_id

    ticket = await admin_client.get_ticket(ticket_id)
    assert ticket.subject == "Water leak"
    assert ticket.status == "resolved"
    assert ticket.custom_fields["DeviceId"] == device.id
    assert ticket.custom_fields["Device Information"] == (
        f"{HA_URL}/config/devices/device/{device.id}"
    )
    assert ticket.custom_fields["Area"] == "Basement"
    assert ticket.custom_fields["Address"] == ADDRESS

    assert transaction_contents(rt_server, ticket_id, "Create") == [
        f"Water detected.\n\nAddress: {ADDRESS}\nArea: Basement"
    ]
    assert transaction_contents(rt_server, ticket_id, "Comment") == ["Still wet.", "Dry again."]

    linked = await admin_client.search_tickets(equals("RefersTo", f"asset:{asset_id}"), fields=())
    assert [found.id for found in linked] == [ticket_id, again["ticket_id"]]

    assert [(event.data["action"], event.data["ticket_id"]) for event in events] == [
        ("created", ticket_id),
        ("commented", ticket_id),
        ("resolved", ticket_id),
        ("created", again["ticket_id"]),
    ]
    assert events[0].data == {
        "action": "created",
        "ticket_id": ticket_id,
        "ticket_url": ticket_url,
        "device_id": device.id,
        "config_entry_id": loaded_entry.entry_id,
    }


async def test_create_ticket_storm_gives_one_ticket_per_device(
    hass, rt_server, loaded_entry, source_entry, admin_client
):
    devices = [add_device(hass, source_entry, f"Storm sensor {number}").id for number in range(5)]
    callers = [devices[call % 5] for call in range(50)]

    responses = await asyncio.gather(
        *(
            create_ticket(hass, device_id, text=f"Alarm {call}")
            for call, device_id in enumerate(callers)
        )
    )

    by_device: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for device_id, response in zip(callers, responses, strict=True):
        by_device[device_id].append(response)

    comments = 0
    for device_id in devices:
        returned_ids = {response["ticket_id"] for response in by_device[device_id]}
        actions = Counter(response["action"] for response in by_device[device_id])
        in_rt = await admin_client.search_tickets(
            open_tickets_query(rt_server.queue, device_id), fields=()
        )

        assert len(returned_ids) == 1
        assert actions == {"created": 1, "commented": 9}
        assert [ticket.id for ticket in in_rt] == list(returned_ids)

        comments += len(transaction_contents(rt_server, in_rt[0].id, "Comment"))

    assert comments == 45
    assert len(loaded_entry.runtime_data.tickets.locks) == 0


async def test_resolve_ticket_resolves_every_open_ticket(
    hass, rt_server, loaded_entry, source_entry, admin_client
):
    device = add_device(hass, source_entry, "Attic leak sensor")
    fields = {"DeviceId": device.id}
    older = await admin_client.create_ticket(rt_server.queue, "Old", "x", custom_fields=fields)
    stalled = await admin_client.create_ticket(
        rt_server.queue, "Stalled", "x", custom_fields=fields
    )
    done = await admin_client.create_ticket(rt_server.queue, "Done", "x", custom_fields=fields)
    await admin_client.set_ticket_status(stalled, "stalled")
    await admin_client.set_ticket_status(done, "resolved")
    events = async_capture_events(hass, EVENT_TICKET)

    response = await resolve_ticket(hass, device.id, text="All dry.")

    assert response == {"ticket_ids": [older, stalled], "action": "resolved"}
    for ticket_id in (older, stalled):
        assert (await admin_client.get_ticket(ticket_id)).status == "resolved"
        assert transaction_contents(rt_server, ticket_id, "Comment") == ["All dry."]
    assert transaction_contents(rt_server, done, "Comment") == []
    assert [(event.data["action"], event.data["ticket_id"]) for event in events] == [
        ("resolved", older),
        ("resolved", stalled),
    ]


async def test_resolve_ticket_without_text_adds_no_comment(
    hass, rt_server, loaded_entry, source_entry, admin_client
):
    device = add_device(hass, source_entry, "Garage leak sensor")
    created = await create_ticket(hass, device.id)

    response = await resolve_ticket(hass, device.id)

    assert response == {"ticket_ids": [created["ticket_id"]], "action": "resolved"}
    assert transaction_contents(rt_server, created["ticket_id"], "Comment") == []


async def test_resolve_ticket_without_open_ticket_returns_none(hass, loaded_entry, source_entry):
    device = add_device(hass, source_entry, "Quiet sensor")
    events = async_capture_events(hass, EVENT_TICKET)

    response = await resolve_ticket(hass, device.id, text="Nothing to do.")

    assert response == {"ticket_ids": [], "action": "none"}
    assert events == []


async def test_create_ticket_sends_cleaned_subject_to_rt(
    hass, loaded_entry, source_entry, admin_client
):
    device = add_device(hass, source_entry, "Cellar leak sensor")
    subject = "Leak\r\nBcc: someone@example.test\t" + "\u00e9" * 120

    response = await hass.services.async_call(
        DOMAIN,
        "create_ticket",
        {"device_id": device.id, "subject": subject, "text": "Line 1\r\n\tLine 2"},
        blocking=True,
        return_response=True,
    )

    assert response is not None
    ticket = await admin_client.get_ticket(int(response["ticket_id"]))  # type: ignore[arg-type]
    assert ticket.subject == clean_subject(subject)
    assert ticket.subject.startswith("Leak Bcc: someone@example.test \u00e9")
    assert len(ticket.subject.encode()) <= MAX_SUBJECT_BYTES


async def test_create_ticket_keeps_text_as_given(hass, rt_server, loaded_entry, source_entry):
    device = add_device(hass, source_entry, "Laundry leak sensor")
    text = 'Line 1\n\tindented "quoted" <b>not html</b>\nLine 3 \u00e9\U0001f6b0'
    created = await create_ticket(hass, device.id, text="first")

    await create_ticket(hass, device.id, text=text)

    assert transaction_contents(rt_server, created["ticket_id"], "Comment") == [text]


@pytest.mark.parametrize("action", ["create_ticket", "resolve_ticket"])
@pytest.mark.parametrize(
    ("device_id", "translation_key"),
    [
        ("", "device_id_missing"),
        ("   ", "device_id_missing"),
        ("None", "device_id_missing"),
        ("0123456789abcdef0123456789abcdef", "device_not_found"),
    ],
)
async def test_actions_reject_invalid_device(
    hass, loaded_entry, action, device_id, translation_key
):
    data = {"device_id": device_id, "subject": "Water leak", "text": "x"}
    if action == "resolve_ticket":
        del data["subject"]

    with pytest.raises(ServiceValidationError) as caught:
        await hass.services.async_call(DOMAIN, action, data, blocking=True, return_response=True)

    assert caught.value.translation_key == translation_key
    assert caught.value.translation_placeholders == {"device_id": device_id}
    assert f"{device_id}" in str(caught.value)


@pytest.mark.parametrize("subject", ["", "   ", "\r\n\t", "\x00\x07\x1b", "\u2028"])
async def test_create_ticket_rejects_empty_subject(hass, loaded_entry, source_entry, subject):
    device = add_device(hass, source_entry, "Pantry leak sensor")

    with pytest.raises(ServiceValidationError) as caught:
        await hass.services.async_call(
            DOMAIN,
            "create_ticket",
            {"device_id": device.id, "subject": subject, "text": "x"},
            blocking=True,
            return_response=True,
        )

    assert caught.value.translation_key == "subject_empty"
    assert "Give a subject with visible text" in str(caught.value)


async def test_actions_need_config_entry_id_with_two_entries(
    hass, rt_server, source_entry, admin_client
):
    second_queue = unique_name("Second")
    rt_server.create_queue(second_queue)
    second_catalog = unique_name("Second devices")
    rt_server.create_catalog(second_catalog)
    first = await async_setup_rt_entry(hass, rt_entry(rt_server, title="First RT"))
    second = await async_setup_rt_entry(
        hass,
        rt_entry(rt_server, queue=second_queue, catalog=second_catalog, title="Second RT"),
    )
    device = add_device(hass, source_entry, "Boiler")

    with pytest.raises(ServiceValidationError) as create_error:
        await create_ticket(hass, device.id)
    with pytest.raises(ServiceValidationError) as resolve_error:
        await resolve_ticket(hass, device.id)

    in_first = await create_ticket(hass, device.id, config_entry_id=first.entry_id)
    in_second = await create_ticket(hass, device.id, config_entry_id=second.entry_id)
    resolved = await resolve_ticket(hass, device.id, config_entry_id=second.entry_id)

    assert create_error.value.translation_key == "config_entry_required"
    assert resolve_error.value.translation_key == "config_entry_required"

    # Deduplication looks in the entry's own queue only.
    assert in_first["action"] == "created"
    assert in_second["action"] == "created"
    assert resolved == {"ticket_ids": [in_second["ticket_id"]], "action": "resolved"}
    first_queue_open = await admin_client.search_tickets(
        open_tickets_query(rt_server.queue, device.id), fields=()
    )
    assert [ticket.id for ticket in first_queue_open] == [in_first["ticket_id"]]

    await hass.config_entries.async_unload(second.entry_id)
    await hass.config_entries.async_unload(first.entry_id)


# --- Requests per call --------------------------------------------------------------


async def test_steady_state_costs_two_requests(rig):
    proxy, url = await rig.proxy()
    manager = rig.manager(url=url)
    first_device = rig.device("Sensor 1", area="Hall")
    second_device = rig.device("Sensor 2")

    first = await manager.async_create_ticket(first_device, "Leak", "x")
    first_create = list(proxy.requests)
    proxy.requests.clear()

    created = await manager.async_create_ticket(second_device, "Leak", "x")
    create_requests = list(proxy.requests)
    proxy.requests.clear()

    commented = await manager.async_create_ticket(second_device, "Leak", "y")
    comment_requests = list(proxy.requests)

    # The first create of a manager reads the ticket back to check its custom fields.
    assert first_create == ["GET tickets", "POST ticket", f"GET ticket/{first.ticket_id}"]
    assert create_requests == ["GET tickets", "POST ticket"]
    assert comment_requests == ["GET tickets", f"POST ticket/{created.ticket_id}/comment"]
    assert commented.ticket_id == created.ticket_id


# --- Transient faults: retried, then given up ---------------------------------------


@pytest.mark.parametrize(
    ("status", "headers"),
    [
        (429, {"Retry-After": "0"}),
        (502, {}),
        (503, {"Retry-After": "0"}),
        (504, {}),
    ],
)
async def test_transient_fault_is_retried(rig, status, headers):
    proxy, url = await rig.proxy()
    proxy.faults.append(Fault("GET", "tickets", status=status, headers=headers))
    manager = rig.manager(url=url)
    device_id = rig.device("Retry sensor")

    result = await manager.async_create_ticket(device_id, "Leak", "x")

    assert result.action == "created"
    assert proxy.requests[:3] == ["GET tickets", "GET tickets", "POST ticket"]


async def test_retry_waits_for_retry_after(rig):
    proxy, url = await rig.proxy()
    proxy.faults.append(Fault("GET", "tickets", status=503, headers={"Retry-After": "1"}))
    manager = rig.manager(url=url, retry_policy=RetryPolicy(base_delay=0.01, max_delay=5.0))
    device_id = rig.device("Patient sensor")

    started = time.monotonic()
    await manager.async_create_ticket(device_id, "Leak", "x")

    assert time.monotonic() - started >= 1.0


async def test_timeout_after_create_reached_rt_does_not_duplicate(rig, admin_client):
    proxy, url = await rig.proxy()
    proxy.faults.append(Fault("POST", "ticket", stall_after_forward=True))
    manager = rig.manager(url=url, request_timeout=1.0)
    device_id = rig.device("Slow sensor")

    result = await manager.async_create_ticket(device_id, "Leak", "Water detected.")

    in_rt = await admin_client.search_tickets(
        open_tickets_query(rig.rt_server.queue, device_id), fields=()
    )
    assert [ticket.id for ticket in in_rt] == [result.ticket_id]
    assert result.action == "created"
    assert transaction_contents(rig.rt_server, result.ticket_id, "Comment") == []
    # The last request is the one-off read-back of the first created ticket's custom fields.
    assert proxy.requests == [
        "GET tickets",
        "POST ticket",
        "GET tickets",
        f"GET ticket/{result.ticket_id}",
    ]


async def test_persistent_fault_gives_up_after_three_attempts(rig, caplog):
    proxy, url = await rig.proxy()
    proxy.faults.append(Fault("GET", "tickets", status=503, times=99))
    manager = rig.manager(url=url)
    device_id = rig.device("Doomed sensor")

    with caplog.at_level(logging.DEBUG, LOGGER_NAME), pytest.raises(HomeAssistantError) as caught:
        await manager.async_create_ticket(device_id, "Leak", "x")

    assert proxy.requests == ["GET tickets"] * 3
    assert caught.value.translation_key == "ticket_cannot_connect"
    assert str(caught.value).startswith("Cannot connect to RT server")
    retries = [record for record in caplog.records if record.message.startswith("Retrying")]
    errors = integration_errors(caplog)
    assert len(retries) == 2
    assert len(errors) == 1
    assert device_id in errors[0].getMessage()


async def test_unreachable_rt_raises_cannot_connect(rig, caplog):
    manager = rig.manager(url=f"https://127.0.0.1:{closed_port()}")
    device_id = rig.device("Lonely sensor")

    with caplog.at_level(logging.INFO, LOGGER_NAME), pytest.raises(HomeAssistantError) as caught:
        await manager.async_create_ticket(device_id, "Leak", "x")

    assert caught.value.translation_key == "ticket_cannot_connect"
    assert caught.value.translation_placeholders is not None
    assert caught.value.translation_placeholders["device_id"] == device_id
    assert caught.value.translation_placeholders["step"] == "search"
    assert str(caught.value).startswith("Cannot connect to RT server https://127.0.0.1:")
    errors = integration_errors(caplog)
    assert len(errors) == 1
    assert device_id in errors[0].getMessage()
    assert rig.rt_server.token not in caplog.text


async def test_blocked_address_raises_unsafe_url(rig):
    # With private networks not allowed, the connector refuses 127.0.0.1 before a socket
    # opens.
    session = create_guarded_session(allow_private_network=False, verify_ssl=False)
    manager = rig.manager(session=session)
    device_id = rig.device("Blocked sensor")

    with pytest.raises(HomeAssistantError) as caught:
        await manager.async_create_ticket(device_id, "Leak", "x")

    assert caught.value.translation_key == "ticket_unsafe_url"
    assert str(caught.value).startswith("Invalid or unsafe URL")


async def test_malformed_response_raises_rt_error_without_retry(rig):
    proxy, url = await rig.proxy()
    proxy.faults.append(
        Fault("GET", "tickets", status=200, body=b"<html>login</html>", content_type="text/html")
    )
    manager = rig.manager(url=url)
    device_id = rig.device("Confused sensor")

    with pytest.raises(HomeAssistantError) as caught:
        await manager.async_create_ticket(device_id, "Leak", "x")

    assert proxy.requests == ["GET tickets"]
    assert caught.value.translation_key == "ticket_rt_error"
    assert "not JSON" in str(caught.value)


# --- RT refusals --------------------------------------------------------------------


def rights_without(*missing: str) -> list[str]:
    return [right for right in QUEUE_RIGHTS if right not in missing]


@dataclass(frozen=True)
class Refusal:
    """An RT refusal: the queue rights taken away, the call, and the error expected."""

    missing_rights: tuple[str, ...]
    action: str
    translation_key: str
    rt_says: str
    named_right: str | None = None
    on_existing_ticket: bool = False


REFUSALS = [
    Refusal(
        ("CreateTicket",),
        "create",
        "ticket_permission_denied",
        "No permission to create tickets in the queue",
        named_right="CreateTicket",
    ),
    # RT 5.0.3 also lets ModifyTicket comment.
    Refusal(
        ("CommentOnTicket", "ModifyTicket"),
        "create",
        "ticket_permission_denied",
        "Permission Denied",
        named_right="CommentOnTicket",
        on_existing_ticket=True,
    ),
    Refusal(
        ("ModifyTicket",),
        "resolve",
        "ticket_permission_denied",
        "Permission Denied",
        named_right="ModifyTicket",
        on_existing_ticket=True,
    ),
    # RT 5.0.3 creates the ticket but drops (or hides) its custom fields.
    Refusal(("ModifyCustomField",), "create", "ticket_custom_fields_missing", "DeviceId"),
    Refusal(("SeeCustomField",), "create", "ticket_custom_fields_missing", "DeviceId"),
]


@pytest.mark.parametrize("refusal", REFUSALS, ids=lambda refusal: "-".join(refusal.missing_rights))
async def test_rt_refusal_raises_translated_error(hass, rig, admin_client, caplog, refusal):
    missing = " and ".join(refusal.missing_rights)
    queue = unique_name(f"Without {missing}")
    rig.rt_server.create_queue(queue, rights=rights_without(*refusal.missing_rights))
    device_id = rig.device(f"Sensor without {missing}")
    existing = None
    if refusal.on_existing_ticket:
        existing = await admin_client.create_ticket(
            queue, "Older alarm", "x", custom_fields={"DeviceId": device_id}
        )
    manager = rig.manager(queue=queue)
    call = (
        manager.async_create_ticket(device_id, "Leak", "x")
        if refusal.action == "create"
        else manager.async_resolve_ticket(device_id, None)
    )

    with caplog.at_level(logging.INFO, LOGGER_NAME), pytest.raises(HomeAssistantError) as caught:
        await call

    placeholders = caught.value.translation_placeholders or {}
    assert caught.value.translation_key == refusal.translation_key
    assert refusal.rt_says in str(caught.value)
    if refusal.named_right is not None:
        assert placeholders["right"] == refusal.named_right
        assert f"the {refusal.named_right} right on queue {queue}" in str(caught.value)
    if existing is not None:
        assert placeholders["ticket_id"] == str(existing)
    errors = integration_errors(caplog)
    assert len(errors) == 1
    assert device_id in errors[0].getMessage()
    assert hass.config_entries.flow.async_progress_by_handler(DOMAIN) == []


async def test_rejected_token_starts_reauth(hass, rig):
    manager = rig.manager(token="1-999-" + "0" * 32)
    device_id = rig.device("Sensor with a bad token")

    with pytest.raises(HomeAssistantError) as caught:
        await manager.async_create_ticket(device_id, "Leak", "x")
    await hass.async_block_till_done()

    assert caught.value.translation_key == "ticket_invalid_auth"
    assert str(caught.value).startswith("Invalid API token")
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]
    assert flows[0]["context"]["entry_id"] == rig.entry.entry_id


async def test_custom_field_check_stops_after_pass(rig):
    proxy, url = await rig.proxy()
    manager = rig.manager(url=url)
    first = rig.device("Checked sensor 1")
    second = rig.device("Checked sensor 2")

    await manager.async_create_ticket(first, "Leak", "x")
    await manager.async_create_ticket(second, "Leak", "x")

    reads = [request for request in proxy.requests if request.startswith("GET ticket/")]
    assert len(reads) == 1
