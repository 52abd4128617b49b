"""The restore drill, as an operator runs it: ``mechbus backup`` while ``mechbus up`` records,
``mechbus restore`` into a new home with the keys kept apart, then ``replay``, ``audit verify``
and ``up`` on the restored home; and each refusal (a home in use, a tampered file, a manifest
that does not match its ledger). On SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.cli_processes import MECHBUS, SEND_PATROL, env_of, running_up

pytestmark = pytest.mark.usefixtures("english_cli")

SENT = 3
PATROL = [*SEND_PATROL, "--instructions", "Rondines perimetrales cada 4 horas."]


def run(args: list[str], home: Path, ledger: list[str]) -> subprocess.CompletedProcess[str]:
    """``mechbus ARGS`` on ``home``, with its ledger at the URL in ``ledger`` (--ledger-url
    URL) if any, given as a deployment gives it to every command: in the environment."""
    env = env_of(home)
    if ledger:
        env["MECHBUS_LEDGER_URL"] = ledger[1]
    return subprocess.run([*MECHBUS, *args], env=env, capture_output=True, text=True, timeout=120)


def _ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _refused(done: subprocess.CompletedProcess[str], words: str) -> None:
    assert done.returncode == 1, done.stdout + done.stderr
    assert words in done.stdout, done.stdout


def _requests(home: Path, ledger: list[str]) -> int:
    done = run(["requests", "--json", "--all"], home, ledger)
    return len([line for line in done.stdout.splitlines() if line.startswith("{")])


def _wait_for_requests(home: Path, ledger: list[str], count: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while _requests(home, ledger) < count:
        assert time.monotonic() < deadline, f"the hub did not record {count} requests"


def _timed(
    args: list[str], home: Path, ledger: list[str]
) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = run(args, home, ledger)
    return done, time.monotonic() - started


def _backed_up(tmp_path: Path, ledger: list[str], figures: Callable[[str], None]) -> Path:
    """A home where ``mechbus up`` recorded requests and was backed up while it ran, then
    stopped; its keys copied apart, as docs/backup.md says. The backup's directory."""
    home = tmp_path / "old-home"
    backup = tmp_path / "backup"
    with running_up(home, args=ledger):
        for _ in range(SENT):
            _ok(run(PATROL, home, ledger))
        _wait_for_requests(home, ledger, SENT)
        done, seconds = _timed(["backup", "--to", str(backup)], home, ledger)
        _ok(done)
    shutil.copytree(home / "creds", tmp_path / "keys-kept-apart")
    manifest = json.loads((backup / "manifest.json").read_text())
    size = sum(f["bytes"] for f in manifest["files"].values())
    figures(f"backup {seconds:.2f} s, {size} bytes ({manifest['stream']['messages']} messages)")
    assert not any(
        (backup / name).exists() for name in ("ledger.key", "copy-ids.key", "hub.nk", "creds")
    )
    assert manifest["ledger"]["chain_head"]["seq"] >= SENT
    return backup


def _drill(tmp_path: Path, old: list[str], new: list[str], figures: Callable[[str], None]) -> None:
    backup = _backed_up(tmp_path, old, figures)
    home = tmp_path / "new-home"
    keys = tmp_path / "keys-kept-apart"
    done, seconds = _timed(["restore", "--from", str(backup), "--keys-from", str(keys)], home, new)
    out = _ok(done)
    assert "chain intact" in out and "as the manifest says" in out, out
    figures(f"restore {seconds:.2f} s")
    _ok(run(["audit", "verify"], home, new))
    with running_up(home, args=new):
        replayed = f"sqlite:///{tmp_path / 'replayed.db'}"
        out = _ok(run(["replay", "--into", replayed], home, new))
        assert "the rebuilt ledger equals the live one" in out, out
        _ok(run(PATROL, home, new))
        _wait_for_requests(home, new, SENT + 1)
    _ok(run(["audit", "verify"], home, new))

    # A second restore into the same home: it holds a ledger now.
    _refused(run(["restore", "--from", str(backup)], home, new), "already")


@pytest.mark.e2e
def test_drill_on_sqlite(tmp_path: Path, figures: Callable[[str], None]) -> None:
    _drill(tmp_path, [], [], figures)


@pytest.mark.e2e
@pytest.mark.postgres
def test_drill_on_postgresql(
    tmp_path: Path, pg_url: str, figures: Callable[[str], None], request: pytest.FixtureRequest
) -> None:
    second = second_schema(request)
    _drill(tmp_path, ["--ledger-url", pg_url], ["--ledger-url", second], figures)


def second_schema(request: pytest.FixtureRequest) -> str:
    """Another fresh schema, as ``pg_url`` makes one (the fixture gives one per test)."""
    import uuid

    from sqlalchemy import create_engine, text

    from tests.conftest import PG_URL

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))

    def drop() -> None:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()

    request.addfinalizer(drop)
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


@pytest.mark.e2e
def test_refusals(tmp_path: Path, figures: Callable[[str], None]) -> None:
    backup = _backed_up(tmp_path, [], figures)
    keys = str(tmp_path / "keys-kept-apart")

    # A backup goes into a new directory.
    _refused(run(["backup", "--to", str(backup)], tmp_path / "old-home", []), "not empty")

    # Without the keys kept apart, nothing is restored.
    bare = tmp_path / "no-keys"
    _refused(run(["restore", "--from", str(backup)], bare, []), "ledger.key")
    assert not (bare / "ledger.db").exists()

    # A file changed after the backup wrote it.
    tampered = tmp_path / "tampered"
    shutil.copytree(backup, tampered)
    with (tampered / "ledger.sqlite3").open("r+b") as ledger:
        ledger.seek(200)
        byte = ledger.read(1)
        ledger.seek(200)
        ledger.write(bytes([byte[0] ^ 0xFF]))
    home = tmp_path / "home-tampered"
    _refused(run(["restore", "--from", str(tampered), "--keys-from", keys], home, []), "sha256")
    assert not (home / "ledger.db").exists()

    # Another deployment's ledger key.
    home = tmp_path / "home-other-key"
    (home / "creds").mkdir(parents=True)
    (home / "creds" / "ledger.key").write_bytes(base64.b64encode(os.urandom(32)) + b"\n")
    _refused(run(["restore", "--from", str(backup)], home, []), "fingerprint")
    assert not (home / "ledger.db").exists()

    # A manifest changed after the backup wrote it.
    changed = tmp_path / "changed"
    shutil.copytree(backup, changed)
    manifest = json.loads((changed / "manifest.json").read_text())
    manifest["stream"]["last_seq"] += 1
    (changed / "manifest.json").write_text(json.dumps(manifest))
    home = tmp_path / "home-changed"
    done = run(["restore", "--from", str(changed), "--keys-from", keys], home, [])
    _refused(done, "was changed after the backup wrote it")
    assert not (home / "ledger.db").exists()

    # A manifest whose chain head is not the ledger's, sealed anew by whoever holds the key:
    # the restored chain itself disagrees.
    from adapters.ledger.sealing import Sealer
    from adapters.service.backup_format import manifest_seal

    mismatched = tmp_path / "mismatched"
    shutil.copytree(backup, mismatched)
    manifest = json.loads((mismatched / "manifest.json").read_text())
    manifest["ledger"]["chain_head"]["row_hash"] = "0" * 64
    manifest["seal"] = manifest_seal(manifest, Sealer.from_file(Path(keys) / "ledger.key"))
    (mismatched / "manifest.json").write_text(json.dumps(manifest))
    home = tmp_path / "home-mismatched"
    done = run(["restore", "--from", str(mismatched), "--keys-from", keys], home, [])
    _refused(done, "do not belong together")


@contextlib.asynccontextmanager
async def _given(url: str) -> AsyncIterator[str]:
    yield url


@pytest.mark.integration
async def test_what_the_hub_records_between_the_ledger_copy_and_the_snapshot_is_restored(
    ledger_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    """The ledger is copied before the stream's snapshot is taken, while the hub records: the
    restore records from the stream what the copy missed, and the restored ledger equals the
    live one, table for table."""
    from adapters import i18n
    from adapters.ledger.copying import BackupError
    from adapters.ledger.replay import compare
    from adapters.ledger.sealing import Sealer
    from adapters.natsserver.server import EmbeddedNatsServer
    from adapters.service import backup, restore
    from adapters.settings import Settings
    from bus.domain.policy import Policy
    from bus.runtime.agency import AgencyClient
    from bus.runtime.hub import Hub
    from tests import builders as b
    from tests.ledgers import upgraded_ledger

    i18n.use("en")  # the refusal below is read in English (conftest restores the default)
    key = os.urandom(32)
    live = upgraded_ledger(ledger_url, sealer=Sealer(key))
    request.addfinalizer(live.close)  # closed however the test ends
    with (
        EmbeddedNatsServer(tmp_path / "nats") as server,
        EmbeddedNatsServer(tmp_path / "nats-new") as new_server,
    ):
        hub = Hub(live, server.url)
        await hub.start()
        try:
            async with await AgencyClient.connect(server.url, "fed.mechanism") as mechanism:
                for _ in range(SENT):
                    await mechanism.send(b.patrol_request())
            await hub.wait_until(lambda: hub.recorded >= SENT)

            real = backup._snapshot

            async def meanwhile(*args: Any) -> Any:
                async with await AgencyClient.connect(server.url, "fed.mechanism") as mechanism:
                    for _ in range(2):
                        await mechanism.send(b.patrol_request())
                return await real(*args)

            monkeypatch.setattr(backup, "_snapshot", meanwhile)
            secret = base64.b64encode(key).decode()
            old = Settings(tmp_path / "old", ledger_url, server.url, ledger_key=secret)
            manifest = await asyncio.to_thread(backup.take, old, tmp_path / "backup", server.url)
            await hub.wait_until(lambda: hub.recorded >= SENT + 2)
        finally:
            await hub.stop()
        assert manifest["ledger"]["chain_head"]["seq"] == SENT
        assert manifest["stream"]["last_seq"] == SENT + 2

        if ledger_url.startswith("sqlite"):
            target = f"sqlite:///{tmp_path / 'new' / 'ledger.db'}"
        else:
            target = second_schema(request)
        new = Settings(tmp_path / "new", target, new_server.url, ledger_key=secret)
        source = tmp_path / "backup"
        restore.check_files(source, manifest)
        restore.refuse_occupied(new, manifest["ledger"]["dialect"])
        restore.check_keys(new, manifest)
        restore.check_seal(new, manifest)
        restored = await asyncio.to_thread(
            restore.restore, source, new, lambda: _given(new_server.url), Policy.load()
        )
        with pytest.raises(BackupError, match="already holds a stream MECHBUS"):
            await asyncio.to_thread(
                restore.restore, source, new, lambda: _given(new_server.url), Policy.load()
            )
    assert restored.chain_head == manifest["ledger"]["chain_head"]
    assert restored.caught_up == 2
    rebuilt = upgraded_ledger(target, sealer=Sealer(key))
    try:
        assert compare(live, rebuilt) == []
    finally:
        rebuilt.close()


@pytest.mark.parametrize(
    ("line", "renamed"),
    [
        ("CREATE SCHEMA t_old;\n", "CREATE SCHEMA IF NOT EXISTS t_new;\n"),
        ("CREATE TABLE t_old.messages (\n", "CREATE TABLE t_new.messages (\n"),
        (
            "    seq integer DEFAULT nextval('t_old.messages_seq_seq'::regclass)\n",
            "    seq integer DEFAULT nextval('t_new.messages_seq_seq'::regclass)\n",
        ),
        ('ALTER TABLE ONLY "t_old".requests\n', "ALTER TABLE ONLY t_new.requests\n"),
        (
            "SELECT pg_catalog.setval('t_old.x_seq', 7, true);\n",
            "SELECT pg_catalog.setval('t_new.x_seq', 7, true);\n",
        ),
        ("CREATE TABLE not_t_old.x (\n", "CREATE TABLE not_t_old.x (\n"),
    ],
)
def test_the_schema_is_renamed_outside_the_rows(line: str, renamed: str) -> None:
    from adapters.ledger.copying import renamed_schema

    assert list(renamed_schema(iter([line]), "t_old", "t_new")) == [renamed]


def test_rows_are_restored_as_they_were() -> None:
    from adapters.ledger.copying import renamed_schema

    script = [
        "COPY t_old.messages (id, body) FROM stdin;\n",
        "1\tsee t_old.messages in CREATE SCHEMA t_old;\n",
        "\\.\n",
        "ALTER TABLE t_old.messages OWNER TO x;\n",
    ]
    assert list(renamed_schema(iter(script), "t_old", "t_new")) == [
        "COPY t_new.messages (id, body) FROM stdin;\n",
        "1\tsee t_old.messages in CREATE SCHEMA t_old;\n",
        "\\.\n",
        "ALTER TABLE t_new.messages OWNER TO x;\n",
    ]
