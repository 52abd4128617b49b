"""Personal data in a message body: separate it out so it can be sealed apart. Pure.

Personal details (names, addresses, phones, coordinates) always travel in a body's
``data.personal`` field (schemas.common.PersonalDetails). The ledger keeps the body without
that field, and the field itself sealed with the deployment's key.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

PERSONAL_FIELD = "personal"


def split(body: bytes) -> tuple[bytes, bytes | None]:
    """(body without personal details, the personal details as JSON or None).

    A body that is not a JSON object with a non-empty ``data.personal`` is returned as is.
    """
    if b'"personal"' not in body and b"\\u" not in body:
        # Most messages carry no personal field: don't parse them again. A key spelled with
        # \u escapes would not match the bytes, so any escape takes the careful way.
        return body, None
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return body, None
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, dict) or not data.get(PERSONAL_FIELD):
        return body, None
    personal = data.pop(PERSONAL_FIELD)
    cleaned = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    return cleaned, json.dumps(personal, ensure_ascii=False).encode()


def join(body: bytes, personal: bytes | None) -> dict[str, Any]:
    """The whole message again, for a federal view entitled to see it."""
    document: dict[str, Any] = json.loads(body)
    if personal is not None:
        document.setdefault("data", {})[PERSONAL_FIELD] = json.loads(personal)
    return document


def fold(text: str) -> str:
    """``text`` as searches compare it: case folded, accents stripped ("Fiscalía" -> "fiscalia")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    if decomposed.isascii():  # nothing to strip
        return decomposed
    return decomposed.translate(_UNMARKED)


class _Unmarked(dict[int, int | None]):
    """str.translate's table that drops combining marks, filled as characters are first met:
    the hub folds every request's text, and a Python test per character cost more than all
    else it does with the text."""

    def __missing__(self, code: int) -> int | None:
        kept = None if unicodedata.combining(chr(code)) else code
        self[code] = kept
        return kept


_UNMARKED = _Unmarked()


_APOSTROPHES = re.compile("['\u2019`\u00b4]")
_NOT_A_LETTER = re.compile(r"[^\w]+|[\d_]+")
MIN_WORD = 3  # a name word shorter than this (de, la, y) finds too many people to be a key


def name_words(name: str) -> list[str]:
    """The words of a person's name, folded, punctuation gone, sorted: "Pérez López, Ana" and
    "Ana Pérez López" give the same words."""
    joined = _APOSTROPHES.sub("", fold(name))  # O'Neil, D'Angelo: one word
    return sorted(_NOT_A_LETTER.sub(" ", joined).split())


def name_key(name: str) -> str:
    """The whole name as one key, the same whatever the order, accents or punctuation."""
    return " ".join(name_words(name))


def search_words(name: str) -> list[str]:
    """The words of ``name`` long enough to be looked up on their own (each once)."""
    return sorted({w for w in name_words(name) if len(w) >= MIN_WORD})


def full_names(personal: bytes | None) -> list[str]:
    """The ``full_name`` of each person in a message's personal details (one or several), in
    the order the message lists them."""
    if not personal:
        return []
    found = json.loads(personal)
    people = found if isinstance(found, list) else [found]
    return [str(p["full_name"]) for p in people if isinstance(p, dict) and p.get("full_name")]


_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}")


def searchable_text(body: bytes) -> str:
    """The words of a message's data a caseworker may search for, folded: every text value
    (measures asked, instructions, facts, steps, committed actions, reasons) but dates. Only for
    a body whose personal details were taken out (``split``)."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return ""
    data = document.get("data") if isinstance(document, dict) else None
    texts: list[str] = []

    def walk(value: Any, key: str) -> None:
        if key == PERSONAL_FIELD:
            return
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif isinstance(value, str) and not _DAY.match(value):
            texts.append(value.replace("_", " "))

    walk(data, "")
    return fold(" ".join(texts))


def name_at(personal: Any, person: int) -> str:
    """The full name of person number ``person`` in opened personal details (one or a list),
    and no other's; "" when there is none."""
    people = personal if isinstance(personal, list) else [personal]
    if 0 <= person < len(people) and isinstance(people[person], dict):
        return str(people[person].get("full_name", ""))
    return ""
