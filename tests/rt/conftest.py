"""Fixtures for the RT client tests: a local aiohttp fault server and a client session."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from homeassistant.util.async_ import get_scheduled_timer_handles

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

type Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class FaultServer:
    """An HTTP server that sends every request to one handler and records the requests."""

    handler: Handler
    requests: list[web.Request] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    # Set when the test ends, so that handlers waiting on it return and the server can stop.
    released: asyncio.Event = field(default_factory=asyncio.Event)
    _server: TestServer | None = None

    @property
    def url(self) -> str:
        """Base URL of the server, standing in for RT's web URL."""
        assert self._server is not None
        return str(self._server.make_url(""))

    async def start(self) -> None:
        """Listen on a free port on 127.0.0.1."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._record)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()

    async def close(self) -> None:
        """Release waiting handlers and stop the server."""
        self.released.set()
        if self._server is not None:
            await self._server.close()

    async def _record(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request)
        self.bodies.append(await request.read())
        return await self.handler(request)


type StartServer = Callable[[Handler], Awaitable[FaultServer]]


@pytest.fixture
async def start_server(socket_enabled: None) -> AsyncIterator[StartServer]:
    """Start fault servers on 127.0.0.1 and stop them when the test ends.

    The Home Assistant test plugin blocks sockets; pytest-socket's `socket_enabled` lifts
    that for this test while connections stay limited to 127.0.0.1.
    """
    servers: list[FaultServer] = []

    async def start(handler: Handler) -> FaultServer:
        server = FaultServer(handler)
        await server.start()
        servers.append(server)
        return server

    yield start

    for server in servers:
        await server.close()


@pytest.fixture
async def session(socket_enabled: None) -> AsyncIterator[aiohttp.ClientSession]:
    """An aiohttp session, with sockets to 127.0.0.1 allowed, closed when the test ends."""
    async with aiohttp.ClientSession() as client_session:
        yield client_session

    await wait_for_tls_shutdown()


def tls_shutdown_pending(loop: asyncio.AbstractEventLoop) -> bool:
    """Tell whether asyncio still waits for the TLS shutdown of a closed connection."""
    return any(
        not handle.cancelled()
        and getattr(getattr(handle, "_callback", None), "__name__", "") == "_check_shutdown_timeout"
        for handle in get_scheduled_timer_handles(loop)
    )


async def wait_for_tls_shutdown() -> None:
    """Wait up to 5 s until TLS connections closed with the session finish their shutdown.

    Closing an aiohttp session does not wait for the TLS close_notify exchange, and
    asyncio keeps a shutdown timer until it ends. The Home Assistant test plugin fails a
    test that leaves any timer behind.
    """
    loop = asyncio.get_running_loop()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(5):
            # asyncio offers no event for a finished TLS shutdown, so poll its timer.
            while tls_shutdown_pending(loop):  # noqa: ASYNC110
                await asyncio.sleep(0.01)
