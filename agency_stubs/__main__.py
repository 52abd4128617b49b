"""Run one stub agency as its own process:
``python -m agency_stubs --as gro.government --nats-url URL [--profile slow] [--seed 7]``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import ssl
import sys
from pathlib import Path

from agency_stubs.profiles import PROFILES, profile
from agency_stubs.stub import StubAgency
from schemas.registry import AgencyRegistry, use_registry


async def _main(stub: StubAgency, url: str) -> None:
    ready = asyncio.Event()
    task = asyncio.create_task(stub.run(url, ready))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await asyncio.wait({task, asyncio.ensure_future(ready.wait())}, return_when="FIRST_COMPLETED")
    if task.done():
        task.result()  # failed before it was ready: raise why
    print(f"ready {stub.agency} ({stub.profile.name})", flush=True)
    await asyncio.wait({task, asyncio.ensure_future(stop.wait())}, return_when="FIRST_COMPLETED")
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    print(f"stopped {stub.agency}: answered {stub.handled} requests", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agency_stubs", description=__doc__)
    parser.add_argument("--as", dest="agency", required=True, help="agency id, e.g. gro.government")
    parser.add_argument("--nats-url", required=True, help="NATS server URL")
    parser.add_argument("--profile", default="prompt", choices=sorted(PROFILES))
    parser.add_argument("--seed", type=int, default=0, help="seed of the random delays")
    parser.add_argument("--capacity", help="a shelter's capacity report, as JSON")
    parser.add_argument("--creds", type=Path, help="the agency's nkey seed file")
    parser.add_argument("--tls-ca", type=Path, help="the deployment's CA, when TLS is required")
    parser.add_argument(
        "--agencies", type=Path, help="the deployment's agency registry (default: the shipped one)"
    )
    args = parser.parse_args(argv)
    # A separate program, like a real agency's: it is told which registry the deployment uses.
    use_registry(AgencyRegistry.load(args.agencies) if args.agencies else None)
    capacity = json.loads(args.capacity) if args.capacity else None
    tls = ssl.create_default_context(cafile=str(args.tls_ca)) if args.tls_ca else None
    stub = StubAgency(
        args.agency, profile(args.profile), args.seed, capacity, creds=args.creds, tls=tls
    )
    asyncio.run(_main(stub, args.nats_url))
    return 0


if __name__ == "__main__":
    sys.exit(main())
