"""``python -m bench.hub_process --nats-url URL --ledger-url URL``: only the hub
(bus.runtime.hub.Hub)
on its ledger, as a process of its own for the memory suite; says "ready" when consuming, and
on SIGUSR1 a line of JSON with its heap's make-up."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal

from adapters.service import compose
from bench.heap_report import heap


def _say_heap() -> None:
    """On SIGUSR1: one line on stdout with the heap's make-up (bench.heap_report)."""
    print(json.dumps(heap()), flush=True)


async def serve(nats_url: str, ledger_url: str) -> None:
    ledger = compose.measurement_ledger(ledger_url)
    hub = compose.hub(None, ledger, nats_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, _say_heap)
    await hub.start()
    print("ready", flush=True)
    await stop.wait()
    await hub.stop()
    ledger.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.hub_process", description=__doc__)
    parser.add_argument("--nats-url", required=True)
    parser.add_argument("--ledger-url", required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.nats_url, args.ledger_url))


if __name__ == "__main__":
    main()
