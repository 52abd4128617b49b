"""What /readyz checks, in this process: a ledger that cannot be reached is named, with the
driver's error type only; where to listen is read as an operator writes it; a message type
that is not the contract's is never a label."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from adapters.observability.http import Listen
from adapters.observability.watched import Watched
from adapters.service.roles import HubStatus, Role
from bus.runtime.metrics import UNKNOWN, type_label
from tests.ledgers import upgraded_ledger


def test_a_ledger_whose_disk_is_gone_is_named_unreachable(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    ledger = upgraded_ledger(f"sqlite:///{disk / 'ledger.db'}")
    try:
        assert asyncio.run(Watched(ledger).problems()) == []
        disk.rename(tmp_path / "elsewhere")
        ledger.engine.dispose()  # the open connections went with the disk
        problems = asyncio.run(Watched(ledger).problems())
        assert problems == ["ledger: unreachable (OperationalError)"], problems
        assert str(tmp_path) not in problems[0]  # no path, no URL
    finally:
        ledger.close()


def test_a_hub_is_ready_only_standing_by_or_active(tmp_path: Path) -> None:
    status = HubStatus()
    watched = Watched(status=status)
    assert asyncio.run(watched.problems()) == ["hub: starting"]
    status.become(Role.STANDBY)
    assert asyncio.run(watched.problems()) == []
    status.become(Role.ACTIVE)  # without a running hub: no figures from JetStream
    assert asyncio.run(watched.problems()) == ["hub consumer: no figures from JetStream"]
    status.become(Role.STOPPING)
    assert asyncio.run(watched.problems()) == ["hub: stopping"]


@pytest.mark.parametrize(
    ("given", "host", "port"),
    [
        ("127.0.0.1:9464", "127.0.0.1", 9464),
        (":0", "127.0.0.1", 0),
        ("0.0.0.0:9100", "0.0.0.0", 9100),
        ("[::1]:9464", "::1", 9464),
    ],
)
def test_where_to_listen(given: str, host: str, port: int) -> None:
    assert Listen.parse(given) == Listen(host, port)


@pytest.mark.parametrize("given", ["9464", "localhost", "host:port", "127.0.0.1:99999"])
def test_where_to_listen_refused(given: str) -> None:
    with pytest.raises(ValueError, match="HOST:PORT"):
        Listen.parse(given)


def test_a_type_outside_the_contract_is_unknown() -> None:
    assert type_label("mech.request.protection_measure.v1") == "mech.request.protection_measure.v1"
    for sent in ("mech.kind1.v1", "", None, "MPDDHP-2026-0412"):
        assert type_label(sent) == UNKNOWN
