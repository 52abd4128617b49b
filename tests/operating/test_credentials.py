"""Credentials issued or revoked take effect on the running server, and say so when no
``up`` runs."""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client

from tests.operating.up import (
    UpProcess,
    connect_as,
    mechbus,
    start,
    url_of,
    watched,
    words,
)

pytestmark = pytest.mark.e2e


async def test_credentials_take_effect_on_the_running_server(
    tmp_path: Path, ups: list[UpProcess]
) -> None:
    home = tmp_path / "home"
    for agency in ("gro.government", "gro.prosecutor"):
        assert mechbus(home, "creds", "issue", agency).returncode == 0
    up = await asyncio.to_thread(start, ups, home)
    revoked_events, bystander_events = watched(), watched()
    revoked = await connect_as(home, "gro.government", revoked_events)
    bystander = await connect_as(home, "gro.prosecutor", bystander_events)
    newcomer: Client | None = None
    try:
        out = await asyncio.to_thread(mechbus, home, "creds", "revoke", "gro.government")
        assert out.returncode == 0, out.stdout
        assert "in effect on the running server" in words(out.stdout), out.stdout
        await asyncio.wait_for(revoked_events["disconnected"].wait(), 30)
        await asyncio.wait_for(revoked_events["refused"].wait(), 30)

        out = await asyncio.to_thread(mechbus, home, "creds", "issue", "gro.commission")
        assert out.returncode == 0, out.stdout
        assert "in effect on the running server" in words(out.stdout), out.stdout
        newcomer = await nats.connect(
            url_of(home),
            nkeys_seed=str(home / "creds" / "gro.commission.nk"),
            inbox_prefix=b"_INBOX.gro.commission",
            allow_reconnect=False,
        )
        # its own consumer exists already: the hub made it when the credentials changed
        consumer = await newcomer.jetstream().consumer_info("MECHBUS", "agency-gro-commission")
        assert consumer.config.durable_name == "agency-gro-commission"

        await asyncio.wait_for(bystander.flush(), 10)
        assert bystander.is_connected and not bystander_events["disconnected"].is_set()
    finally:
        for client in (revoked, bystander, newcomer):
            if client is not None:
                await client.close()
    assert await asyncio.to_thread(up.stop) == 0
    assert "credentials applied" in up.output


def test_creds_say_so_when_no_up_runs(tmp_path: Path) -> None:
    home = tmp_path / "home"
    out = mechbus(home, "creds", "issue", "gro.government")
    assert out.returncode == 0 and "the next one applies it" in words(out.stdout), out.stdout
