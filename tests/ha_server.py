"""Start a throwaway Home Assistant on loopback and drive it through its HTTP APIs.

scripts/demo uses this module, and so can a test that needs a running Home Assistant with
this integration (a browser test, for example). It needs only the standard library and
aiohttp, so it runs in any virtualenv that has Home Assistant installed.

The APIs used are the ones Home Assistant's own frontend uses: the onboarding views, the
OAuth2 token endpoint, the config flow views, the REST API and the websocket API, as they
are in Home Assistant 2026.11.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any, Self

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
INTEGRATION_DIR = ROOT / "custom_components" / "ha_rt"
DEMO_CONFIG_TEMPLATE = ROOT / "scripts" / "demo_config"

# Environment variables that scripts/demo_config/configuration.yaml reads with !env_var.
PORT_VARIABLE = "HA_RT_DEMO_PORT"
URL_VARIABLE = "HA_RT_DEMO_URL"

STOP_TIMEOUT_SECONDS = 30.0
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=60)


class HomeAssistantError(Exception):
    """Home Assistant did not start, or one of its APIs rejected a request."""


def prepare_config_dir(config_dir: Path, template_dir: Path = DEMO_CONFIG_TEMPLATE) -> None:
    """Create an empty config directory from the template, with this integration linked in.

    Anything already in config_dir is deleted: the directory is meant to be thrown away.
    A symbolic link, rather than a copy, lets a restart pick up edits to the integration.
    """
    if config_dir.exists():
        shutil.rmtree(config_dir)
    shutil.copytree(template_dir, config_dir)

    custom_components = config_dir / "custom_components"
    custom_components.mkdir(exist_ok=True)
    (custom_components / INTEGRATION_DIR.name).symlink_to(INTEGRATION_DIR, target_is_directory=True)


def check_port_free(port: int, option: str) -> None:
    """Raise when something already listens on 127.0.0.1:port, naming the option to change it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as err:
            msg = f"port {port} on 127.0.0.1 is in use ({err.strerror}): free it or pass {option}"
            raise HomeAssistantError(msg) from err


@dataclass
class HomeAssistantProcess:
    """A Home Assistant process started by start_home_assistant."""

    process: subprocess.Popen[bytes]
    url: str
    config_dir: Path
    console_log: Path

    @property
    def pid(self) -> int:
        """Process id of the Home Assistant process."""
        return self.process.pid

    @property
    def log_file(self) -> Path:
        """Home Assistant's own log file."""
        return self.config_dir / "home-assistant.log"

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """Stop Home Assistant with SIGTERM, then SIGKILL if it is still running after timeout.

        Home Assistant treats SIGTERM as a request to shut down cleanly and saves its
        storage files first.
        """
        if self.process.poll() is not None:
            return

        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def wait_until_answering(self, timeout: float) -> None:
        """Poll the onboarding status view until it returns 200; it needs no authentication."""
        deadline = time.monotonic() + timeout
        probe_url = f"{self.url}/api/onboarding"

        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                msg = (
                    f"Home Assistant exited with code {self.process.returncode} before its"
                    f" HTTP server answered. Last output:\n{self.console_tail()}"
                )
                raise HomeAssistantError(msg)

            if _http_get_status(probe_url) == HTTPStatus.OK:
                return
            time.sleep(0.5)

        msg = (
            f"Home Assistant did not answer on {probe_url} within {timeout:.0f} s."
            f" Last output:\n{self.console_tail()}"
        )
        raise HomeAssistantError(msg)

    def console_tail(self, lines: int = 30) -> str:
        """Return the last lines that Home Assistant wrote to stdout and stderr."""
        try:
            text = self.console_log.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(no console output)"
        return "\n".join(text.splitlines()[-lines:])


def start_home_assistant(
    config_dir: Path,
    port: int,
    *,
    python: Path | None = None,
    timeout: float = 180.0,
) -> HomeAssistantProcess:
    """Start Home Assistant on 127.0.0.1:port and wait until its HTTP server responds.

    python is the interpreter of a virtualenv with Home Assistant and the requirements of
    every integration the configuration loads (default: this interpreter).
    """
    home_assistant = spawn_home_assistant(config_dir, port, python=python)
    try:
        home_assistant.wait_until_answering(timeout)
    except BaseException:
        home_assistant.stop()
        raise
    return home_assistant


def spawn_home_assistant(
    config_dir: Path, port: int, *, python: Path | None = None
) -> HomeAssistantProcess:
    """Start Home Assistant on 127.0.0.1:port and return at once, without waiting for it.

    Home Assistant runs with --skip-pip, so it never installs packages at run time, and in
    its own session, so a Ctrl-C in the terminal reaches only the caller, which then stops
    it by pid.
    """
    check_port_free(port, "another port")

    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, PORT_VARIABLE: str(port), URL_VARIABLE: url}
    console_log = config_dir / "console.log"
    command = [
        str(python or sys.executable),
        "-m",
        "homeassistant",
        "--config",
        str(config_dir),
        "--skip-pip",
        "--log-no-color",
    ]

    # The command is a fixed argument list run without a shell.
    with console_log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603
            command,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    return HomeAssistantProcess(process, url, config_dir, console_log)


def _http_get_status(url: str) -> int | None:
    """Return the status of a GET on a loopback URL, or None while the server is not ready."""
    # Callers pass the http://127.0.0.1 URL built by start_home_assistant.
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as err:
        return err.code
    except OSError:
        return None


@dataclass(frozen=True)
class Owner:
    """The first user, created during onboarding: an administrator."""

    name: str
    username: str
    password: str


class HomeAssistantClient:
    """An authenticated client for one Home Assistant's REST and websocket APIs."""

    def __init__(self, session: aiohttp.ClientSession, url: str, access_token: str) -> None:
        """Use session for every request, with access_token as the bearer token."""
        self._session = session
        self.url = url
        self._headers = {"Authorization": f"Bearer {access_token}"}
        self._access_token = access_token

    @classmethod
    async def onboard(cls, session: aiohttp.ClientSession, url: str, owner: Owner) -> Self:
        """Complete onboarding as the frontend does, and return a client logged in as owner.

        The steps are the ones Home Assistant 2026.11 lists at /api/onboarding: user,
        core_config, analytics and integration. The analytics step only marks the step
        done; analytics stays off, as when a user clicks "Next" without opting in.
        """
        client_id = f"{url}/"

        user_step = await _post_json(
            session,
            f"{url}/api/onboarding/users",
            {
                "client_id": client_id,
                "name": owner.name,
                "username": owner.username,
                "password": owner.password,
                "language": "en",
            },
        )
        access_token = await _fetch_access_token(session, url, client_id, user_step["auth_code"])
        client = cls(session, url, access_token)

        await client.post("/api/onboarding/core_config", {})
        await client.post("/api/onboarding/analytics", {})
        await client.post(
            "/api/onboarding/integration",
            {"client_id": client_id, "redirect_uri": f"{url}/?auth_callback=1"},
        )
        await client.confirm_http_config()
        return client

    @classmethod
    async def login(cls, session: aiohttp.ClientSession, url: str, owner: Owner) -> Self:
        """Log in with a username and password through the login flow, as the frontend does."""
        client_id = f"{url}/"

        flow = await _post_json(
            session,
            f"{url}/auth/login_flow",
            {
                "client_id": client_id,
                "handler": ["homeassistant", None],
                "redirect_uri": f"{url}/?auth_callback=1",
            },
        )
        result = await _post_json(
            session,
            f"{url}/auth/login_flow/{flow['flow_id']}",
            {"client_id": client_id, "username": owner.username, "password": owner.password},
        )
        if result.get("type") != "create_entry":
            msg = f"login as {owner.username!r} failed: {result.get('errors') or result}"
            raise HomeAssistantError(msg)

        access_token = await _fetch_access_token(session, url, client_id, result["result"])
        return cls(session, url, access_token)

    async def get(self, path: str) -> Any:
        """GET path and return the decoded JSON body."""
        async with self._session.get(
            f"{self.url}{path}", headers=self._headers, timeout=REQUEST_TIMEOUT
        ) as response:
            return await _json_or_raise(response)

    async def post(self, path: str, data: Any) -> Any:
        """POST data as JSON to path and return the decoded JSON body."""
        async with self._session.post(
            f"{self.url}{path}", json=data, headers=self._headers, timeout=REQUEST_TIMEOUT
        ) as response:
            return await _json_or_raise(response)

    async def delete(self, path: str) -> Any:
        """DELETE path and return the decoded JSON body."""
        async with self._session.delete(
            f"{self.url}{path}", headers=self._headers, timeout=REQUEST_TIMEOUT
        ) as response:
            return await _json_or_raise(response)

    async def wait_until_running(self, max_seconds: float = 120.0) -> None:
        """Wait until Home Assistant reports the core state RUNNING (start-up finished)."""
        deadline = time.monotonic() + max_seconds
        state = None
        while time.monotonic() < deadline:
            state = (await self.get("/api/core/state"))["state"]
            if state == "RUNNING":
                return
            await asyncio.sleep(0.5)

        msg = f"Home Assistant is still in state {state!r} after {max_seconds:.0f} s"
        raise HomeAssistantError(msg)

    async def confirm_http_config(self) -> None:
        """Confirm a pending HTTP server configuration, as the owner does in the web UI.

        Home Assistant 2026.11 moves the http: settings of configuration.yaml into its own
        storage as a pending configuration at the first start. Until the owner confirms it,
        every page shows a dialog asking for confirmation, and after 5 minutes Home Assistant
        restarts with its stable settings, which in a new config directory are the defaults:
        port 8123 on every network interface. Does nothing when nothing is pending.
        """
        (http_config,) = await self.websocket_commands([{"type": "http/config"}])
        if http_config.get("active_config_type") == "pending":
            await self.websocket_commands([{"type": "http/config/promote"}])

    async def call_action(self, domain: str, action: str, data: dict[str, Any]) -> Any:
        """Call an action through the REST API and return the response it sends back."""
        body = await self.post(f"/api/services/{domain}/{action}?return_response", data)
        return body["service_response"]

    async def add_integration(
        self, handler: str, values: dict[str, Any]
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Add an integration through its config flow and return the result and each form step.

        Every form is filled from values by field name, as a user would type them, sections
        included; a field missing from values keeps its default. Raises when a step shows
        errors or the flow ends in anything but a created config entry.
        """
        steps: list[dict[str, Any]] = []
        result = await self.post("/api/config/config_entries/flow", {"handler": handler})

        while result["type"] == "form":
            if result.get("errors"):
                msg = (
                    f"the {handler} config flow step {result['step_id']!r} shows errors:"
                    f" {result['errors']}"
                )
                raise HomeAssistantError(msg)

            user_input = _fill_form(result["data_schema"], values)
            steps.append({"step_id": result["step_id"], "user_input": user_input})
            result = await self.post(
                f"/api/config/config_entries/flow/{result['flow_id']}", user_input
            )

        if result["type"] != "create_entry":
            msg = f"the {handler} config flow ended with {result['type']!r}, not an entry: {result}"
            raise HomeAssistantError(msg)
        return result, steps

    async def websocket_commands(self, commands: list[dict[str, Any]]) -> list[Any]:
        """Send websocket commands one at a time and return each command's result."""
        results: list[Any] = []
        async with self._session.ws_connect(f"{self.url}/api/websocket") as websocket:
            await websocket.receive_json()  # auth_required
            await websocket.send_json({"type": "auth", "access_token": self._access_token})
            auth = await websocket.receive_json()
            if auth["type"] != "auth_ok":
                msg = f"websocket authentication failed: {auth}"
                raise HomeAssistantError(msg)

            for number, command in enumerate(commands, start=1):
                await websocket.send_json({"id": number, **command})
                reply = await websocket.receive_json()
                if not reply.get("success"):
                    msg = f"websocket command {command['type']!r} failed: {reply.get('error')}"
                    raise HomeAssistantError(msg)
                results.append(reply["result"])
        return results


def _fill_form(data_schema: list[dict[str, Any]], values: dict[str, Any]) -> dict[str, Any]:
    """Build a config flow step's user input from values, recursing into sections."""
    user_input: dict[str, Any] = {}
    for field in data_schema:
        name = field["name"]
        if field.get("type") == "expandable":
            user_input[name] = _fill_form(field["schema"], values)
        elif name in values:
            user_input[name] = values[name]
    return user_input


async def _fetch_access_token(
    session: aiohttp.ClientSession, url: str, client_id: str, auth_code: str
) -> str:
    """Exchange an authorization code for an access token at Home Assistant's token endpoint."""
    async with session.post(
        f"{url}/auth/token",
        data={"grant_type": "authorization_code", "code": auth_code, "client_id": client_id},
        timeout=REQUEST_TIMEOUT,
    ) as response:
        token = await _json_or_raise(response)
    return str(token["access_token"])


async def _post_json(session: aiohttp.ClientSession, url: str, data: Any) -> Any:
    async with session.post(url, json=data, timeout=REQUEST_TIMEOUT) as response:
        return await _json_or_raise(response)


async def _json_or_raise(response: aiohttp.ClientResponse) -> Any:
    """Return the JSON body of a successful response; raise with the body otherwise."""
    text = await response.text()
    if response.status >= HTTPStatus.BAD_REQUEST:
        msg = f"{response.method} {response.url.path} failed with HTTP {response.status}: {text}"
        raise HomeAssistantError(msg)
    return await response.json(content_type=None) if text else None
