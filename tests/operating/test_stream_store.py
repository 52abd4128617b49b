"""The stream store on disk: encrypted, so no person's name lies in it in clear, and opened
again with the same key."""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, date, datetime
from pathlib import Path

import nats
import pytest

from adapters.ledger.store import sqlite_url
from schemas.requests import RelocationRequest
from tests.operating.up import (
    UpProcess,
    mechbus,
    recorded,
    start,
    url_of,
    wait_until,
)

pytestmark = pytest.mark.e2e


NAME = "Xochiquetzal Tlacuilo Ixtlahuac"  # a person's name that appears nowhere else


def relocation_naming(person: str) -> RelocationRequest:
    return RelocationRequest(
        source="fed.mechanism",
        time=datetime.now(UTC),
        subject="MPDDHP-2026-0415",
        recipients=("shelter.casa-refugio-cdmx",),
        urgency="urgent",
        confidentiality="personal",
        data={
            "people": 1,
            "adults": 1,
            "children": 0,
            "needs": [],
            "origin_state": "GRO",
            "earliest": date.today(),
            "expected_days": 30,
            "personal": [{"full_name": person, "address": "Calle de los Olmos 7, Chilpancingo"}],
        },
    )


def files_holding(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


async def stream_info(home: Path) -> tuple[int, float]:
    """Messages in the stream and its max age in seconds, asked as the hub."""
    nc = await nats.connect(
        url_of(home),
        nkeys_seed=str(home / "creds" / "fed.hub.nk"),
        inbox_prefix=b"_INBOX.fed.hub",
        allow_reconnect=False,
    )
    try:
        info = await nc.jetstream().stream_info("MECHBUS")
        return int(info.state.messages), float(info.config.max_age or 0)
    finally:
        await nc.close()


def test_no_name_lies_in_clear_in_the_stream_store(tmp_path: Path, ups: list[UpProcess]) -> None:
    home = tmp_path / "home"
    up = start(ups, home, "--retention-days", "45")
    up.wait_for("the stream keeps each message 45 days")
    message = relocation_naming(NAME)
    file = tmp_path / "relocation.json"
    file.write_text(message.model_dump_json())
    sent = mechbus(home, "send", "file", str(file))
    assert sent.returncode == 0 and "published" in sent.stdout, sent.stdout + sent.stderr
    ledger = sqlite_url(home / "ledger.db")
    wait_until(lambda: recorded(ledger, message.id) == 1, "the relocation request is recorded")
    messages, max_age = asyncio.run(stream_info(home))
    assert messages >= 1 and max_age == pytest.approx(45 * 86400)
    assert up.stop(signal.SIGTERM) == 0

    assert (home / "nats" / "jetstream").is_dir()
    assert files_holding(home / "nats", NAME.encode()) == []
    assert files_holding(home / "nats", b"Calle de los Olmos") == []
    key = home / "creds" / "nats-store.key"
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    assert key.read_text().strip() not in (home / "nats" / "nats-server.conf").read_text()

    start(ups, home)  # the same key opens the store again: nothing was lost to encryption
    assert asyncio.run(stream_info(home))[0] == messages
