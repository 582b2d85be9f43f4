"""Helpers for the asset sync tests: a counting RT session, isolated catalogs, devices."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from homeassistant.helpers import device_registry as dr
from pytest_homeassistant_custom_component.common import MockConfigEntry
from yarl import URL

from custom_components.ha_rt.assets import AssetSync
from custom_components.ha_rt.const import (
    CONF_ADDRESS,
    CONF_CATALOG,
    CONF_QUEUE,
    CONF_SYNC_INTERVAL,
    CONF_TOKEN,
    CONF_URL,
    DOMAIN,
)
from custom_components.ha_rt.data import EntrySettings
from custom_components.ha_rt.rt import RTClient

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from .rt_server import RTServer

ADDRESS = 'Hauptstraße 1, "Building" \\ B'

_catalog_numbers = itertools.count(1)


@dataclass
class RequestLog:
    """Every HTTP request a session sent, as (method, path) pairs."""

    requests: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        """Return the number of requests."""
        return len(self.requests)

    def clear(self) -> None:
        """Forget the requests so far."""
        self.requests.clear()

    def methods(self) -> Counter[str]:
        """Count the requests by HTTP method."""
        return Counter(method for method, _ in self.requests)

    def writes(self) -> list[tuple[str, str]]:
        """Return the requests that change something in RT."""
        return [(method, path) for method, path in self.requests if method in {"POST", "PUT"}]

    async def on_request_start(
        self,
        _session: aiohttp.ClientSession,
        _context: Any,
        params: aiohttp.TraceRequestStartParams,
    ) -> None:
        """Record one request (an aiohttp trace callback)."""
        self.requests.append((params.method, params.url.path))


def counting_session(log: RequestLog) -> aiohttp.ClientSession:
    """Return a session that records each request it sends in `log`."""
    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(log.on_request_start)
    return aiohttp.ClientSession(trace_configs=[trace])


def new_catalog(rt_server: RTServer, custom_fields: list[str] | None = None) -> str:
    """Create an empty catalog with the API user's rights and return its name."""
    name = f"Asset sync test {next(_catalog_numbers)}"
    rt_server.create_catalog(name, custom_fields=custom_fields)
    return name


def rt_client(
    rt_server: RTServer, session: aiohttp.ClientSession, request_timeout: float = 10.0
) -> RTClient:
    """Return a client for the test RT with the API user's token."""
    return RTClient(
        session,
        rt_server.url,
        rt_server.token,
        ssl=rt_server.ssl_context(),
        request_timeout=request_timeout,
    )


def add_entry(
    hass: HomeAssistant, rt_server: RTServer, catalog: str, *, sync_interval: int = 6
) -> MockConfigEntry:
    """Add a Service Management config entry (not set up) for the catalog."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="RT test",
        data={CONF_URL: rt_server.url, CONF_TOKEN: rt_server.token, CONF_QUEUE: rt_server.queue},
        options={CONF_CATALOG: catalog, CONF_ADDRESS: ADDRESS, CONF_SYNC_INTERVAL: sync_interval},
    )
    entry.add_to_hass(hass)
    return entry


def asset_sync(hass: HomeAssistant, entry: MockConfigEntry, client: RTClient) -> AssetSync:
    """Return an asset sync for the entry; tests call its sync methods directly."""
    return AssetSync(hass, entry, client, EntrySettings.from_entry(entry))


def device_owner(hass: HomeAssistant) -> MockConfigEntry:
    """Add the config entry that the test devices belong to."""
    owner = MockConfigEntry(domain="test", title="Devices")
    owner.add_to_hass(hass)
    return owner


def add_device(
    hass: HomeAssistant, owner: MockConfigEntry, key: str, **attributes: Any
) -> dr.DeviceEntry:
    """Create a device in the registry with the identifier ("test", key)."""
    return dr.async_get(hass).async_get_or_create(
        config_entry_id=owner.entry_id, identifiers={("test", key)}, **attributes
    )


def mac_address(number: int) -> str:
    """Return a locally administered MAC address made from a number below 65536."""
    return f"02:00:00:00:{number // 256:02x}:{number % 256:02x}"


def full_device(hass: HomeAssistant, owner: MockConfigEntry, number: int) -> dr.DeviceEntry:
    """Create a device with every field the asset sync reads filled in."""
    return add_device(
        hass,
        owner,
        f"device-{number}",
        name=f"Sensor {number}",
        manufacturer="Acme",
        model="Leak Sensor",
        serial_number=f"SN-{number:05d}",
        sw_version="1.2.3",
        hw_version="rev B",
        configuration_url=f"http://sensor-{number}.invalid/",
        connections={(dr.CONNECTION_NETWORK_MAC, mac_address(number))},
    )


@dataclass
class Fault:
    """A scripted answer for requests whose method, path and body match.

    `path` is a regular expression for the path below /REST/2.0/, and `body` one that the
    request body must contain. With `status` the proxy answers itself. With `stall` it
    forwards the request and holds RT's answer back until the test ends, so the client
    times out after RT acted. `times` is how many requests the fault takes (None: all).
    """

    method: str
    path: str
    body: str = ""
    status: int | None = None
    stall: bool = False
    times: int | None = 1


class FaultProxy:
    """A local HTTP server in front of the test RT that injects scripted faults.

    It records each request as "METHOD path" and the highest number of requests it had
    in flight at once.
    """

    def __init__(self, rt_server: RTServer) -> None:
        """Prepare a proxy to the test RT; `start` listens."""
        self.faults: list[Fault] = []
        self.requests: list[str] = []
        self.max_in_flight = 0
        self._in_flight = 0
        self._target = rt_server.url
        self._ssl = rt_server.ssl_context()
        self._released = asyncio.Event()
        self._server: TestServer | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> str:
        """Listen on a free port on 127.0.0.1 and return the URL to use as RT's."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()
        self._session = aiohttp.ClientSession()
        return str(self._server.make_url("")).rstrip("/")

    async def close(self) -> None:
        """Release stalled answers and stop."""
        self._released.set()
        if self._server is not None:
            await self._server.close()
        if self._session is not None:
            await self._session.close()

    def _take_fault(self, method: str, path: str, body: str) -> Fault | None:
        for fault in self.faults:
            if fault.times == 0 or fault.method != method:
                continue
            if re.fullmatch(fault.path, path) and fault.body in body:
                if fault.times is not None:
                    fault.times -= 1
                return fault
        return None

    async def _handle(self, request: web.Request) -> web.Response:
        self._in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            return await self._answer(request)
        finally:
            self._in_flight -= 1

    async def _answer(self, request: web.Request) -> web.Response:
        path = request.path.removeprefix("/REST/2.0/")
        body = await request.read()
        self.requests.append(f"{request.method} {path}")
        fault = self._take_fault(request.method, path, body.decode(errors="replace"))

        if fault is not None and fault.status is not None:
            return web.json_response({"message": "injected by the test proxy"}, status=fault.status)

        assert self._session is not None
        async with self._session.request(
            request.method,
            URL(self._target + str(request.rel_url), encoded=True),
            headers={
                name: value
                for name, value in request.headers.items()
                if name.lower() in {"authorization", "content-type", "accept", "user-agent"}
            },
            data=body,
            ssl=self._ssl,
        ) as response:
            status, answer, content_type = (
                response.status,
                await response.read(),
                response.content_type,
            )

        if fault is not None and fault.stall:
            await self._released.wait()

        return web.Response(status=status, body=answer, content_type=content_type)
