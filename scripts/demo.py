"""Run the end-to-end demo: RT and Home Assistant on loopback, tickets made through actions.

scripts/demo installs what is missing and then runs this module from the repository root
with the demo virtualenv's Python, as `python -m scripts.demo`. It takes the steps a user
takes. It starts RT and Home Assistant, finishes onboarding and gives a few devices an
area. Then it adds the Service Management integration through its config flow, calls the
integration's actions through the REST API and reads the result back from RT.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import ssl
import sys
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import aiohttp

from tests.ha_server import (
    HomeAssistantClient,
    HomeAssistantError,
    HomeAssistantProcess,
    Owner,
    check_port_free,
    prepare_config_dir,
    spawn_home_assistant,
)
from tests.rt_server import RTServer, RTServerError, rt_installed

if TYPE_CHECKING:
    from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
DEMO_DIR = ROOT / ".demo"
PID_FILE = DEMO_DIR / "demo.pid"

OWNER = Owner(name="Demo Owner", username="demo", password="demo-password")
DOMAIN = "ha_rt"
ADDRESS = "1 Harbour Street, Springfield"

# Devices of Home Assistant's demo integration (2026.11) and the area each gets. The
# onboarding user step creates Living Room, Kitchen and Bedroom; the demo adds Basement.
LEAK_SENSOR = "Basement Floor Wet"
DEVICE_AREAS = {
    LEAK_SENSOR: "Basement",
    "Kitchen Lights": "Kitchen",
    "Living Room RGBWW Lights": "Living Room",
    "Bed Light": "Bedroom",
}
HA_START_TIMEOUT_SECONDS = 180.0
DEVICE_TIMEOUT_SECONDS = 60.0
OFFLINE_ONBOARDING_DOMAINS = {"google_translate", "met", "radio_browser"}
# The second create_ticket and resolve_ticket's text each add one comment.
EXPECTED_COMMENTS = 2
RT_TIMEOUT = aiohttp.ClientTimeout(total=30)


class DemoError(Exception):
    """A demo step failed or RT does not show what the actions should have done."""


@dataclass
class RTTarget:
    """The RT server the integration talks to, and how the demo reaches it."""

    url: str
    token: str
    queue: str
    catalog: str
    verify_ssl: bool
    allow_private_network: bool
    ssl_context: ssl.SSLContext | None = None
    # Why verify_ssl is off or allow_private_network is on, printed with the config flow.
    setting_reasons: tuple[str, ...] = ()


@dataclass
class Timings:
    """Seconds spent in each set-up phase, for the set-up time line.

    The clock starts when scripts/demo starts, which passes its start time and the time
    its install checks took in the environment.
    """

    started_at: float
    install_seconds: float
    phases: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Start the first phase where the install checks ended."""
        self.phases["install check"] = self.install_seconds
        self._phase_started_at = self.started_at + self.install_seconds

    def end_phase(self, phase: str) -> None:
        """Record the time since the previous phase ended under phase."""
        now = time.time()
        self.phases[phase] = now - self._phase_started_at
        self._phase_started_at = now

    def summary(self) -> str:
        """Return the total set-up time and its parts."""
        total = time.time() - self.started_at
        parts = ", ".join(f"{phase} {seconds:.0f} s" for phase, seconds in self.phases.items())
        return f"set-up took {total:.0f} s ({parts})"


def parse_args() -> argparse.Namespace:
    """Read the command line; scripts/demo passes its own arguments through."""
    parser = argparse.ArgumentParser(
        prog="scripts/demo",
        description=(
            "Start RT and Home Assistant on 127.0.0.1, add the Service Management integration "
            "and create, comment on and resolve a ticket through its actions."
        ),
    )
    parser.add_argument(
        "--once", action="store_true", help="stop RT and Home Assistant when the demo is done"
    )
    parser.add_argument("--ha-port", type=int, default=8123, help="Home Assistant port (8123)")
    parser.add_argument("--rt-port", type=int, default=9443, help="local RT's HTTPS port (9443)")

    real_rt = parser.add_argument_group(
        "a real RT server instead of the local one (the token is read from RT_TOKEN)"
    )
    real_rt.add_argument("--rt-url", help="HTTPS URL of the RT server, e.g. https://rt.example.com")
    real_rt.add_argument("--queue", default="Facilities", help="queue name (Facilities)")
    real_rt.add_argument("--catalog", default="Home Assistant Devices", help="asset catalog name")
    real_rt.add_argument(
        "--allow-private-network",
        action="store_true",
        help="allow an RT server on a private network address (LAN)",
    )
    real_rt.add_argument(
        "--no-verify-ssl", action="store_true", help="do not verify RT's TLS certificate"
    )
    return parser.parse_args()


def say(text: str = "") -> None:
    """Print a line of the demo's output at once, also when stdout is a pipe."""
    print(text, flush=True)


def show_json(value: object) -> str:
    """Return value as one line of JSON."""
    return json.dumps(value, ensure_ascii=False)


def claim_pid_file() -> None:
    """Record this process in .demo/demo.pid, or raise DemoError while another demo runs.

    Two demos would share .demo/ and its ports. The other one is left alone: this
    script stops only processes it started itself.
    """
    DEMO_DIR.mkdir(exist_ok=True)
    if PID_FILE.exists():
        other = int(PID_FILE.read_text(encoding="utf-8").split()[0] or 0)
        if other and _is_demo_process(other):
            msg = (
                f"another demo is running as pid {other}: stop it with Ctrl-C in its terminal"
                f" or `kill {other}`, then run this again"
            )
            raise DemoError(msg)
    PID_FILE.write_text(f"{os.getpid()}\n", encoding="utf-8")


def _is_demo_process(pid: int) -> bool:
    try:
        command_line = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"scripts.demo" in command_line


def new_local_rt(port: int) -> RTServer:
    """Prepare a fresh RT in .demo/rt; its open() starts it with the queue, catalog and token."""
    if not rt_installed():
        msg = "RT 5 is not installed: run scripts/demo, which installs Debian's RT packages"
        raise DemoError(msg)

    directory = DEMO_DIR / "rt"
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    return RTServer(directory, port)


def local_rt_target(server: RTServer) -> RTTarget:
    """Describe the started local RT for the config flow and the demo's own REST2 reads."""
    return RTTarget(
        url=server.url,
        token=server.token,
        queue=server.queue,
        catalog=server.catalog,
        verify_ssl=False,
        allow_private_network=True,
        ssl_context=server.ssl_context(),
        setting_reasons=(
            "verify_ssl=false: the local RT has a self-signed certificate",
            "allow_private_network=true: the local RT listens on 127.0.0.1",
        ),
    )


def real_rt_target(options: argparse.Namespace) -> RTTarget:
    """Describe a real RT server from the command line and RT_TOKEN."""
    token = os.environ.get("RT_TOKEN", "")
    if not token:
        msg = "--rt-url needs the RT auth token in the RT_TOKEN environment variable"
        raise DemoError(msg)

    verify_ssl = not options.no_verify_ssl
    reasons = []
    if not verify_ssl:
        reasons.append("verify_ssl=false: --no-verify-ssl was given")
    if options.allow_private_network:
        reasons.append("allow_private_network=true: --allow-private-network was given")

    return RTTarget(
        url=options.rt_url.rstrip("/"),
        token=token,
        queue=options.queue,
        catalog=options.catalog,
        verify_ssl=verify_ssl,
        allow_private_network=options.allow_private_network,
        ssl_context=None if verify_ssl else _unverified_context(),
        setting_reasons=tuple(reasons),
    )


def _unverified_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def spawn_local_home_assistant(port: int) -> HomeAssistantProcess:
    """Start Home Assistant with the demo configuration in a fresh .demo/ha-config."""
    config_dir = DEMO_DIR / "ha-config"
    prepare_config_dir(config_dir)

    say(f"==> starting Home Assistant on http://127.0.0.1:{port} in {config_dir.relative_to(ROOT)}")
    return spawn_home_assistant(config_dir, port, python=Path(sys.executable))


async def run_demo(home_assistant: HomeAssistantProcess, rt: RTTarget, timings: Timings) -> None:
    """Onboard, add the integration, call its actions and check the ticket in RT."""
    async with aiohttp.ClientSession() as session:
        client = await HomeAssistantClient.onboard(session, home_assistant.url, OWNER)
        await client.wait_until_running()
        say(f"==> onboarding done: user {OWNER.username!r} is the owner")

        devices = await assign_areas(client)
        await remove_offline_entries(client)
        timings.end_phase("onboarding and areas")

        await add_integration(client, rt)
        timings.end_phase("config flow")
        say(f"==> {timings.summary()}")

        leak_sensor = devices[LEAK_SENSOR]
        ticket_id = await call_actions(client, leak_sensor)
        await show_ticket_in_rt(session, rt, ticket_id, leak_sensor)


async def assign_areas(client: HomeAssistantClient) -> dict[str, str]:
    """Put a few demo devices in areas, as a user does under Settings > Areas.

    Returns the device ids by device name. The demo integration sets its devices up in the
    background after start-up, so this waits until they are all in the device registry.
    """
    devices = await _wait_for_devices(client, set(DEVICE_AREAS))
    (areas,) = await client.websocket_commands([{"type": "config/area_registry/list"}])
    area_ids = {area["name"]: area["area_id"] for area in areas}

    missing_areas = sorted(set(DEVICE_AREAS.values()) - set(area_ids))
    commands = [{"type": "config/area_registry/create", "name": area} for area in missing_areas]
    for created in await client.websocket_commands(commands):
        area_ids[created["name"]] = created["area_id"]

    updates = [
        {
            "type": "config/device_registry/update",
            "device_id": devices[name],
            "area_id": area_ids[area],
        }
        for name, area in DEVICE_AREAS.items()
    ]
    await client.websocket_commands(updates)

    placed = ", ".join(f"{name} -> {area}" for name, area in DEVICE_AREAS.items())
    say(f"==> areas assigned: {placed}")
    return devices


async def _wait_for_devices(client: HomeAssistantClient, names: set[str]) -> dict[str, str]:
    deadline = time.monotonic() + DEVICE_TIMEOUT_SECONDS
    while True:
        (registry,) = await client.websocket_commands([{"type": "config/device_registry/list"}])
        devices = {device["name"]: device["id"] for device in registry if device["name"] in names}
        if len(devices) == len(names):
            return devices

        if time.monotonic() > deadline:
            missing = ", ".join(sorted(names - set(devices)))
            msg = (
                f"the demo devices {missing} are not in Home Assistant's device registry after"
                f" {DEVICE_TIMEOUT_SECONDS:.0f} s; the demo integration did not load, see"
                f" {DEMO_DIR.relative_to(ROOT)}/ha-config/home-assistant.log"
            )
            raise DemoError(msg)
        await asyncio.sleep(1)


async def remove_offline_entries(client: HomeAssistantClient) -> None:
    """Remove config entries that onboarding adds but that cannot work without the internet.

    Home Assistant 2026.11 starts config flows for Met.no, Radio Browser, Google Translate
    and Shopping List when the core_config onboarding step finishes. The demo virtualenv
    lacks the packages of the first three, so they never reach the internet. Met.no and
    Radio Browser fail before creating an entry, with errors in the log. Google Translate
    leaves an entry that failed to set up, and the demo deletes it.
    """
    entries = await client.get("/api/config/config_entries/entry")
    for entry in entries:
        if entry["domain"] in OFFLINE_ONBOARDING_DOMAINS and entry["state"] != "loaded":
            await client.delete(f"/api/config/config_entries/entry/{entry['entry_id']}")
            say(f"==> removed the failed {entry['title']!r} entry that onboarding added")
            say("    It needs the internet, as do Met.no and Radio Browser. Their packages are not")
            say("    installed, so all three failed to load; the errors in the log are expected.")


async def add_integration(client: HomeAssistantClient, rt: RTTarget) -> None:
    """Add Service Management through the config flow API, as Settings > Add integration does."""
    values = {
        "url": rt.url,
        "token": rt.token,
        "queue": rt.queue,
        "catalog": rt.catalog,
        "address": ADDRESS,
        "sync_interval": 6,
        "allow_private_network": rt.allow_private_network,
        "verify_ssl": rt.verify_ssl,
    }
    printed_values = {**values, "token": "(hidden)"}
    say(f"==> adding the integration through the config flow: {show_json(printed_values)}")
    for reason in rt.setting_reasons:
        say(f"    {reason}")

    result, steps = await client.add_integration(DOMAIN, values)
    entry = result["result"]
    step_names = ", ".join(step["step_id"] for step in steps)
    say(f"    config entry {entry['title']!r} is {entry['state']} (flow steps: {step_names})")
    if entry["state"] != "loaded":
        msg = (
            f"the config entry is {entry['state']!r}, not loaded: see"
            f" {DEMO_DIR.relative_to(ROOT)}/ha-config/home-assistant.log"
        )
        raise DemoError(msg)


async def call_actions(client: HomeAssistantClient, device_id: str) -> int:
    """Sync assets, create a ticket twice for one device, resolve it; return the ticket id."""
    synced = await _call(client, "sync_assets", {})
    if synced.get("created") == 0 and synced.get("unchanged"):
        say("    The integration's own sync at set-up created the assets, so none changed here.")

    first = await _call(
        client,
        "create_ticket",
        {
            "device_id": device_id,
            "subject": "Water leak in the basement",
            "text": f"{LEAK_SENSOR} reports water on the floor.",
        },
    )
    second = await _call(
        client,
        "create_ticket",
        {
            "device_id": device_id,
            "subject": "Water leak in the basement",
            "text": f"{LEAK_SENSOR} still reports water, 5 minutes later.",
        },
    )
    resolved = await _call(
        client,
        "resolve_ticket",
        {"device_id": device_id, "text": "The floor is dry again; the leak is fixed."},
    )

    ticket_id = int(first.get("ticket_id", 0))
    problems = []
    if first.get("action") != "created":
        problems.append(f"the first create_ticket did not create a ticket: {show_json(first)}")
    if second.get("action") != "commented" or second.get("ticket_id") != ticket_id:
        problems.append(
            f"the second create_ticket did not comment on ticket {ticket_id}: {show_json(second)}"
        )
    if resolved.get("action") != "resolved" or ticket_id not in resolved.get("ticket_ids", []):
        problems.append(f"resolve_ticket did not resolve ticket {ticket_id}: {show_json(resolved)}")
    _raise_if_any(problems)

    say(f"    ticket URL: {first['ticket_url']}")
    return ticket_id


async def _call(client: HomeAssistantClient, action: str, data: dict[str, Any]) -> dict[str, Any]:
    say(f"==> {DOMAIN}.{action} {show_json(data)}")
    response: dict[str, Any] = await client.call_action(DOMAIN, action, data)
    say(f"    {show_json(response)}")
    return response


def _raise_if_any(problems: list[str]) -> None:
    if problems:
        raise DemoError("; ".join(problems))


async def show_ticket_in_rt(
    session: aiohttp.ClientSession, rt: RTTarget, ticket_id: int, device_id: str
) -> None:
    """Read the ticket, its history and its asset from RT's REST2 API and check them."""
    ticket = await _rt_get(session, rt, f"/REST/2.0/ticket/{ticket_id}")
    history = await _rt_get(session, rt, f"/REST/2.0/ticket/{ticket_id}/history?fields=Type")
    custom_fields = _custom_field_values(ticket)
    asset_ids = [
        link["id"]
        for link in ticket["_hyperlinks"]
        if link.get("ref") == "refers-to" and link.get("type") == "asset"
    ]
    comments = sum(1 for item in history["items"] if item["Type"] == "Comment")

    say(f"==> RT ticket #{ticket_id} {ticket['Subject']!r} in {rt.queue!r}: {ticket['Status']}")
    for name, value in custom_fields.items():
        say(f"    {name}: {value}")
    say(f"    comments: {comments}")
    say(f"    refers to: {', '.join(f'asset #{asset_id}' for asset_id in asset_ids) or 'nothing'}")

    problems = []
    if custom_fields.get("DeviceId") != device_id:
        problems.append(f"the ticket's DeviceId is not {device_id}")
    if ticket["Status"] != "resolved":
        problems.append("the ticket is not resolved")
    if comments != EXPECTED_COMMENTS:
        problems.append(f"the ticket has {comments} comments, not {EXPECTED_COMMENTS}")
    if len(asset_ids) != 1:
        problems.append(f"the ticket refers to {len(asset_ids)} assets, not 1")
    _raise_if_any(problems)

    asset = await _rt_get(session, rt, f"/REST/2.0/asset/{asset_ids[0]}")
    asset_fields = _custom_field_values(asset)
    say(f"==> RT asset #{asset['id']} {asset['Name']!r} in {rt.catalog!r}: {asset['Status']}")
    for name, value in asset_fields.items():
        say(f"    {name}: {value}")
    say(f"    asset URL: {rt.url}/Asset/Display.html?id={asset['id']}")
    if asset_fields.get("DeviceId") != device_id:
        _raise_if_any([f"the asset's DeviceId is not {device_id}"])


async def _rt_get(session: aiohttp.ClientSession, rt: RTTarget, path: str) -> dict[str, Any]:
    """GET a REST2 path with the same token the integration uses."""
    async with session.get(
        f"{rt.url}{path}",
        headers={"Authorization": f"token {rt.token}"},
        ssl=rt.ssl_context or True,
        timeout=RT_TIMEOUT,
    ) as response:
        if response.status != HTTPStatus.OK:
            msg = f"RT answered HTTP {response.status} to GET {path}: {await response.text()}"
            raise DemoError(msg)
        body: dict[str, Any] = await response.json()
        return body


def _custom_field_values(record: dict[str, Any]) -> dict[str, str]:
    """Return an RT record's custom fields that have a value, by name."""
    return {
        custom_field["name"]: ", ".join(custom_field["values"])
        for custom_field in sorted(record["CustomFields"], key=lambda item: item["name"])
        if custom_field["values"]
    }


def print_running(
    home_assistant: HomeAssistantProcess, rt: RTTarget, rt_server: RTServer | None
) -> None:
    """Print where to look and how to log in while the demo keeps running."""
    say()
    say("The demo is running. Press Ctrl-C to stop Home Assistant and RT.")
    say(f"  Home Assistant  {home_assistant.url}  user {OWNER.username} / {OWNER.password}")
    say(f"                  log: {home_assistant.log_file.relative_to(ROOT)}")
    if rt_server is not None:
        root_password = (rt_server.directory / "root-password").read_text(encoding="utf-8").strip()
        say(f"  RT              {rt.url}  user root / {root_password}")
        say("                  (self-signed certificate: accept it in the browser)")
        say(f"                  REST2 token of user {rt_server.api_user!r}: {rt.token}")
    else:
        say(f"  RT              {rt.url}")


def wait_until_stopped(home_assistant: HomeAssistantProcess, rt_server: RTServer | None) -> None:
    """Sleep until Ctrl-C or SIGTERM, or until Home Assistant or RT exits on its own."""
    while True:
        if home_assistant.process.poll() is not None:
            msg = f"Home Assistant exited with code {home_assistant.process.returncode}"
            raise DemoError(msg)
        if rt_server is not None and rt_server.pid is None:
            msg = f"RT exited; its log is {rt_server.server_log}"
            raise DemoError(msg)
        time.sleep(1)


def _stop_on_sigterm(signum: int, _frame: FrameType | None) -> NoReturn:
    raise KeyboardInterrupt(signum)


def main() -> int:
    """Run the demo and stop what it started; return the exit code."""
    options = parse_args()
    timings = Timings(
        started_at=float(os.environ.get("HA_RT_DEMO_STARTED_AT") or time.time()),
        install_seconds=float(os.environ.get("HA_RT_DEMO_INSTALL_SECONDS") or 0),
    )
    # A shell without job control starts background commands with SIGINT ignored, and
    # Python then keeps it ignored: ask for Ctrl-C to raise KeyboardInterrupt in any case.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)

    rt_server: RTServer | None = None
    home_assistant: HomeAssistantProcess | None = None
    try:
        claim_pid_file()
        check_port_free(options.ha_port, "--ha-port")
        if not options.rt_url:
            check_port_free(options.rt_port, "--rt-port")

        # Home Assistant took 9-30 s to start and RT 4-14 s on 2 busy cores: start both at once.
        home_assistant = spawn_local_home_assistant(options.ha_port)
        if options.rt_url:
            rt = real_rt_target(options)
        else:
            say(f"==> starting RT 5 on https://127.0.0.1:{options.rt_port} in .demo/rt")
            rt_server = new_local_rt(options.rt_port)
            rt_server.open()
            rt = local_rt_target(rt_server)
        home_assistant.wait_until_answering(HA_START_TIMEOUT_SECONDS)
        timings.end_phase(
            "Home Assistant start" if options.rt_url else "RT and Home Assistant start"
        )

        asyncio.run(run_demo(home_assistant, rt, timings))
        if not options.once:
            print_running(home_assistant, rt, rt_server)
            wait_until_stopped(home_assistant, rt_server)
    except KeyboardInterrupt:
        say("\n==> interrupted")
        return 130
    except (DemoError, HomeAssistantError, RTServerError, aiohttp.ClientError) as err:
        say(f"error: {err}")
        return 1
    finally:
        stop_started(home_assistant, rt_server)
    return 0


def stop_started(home_assistant: HomeAssistantProcess | None, rt_server: RTServer | None) -> None:
    """Stop the Home Assistant and RT processes this run started, by pid."""
    # A second Ctrl-C while stopping would leave a process behind: ignore it from here on.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)

    if home_assistant is not None:
        say(f"==> stopping Home Assistant (pid {home_assistant.pid})")
        home_assistant.stop()
    if rt_server is not None:
        pid = rt_server.pid
        say(f"==> stopping RT (pid {pid})" if pid else "==> stopping RT's set-up")
        rt_server.close()

    if PID_FILE.exists() and PID_FILE.read_text(encoding="utf-8").strip() == str(os.getpid()):
        PID_FILE.unlink()


if __name__ == "__main__":
    sys.exit(main())
