"""The agency SDK needs only the base install: nats-py, pydantic, nkeys, the contract and the
domain rules. Proven in a subprocess where every federal package fails to import."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from adapters.entry import MISSING
from adapters.ledger.store import SqlLedger
from bus.runtime.hub import Hub
from tests.ledger_reads import recipient_status

ROOT = Path(__file__).resolve().parent.parent

BLOCKED = (
    "faststream",
    "sqlalchemy",
    "sqlmodel",
    "fastapi",
    "typer",
    "rich",
    "alembic",
    "prometheus_client",
    "opentelemetry",
)

# Installed first in the subprocess: any import of a federal package raises ImportError, as
# if it were not installed at all.
BLOCKER = textwrap.dedent(
    f"""
    import sys

    class FederalBlocked:
        BLOCKED = {BLOCKED!r}

        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in self.BLOCKED:
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
            return None

    sys.meta_path.insert(0, FederalBlocked())
    """
)

AS_AN_AGENCY = BLOCKER + textwrap.dedent(
    """
    import asyncio

    from bus.runtime.agency import AgencyClient
    from tests import builders as b

    async def main(url):
        async with await AgencyClient.connect(url, "fed.mechanism") as mechanism:
            request = b.patrol_request()
            [published] = await mechanism.send(request)
            print(request.id, published.seq)

    asyncio.run(main(sys.argv[1]))
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in FederalBlocked.BLOCKED)
    assert not loaded, loaded
    """
)


def run(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.integration
@pytest.mark.parametrize("ledger_url", ["sqlite"], indirect=True)
async def test_an_agency_speaks_on_the_bus_with_the_sdk_alone(hub: Hub, ledger: SqlLedger) -> None:
    url = hub.servers
    assert isinstance(url, str)
    done = run(AS_AN_AGENCY, url)
    assert done.returncode == 0, done.stderr
    request_id, seq = done.stdout.split()
    assert int(seq) >= 1
    await hub.wait_until(lambda: recipient_status(ledger, request_id, "gro.government") == "sent")


@pytest.mark.e2e
def test_the_command_says_what_to_install_without_the_federal_extra() -> None:
    done = run(BLOCKER + "from adapters.entry import main\nmain()\n", "--help")
    assert done.returncode == 2
    assert done.stderr.strip() == MISSING
    assert "mechbus[federal]" in MISSING


WHEELHOUSE = os.environ.get("MECHBUS_WHEELHOUSE")


@pytest.mark.e2e
@pytest.mark.skipif(
    not WHEELHOUSE,
    reason="tests reach no package index: set MECHBUS_WHEELHOUSE to a directory holding "
    "wheels of the base dependencies and the build backend "
    "(pip download nats-py nkeys pydantic pycountry 'setuptools>=68' -d DIR)",
)
def test_the_package_installs_without_extras_into_a_fresh_environment(tmp_path: Path) -> None:
    fresh = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(fresh)], check=True, timeout=120)
    python = fresh / "bin" / "python"
    install = [str(python), "-m", "pip", "install", "-q", "--no-index"]
    subprocess.run(
        [*install, "--find-links", str(WHEELHOUSE), str(ROOT)],
        check=True,
        timeout=300,
        cwd=tmp_path,  # not the repository: what is imported is what was installed
    )
    probe = textwrap.dedent(
        f"""
        import importlib.util
        from bus.runtime.agency import AgencyClient
        missing = [m for m in {BLOCKED!r} if importlib.util.find_spec(m) is None]
        assert missing == list({BLOCKED!r}), missing
        """
    )
    done = subprocess.run(
        [str(python), "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    command = subprocess.run(
        [str(fresh / "bin" / "mechbus"), "--help"], capture_output=True, text=True, timeout=60
    )
    assert command.returncode == 2 and command.stderr.strip() == MISSING
