"""The stub agencies of the demo, each in its own process as a real agency runs its own client."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator

from adapters import environment
from adapters.natsserver.binary import parent_death_hook
from adapters.service.scenario import AgencySpec
from adapters.settings import Settings
from bus.domain.errors import ServiceError


class DemoError(ServiceError, RuntimeError):
    """The demo could not complete; the message says why."""


def stub_command(
    settings: Settings, agency: str, url: str, profile: str, seed: int, capacity: str | None
) -> list[str]:
    """The command line of one stub agency process, with its credentials and CA if any."""
    args = [
        sys.executable,
        "-m",
        "agency_stubs",
        "--as",
        agency,
        "--nats-url",
        url,
        "--profile",
        profile,
        "--seed",
        str(seed),
    ]
    creds = settings.creds_for(agency)
    if creds is not None:
        args += ["--creds", str(creds)]
    if settings.tls_files.exist():
        args += ["--tls-ca", str(settings.tls_files.ca)]
    agencies = environment.agencies_file()
    if agencies is not None:  # the deployment's own registry, as this process uses it
        args += ["--agencies", str(agencies)]
    if capacity is not None:
        args += ["--capacity", capacity]
    return args


@contextlib.asynccontextmanager
async def stub_agencies(
    agencies: tuple[AgencySpec, ...], url: str, seed: int, timeout: float, settings: Settings
) -> AsyncIterator[None]:
    """Each stub agency in its own process, as a real agency runs its own client."""
    procs = []
    for spec in agencies:
        capacity = (
            json.dumps(spec.capacity, ensure_ascii=False) if spec.capacity is not None else None
        )
        command = stub_command(settings, spec.id, url, spec.profile, seed, capacity)
        procs.append(
            await asyncio.create_subprocess_exec(
                *command,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                preexec_fn=parent_death_hook(),
            )
        )
    try:
        for spec, proc in zip(agencies, procs, strict=True):
            assert proc.stdout is not None and proc.stderr is not None
            line = await asyncio.wait_for(proc.stdout.readline(), timeout)
            if not line.startswith(b"ready"):
                await proc.wait()
                why = (await proc.stderr.read()).decode(errors="replace").strip().splitlines()
                raise DemoError(f"stub agency {spec.id} did not start: {why[-1] if why else ''}")
        yield
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.terminate()
        await asyncio.gather(*(proc.wait() for proc in procs))
