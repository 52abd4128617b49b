"""One logging setup: JSON lines that name a message by its ids, never by what it says; and
``mechbus up --log-format json`` keeps its log stream (stderr) pure JSON."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats
import pytest

from adapters.observability import logs
from tests import builders as b
from tests.cli_processes import (
    MECHBUS,
    env_of,
    json_lines,
    launch,
    run,
    wait_for_hub,
    wait_until_gone,
)

PERSON = {"full_name": "Periodista P. Ejemplo", "address": "Domicilio Conocido 17, Iguala"}
INSTRUCTIONS = "Rondines frente al domicilio de la periodista cada 4 horas."
# What a database error says: its later lines quote the statement's parameters.
DATABASE_ERROR = "violates a constraint\n[parameters: ('" + PERSON["full_name"] + "',)]"
# health and metrics on a free port: their server's logs go through the same handler
ANY_PORT = ("--http-listen", "127.0.0.1:0")
SECRETS = (*PERSON.values(), INSTRUCTIONS, "MPDDHP-2026-0412")


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_a_json_line_names_the_message_by_its_ids(restored_logging: None) -> None:
    out = io.StringIO()
    logs.setup("json", "debug", out)
    fields = {"message_id": "01J0", "type": "mech.response.accepted.v1", "sender": "gro.government"}
    logging.getLogger("mechbus.hub").debug("recorded", extra={**fields, "stream_seq": 7})
    try:
        raise ValueError(DATABASE_ERROR)
    except ValueError:
        logging.getLogger("mechbus.hub").exception("it failed")
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["time"].endswith("Z") and datetime.fromisoformat(first["time"]).tzinfo == UTC
    assert first["level"] == "debug" and first["logger"] == "mechbus.hub"
    assert first["message"] == "recorded" and first["stream_seq"] == 7
    assert {k: first[k] for k in fields} == fields
    assert second["level"] == "error" and "ValueError: violates a constraint" in second["error"]
    assert PERSON["full_name"] not in out.getvalue()


def test_uvicorn_logs_through_the_same_handler(restored_logging: None) -> None:
    logging.getLogger("uvicorn.error").addHandler(logging.StreamHandler(io.StringIO()))
    out = io.StringIO()
    logs.setup("json", "info", out)
    logging.getLogger("uvicorn.error").info("Started server process")
    assert json.loads(out.getvalue())["logger"] == "uvicorn.error"
    assert not logging.getLogger("uvicorn.error").handlers


def named_request() -> Any:
    data = {**b.patrol_request().data.model_dump(), "personal": PERSON}
    return b.patrol_request(at=datetime.now(UTC), data={**data, "instructions": INSTRUCTIONS})


async def publish_malformed(url: str, seed: Path) -> None:
    nc = await nats.connect(
        url, nkeys_seed=str(seed), inbox_prefix=b"_INBOX.gro.government", allow_reconnect=False
    )
    try:
        body = json.dumps({"note": PERSON["full_name"]}).encode()[:-1]  # cut short: not JSON
        await nc.jetstream().publish("mech.v1.from.gro.government.acknowledgement", body)
    finally:
        await nc.close()


@pytest.mark.e2e
@pytest.mark.usefixtures("english_cli")
def test_up_logs_json_lines_and_nothing_personal(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run(["creds", "issue", "gro.government"], home).returncode == 0
    log_file = tmp_path / "up.log"
    with log_file.open("w") as stderr:
        up = subprocess.Popen(
            [*MECHBUS, "up", "--log-format", "json", "--log-level", "debug", *ANY_PORT],
            env=env_of(home),
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    agency = None
    try:
        wait_for_hub(up)
        agency = launch(["agency", "run", "--as", "gro.government", "--log-format", "json"], home)
        assert agency.stdout is not None
        assert agency.stdout.readline().startswith("ready gro.government")
        request = named_request()
        message = tmp_path / "request.json"
        message.write_bytes(request.to_json())
        sent = run(["send", "file", str(message)], home)
        assert sent.returncode == 0, sent.stdout + sent.stderr
        url = (home / "nats.url").read_text().strip()
        asyncio.run(publish_malformed(url, home / "creds" / "gro.government.nk"))
        deadline = time.monotonic() + 30
        while not (
            (rows := json_lines(["requests"], home))
            and rows[0]["status"] == "accepted"
            and json_lines(["dlq", "list"], home)
        ):
            assert time.monotonic() < deadline, "the answers or the dead letter were not recorded"
    finally:
        for proc in (agency, up):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM if proc is agency else signal.SIGINT)
        said = agency.communicate(timeout=30)[0] if agency is not None else ""
        stdout = up.communicate(timeout=30)[0]
        wait_until_gone(str(home))
    lines = [line for line in log_file.read_text().splitlines() if line.strip()]
    logged = [json.loads(line) for line in lines]  # every line of the log stream is JSON
    assert all({"time", "level", "logger", "message"} <= set(line) for line in logged)
    recorded = {line["message_id"]: line for line in logged if line["message"].startswith("rec")}
    assert recorded[request.id]["type"] == request.type
    assert recorded[request.id]["sender"] == "fed.mechanism"
    assert isinstance(recorded[request.id]["stream_seq"], int)
    answers = {"delivery_receipt", "acknowledgement", "accepted"}  # the stub's, at least
    said_types = {line["type"].split(".")[2] for line in recorded.values()}
    assert answers <= said_types and all(line["level"] == "debug" for line in recorded.values())
    [refused] = [line for line in logged if line.get("reason") == "malformed"]
    assert refused["level"] == "info" and refused["sender"] == "gro.government"
    assert isinstance(refused["stream_seq"], int)
    for secret in SECRETS:
        assert secret not in log_file.read_text() and secret not in stdout + said
    assert "stopped cleanly" in stdout  # what up says to its operator: on stdout, apart
