"""The clocks as the docs name them agree with the policy file: every clock, whom it binds, its
lengths, and its basis as the policy states it (docs/domain.md in full, the README in short)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from bus.domain.policy import Clock, ClockRule, Policy

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = (ROOT / "bus" / "data" / "policy.toml").read_text("utf-8")
POLICY = Policy.from_toml(SHIPPED)
RAW = tomllib.loads(SHIPPED)["clocks"]


def clock_rows(document: Path, heading: str) -> dict[str, list[str]]:
    """The cells of each clock's row in the first table after ``heading``, by clock name."""
    text = document.read_text("utf-8")
    section = text[text.index(heading) :]
    rows: dict[str, list[str]] = {}
    for line in section.splitlines()[1:]:
        if rows and not line.startswith("|"):
            break  # the table ended
        match = re.match(r"^\| `(\w+)` \|(.*)\|$", line)
        if match:
            rows[match.group(1)] = [c.strip() for c in match.group(2).split(" | ")]
    return rows


def length(raw: str | None) -> str:
    """A length as the docs write it: "72h" -> "72 h"; "—" for a procedure it does not run in."""
    return "—" if raw is None else f"{raw[:-1]} {raw[-1]}"


def basis(rule: ClockRule) -> str:
    """The basis as the policy states it: each article with its words, or the policy reason."""
    if rule.articles:
        return "; ".join(f"{a}: {POLICY.words(a)}" for a in rule.articles)
    return rule.basis


DOMAIN = clock_rows(ROOT / "docs" / "domain.md", "## Deadlines and their legal basis")
README = clock_rows(ROOT / "README.md", "Deadlines live in a policy file")


@pytest.mark.parametrize("rows", [DOMAIN, README], ids=["domain", "README"])
def test_every_clock_of_the_policy_is_in_the_docs_and_no_other(rows: dict[str, list[str]]) -> None:
    assert sorted(rows) == sorted(c.value for c in Clock)


@pytest.mark.parametrize("clock", list(Clock), ids=lambda c: c.value)
def test_domain_md_states_each_clock_as_the_policy_does(clock: Clock) -> None:
    rule = POLICY.clocks[clock]
    what, binds, urgent, ordinary, stated, _chased = DOMAIN[clock.value]
    assert what == rule.description
    assert binds == rule.binds.value
    assert (urgent, ordinary) == (
        length(RAW[clock.value].get("urgent")),
        length(RAW[clock.value].get("ordinary")),
    )
    assert stated == basis(rule)


@pytest.mark.parametrize("clock", list(Clock), ids=lambda c: c.value)
def test_the_readme_names_each_clock_with_its_lengths_and_articles(clock: Clock) -> None:
    rule = POLICY.clocks[clock]
    binds, urgent, ordinary, stated, _chased = README[clock.value]
    assert binds == rule.binds.value
    assert (urgent, ordinary) == (
        length(RAW[clock.value].get("urgent")),
        length(RAW[clock.value].get("ordinary")),
    )
    if rule.articles:
        for article in rule.articles:
            assert article.removeprefix("LPPDDHP ") in stated, article
    else:
        assert stated.startswith("policy of the Mechanism: ")


def test_no_document_cites_the_articles_the_clocks_were_once_wrongly_given() -> None:
    """The 9 hours of urgent implementation are art. 26 fr. II, not arts. 27-28."""
    wrong = re.compile(r"art\. 27-28|art\. 28\b")
    texts = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    texts += [ROOT / "adapters" / "service" / "scenarios" / "default.toml"]
    found = [str(path.relative_to(ROOT)) for path in texts if wrong.search(path.read_text("utf-8"))]
    assert found == []
