"""Setup shared by the benchmarks that drive the integration against a throwaway RT 5.

A script imports this module after it has put the repository root on sys.path, because
this module imports the integration and tests/rt_server.py.
"""

from __future__ import annotations

import asyncio
import os
import platform
import sys
import tempfile
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import frame
from pytest_homeassistant_custom_component.common import (  # type: ignore[import-untyped]
    MockConfigEntry,
    async_test_home_assistant,
)

from custom_components.ha_rt.assets import AssetSync
from custom_components.ha_rt.const import DEFAULT_OUTBOX_MAX_PENDING, DOMAIN
from custom_components.ha_rt.data import EntrySettings, RTRuntimeData
from custom_components.ha_rt.outbox import Outbox
from custom_components.ha_rt.rt import RTClient
from custom_components.ha_rt.tickets import TicketManager
from tests.rt_server import RTServer, rt_installed

if TYPE_CHECKING:
    import argparse
    from collections.abc import AsyncIterator, Callable, Coroutine

    from homeassistant.core import HomeAssistant


@dataclass
class BenchEntry:
    """A bare Home Assistant with one config entry whose runtime objects talk to the test RT.

    `owner` is a second config entry that owns the benchmark devices. The outbox is created
    but neither loaded nor wired to the ticket manager, so a benchmark that needs it does that.
    """

    hass: HomeAssistant
    session: aiohttp.ClientSession
    entry: MockConfigEntry
    owner: MockConfigEntry
    client: RTClient
    tickets: TicketManager
    assets: AssetSync
    outbox: Outbox


@asynccontextmanager
async def bench_entry(
    server: RTServer,
    trace_config: aiohttp.TraceConfig,
    temp_prefix: str,
    *,
    outbox_max_pending: int = DEFAULT_OUTBOX_MAX_PENDING,
) -> AsyncIterator[BenchEntry]:
    """Start Home Assistant with its storage in a temporary directory and set up the entry.

    Requests on the client's session go through `trace_config`. On a normal exit this stops
    the asset sync and Home Assistant. A benchmark that started the outbox stops it before.
    """
    with tempfile.TemporaryDirectory(prefix=temp_prefix) as config_dir:
        async with (
            async_test_home_assistant(config_dir=config_dir) as hass,
            aiohttp.ClientSession(trace_configs=[trace_config]) as session,
        ):
            # Home Assistant reports deprecated helper use through the frame helper,
            # which bootstrap sets up and a bare test instance does not.
            frame.async_setup(hass)
            settings = EntrySettings(
                url=server.url,
                token=server.token,
                queue=server.queue,
                catalog=server.catalog,
                ha_url="http://127.0.0.1:8123",
                address="1 Harbour Road, Springfield",
                sync_interval_hours=6,
                allow_private_network=True,
                verify_ssl=False,
                outbox_max_pending=outbox_max_pending,
            )
            entry = MockConfigEntry(domain=DOMAIN, title="Benchmark RT")
            entry.add_to_hass(hass)
            owner = MockConfigEntry(domain="bench", title="Benchmark sensors")
            owner.add_to_hass(hass)

            client = RTClient(session, server.url, server.token, ssl=server.ssl_context())
            tickets = TicketManager(hass, entry, client, settings)
            assets = AssetSync(hass, entry, client, settings)
            outbox = Outbox(hass, entry, client, settings, tickets)
            entry.runtime_data = RTRuntimeData(
                client=client, session=session, tickets=tickets, assets=assets, outbox=outbox
            )

            yield BenchEntry(hass, session, entry, owner, client, tickets, assets, outbox)

            await assets.async_stop()
            await hass.async_stop(force=True)


def add_devices(hass: HomeAssistant, owner: MockConfigEntry, prefix: str, count: int) -> list[str]:
    """Register `count` leak sensors owned by `owner` and return their device ids."""
    registry = dr.async_get(hass)
    return [
        registry.async_get_or_create(
            config_entry_id=owner.entry_id,
            identifiers={("bench", f"{prefix}-{number}")},
            name=f"{prefix} sensor {number}",
            manufacturer="Acme",
            model="Leak sensor",
        ).id
        for number in range(count)
    ]


def machine() -> str:
    """Describe the CPU, memory, system, Python and load that a result was measured on."""
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory_kib = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {memory_kib / 1024 / 1024:.1f} GiB RAM, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
        f"load average {load}"
    )


def run_against_rt(
    run: Callable[[RTServer, argparse.Namespace], Coroutine[None, None, None]],
    arguments: argparse.Namespace,
) -> None:
    """Start a throwaway RT 5 and run the benchmark against it, or exit if RT is missing."""
    if not rt_installed():
        sys.exit("RT 5 is not installed: run scripts/install-rt first")

    with RTServer() as server:
        asyncio.run(run(server, arguments))
