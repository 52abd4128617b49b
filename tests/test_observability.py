"""Health and metrics as an operator's Prometheus meets them: `mechbus up --http-listen`, the
bridge and the dashboard as processes, scraped over HTTP while requests, a malformed message and
an attacker's garbage arrive through plain nats-py clients; /readyz naming what is missing when
the ledger is not at its head revision, or NATS is gone."""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from adapters.ledger.schema import HEAD
from adapters.natsserver.server import EmbeddedNatsServer
from bus.domain import subjects
from tests import builders as b
from tests.cli_processes import launch, run, running_dashboard, stop, wait_until_gone

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("english_cli")]

AGENCY = "gro.government"
CASE = "MPDDHP-2026-0412"  # the patrol request's case
PERSON = "Persona Defensora"  # the names on the relocation request
DEADLINE = 30.0
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _url_and_said(proc: subprocess.Popen[str], until: str) -> tuple[str | None, list[str]]:
    """The health URL ``proc`` printed, reading its output up to the line with ``until``."""
    assert proc.stdout is not None
    url, said = None, []
    for line in proc.stdout:
        said.append(line.rstrip("\n"))
        found = re.search(r"(http://[^\s/]+/)\s*$", line)
        if found and url is None:
            url = found.group(1)
        if until in line:
            break
    return url, said


@contextlib.contextmanager
def hub_serving(home: Path, *args: str, issued: tuple[str, ...] = ()) -> Iterator[str]:
    """`mechbus up --http-listen 127.0.0.1:0 ARGS` on ``home`` once it is up: its health URL."""
    for agency in issued:
        done = run(["creds", "issue", agency], home)
        assert done.returncode == 0, done.stdout + done.stderr
    proc = launch(["up", "--http-listen", "127.0.0.1:0", *args], home)
    try:
        url, said = _url_and_said(proc, "hub up on")
        assert url is not None and "hub up on" in said[-1], said
        yield url
    finally:
        stop(proc)
        wait_until_gone(str(home))


def get(url: str) -> httpx.Response:
    return httpx.get(url, timeout=10.0)


def eventually(check: Callable[[], Any], what: str, timeout: float = DEADLINE) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, what
        time.sleep(0.1)  # polling another process's HTTP answers
    return found


def ready(url: str) -> bool:
    return get(url + "readyz").status_code == 200


def unready(url: str, naming: str) -> dict[str, Any] | None:
    """/readyz's 503 answer once its error names ``naming``."""
    answer = get(url + "readyz")
    if answer.status_code == 503 and naming in answer.json().get("error", ""):
        return dict(answer.json())
    return None


def samples(exposition: str) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def total(found: Samples, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    return sum(
        value
        for (sample, labelled), value in found.items()
        if sample == name and labels.items() <= dict(labelled).items()
    )


async def publish(home: Path, sender: str, messages: list[tuple[str, bytes]]) -> None:
    """Publish ``(subject, body)`` as ``sender`` with its own seed, each with its PubAck."""
    url = (home / "nats.url").read_text(encoding="utf-8").strip()
    nc = await nats.connect(
        url,
        nkeys_seed=str(home / "creds" / f"{sender}.nk"),
        inbox_prefix=subjects.inbox_prefix(sender).encode(),
    )
    try:
        js = nc.jetstream()
        for subject, body in messages:
            await js.publish(subject, body)
    finally:
        await nc.close()


def federal(message: Any) -> list[tuple[str, bytes]]:
    """The Mechanism's message on the subject of its first recipient's copy."""
    subject = subjects.routes(message, b.REGISTRY)[0][0]
    return [(subject, message.to_json())]


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    home = tmp_path / "home"
    with hub_serving(home, issued=(AGENCY,)) as url:
        yield home, url


def test_the_hub_counts_what_it_records_and_shows_no_case_or_name(
    hub: tuple[Path, str], figures: Callable[[str], None]
) -> None:
    home, url = hub
    assert get(url + "healthz").json() == {"status": "ok"}
    eventually(lambda: ready(url), "the hub never became ready")
    before = samples(get(url + "metrics").text)
    now = datetime.now(UTC)
    patrol = b.patrol_request(at=now)
    relocation = b.relocation_request(at=now)
    asyncio.run(publish(home, "fed.mechanism", federal(patrol) + federal(relocation)))
    malformed = f"mech.v1.from.{AGENCY}.acknowledgement"
    asyncio.run(publish(home, AGENCY, [(malformed, b"{not json")]))

    recorded = "mechbus_messages_recorded_total"
    refused = "mechbus_messages_dead_lettered_total"

    def moved() -> tuple[str, Samples] | None:
        exposition = get(url + "metrics").text
        after = samples(exposition)
        done = total(after, recorded) >= total(before, recorded) + 2
        done = done and total(after, refused, reason="malformed") > 0
        return (exposition, after) if done else None

    exposition, after = eventually(moved, "the hub's counters did not move")
    assert total(after, recorded, type=patrol.type) >= 1
    assert total(after, recorded, type=relocation.type) >= 1
    assert total(after, refused, type="unknown", reason="malformed") >= 1
    commits = "mechbus_ledger_commit_seconds_count"
    assert total(after, commits) > total(before, commits)
    assert total(after, "mechbus_requests_unanswered", state="GRO") >= 1
    assert total(after, "mechbus_requests_unanswered_oldest_age_seconds", state="GRO") >= 0
    for gauge in ("pending", "ack_pending", "redelivered"):
        assert (f"mechbus_consumer_{gauge}_messages", ()) in after
    assert ("mechbus_hub_active", ()) in after and total(after, "mechbus_hub_active") == 1
    for personal in (CASE, relocation.subject, PERSON, patrol.id, relocation.id):
        assert personal not in exposition
    mean = total(after, "mechbus_ledger_commit_seconds_sum") / total(after, commits)
    figures(f"a batch's ledger commit, mean of {total(after, commits):g}: {mean * 1000:.1f} ms")
    scrapes = []
    for _ in range(5):
        started = time.perf_counter()
        get(url + "metrics")
        scrapes.append(time.perf_counter() - started)
    figures(f"one scrape of /metrics, median of 5: {statistics.median(scrapes) * 1000:.1f} ms")


def test_garbage_of_fifty_kinds_makes_no_fifty_labels(hub: tuple[Path, str]) -> None:
    home, url = hub
    eventually(lambda: ready(url), "the hub never became ready")
    garbage = [
        (
            f"mech.v1.from.{AGENCY}.kind{i}",
            f'{{"type": "mech.kind{i}.v1", "id": "x{i}", "source": "{AGENCY}"}}'.encode(),
        )
        for i in range(50)
    ]
    asyncio.run(publish(home, AGENCY, garbage))
    refused = "mechbus_messages_dead_lettered_total"

    def kept() -> str | None:
        exposition = get(url + "metrics").text
        return exposition if total(samples(exposition), refused) >= 50 else None

    exposition = eventually(kept, "the garbage was not kept as dead letters")
    labels = {labelled for (name, labelled) in samples(exposition) if name == refused}
    assert len(labels) <= 3, labels  # one type (unknown), a reason or two
    assert {dict(labelled)["type"] for labelled in labels} == {"unknown"}
    assert "kind1" not in exposition and "x1" not in exposition


def test_readiness_names_a_ledger_not_at_its_head_revision(hub: tuple[Path, str]) -> None:
    """The ledger put back from an older mechbus's backup, say: not ready until upgraded."""
    home, url = hub
    eventually(lambda: ready(url), "the hub never became ready")
    older = f"{int(HEAD) - 1:04d}"
    with sqlite3.connect(home / "ledger.db") as db:
        db.execute("UPDATE alembic_version SET version_num = ?", (older,))
    said = eventually(lambda: unready(url, "ledger"), "/readyz did not name the ledger")
    assert older in said["error"] and said["status"] == "unavailable"
    assert get(url + "healthz").status_code == 200  # alive all the same
    with sqlite3.connect(home / "ledger.db") as db:
        db.execute("UPDATE alembic_version SET version_num = ?", (HEAD,))
    eventually(lambda: ready(url), "/readyz did not recover")


@pytest.mark.integration
def test_readiness_names_nats_when_the_server_is_gone(
    tmp_path: Path, nats_server: EmbeddedNatsServer
) -> None:
    with hub_serving(tmp_path / "home", "--nats-url", nats_server.url) as url:
        eventually(lambda: ready(url), "the hub never became ready")
        nats_server.stop()
        said = eventually(lambda: unready(url, "nats"), "/readyz did not name NATS")
        assert "ledger" not in said["error"]
        nats_server.start()  # back, so that the hub stops cleanly
        eventually(lambda: ready(url), "/readyz did not recover", timeout=60)


@pytest.mark.postgres
def test_readiness_names_a_postgresql_ledger_whose_schema_was_dropped(
    tmp_path: Path, pg_url: str
) -> None:
    with hub_serving(tmp_path / "home", "--ledger-url", pg_url) as url:
        eventually(lambda: ready(url), "the hub never became ready")
        schema = re.search(r"search_path%3D(\w+)", pg_url)
        assert schema is not None
        admin = create_engine(pg_url.split("?")[0])
        try:
            with admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA {schema.group(1)} CASCADE"))
                conn.execute(text(f"CREATE SCHEMA {schema.group(1)}"))  # empty, as left
        finally:
            admin.dispose()
        said = eventually(lambda: unready(url, "ledger"), "/readyz did not name the ledger")
        assert "revision none" in said["error"]


def test_the_bridge_serves_health_and_metrics_without_a_token(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with hub_serving(home, issued=("fed.bridge",)):
        bridge = launch(["bridge", "--port", "0", "--no-webhooks"], home)
        try:
            said = _url_and_said(bridge, "/v1 ")[1]
            found = re.search(r"(http://\S+)/v1 ", said[-1])
            assert found, said
            base = found.group(1) + "/"
            assert get(base + "healthz").json() == {"status": "ok"}
            eventually(lambda: ready(base), "the bridge never became ready")
            exposition = get(base + "metrics").text
            assert "# HELP mechbus_webhook_attempts_total" in exposition
            assert "# HELP mechbus_email_attempts_total" in exposition
        except BaseException:
            stop(bridge)
            raise
    # `up` stopped, and its embedded nats-server with it: the bridge cannot publish
    try:
        said_503 = eventually(lambda: unready(base, "nats"), "/readyz did not name NATS")
        assert "ledger" not in said_503["error"]
    finally:
        stop(bridge)
        wait_until_gone(str(home))


def test_the_dashboard_serves_health_and_metrics_without_login(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run(["db", "upgrade"], home).returncode == 0
    with running_dashboard(home) as base:
        assert get(base + "healthz").json() == {"status": "ok"}
        assert get(base + "readyz").json() == {"status": "ok"}
        metrics = get(base + "metrics")
        assert metrics.status_code == 200 and "mechbus_" in metrics.text
        with sqlite3.connect(home / "ledger.db") as db:
            db.execute("UPDATE alembic_version SET version_num = '0001'")
        said = get(base + "readyz")
        assert said.status_code == 503 and "ledger" in said.json()["error"]
