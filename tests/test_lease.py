"""The ledger's lease on both dialects: taken, refused, renewed, lapsed, taken over with the next
epoch, released; and a commit of a hub whose epoch has moved on refused (fenced)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from adapters.ledger.lease import Fenced, Lease, LeaseHeld, LeaseLost, holder_name
from adapters.ledger.store import SqlLedger
from adapters.ledger.tables import BoardSessionRow
from bus.domain.ports import LedgerUnavailable
from tests.ledgers import upgraded_ledger

SHORT = 0.4  # seconds: a lease that lapses within the test


@pytest.fixture
def two(ledger_url: str) -> Iterator[tuple[SqlLedger, SqlLedger]]:
    """Two hubs' ledgers on one database: each with its own engine, as in two processes."""
    first = upgraded_ledger(ledger_url)
    second = SqlLedger(ledger_url)
    yield first, second
    second.close()
    first.close()


def _add_session(ledger: SqlLedger, session_id: str) -> None:
    with Session(ledger.engine) as session:
        at = datetime(2026, 12, 3, 17, tzinfo=UTC)
        session.add(BoardSessionRow(session_id=session_id, scheduled_at=at, venue="SEGOB"))
        session.commit()


def _sessions(ledger: SqlLedger) -> list[str]:
    with ledger.session() as session:
        return sorted(session.exec(select(BoardSessionRow.session_id)).all())


def _until(condition: Callable[[], bool], what: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_taken_refused_renewed_and_released(two: tuple[SqlLedger, SqlLedger]) -> None:
    first, second = two
    mine = Lease(first.engine)
    assert mine.take() == 1
    held = mine.holding()
    assert held is not None and held.holder == holder_name() and held.epoch == 1
    assert 0 < held.expires_in <= mine.seconds
    with pytest.raises(LeaseHeld) as refused:
        Lease(second.engine, holder="the other").take()
    assert f"pid {os.getpid()}" in str(refused.value) and "epoch 1" in str(refused.value)
    mine.renew()
    _add_session(first, "JG-2026-12")  # the holder commits, fenced at its epoch
    mine.release()
    other = Lease(second.engine, holder="the other")
    assert other.take() == 2  # released: taken at once, with the next epoch
    other.release()
    mine.unfence()
    other.unfence()
    assert _sessions(first) == ["JG-2026-12"]


def test_a_lapsed_lease_is_taken_over_and_the_old_holder_is_fenced(
    two: tuple[SqlLedger, SqlLedger],
) -> None:
    first, second = two
    old = Lease(first.engine, seconds=SHORT)
    epoch = old.take()
    _until(lambda: (h := old.holding()) is not None and h.lapsed, "the lease lapses")
    old.renew()  # lapsed but not taken: still the old holder's, nobody recorded meanwhile
    _until(lambda: (h := old.holding()) is not None and h.lapsed, "the lease lapses again")
    new = Lease(second.engine, holder="the standby")
    assert new.take() == epoch + 1
    with pytest.raises(LeaseLost, match="the standby"):
        old.renew()
    with pytest.raises(Fenced) as fenced:
        _add_session(first, "JG-2026-13")
    assert isinstance(fenced.value, LedgerUnavailable)  # the recorder holds its batch
    _add_session(second, "JG-2026-14")  # the new holder records
    assert _sessions(second) == ["JG-2026-14"]
    with pytest.raises(LeaseHeld):
        old.take()
    new.release()
    new.unfence()
    old.unfence()


def test_hub_lease_refuses_at_once_and_renews_from_a_thread(
    two: tuple[SqlLedger, SqlLedger],
) -> None:
    first, second = two
    with first.hub_lease(seconds=SHORT) as lease:
        began = time.monotonic()
        with pytest.raises(LeaseHeld, match=f"pid {os.getpid()}"), second.hub_lease():
            pass
        assert time.monotonic() - began < 5
        time.sleep(SHORT * 3)  # several lease lengths: the thread keeps it
        lease.renew()
        _add_session(first, "JG-2026-15")
    with second.hub_lease() as taken:  # released on the way out
        assert taken.epoch == 2
    assert _sessions(second) == ["JG-2026-15"]


def test_a_crashed_hub_of_this_machine_is_waited_out(two: tuple[SqlLedger, SqlLedger]) -> None:
    first, second = two
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead = f"mechbus hub pid {gone.stdout.strip()} on {socket.gethostname()}"
    # Long enough not to lapse between two statements on a loaded machine (1 s once did).
    crashed = Lease(first.engine, seconds=5.0, holder=dead)
    crashed.take()
    crashed.unfence()
    with pytest.raises(LeaseHeld):  # a lease not yet lapsed is refused at once
        Lease(second.engine).take()
    began = time.monotonic()
    with second.hub_lease() as lease:  # its holder is dead: waited out, not refused
        assert lease.epoch == 2
    assert time.monotonic() - began < 5.0 + 10


def test_a_commit_waiting_on_a_takeover_is_refused(two: tuple[SqlLedger, SqlLedger]) -> None:
    """The fence and a take both update the lease's row: whichever comes second waits for the
    first, so a takeover in flight is never overtaken by a commit of the old epoch."""
    first, second = two
    if first.engine.dialect.name != "postgresql":
        pytest.skip("SQLite orders the two by its write lock; nothing to interleave")
    old = Lease(first.engine, seconds=SHORT)
    old.take()
    _until(lambda: (h := old.holding()) is not None and h.lapsed, "the lease lapses")
    with second.engine.connect() as taker:
        taker.execute(
            text("UPDATE hub_lease SET epoch = epoch + 1, holder = 'the standby'")
        )  # not committed yet: holds the row
        outcome: list[BaseException | None] = []

        def commit() -> None:
            try:
                _add_session(first, "JG-2026-16")
                outcome.append(None)
            except BaseException as exc:
                outcome.append(exc)

        waiting = threading.Thread(target=commit)
        waiting.start()
        waiting.join(0.5)
        assert waiting.is_alive()  # blocked on the row
        taker.commit()
        waiting.join(10)
    assert len(outcome) == 1 and isinstance(outcome[0], Fenced)
    assert _sessions(second) == []
    old.unfence()
