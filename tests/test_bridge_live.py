"""The HTTP bridge as an agency meets it: `mechbus up` and `mechbus bridge` as processes,
requests sent with the `mechbus` command, answers posted over HTTP, the verdict in the answer."""

from __future__ import annotations

import json
import re
import signal
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli_processes import SEND_PATROL, launch, run, wait_until_gone

pytestmark = pytest.mark.e2e

SHELTER = "shelter.casa-refugio-cdmx"
CAPACITY = {
    "total_spaces": 5,
    "spaces_now": 3,
    "spaces_24h": 3,
    "spaces_72h": 3,
    "region": "centro",
    "max_stay_days": 120,
}


def _rows(args: list[str], home: Path) -> list[dict[str, Any]]:
    result = run([*args, "--json"], home)
    assert result.returncode == 0, result.stdout + result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def _eventually(check: Any, what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, what
        time.sleep(0.2)
    return found


def _until(proc: Any, words: str) -> list[str]:
    """What ``proc`` printed up to the line with ``words`` (or all of it, if it ended first:
    then the test says what it printed)."""
    assert proc.stdout is not None
    said: list[str] = []
    for line in proc.stdout:
        said.append(line.rstrip("\n"))
        if words in line:
            break
    return said or [""]


@pytest.fixture
def bridge(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """`mechbus up` and `mechbus bridge --port 0`, the bridge holding its NATS credentials."""
    home = tmp_path / "home"
    assert run(["creds", "issue", "fed.bridge"], home).returncode == 0
    hub = launch(["up"], home)
    said = _until(hub, "hub up on")
    assert "hub up on" in said[-1], f"mechbus up did not start: {said}"
    served = launch(["bridge", "--port", "0", "--no-webhooks"], home)
    said = _until(served, "/v1 ")
    found = re.match(r"bridge (?:on|en) (http://\S+)/v1 ", said[-1])  # in either language
    assert found, f"mechbus bridge did not start: {said}"
    base = found.group(1)
    try:
        yield home, base
    finally:
        for proc in (served, hub):
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                proc.communicate(timeout=30)
        wait_until_gone(str(home))


def _agency(home: Path, base: str, agency: str) -> httpx.Client:
    token = run(["creds", "token", "issue", agency], home).stdout.strip()
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_the_verdict_comes_in_the_answer(bridge: tuple[Path, str]) -> None:
    home, base = bridge
    sent = run([*SEND_PATROL, "--instructions", "Rondines."], home)
    assert sent.returncode == 0, sent.stdout + sent.stderr
    request_id = _eventually(lambda: _rows(["requests"], home), "request not recorded")[0][
        "request_id"
    ]
    answers = f"/v1/requests/{request_id}"
    with _agency(home, base, "gro.government") as http:
        early = http.post(
            f"{answers}/decline", json={"reason_code": "insufficient_resources", "explanation": "x"}
        )
        assert early.status_code == 409, early.text
        assert early.headers["content-type"] == "application/problem+json"
        assert early.json()["reason"] == "illegal_transition"
        assert "must acknowledge" in early.json()["detail"]
        receipt = http.post(f"{answers}/receipt")
        assert receipt.status_code == 202 and receipt.json()["recorded"] is True, receipt.text
        again = http.post(f"{answers}/receipt")
        assert again.status_code == 202 and again.json()["duplicate"] is True
        # one step after the other, at once: each answer waited for the hub's record
        for step, body in [
            ("acknowledgement", {"official_role": "Subsecretaría de Gobierno"}),
            ("acceptance", {}),
        ]:
            answer = http.post(f"{answers}/{step}", json=body)
            assert answer.status_code == 202 and answer.json()["recorded"] is True, answer.text
        past = datetime.now(UTC) - timedelta(hours=1)
        late = http.post(
            f"{answers}/commitments",
            json={"commitment_id": "C0", "action": "Rondines", "due": past.isoformat()},
        )
        assert late.status_code == 422, late.text
        assert late.json()["reason"] == "illegal_transition" and "has passed" in late.text
        due = (datetime.now(UTC) + timedelta(days=30)).isoformat()
        for commitment in ("C1", "C2"):
            made = http.post(
                f"{answers}/commitments",
                json={"commitment_id": commitment, "action": "Rondines", "due": due},
            )
            assert made.status_code == 202, made.text
        withdrawn = http.post(
            f"{answers}/withdrawal", json={"commitment_id": "C2", "reason": "Sin patrullas."}
        )
        assert withdrawn.status_code == 202 and withdrawn.json()["recorded"], withdrawn.text
        twice = http.post(f"{answers}/withdrawal", json={"commitment_id": "C2", "reason": "x"})
        assert twice.status_code == 409 and "already ended" in twice.json()["detail"]
        partly = http.post(
            f"{answers}/partial-fulfilment",
            json={
                "commitment_id": "C1",
                "evidence": [{"reference": "oficio SSP/123/2026"}],
                "shortfall": "Dos de cuatro rondines diarios.",
            },
        )
        assert partly.status_code == 202 and partly.json()["recorded"], partly.text
        # its only open commitment ended: the request is closed, and every view says so
        shown = http.get(answers).json()
        assert shown["status"] == "accepted" and shown["closed_at"] is not None
        more = http.post(
            f"{answers}/commitments",
            json={"commitment_id": "C3", "action": "Cámaras", "due": due},
        )
        assert more.status_code == 409, more.text
        assert "is closed" in more.json()["detail"] and "new request" in more.json()["detail"]
    [line] = _rows(["requests"], home)
    assert line["status"] == "accepted" and line["closed_at"] is not None
    # nothing refused reached the bus: no dead letter, and the record holds what was answered
    assert _rows(["dlq", "list"], home) == []
    kinds = [e["message"] for e in _rows(["case", "MPDDHP-2026-0412"], home)]
    assert "response.commitment_withdrawn" in kinds
    assert "response.commitment_partially_fulfilled" in kinds


def test_a_shelter_answers_over_http(bridge: tuple[Path, str]) -> None:
    home, base = bridge
    with _agency(home, base, SHELTER) as http:
        reported = http.post("/v1/capacity", json=CAPACITY)
        assert reported.status_code == 202 and reported.json()["recorded"], reported.text
        listed = _rows(["shelters"], home)  # every registered shelter, reported or not
        [shelter] = [r for r in listed if r["shelter"] == SHELTER]
        assert shelter["free"] == 3 and shelter["report"] is None
        assert all(r["report"] == "no_report" for r in listed if r is not shelter)
        asked = run(
            [
                "relocate",
                "--case",
                "MPDDHP-2026-0415",
                "--people",
                "2",
                "--origin-state",
                "GRO",
                "--earliest",
                date.today().isoformat(),
                "--days",
                "60",
            ],
            home,
        )
        assert asked.returncode == 0, asked.stdout + asked.stderr
        placement = _eventually(lambda: _rows(["placements"], home), "relocation not recorded")
        answers = f"/v1/requests/{placement[0]['request']}"
        today = date.today().isoformat()
        early = http.post(f"{answers}/arrival", json={"people": 2, "arrived_on": today})
        assert early.status_code == 409 and "nobody was placed" in early.json()["detail"]
        offered = http.post(f"{answers}/offer", json={"spaces": 2, "available_from": today})
        assert offered.status_code == 202 and offered.json()["recorded"], offered.text
        confirmed = run(
            ["placements", "confirm", placement[0]["request"], "--shelter", SHELTER], home
        )
        assert confirmed.returncode == 0, confirmed.stdout + confirmed.stderr
        _eventually(lambda: _rows(["placements"], home)[0]["status"] == "placed", "not confirmed")
        arrived = http.post(f"{answers}/arrival", json={"people": 2, "arrived_on": today})
        assert arrived.status_code == 202 and arrived.json()["recorded"], arrived.text
        left = http.post(
            f"{answers}/departure", json={"people": 2, "ended_on": today, "reason": "Retorno."}
        )
        assert left.status_code == 202 and left.json()["recorded"], left.text
    assert _rows(["placements"], home)[0]["status"] == "departed"
    [after] = [r for r in _rows(["shelters"], home) if r["shelter"] == SHELTER]
    assert after["free"] == 3  # the spaces given back
