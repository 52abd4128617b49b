"""`mechbus bridge` as a deployment runs it: a secured `mechbus up` (nkey users, fed.bridge
allowed only agencies' outboxes), a token from `mechbus creds token issue`, answers over HTTP
that reach the ledger."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cli_processes import MECHBUS, SEND_PATROL, env_of, json_lines, run, wait_until_gone

pytestmark = pytest.mark.e2e


def launch(args: list[str], home: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*MECHBUS, *args],
        env={**env_of(home), "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    home = tmp_path / "home"
    for agency in ("gro.government", "fed.bridge"):
        issued = run(["creds", "issue", agency], home)
        assert issued.returncode == 0, issued.stdout + issued.stderr
    hub = launch(["up", "--sweep-interval", "0.5"], home)
    assert hub.stdout is not None
    for line in hub.stdout:
        if "hub up on" in line:
            break
    else:
        pytest.fail("mechbus up did not start")
    bridge = launch(["bridge", "--port", "0"], home)
    assert bridge.stdout is not None
    url = ""
    for line in bridge.stdout:
        found = re.search(r"bridge (?:on|en) (http://\S+)/v1", line)
        if found:
            url = found.group(1)
            break
    else:
        stop(hub)
        pytest.fail("mechbus bridge did not start")
    try:
        yield home, url
    finally:
        stop(bridge)
        stop(hub)
        wait_until_gone(str(home))


def test_an_agency_answers_over_http(deployment: tuple[Path, str]) -> None:
    home, url = deployment
    sent = run([*SEND_PATROL, "--instructions", "Rondines perimetrales cada 4 horas."], home)
    assert sent.returncode == 0, sent.stdout + sent.stderr
    token = run(["creds", "token", "issue", "gro.government"], home).stdout.strip()
    assert token.startswith("mbt_")
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=auth, timeout=10) as http:
        deadline = time.monotonic() + 30
        while not (listed := http.get("/v1/requests").json()):
            assert time.monotonic() < deadline, "the request never reached the ledger"
            os.sched_yield()
        request_id = listed[0]["request_id"]
        answered = http.post(
            f"/v1/requests/{request_id}/acknowledgement",
            json={"official_role": "Subsecretaría de Derechos Humanos"},
        )
        assert answered.status_code == 202, answered.text
        assert answered.json()["nats_subject"] == "mech.v1.from.gro.government.acknowledgement"
        deadline = time.monotonic() + 30
        while json_lines(["requests"], home)[0]["status"] != "acknowledged":
            assert time.monotonic() < deadline, "the acknowledgement was not recorded"
        assert run(["creds", "token", "revoke", "gro.government"], home).returncode == 0
        assert http.get("/v1/requests").status_code == 401
    listed_tokens = run(["creds", "token", "list"], home).stdout
    assert "gro.government" in listed_tokens and "revocado" in listed_tokens  # Spanish by default
    assert token not in (home / "creds" / "bridge.json").read_text()
