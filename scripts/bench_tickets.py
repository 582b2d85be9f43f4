"""Measure HTTP requests and latency per create_ticket call against a real RT 5.

Starts a throwaway RT 5 on 127.0.0.1 (tests/rt_server.py, Debian's RT packages), syncs
the benchmark devices to RT assets with the integration's AssetSync, and then drives the
TicketManager that the create_ticket action calls:

1. the first create of the entry, which also reads the ticket back once to check its
   custom fields;
2. one create per device, in steady state: the device's asset id comes from the asset
   map, so a create is a search and a write;
3. `--comments` rounds of one call per device, each a search and a comment;
4. a storm: `--storm-calls` concurrent calls spread over `--storm-devices` new devices.

Requests are counted on the client's aiohttp session, so they are exactly what RT
received. The action handler around TicketManager adds no request.

Usage (from the repository root):
    .venv/bin/python scripts/bench_tickets.py [--devices 20] [--comments 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from bench_support import add_devices, bench_entry, machine, run_against_rt  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Awaitable
    from types import SimpleNamespace

    from custom_components.ha_rt.tickets import TicketResult
    from tests.rt_server import RTServer


@dataclass
class RequestLog:
    """Requests sent on the client's session, as "METHOD path" with their duration."""

    requests: list[tuple[str, float]] = field(default_factory=list)

    def trace_config(self) -> aiohttp.TraceConfig:
        trace = aiohttp.TraceConfig()
        trace.on_request_start.append(self._on_start)
        trace.on_request_end.append(self._on_end)
        trace.on_request_exception.append(self._on_end)
        return trace

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
        path = params.url.path.removeprefix("/REST/2.0/")
        kind = "GET ticket/N" if path.startswith("ticket/") and params.method == "GET" else ""
        if path.startswith("ticket/") and path.endswith("/comment"):
            kind = "POST ticket/N/comment"
        self.requests.append(
            (kind or f"{params.method} {path}", time.perf_counter() - context.started)
        )


@dataclass
class Sample:
    """One create_ticket call: its action, requests and wall-clock latency in seconds."""

    action: str
    requests: list[str]
    latency: float


async def timed_call(log: RequestLog, call: Awaitable[TicketResult]) -> Sample:
    """Await one create_ticket call and record its requests and latency."""
    before = len(log.requests)
    started = time.perf_counter()
    result = await call
    latency = time.perf_counter() - started
    return Sample(result.action, [name for name, _ in log.requests[before:]], latency)


def milliseconds(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return f"median {statistics.median(ordered) * 1000:7.1f} ms, p90 {p90 * 1000:7.1f} ms"


def report(title: str, samples: list[Sample]) -> None:
    counts = [len(sample.requests) for sample in samples]
    kinds = sorted({" + ".join(sample.requests) for sample in samples})
    print(
        f"{title:<28} calls {len(samples):4}, requests per call median "
        f"{statistics.median(counts):g} (min {min(counts)}, max {max(counts)}), "
        f"{milliseconds([sample.latency for sample in samples])}"
    )
    for kind in kinds:
        print(f"{'':<28}   {kind}")


async def run(server: RTServer, arguments: argparse.Namespace) -> None:
    log = RequestLog()

    async with bench_entry(server, log.trace_config(), "ha_rt-bench-") as bench:
        # The outbox is not wired to the ticket manager: RT stays up in this benchmark.
        tickets = bench.tickets
        devices = add_devices(bench.hass, bench.owner, "steady", arguments.devices + 1)
        storm_devices = add_devices(bench.hass, bench.owner, "storm", arguments.storm_devices)
        synced = await bench.assets.async_sync()
        print(f"asset sync: {synced.as_response()}")
        sequential_start = len(log.requests)

        first = await timed_call(
            log, tickets.async_create_ticket(devices[0], "Leak", "Water detected.")
        )
        creates = [
            await timed_call(log, tickets.async_create_ticket(device_id, "Leak", "Water detected."))
            for device_id in devices[1:]
        ]
        comments = [
            await timed_call(
                log, tickets.async_create_ticket(device_id, "Leak", f"Still wet ({number}).")
            )
            for number in range(arguments.comments)
            for device_id in devices[1:]
        ]

        sequential = log.requests[sequential_start:]
        before = len(log.requests)
        started = time.perf_counter()
        storm = await asyncio.gather(
            *(
                tickets.async_create_ticket(
                    storm_devices[call % len(storm_devices)], "Leak", f"Alarm {call}"
                )
                for call in range(arguments.storm_calls)
            )
        )
        storm_seconds = time.perf_counter() - started
        storm_requests = len(log.requests) - before

    print(f"RT {server.url}: {machine()}")
    report("first create (custom field check)", [first])
    report("create, steady state", creates)
    report("comment", comments)

    # Requests of the one-at-a-time calls only: in the storm they queue up in RT.
    per_request: dict[str, list[float]] = {}
    for name, seconds in sequential:
        per_request.setdefault(name, []).append(seconds)
    for name in ("GET tickets", "POST ticket", "POST ticket/N/comment", "GET ticket/N"):
        if name in per_request:
            print(f"  RT request {name:<24} {milliseconds(per_request[name])}")

    created = sum(1 for result in storm if result.action == "created")
    print(
        f"storm: {arguments.storm_calls} concurrent calls over {len(storm_devices)} devices "
        f"in {storm_seconds:.2f} s, {storm_requests} requests, {created} tickets created, "
        f"{len(storm) - created} comments, "
        f"{len({result.ticket_id for result in storm})} distinct ticket ids"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--devices",
        type=int,
        default=20,
        help="devices for the steady-state creates and comments (default 20)",
    )
    parser.add_argument(
        "--comments", type=int, default=5, help="rounds of one comment per device (default 5)"
    )
    parser.add_argument(
        "--storm-calls", type=int, default=50, help="concurrent calls in the storm (default 50)"
    )
    parser.add_argument(
        "--storm-devices",
        type=int,
        default=5,
        help="devices the storm calls are spread over (default 5)",
    )
    arguments = parser.parse_args()

    run_against_rt(run, arguments)


if __name__ == "__main__":
    main()
