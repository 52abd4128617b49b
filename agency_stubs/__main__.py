"""Run one stub agency as its own process: ``python -m agency_stubs --as gro.government``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from agency_stubs.stub import StubAgency


async def _main(agency: str, url: str) -> None:
    stub = StubAgency(agency)
    ready = asyncio.Event()
    task = asyncio.create_task(stub.run(url, ready))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await asyncio.wait({task, asyncio.ensure_future(ready.wait())}, return_when="FIRST_COMPLETED")
    if task.done():
        task.result()  # failed before it was ready: raise why
    print(f"ready {agency}", flush=True)
    await asyncio.wait({task, asyncio.ensure_future(stop.wait())}, return_when="FIRST_COMPLETED")
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    print(f"stopped {agency}: answered {stub.handled} requests", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agency_stubs", description=__doc__)
    parser.add_argument("--as", dest="agency", required=True, help="agency id, e.g. gro.government")
    parser.add_argument("--nats-url", required=True, help="NATS server URL")
    args = parser.parse_args(argv)
    asyncio.run(_main(args.agency, args.nats_url))
    return 0


if __name__ == "__main__":
    sys.exit(main())
