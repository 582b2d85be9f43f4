"""Fixtures shared by the tests: the custom integration loader, a real RT 5 and its users."""

from __future__ import annotations

import contextlib
import os
import socket
from typing import TYPE_CHECKING

import aiohttp
import pytest
import pytest_socket
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ha_rt.rt import RTClient

from .entry_helpers import trust_rt_certificate
from .rt_server import RT_SERVER, RTServer, rt_installed

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from homeassistant.core import HomeAssistant


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom_components/ha_rt, or setup finds no integration."""


@contextlib.contextmanager
def _sockets_allowed() -> Iterator[None]:
    """Allow new sockets for a moment, then restore what pytest-socket allowed before.

    pytest-homeassistant-custom-component blocks every non-Unix socket in each test's set-up
    unless the test requests `socket_enabled`, and a session fixture cannot request that
    function fixture. Connections stay limited to 127.0.0.1 by the plugin's host filter.
    """
    saved = (socket.socket, socket.getaddrinfo, socket.gethostbyname)
    pytest_socket.enable_socket()
    try:
        yield
    finally:
        socket.socket, socket.getaddrinfo, socket.gethostbyname = saved  # type: ignore[misc]


class PytestRTServer(RTServer):
    """RTServer whose start-up also works while pytest-socket blocks new sockets."""

    def open(self) -> None:
        """Create and start the instance."""
        with _sockets_allowed():
            super().open()

    def start(self) -> None:
        """Restart the web server (after `stop`, for outage tests)."""
        with _sockets_allowed():
            super().start()


@pytest.fixture(scope="session")
def rt_server() -> Iterator[RTServer]:
    """Provide a real RT 5 on https://127.0.0.1, shared by the whole test session.

    It contains the queue "Facilities", the catalog "Home Assistant Devices", the API user "ha"
    with the rights the integration needs (`token`) and a superuser token (`admin_token`).
    Tests that need isolation make their own queue or catalog with `create_queue` and
    `create_catalog`. Tests that talk to it over HTTP must request `socket_enabled`.

    Without the RT packages the tests that use it are skipped, or fail when CI=true.
    """
    if not rt_installed():
        msg = f"{RT_SERVER} not found: install RT 5 with scripts/install-rt"
        if os.environ.get("CI", "").lower() in {"1", "true"}:
            pytest.fail(msg)
        pytest.skip(msg)

    with PytestRTServer() as server:
        yield server


@pytest.fixture
async def admin_client(rt_server: RTServer, socket_enabled: None) -> AsyncIterator[RTClient]:
    """RT client with the superuser token, to read back what the integration wrote."""
    async with aiohttp.ClientSession() as session:
        yield RTClient(session, rt_server.url, rt_server.admin_token, ssl=rt_server.ssl_context())


@pytest.fixture
def source_entry(hass: HomeAssistant) -> MockConfigEntry:
    """Config entry of another integration, which the test devices belong to."""
    entry = MockConfigEntry(domain="test", title="Leak sensors")
    entry.add_to_hass(hass)
    return entry


@pytest.fixture
def trusted_rt(rt_server: RTServer, socket_enabled: None) -> Iterator[RTServer]:
    """Return the test RT with its certificate trusted and sockets allowed."""
    with trust_rt_certificate(rt_server):
        yield rt_server
