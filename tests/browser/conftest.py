"""Fixtures of the browser tests: Chromium, a Home Assistant with its frontend, screenshots.

The test virtualenv's Home Assistant has no frontend, so these tests run Home Assistant as a
separate process from .demo/venv, as scripts/demo does, and reach it over HTTP on 127.0.0.1.
scripts/install-browser installs Chromium and that virtualenv. Without them the tests are
skipped, or fail when CI=true.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiohttp
import pytest
from playwright.async_api import async_playwright, expect

from tests.conftest import _sockets_allowed
from tests.ha_server import (
    ROOT,
    HomeAssistantClient,
    HomeAssistantProcess,
    Owner,
    prepare_config_dir,
    start_home_assistant,
)

from .chromium import FencedBrowser, find_chromium, open_fenced_browser

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
    from pathlib import Path
    from typing import Any

DEMO_PYTHON = ROOT / ".demo" / "venv" / "bin" / "python"
SCREENSHOT_ROOT = ROOT / "build" / "screenshots"
# The owner of a throwaway Home Assistant that listens on 127.0.0.1 only.
OWNER = Owner(name="Browser Test Owner", username="owner", password="owner-password")  # noqa: S106

# Start and onboarding took 6-23 s in this project's runs (demo configuration, 2 busy cores).
HA_START_TIMEOUT_SECONDS = 180.0

# Paths where Home Assistant 2026.11 fetches content from the internet for the browser: an
# integration's brand image that it has no copy of (from its CDN), media player artwork
# and image entities (from their URLs). The browser never requests them.
INTERNET_PROXY_PATHS = ("/api/brands/", "/api/media_player_proxy/", "/api/image_proxy/")

_SCREENSHOT_FOLDERS = pytest.StashKey[list["Path"]]()
_SUMMARY_LINES = pytest.StashKey[list[str]]()


@dataclass(frozen=True)
class RunningHomeAssistant:
    """A Home Assistant process with onboarding done, and the owner who can log in."""

    process: HomeAssistantProcess
    owner: Owner

    @property
    def url(self) -> str:
        """Base URL, http://127.0.0.1:<port>."""
        return self.process.url


def _unavailable(reason: str) -> None:
    """Skip the test, or fail it under CI, where scripts/test has installed everything."""
    if os.environ.get("CI", "").lower() in {"1", "true"}:
        pytest.fail(f"{reason}; CI runs scripts/install-browser, so this is an error")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Replace the fixture of tests/conftest.py: these tests start no Home Assistant in-process."""


@pytest.fixture(scope="session")
def chromium_executable() -> Path:
    """Return Debian's Chromium, or skip when it is not installed."""
    executable = find_chromium()
    if executable is None:
        _unavailable("Chromium not found: install it with scripts/install-browser")
    assert executable is not None
    return executable


@pytest.fixture(scope="session")
def home_assistant_python() -> Path:
    """Return the interpreter of .demo/venv, which has Home Assistant and its frontend."""
    if not DEMO_PYTHON.is_file():
        _unavailable(f"{DEMO_PYTHON} not found: run scripts/install-browser")

    # The interpreter is the demo virtualenv's, started without a shell.
    imports = subprocess.run(  # noqa: S603
        [DEMO_PYTHON, "-c", "import homeassistant, hass_frontend"],
        capture_output=True,
        text=True,
        check=False,
    )
    if imports.returncode != 0:
        _unavailable(
            f"{DEMO_PYTHON} cannot import Home Assistant and its frontend"
            f" ({imports.stderr.strip().splitlines()[-1:]}): run scripts/install-browser"
        )
    return DEMO_PYTHON


@pytest.fixture(scope="module")
def home_assistant(
    request: pytest.FixtureRequest,
    home_assistant_python: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningHomeAssistant]:
    """Start Home Assistant with the demo configuration on a free port and onboard the owner.

    The HTTP server's settings from the configuration are confirmed as part of onboarding,
    so the frontend shows no confirmation dialog and Home Assistant never falls back to
    listening on every interface.
    """
    config_dir = tmp_path_factory.mktemp("home-assistant")
    started = time.monotonic()

    with _sockets_allowed():
        prepare_config_dir(config_dir)
        process = start_home_assistant(
            config_dir,
            _free_port(),
            python=home_assistant_python,
            timeout=HA_START_TIMEOUT_SECONDS,
        )
        try:
            _run(_onboard(process.url, OWNER))
        except BaseException:
            process.stop()
            raise

    _note(request, f"Home Assistant ready in {time.monotonic() - started:.1f} s ({config_dir})")
    yield RunningHomeAssistant(process, OWNER)

    process.stop()


@pytest.fixture
async def browser(
    request: pytest.FixtureRequest,
    chromium_executable: Path,
    home_assistant: RunningHomeAssistant,
    tmp_path: Path,
    socket_enabled: None,
) -> AsyncIterator[FencedBrowser]:
    """Start headless Chromium with a fresh profile; its pages may reach only Home Assistant."""
    # The config flow checks RT before it answers, which takes seconds on a busy machine;
    # Playwright's default wait for an assertion is 5 s.
    expect.set_options(timeout=30_000)

    async with (
        async_playwright() as playwright,
        open_fenced_browser(
            playwright,
            chromium_executable,
            tmp_path / "chromium-profile",
            home_assistant.url,
            withheld_paths=INTERNET_PROXY_PATHS,
        ) as browser,
    ):
        yield browser

    if browser.withheld_urls:
        count = len(browser.withheld_urls)
        _note(request, f"{request.node.name}: withheld {count} requests for internet content")


@pytest.fixture
async def home_assistant_client(
    home_assistant: RunningHomeAssistant, socket_enabled: None
) -> AsyncIterator[HomeAssistantClient]:
    """Return a client of Home Assistant's REST and websocket APIs, logged in as the owner."""
    async with aiohttp.ClientSession() as session:
        yield await HomeAssistantClient.login(session, home_assistant.url, home_assistant.owner)


@pytest.fixture
def screenshot_dir(request: pytest.FixtureRequest) -> Path:
    """Return an emptied build/screenshots/<test name>/ folder, listed in pytest's summary."""
    name = request.node.name.replace("[", "-").replace("]", "")
    folder = SCREENSHOT_ROOT / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)

    request.config.stash.setdefault(_SCREENSHOT_FOLDERS, []).append(folder)
    return folder


@pytest.fixture
def add_summary_line(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Return a function that adds a line to the browser tests' part of pytest's summary."""
    return lambda line: _note(request, line)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Print where the screenshots are, the measured durations and the withheld requests."""
    folders = config.stash.get(_SCREENSHOT_FOLDERS, [])
    lines = config.stash.get(_SUMMARY_LINES, [])
    if not folders and not lines:
        return

    terminalreporter.section("browser tests")
    for folder in folders:
        terminalreporter.write_line(f"screenshots: {folder}")
    for line in lines:
        terminalreporter.write_line(line)


def _note(request: pytest.FixtureRequest, line: str) -> None:
    request.config.stash.setdefault(_SUMMARY_LINES, []).append(line)


async def _onboard(url: str, owner: Owner) -> None:
    async with aiohttp.ClientSession() as session:
        client = await HomeAssistantClient.onboard(session, url, owner)
        await client.wait_until_running()


def _run(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine on a private event loop.

    asyncio.run would also clear the thread's current event loop, which the Home Assistant
    test plugin's fixtures read after each test.
    """
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(coroutine)
    finally:
        loop.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
