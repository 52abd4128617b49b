"""Confirming a placement, from outside: the `mechbus` command against a real `mechbus up`, and
each shelter a plain nats-py client with its own credentials reading its own consumer. The
people's details reach a shelter only after the hub has recorded its placement; a confirmation
that cannot be accepted is refused with the reason, and releases nothing."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.js.errors import FetchTimeoutError

from adapters.settings import load_settings
from schemas.capacity import CapacityBody, CapacityUpdate, PlacementOffer, PlacementOfferBody
from tests.cli_processes import run, running_up
from tests.ledger_reads import recipient_status
from tests.ledgers import home_ledger

pytestmark = pytest.mark.e2e

CDMX, OAXACA, NORTE = "shelter.casa-refugio-cdmx", "shelter.albergue-oaxaca", "shelter.casa-norte"
NAMES = ["Persona Reubicada Uno", "Persona Reubicada Dos"]
DEADLINE = 30.0


@pytest.fixture(scope="module")
def bus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """``mechbus up`` with credentials for three shelters; yields the home and NATS URL."""
    home = tmp_path_factory.mktemp("placements") / "home"
    with running_up(home, (CDMX, OAXACA, NORTE)):
        yield home, (home / "nats.url").read_text(encoding="utf-8").strip()


class Shelter:
    """A shelter as an outside client sees the bus: its seed, its outbox, its own consumer."""

    def __init__(self, agency: str, nc: Any, sub: Any) -> None:
        self.agency, self.nc, self.sub = agency, nc, sub
        self.received: list[dict[str, Any]] = []

    @classmethod
    async def connect(cls, home: Path, url: str, agency: str) -> Shelter:
        nc = await nats.connect(
            url,
            nkeys_seed=str(home / "creds" / f"{agency}.nk"),
            inbox_prefix=f"_INBOX.{agency}".encode(),
        )
        durable = "agency-" + agency.replace(".", "-")
        sub = await nc.jetstream().pull_subscribe_bind(
            durable, "MECHBUS", inbox_prefix=f"_INBOX.{agency}.".encode()
        )
        return cls(agency, nc, sub)

    async def say(self, message: Any) -> None:
        subject = f"mech.v1.from.{self.agency}.{type(message).kind()}"
        headers = {"Nats-Msg-Id": message.id}
        await self.nc.jetstream().publish(subject, message.to_json(), headers=headers)

    async def report_capacity(self, spaces_now: int) -> None:
        body = CapacityBody(
            total_spaces=6,
            spaces_now=spaces_now,
            spaces_24h=spaces_now,
            spaces_72h=spaces_now,
            region="centro",
            max_stay_days=120,
        )
        await self.say(CapacityUpdate(source=self.agency, time=datetime.now(UTC), data=body))

    async def offer(self, request: dict[str, Any], spaces: int) -> None:
        body = PlacementOfferBody(spaces=spaces, available_from=date.today())
        offer = PlacementOffer(
            source=self.agency,
            time=datetime.now(UTC),
            subject=request["subject"],
            correlation_id=request["id"],
            causation_id=request["id"],
            data=body,
        )
        await self.say(offer)

    async def next(self, kind: str) -> dict[str, Any]:
        """Read the inbox until a message of ``kind`` arrives (all of it is kept)."""
        deadline = time.monotonic() + DEADLINE
        while not any(m["type"].split(".")[2] == kind for m in self.received):
            assert time.monotonic() < deadline, f"{self.agency} never received {kind}"
            await self.read(wait=1.0)
        return next(m for m in self.received if m["type"].split(".")[2] == kind)

    async def read(self, wait: float) -> None:
        try:
            batch = await self.sub.fetch(10, timeout=wait)
        except (FetchTimeoutError, TimeoutError):
            return
        for msg in batch:
            self.received.append(json.loads(msg.data))
            await msg.ack()

    async def drain_inbox(self) -> None:
        """Everything addressed to this shelter so far (its consumer has nothing pending)."""
        while (await self.sub.consumer_info()).num_pending:
            await self.read(wait=1.0)

    def personal_seen(self) -> list[dict[str, Any]]:
        return [m for m in self.received if m.get("data", {}).get("personal")]


@pytest.fixture
async def shelters(bus: tuple[Path, str]) -> AsyncIterator[dict[str, Shelter]]:
    home, url = bus
    connected = {a: await Shelter.connect(home, url, a) for a in (CDMX, OAXACA, NORTE)}
    yield connected
    for shelter in connected.values():
        await shelter.nc.close()


def mechbus(home: Path, *args: str) -> Any:
    return asyncio.to_thread(run, list(args), home)


def status(home: Path, request_id: str, shelter: str) -> str | None:
    ledger = home_ledger(load_settings(home=home))
    try:
        return recipient_status(ledger, request_id, shelter)
    finally:
        ledger.close()


async def until_status(home: Path, request_id: str, shelter: str, wanted: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while (seen := await asyncio.to_thread(status, home, request_id, shelter)) != wanted:
        assert time.monotonic() < deadline, f"{shelter} on {request_id}: {seen}, not {wanted}"


async def relocation(
    home: Path, shelters: dict[str, Shelter], case: str, people: int, asked: list[str]
) -> dict[str, Any]:
    """Ask ``asked`` with `mechbus relocate`; returns the request as the shelters received it."""
    args = ["relocate", "--case", case, "--people", str(people), "--origin-state", "GRO"]
    args += ["--earliest", date.today().isoformat(), "--days", "30"]
    for shelter in asked:
        args += ["--shelter", shelter]
    done = await mechbus(home, *args)
    assert done.returncode == 0, done.stdout + done.stderr
    requests = [await shelters[s].next("relocation") for s in asked]
    for shelter, request in zip(asked, requests, strict=True):
        shelters[shelter].received.remove(request)
    assert all(r["id"] == requests[0]["id"] for r in requests)
    return requests[0]


async def confirm(home: Path, tmp: Path, request: dict[str, Any], shelter: str) -> Any:
    details = tmp / f"people-{request['id']}-{shelter}.json"
    details.write_text(json.dumps([{"full_name": n} for n in NAMES]), encoding="utf-8")
    args = ["placements", "confirm", request["id"], "--shelter", shelter]
    return await mechbus(home, *args, "--details", str(details))


async def offered(home: Path, shelter: Shelter, request: dict[str, Any], spaces: int) -> None:
    await shelter.offer(request, spaces)
    await until_status(home, request["id"], shelter.agency, "offered")


async def test_a_shelter_that_never_offered_gets_nothing_and_the_real_offer_stands(
    bus: tuple[Path, str], shelters: dict[str, Shelter], tmp_path: Path
) -> None:
    home, _ = bus
    await shelters[CDMX].report_capacity(4)
    await shelters[OAXACA].report_capacity(4)
    request = await relocation(home, shelters, "MPDDHP-2026-0701", 2, [CDMX, OAXACA])
    await offered(home, shelters[OAXACA], request, 2)

    refused = await confirm(home, tmp_path, request, CDMX)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"{CDMX} has no open offer" in refused.stdout
    assert status(home, request["id"], OAXACA) == "offered"  # not released

    # The real offer can still be taken; only then does anyone receive the details.
    taken = await confirm(home, tmp_path, request, OAXACA)
    assert taken.returncode == 0, taken.stdout + taken.stderr
    assert status(home, request["id"], OAXACA) == "placed"
    assert (await shelters[OAXACA].next("placement_confirmed"))["data"]["personal"]
    await shelters[CDMX].drain_inbox()
    assert shelters[CDMX].personal_seen() == []
    assert not any(m["type"].endswith("offer_released.v1") for m in shelters[CDMX].received)


async def test_no_free_space_is_refused_before_anything_is_sent(
    bus: tuple[Path, str], shelters: dict[str, Shelter], tmp_path: Path
) -> None:
    home, _ = bus
    norte = shelters[NORTE]
    await norte.report_capacity(1)
    request = await relocation(home, shelters, "MPDDHP-2026-0702", 2, [NORTE])
    await offered(home, norte, request, 2)

    refused = await confirm(home, tmp_path, request, NORTE)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "has 1 free spaces; this placement needs 2" in refused.stdout
    assert status(home, request["id"], NORTE) == "offered"
    await norte.drain_inbox()
    assert norte.personal_seen() == []


async def test_two_confirmations_for_the_last_space_place_one(
    bus: tuple[Path, str], shelters: dict[str, Shelter], tmp_path: Path
) -> None:
    home, _ = bus
    norte = shelters[NORTE]
    await norte.report_capacity(1)
    first = await relocation(home, shelters, "MPDDHP-2026-0703", 1, [NORTE])
    second = await relocation(home, shelters, "MPDDHP-2026-0704", 1, [NORTE])
    await offered(home, norte, first, 1)
    await offered(home, norte, second, 1)

    # Both may pass the command's own check; the hub then refuses the one recorded second.
    results = await asyncio.gather(*(confirm(home, tmp_path, r, NORTE) for r in (first, second)))
    codes = sorted(r.returncode for r in results)
    assert codes == [0, 1], [r.stdout + r.stderr for r in results]
    loser = results[0] if results[0].returncode else results[1]
    assert "0 free spaces; this placement needs 1" in loser.stdout, loser.stdout
    won = first if results[0].returncode == 0 else second
    lost = second if won is first else first
    assert status(home, lost["id"], NORTE) == "offered"  # refused, and nothing released
    confirmation = await norte.next("placement_confirmed")
    await norte.drain_inbox()
    assert [m["correlationid"] for m in norte.personal_seen()] == [won["id"]]
    assert confirmation["correlationid"] == won["id"]


async def test_the_details_arrive_only_once_the_placement_is_recorded(
    bus: tuple[Path, str], shelters: dict[str, Shelter], tmp_path: Path
) -> None:
    home, _ = bus
    cdmx, oaxaca = shelters[CDMX], shelters[OAXACA]
    await cdmx.report_capacity(4)
    await oaxaca.report_capacity(4)
    request = await relocation(home, shelters, "MPDDHP-2026-0705", 2, [CDMX, OAXACA])
    await offered(home, cdmx, request, 2)
    await offered(home, oaxaca, request, 2)

    confirming = asyncio.ensure_future(confirm(home, tmp_path, request, CDMX))
    received = await cdmx.next("placement_confirmed")
    # At the moment the shelter holds the details, the ledger already holds its placement.
    assert await asyncio.to_thread(status, home, request["id"], CDMX) == "placed"
    assert [p["full_name"] for p in received["data"]["personal"]] == NAMES
    done = await confirming
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"el concentrador registró {received['id']}" in " ".join(done.stdout.split())
    released = await oaxaca.next("offer_released")
    assert released["correlationid"] == request["id"] and "personal" not in released["data"]
    await until_status(home, request["id"], OAXACA, "released")
    await oaxaca.drain_inbox()
    assert all(m["correlationid"] != request["id"] for m in oaxaca.personal_seen())
