"""Measure how fast queued ticket requests drain from the outbox into a real RT 5.

Starts a throwaway RT 5 on 127.0.0.1 (tests/rt_server.py, Debian's RT packages) and a
bare Home Assistant whose storage is a temporary directory on disk, so every change of
the outbox is a real file write (atomic, with fsync). Then:

1. syncs the benchmark devices to RT assets, so a create needs no asset search;
2. stops RT's web server and sends `--requests` create_ticket calls, round-robin over
   `--devices` devices, through TicketManager.async_create_ticket. The action runs the
   same method after it has picked the config entry. Every call is queued;
3. starts RT again and measures from the moment the outbox's probe finds RT responding
   until the outbox is empty: the delivery rate in requests per second.

HTTP requests are counted on the RT client's aiohttp session. The result is checked in
RT: one ticket per device, and every other request a comment.

Usage (from the repository root):
    .venv/bin/python scripts/bench_outbox.py [--requests 500] [--devices 10]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from bench_support import add_devices, bench_entry, machine, run_against_rt  # noqa: E402

from custom_components.ha_rt.const import EVENT_TICKET  # noqa: E402
from custom_components.ha_rt.outbox import MAX_PARALLEL_DEVICES  # noqa: E402
from custom_components.ha_rt.rt.sql import equals  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import SimpleNamespace

    from homeassistant.core import Event

    from tests.rt_server import RTServer

# The probe backoff is at most 15 s, so the outbox finds RT responding well within this.
DRAIN_TIMEOUT = 3600.0


class RequestCounter:
    """Counts the requests sent on the client's session, by method and path kind."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def trace_config(self) -> aiohttp.TraceConfig:
        trace = aiohttp.TraceConfig()
        trace.on_request_end.append(self._on_end)
        trace.on_request_exception.append(self._on_end)
        return trace

    async def _on_end(
        self,
        _session: aiohttp.ClientSession,
        _context: SimpleNamespace,
        params: aiohttp.TraceRequestEndParams | aiohttp.TraceRequestExceptionParams,
    ) -> None:
        path = params.url.path.removeprefix("/REST/2.0/")
        if path.startswith("ticket/"):
            path = "ticket/N/comment" if path.endswith("/comment") else "ticket/N"
        self.counts[f"{params.method} {path}"] += 1


async def wait_until(condition: Callable[[], bool], limit: float) -> None:
    """Poll `condition` every 10 ms until it is true; raise TimeoutError after `limit` s."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > limit:
            msg = f"gave up after {limit:g} s"
            raise TimeoutError(msg)
        await asyncio.sleep(0.01)


async def run(server: RTServer, arguments: argparse.Namespace) -> None:
    counter = RequestCounter()

    async with bench_entry(
        server,
        counter.trace_config(),
        "ha_rt-bench-outbox-",
        outbox_max_pending=max(arguments.requests, 10),
    ) as bench:
        outbox = bench.outbox
        await outbox.async_load()
        bench.tickets.outbox = outbox

        devices = add_devices(bench.hass, bench.owner, "outbox", arguments.devices)
        synced = await bench.assets.async_sync()
        print(f"asset sync: {synced.as_response()}")
        outbox.async_start()

        deliveries: list[Event] = []
        bench.hass.bus.async_listen(EVENT_TICKET, deliveries.append)

        server.stop()
        started = time.perf_counter()
        responses = [
            await bench.tickets.async_create_ticket(
                devices[call % len(devices)], "Leak", f"Alarm {call}"
            )
            for call in range(arguments.requests)
        ]
        queue_seconds = time.perf_counter() - started
        queued = sum(1 for response in responses if response.as_response()["action"] == "queued")

        counter.counts.clear()
        server.start()
        rt_started = time.perf_counter()
        await wait_until(lambda: outbox.connected, DRAIN_TIMEOUT)
        responded = time.perf_counter()
        await wait_until(lambda: outbox.pending == 0, DRAIN_TIMEOUT)
        drained = time.perf_counter()

        in_rt = await bench.client.search_tickets(equals("Queue", server.queue), fields=())

        await outbox.async_stop()

    drain_seconds = drained - responded
    requests = sum(counter.counts.values())
    print(f"RT {server.url}: {machine()}")
    print(
        f"queued {queued} of {arguments.requests} create_ticket calls over "
        f"{arguments.devices} devices in {queue_seconds:.2f} s while RT was stopped "
        f"({arguments.requests / queue_seconds:.0f} calls/s, the first one after its retries)"
    )
    print(
        f"RT responded to the outbox's probe {responded - rt_started:.2f} s after it was ready; "
        f"drained {len(deliveries)} deliveries in {drain_seconds:.2f} s: "
        f"{len(deliveries) / drain_seconds:.1f} requests per second, "
        f"{MAX_PARALLEL_DEVICES} devices at a time"
    )
    print(
        f"HTTP requests to RT while draining: {requests} "
        f"({requests / max(len(deliveries), 1):.2f} per delivered request): "
        + ", ".join(f"{name} {count}" for name, count in sorted(counter.counts.items()))
    )
    actions = Counter(event.data["action"] for event in deliveries)
    print(f"deliveries: {dict(actions)}; tickets in the queue: {len(in_rt)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--requests", type=int, default=500, help="create_ticket calls to queue (default 500)"
    )
    parser.add_argument(
        "--devices", type=int, default=10, help="devices the calls are spread over (default 10)"
    )
    arguments = parser.parse_args()

    run_against_rt(run, arguments)


if __name__ == "__main__":
    main()
