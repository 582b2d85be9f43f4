"""Compare the asset sync with a naive sync (search plus write per device) against a real RT 5.

Starts a throwaway RT 5 on 127.0.0.1 (tests/rt_server.py, Debian's RT packages), adds
`--devices` devices to a bare Home Assistant's device registry and measures, each in its
own new catalog:

1. the integration's AssetSync: a first sync into the empty catalog, a re-sync with no
   change, and a re-sync with no change after the snapshot in storage was lost;
2. the naive approach: for each device, one search for its asset by DeviceId and one
   write (a create the first time, an update with every value after that), one device
   after the other.

Requests are counted on each client's aiohttp session, so the counts are what RT
received. Times are wall-clock seconds for the whole sync.

Usage (from the repository root):
    .venv/bin/python scripts/bench_assets.py [--devices 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from bench_support import machine  # noqa: E402
from homeassistant.helpers import device_registry as dr  # noqa: E402
from homeassistant.helpers import frame  # noqa: E402
from pytest_homeassistant_custom_component.common import (  # type: ignore[import-untyped]  # noqa: E402
    MockConfigEntry,
    async_test_home_assistant,
)

from custom_components.ha_rt.asset_plan import ACTIVE_STATUS, desired_custom_fields  # noqa: E402
from custom_components.ha_rt.assets import AssetSync  # noqa: E402
from custom_components.ha_rt.const import (  # noqa: E402
    ASSET_CUSTOM_FIELDS,
    CF_DEVICE_ID,
    DOMAIN,
    OPTIONAL_ASSET_CUSTOM_FIELDS,
)
from custom_components.ha_rt.data import EntrySettings  # noqa: E402
from custom_components.ha_rt.devices import iter_devices  # noqa: E402
from custom_components.ha_rt.rt import RTClient  # noqa: E402
from custom_components.ha_rt.rt.sql import all_of, custom_field_equals, equals  # noqa: E402
from tests.rt_server import RTServer, rt_installed  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Awaitable
    from types import SimpleNamespace

    from homeassistant.core import HomeAssistant

ADDRESS = "1 Harbour Road, Springfield"
CATALOG_FIELDS = frozenset(ASSET_CUSTOM_FIELDS + OPTIONAL_ASSET_CUSTOM_FIELDS)


@dataclass
class Measurement:
    """Requests and wall-clock seconds of one sync, with its requests by kind."""

    name: str
    requests: int
    seconds: float
    detail: str
    kinds: dict[str, tuple[int, float]]


class CountingSession:
    """An aiohttp session that records each request it sends as (kind, seconds).

    The kind is the method and the REST2 path with record ids replaced by N. Asset
    searches that read custom fields are a kind of their own.
    """

    def __init__(self) -> None:
        self.requests: list[tuple[str, float]] = []
        trace = aiohttp.TraceConfig()
        trace.on_request_start.append(self._on_start)
        trace.on_request_end.append(self._on_end)
        trace.on_request_exception.append(self._on_end)
        self.session = aiohttp.ClientSession(trace_configs=[trace])

    async def _on_start(
        self,
        _session: aiohttp.ClientSession,
        context: SimpleNamespace,
        _params: aiohttp.TraceRequestStartParams,
    ) -> None:
        context.started = time.perf_counter()

    async def _on_end(
        self,
        _session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestEndParams | aiohttp.TraceRequestExceptionParams,
    ) -> None:
        path = "/".join(
            "N" if part.isdigit() else part
            for part in params.url.path.removeprefix("/REST/2.0/").split("/")
        )
        if path == "assets" and "CustomFields" in params.url.query.get("fields", ""):
            path = "assets with custom fields"
        self.requests.append((f"{params.method} {path}", time.perf_counter() - context.started))


async def measure(
    name: str, counter: CountingSession, sync: Awaitable[dict[str, int]]
) -> Measurement:
    """Await one sync and return its requests, duration and non-zero counts."""
    before = len(counter.requests)
    started = time.perf_counter()
    counts = await sync
    seconds = time.perf_counter() - started

    kinds: dict[str, tuple[int, float]] = {}
    for kind, duration in counter.requests[before:]:
        count, total = kinds.get(kind, (0, 0.0))
        kinds[kind] = (count + 1, total + duration)
    detail = ", ".join(f"{key} {value}" for key, value in counts.items() if value)
    return Measurement(name, len(counter.requests) - before, seconds, detail, kinds)


async def asset_sync(sync: AssetSync) -> dict[str, int]:
    report = await sync.async_sync()
    return report.as_response()


def add_devices(hass: HomeAssistant, count: int) -> None:
    owner = MockConfigEntry(domain="bench", title="Benchmark sensors")
    owner.add_to_hass(hass)
    registry = dr.async_get(hass)
    for number in range(count):
        registry.async_get_or_create(
            config_entry_id=owner.entry_id,
            identifiers={("bench", f"sensor-{number}")},
            name=f"Sensor {number}",
            manufacturer="Acme",
            model="Leak sensor",
            serial_number=f"SN-{number:05d}",
            sw_version="1.2.3",
            hw_version="rev B",
            connections={
                (dr.CONNECTION_NETWORK_MAC, f"02:00:00:00:{number // 256:02x}:{number % 256:02x}")
            },
        )


async def naive_sync(hass: HomeAssistant, client: RTClient, catalog: str) -> dict[str, int]:
    """Search for each device's asset and write it: the approach the asset sync replaces."""
    created = updated = 0
    for device in iter_devices(hass, ""):
        if device.is_service:
            continue

        fields = desired_custom_fields(device, CATALOG_FIELDS, ADDRESS)
        query = all_of(
            [equals("Catalog", catalog), custom_field_equals(CF_DEVICE_ID, device.device_id)]
        )
        found = await client.search_assets(query, with_custom_fields=False)
        if found:
            await client.update_asset(found[0].id, name=device.name, custom_fields=fields)
            updated += 1
        else:
            filled = {name: value for name, value in fields.items() if value}
            await client.create_asset(catalog, device.name, filled, status=ACTIVE_STATUS)
            created += 1
    return {"created": created, "updated": updated}


async def run(server: RTServer, devices: int) -> list[Measurement]:
    ours_catalog = f"Benchmark assets {time.time_ns()}"
    naive_catalog = f"Benchmark naive {time.time_ns()}"
    server.create_catalog(ours_catalog)
    server.create_catalog(naive_catalog)

    ours = CountingSession()
    naive = CountingSession()
    results: list[Measurement] = []

    with tempfile.TemporaryDirectory(prefix="ha_rt-bench-") as config_dir:
        async with async_test_home_assistant(config_dir=config_dir) as hass:
            # Home Assistant reports deprecated helper use through the frame helper,
            # which bootstrap sets up and a bare test instance does not.
            frame.async_setup(hass)
            add_devices(hass, devices)

            entry = MockConfigEntry(domain=DOMAIN, title="Benchmark RT")
            entry.add_to_hass(hass)
            settings = EntrySettings(
                url=server.url,
                token=server.token,
                queue=server.queue,
                catalog=ours_catalog,
                ha_url="",
                address=ADDRESS,
                sync_interval_hours=6,
                allow_private_network=True,
                verify_ssl=True,
            )
            ours_client = RTClient(ours.session, server.url, server.token, ssl=server.ssl_context())
            naive_client = RTClient(
                naive.session, server.url, server.token, ssl=server.ssl_context()
            )

            sync = AssetSync(hass, entry, ours_client, settings)
            results.append(await measure("first sync, AssetSync", ours, asset_sync(sync)))
            results.append(
                await measure(
                    "first sync, naive", naive, naive_sync(hass, naive_client, naive_catalog)
                )
            )
            results.append(await measure("no-change re-sync, AssetSync", ours, asset_sync(sync)))
            results.append(
                await measure(
                    "no-change re-sync, naive",
                    naive,
                    naive_sync(hass, naive_client, naive_catalog),
                )
            )

            # A new AssetSync without a stored snapshot, as after lost storage.
            await sync.async_stop()
            await hass.config_entries.async_remove(entry.entry_id)
            fresh_entry = MockConfigEntry(domain=DOMAIN, title="Benchmark RT, no snapshot")
            fresh_entry.add_to_hass(hass)
            fresh = AssetSync(hass, fresh_entry, ours_client, settings)
            results.append(
                await measure(
                    "no-change re-sync, AssetSync without snapshot", ours, asset_sync(fresh)
                )
            )
            await fresh.async_stop()

            await ours.session.close()
            await naive.session.close()
            await hass.async_stop(force=True)

    return results


def print_results(server: RTServer, devices: int, results: list[Measurement]) -> None:
    print(f"{devices} devices, RT at {server.url}")
    print(f"machine: {machine()}")
    print(f"{'sync':<48} {'requests':>9} {'seconds':>9}  result")
    for result in results:
        print(f"{result.name:<48} {result.requests:>9} {result.seconds:>9.2f}  {result.detail}")
        for kind, (count, total) in sorted(result.kinds.items()):
            print(f"    {kind:<44} {count:>9} {total:>9.2f}  (request time, summed)")

    by_name = {result.name: result for result in results}
    ours = by_name["no-change re-sync, AssetSync"]
    naive = by_name["no-change re-sync, naive"]
    print(
        f"no-change re-sync: AssetSync uses {ours.requests / naive.requests:.4f} of the naive "
        f"requests and {ours.seconds / naive.seconds:.4f} of its seconds"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--devices", type=int, default=1000, help="devices in the registry (default 1000)"
    )
    arguments = parser.parse_args()

    if not rt_installed():
        sys.exit("RT 5 is not installed: run scripts/install-rt first")

    with RTServer() as server:
        results = asyncio.run(run(server, arguments.devices))
        print_results(server, arguments.devices, results)


if __name__ == "__main__":
    main()
