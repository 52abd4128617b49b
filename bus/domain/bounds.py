"""The contract's bounds on a message body: how deep its JSON nests, which numbers and which
characters it may hold. Checked before any schema, so that no input can make reading it fail.

Pure. ``load`` either returns the parsed document or raises ``OutOfBounds`` naming the rule
broken and where, never quoting the input.
"""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate
from typing import Any

from bus.domain.errors import RefusalError

MAX_DEPTH = 32
"""Objects and arrays nested deeper than this are refused (a real message nests about 4 deep);
it keeps every parser far from its recursion limit."""

MAX_INTEGER = 2**53 - 1
"""Integers beyond ±(2**53 - 1), the range every JSON parser holds exactly (RFC 7493), are
refused: no field needs more, and bigger ones overflow database columns and converters."""

MAX_SUBJECT_LENGTH = 300
"""The longest subject a valid message travels on (the ledger's column holds this many)."""

# C0 controls other than tab, line feed and carriage return, DEL and the C1 controls (a
# terminal executes some of them when staff read the record), and UTF-16 surrogates: after
# JSON decoding, any surrogate left is a lone one, which no UTF-8 text can hold.
_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_C1_UTF8 = re.compile(rb"\xc2[\x80-\x9f]")
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class OutOfBounds(RefusalError, ValueError):
    """The body breaks one of the contract's bounds; ``location`` is where, if known."""

    def __init__(self, problem: str, location: str = "") -> None:
        where = {"location": location} if location else None
        super().__init__(f"{location}: {problem}" if location else problem, extra=where)
        self.problem = problem
        self.location = location


def load(data: bytes) -> Any:
    """The JSON document in ``data``, read within the bounds, or ``OutOfBounds``."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise OutOfBounds(f"body is not JSON: not UTF-8 (byte {exc.start})") from None
    if text.startswith("\ufeff"):
        raise OutOfBounds("body is not JSON: it starts with a byte order mark")
    _check_depth(text)
    document = _parse(text)
    if _may_hold_forbidden(data):
        _check_text(document)
    return document


def forbidden_character(text: str) -> str | None:
    """The first character of ``text`` no message may contain, as U+XXXX, or None."""
    found = _FORBIDDEN.search(text)
    return f"U+{ord(found.group()):04X}" if found else None


def printable(text: str) -> str:
    """``text`` with every forbidden character replaced, safe to store and to show."""
    return _FORBIDDEN.sub("\ufffd", text)


def _may_hold_forbidden(data: bytes) -> bool:
    """Only a \\u escape or a raw DEL or C1 character (C2 80 to C2 9F in UTF-8) can put a
    forbidden character into a decoded JSON string (raw C0 controls are a JSON syntax error).
    Most bodies hold none, and looking for bytes is far cheaper than walking the document."""
    if b"\\u" in data or b"\x7f" in data:
        return True
    return b"\xc2" in data and _C1_UTF8.search(data) is not None


def _check_depth(text: str) -> None:
    # Counting brackets is cheap and bounds the depth from above: skip the exact count when
    # there are too few to nest too deep (nearly always).
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    if max(accumulate(map(_STEP.__getitem__, brackets)), default=0) > MAX_DEPTH:
        raise OutOfBounds(f"objects and arrays nest deeper than {MAX_DEPTH} levels")


def _parse(text: str) -> Any:
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise OutOfBounds(f"body is not JSON: {exc.msg} ({where})") from None


def _integer(literal: str) -> int:
    digits = len(literal) - literal.startswith("-")
    # Checked on the digits first: converting thousands of them is itself refused by Python.
    if digits > len(str(MAX_INTEGER)) or abs(int(literal)) > MAX_INTEGER:
        raise OutOfBounds(f"an integer of {digits} digits is beyond ±{MAX_INTEGER}")
    return int(literal)


def _float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise OutOfBounds("a number is too large to be represented")
    return value


def _constant(literal: str) -> float:
    raise OutOfBounds(f"{literal} is not a JSON number")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        # Parsers disagree on which of two equal keys wins; the record must not be ambiguous.
        raise OutOfBounds("an object names the same field twice")
    return document


# Built once: json.loads with hooks would build a decoder for every message.
_DECODER = json.JSONDecoder(
    parse_int=_integer, parse_float=_float, parse_constant=_constant, object_pairs_hook=_object
)


def _check_text(document: Any) -> None:
    stack: list[tuple[str, Any]] = [("", document)]
    while stack:
        location, value = stack.pop()
        if isinstance(value, str):
            _check_string(value, location)
        elif isinstance(value, dict):
            for key, item in value.items():
                _check_string(key, f"{location} (a field name)" if location else "(a field name)")
                stack.append((f"{location}.{key}" if location else key, item))
        elif isinstance(value, list):
            stack.extend(
                (f"{location}.{i}" if location else str(i), v) for i, v in enumerate(value)
            )


def _check_string(text: str, location: str) -> None:
    character = forbidden_character(text)
    if character is not None:
        problem = f"text may not contain {character} (a control character or lone surrogate)"
        raise OutOfBounds(problem, location)
