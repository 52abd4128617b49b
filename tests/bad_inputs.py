"""A catalogue of bad input, as the bytes and subjects a careless or hostile sender could publish.

Each entry says what the hub must keep it as and who must be told. Entries are built fresh on
every call (new message ids), so a test can publish the catalogue many times over.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from schemas.envelope import new_message_id
from schemas.tracking import RejectionReason
from tests import builders as b

GOVERNMENT = "gro.government"
SHELTER = "shelter.casa-refugio-cdmx"
MECHANISM = "fed.mechanism"
OUTBOX = f"mech.v1.from.{GOVERNMENT}.acknowledgement"
PROGRESS_OUTBOX = f"mech.v1.from.{GOVERNMENT}.progress_report"
COMMITMENT_OUTBOX = f"mech.v1.from.{GOVERNMENT}.commitment_made"
CAPACITY_OUTBOX = f"mech.v1.from.{SHELTER}.capacity_update"
INBOX = f"mech.v1.to.{GOVERNMENT}.protection_measure"
RELOCATION_INBOX = f"mech.v1.to.{SHELTER}.relocation"
SUMMONS_INBOX = f"mech.v1.to.{GOVERNMENT}.board_summons"
# nats-server refuses a protocol line over 4096 bytes (its max_control_line); a JetStream
# publish adds its reply inbox and the size to the subject, so this is about the longest
# subject that reaches the stream.
LONGEST_SUBJECT = 3900

MALFORMED = RejectionReason.MALFORMED
SCHEMA = RejectionReason.SCHEMA


@dataclass(frozen=True)
class BadInput:
    kind: str
    subject: str
    body: bytes
    reason: RejectionReason  # what the hub must keep it as
    told: str | None  # the agency whose inbox gets the ``rejected`` notice; None: nobody


def _doc(message: Any) -> dict[str, Any]:
    return json.loads(message.to_json())  # type: ignore[no-any-return]


def _raw(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()


def valid_acknowledgement(request_id: str) -> bytes:
    document = _doc(b.acknowledgement(request_id))
    document["id"] = new_message_id()
    return _raw(document)


def _ack(request_id: str, **changes: Any) -> dict[str, Any]:
    document = _doc(b.acknowledgement(request_id))
    document["id"] = new_message_id()
    document.update(changes)
    return document


def _ack_data(request_id: str, **data: Any) -> dict[str, Any]:
    document = _ack(request_id)
    document["data"] = {**document["data"], **data}
    return document


def _progress(request_id: str, percent: str) -> bytes:
    """A progress report whose percent_complete is written as ``percent``, verbatim."""
    document = _doc(b.progress(request_id))
    document["id"] = new_message_id()
    document["data"]["percent_complete"] = "@@"
    return _raw(document).replace(b'"@@"', percent.encode())


def _capacity(**data: Any) -> dict[str, Any]:
    return {
        "id": new_message_id(),
        "type": "mech.capacity.capacity_update.v1",
        "source": SHELTER,
        "time": "2026-03-02T15:00:00Z",
        "data": {**b.SHELTER_CAPACITY, **data},
    }


def _relocation(**data: Any) -> dict[str, Any]:
    document = _doc(b.relocation_request((SHELTER,), id=new_message_id()))
    document["data"].update(data)
    return document


def _summons(session_id: str) -> dict[str, Any]:
    return {
        "id": new_message_id(),
        "type": "mech.request.board_summons.v1",
        "source": MECHANISM,
        "time": "2026-03-02T15:00:00Z",
        "recipients": [GOVERNMENT],
        "data": {
            "session_id": session_id,
            "session_at": "2026-04-02T17:00:00Z",
            "venue": "SEGOB",
            "agenda_item": "Medidas sin implementar",
            "authority_summoned": "Secretaría General de Gobierno",
        },
    }


def _nested(depth: int) -> bytes:
    return (
        b'{"type": "mech.response.acknowledgement.v1", "data": '
        + b"[" * depth
        + b"]" * depth
        + b"}"
    )


def _duplicate_keys(request_id: str) -> bytes:
    text = _raw(_ack(request_id))
    return b'{"source": "gro.prosecutor", ' + text[1:]


def _long_subject(token: str) -> str:
    """An outbox subject of ``LONGEST_SUBJECT`` characters, made long with ``token``s."""
    prefix = f"mech.v1.from.{GOVERNMENT}"
    count = (LONGEST_SUBJECT - len(prefix)) // (len(token) + 1)
    return prefix + f".{token}" * count


Entry = Callable[[str], BadInput]


def _entries() -> list[Entry]:
    gov, mech, shelter = GOVERNMENT, MECHANISM, SHELTER
    return [
        # not JSON, or not one JSON object
        lambda r: BadInput("invalid_utf8", OUTBOX, b'{"type": "\xff\xfe\xfd"}', MALFORMED, gov),
        lambda r: BadInput(
            "bom", OUTBOX, b"\xef\xbb\xbf" + valid_acknowledgement(r), MALFORMED, gov
        ),
        lambda r: BadInput("empty_body", OUTBOX, b"", MALFORMED, gov),
        lambda r: BadInput("json_array", OUTBOX, b"[1, 2, 3]", MALFORMED, gov),
        lambda r: BadInput("json_number", OUTBOX, b"42", MALFORMED, gov),
        lambda r: BadInput("json_null", OUTBOX, b"null", MALFORMED, gov),
        lambda r: BadInput("truncated_json", OUTBOX, valid_acknowledgement(r)[:-9], MALFORMED, gov),
        lambda r: BadInput("duplicate_keys", OUTBOX, _duplicate_keys(r), MALFORMED, gov),
        # numbers JSON allows but no field can hold
        lambda r: BadInput("nan_literal", PROGRESS_OUTBOX, _progress(r, "NaN"), MALFORMED, gov),
        lambda r: BadInput("infinity", PROGRESS_OUTBOX, _progress(r, "-Infinity"), MALFORMED, gov),
        lambda r: BadInput("float_1e400", PROGRESS_OUTBOX, _progress(r, "1e400"), MALFORMED, gov),
        lambda r: BadInput(
            "huge_integer", PROGRESS_OUTBOX, _progress(r, "9" * 5000), MALFORMED, gov
        ),
        lambda r: BadInput(
            "integer_2_64", PROGRESS_OUTBOX, _progress(r, str(2**64)), MALFORMED, gov
        ),
        lambda r: BadInput("float_for_int", PROGRESS_OUTBOX, _progress(r, "50.5"), SCHEMA, gov),
        lambda r: BadInput(
            "negative_zero", CAPACITY_OUTBOX, _raw(_capacity(total_spaces=-0)), SCHEMA, shelter
        ),
        # text: NUL, control characters, lone surrogates, in values and in keys
        lambda r: BadInput(
            "nul_in_text", OUTBOX, _raw(_ack_data(r, official_role="Ofi\0cial")), MALFORMED, gov
        ),
        lambda r: BadInput(
            "nul_in_key", OUTBOX, _raw({**_ack(r), "pri\0ority": "high"}), MALFORMED, gov
        ),
        lambda r: BadInput(
            "control_characters",
            OUTBOX,
            _raw(_ack_data(r, official_role="Oficial\x1b[2J\x07")),
            MALFORMED,
            gov,
        ),
        lambda r: BadInput(
            "surrogate_in_id", OUTBOX, _raw(_ack(r, id="\ud800" + new_message_id())), MALFORMED, gov
        ),
        lambda r: BadInput(
            "surrogate_in_text", OUTBOX, _raw(_ack_data(r, note="fin \udfff")), MALFORMED, gov
        ),
        # too deep, too long, too many
        lambda r: BadInput("nested_5000_deep", OUTBOX, _nested(5000), MALFORMED, gov),
        lambda r: BadInput("nested_100_deep", OUTBOX, _nested(100), MALFORMED, gov),
        lambda r: BadInput(
            "huge_string", OUTBOX, _raw(_ack_data(r, official_role="x" * 60_000)), SCHEMA, gov
        ),
        lambda r: BadInput(
            "huge_array", OUTBOX, _raw(_ack(r, recipients=[gov] * 3000)), SCHEMA, gov
        ),
        lambda r: BadInput("overlong_id", OUTBOX, _raw(_ack(r, id="A" * 101)), SCHEMA, gov),
        lambda r: BadInput("huge_id", OUTBOX, _raw(_ack(r, id="A" * 20_000)), SCHEMA, gov),
        lambda r: BadInput(
            "overlong_session_id", SUMMONS_INBOX, _raw(_summons("S" * 65)), SCHEMA, mech
        ),
        lambda r: BadInput(
            "oversize", OUTBOX, b"{" + b" " * 70_000 + b"}", RejectionReason.OVERSIZE, gov
        ),
        # times and durations
        lambda r: BadInput(
            "naive_time", OUTBOX, _raw(_ack(r, time="2026-03-02T15:00:00")), SCHEMA, gov
        ),
        lambda r: BadInput(
            "year_0", OUTBOX, _raw(_ack(r, time="0000-01-01T00:00:00Z")), SCHEMA, gov
        ),
        lambda r: BadInput(
            "year_10000", OUTBOX, _raw(_ack(r, time="10000-01-01T00:00:00Z")), SCHEMA, gov
        ),
        lambda r: BadInput(
            "time_past_9999_in_utc",
            OUTBOX,
            _raw(_ack(r, time="9999-12-31T23:00:00-12:00")),
            SCHEMA,
            gov,
        ),
        lambda r: BadInput(
            "expires_past_9999",
            OUTBOX,
            _raw(_ack(r, expires="9999-12-31T23:59:59-05:00")),
            SCHEMA,
            gov,
        ),
        lambda r: BadInput(
            "expires_year_9999",
            OUTBOX,
            _raw(_ack(r, expires="9999-12-31T23:59:59Z")),
            SCHEMA,
            gov,
        ),
        lambda r: BadInput("time_as_huge_number", OUTBOX, _raw(_ack(r, time=10**15)), SCHEMA, gov),
        lambda r: BadInput(
            "negative_duration",
            RELOCATION_INBOX,
            _raw(_relocation(expected_days=-5)),
            SCHEMA,
            mech,
        ),
        lambda r: BadInput(
            "absurd_duration",
            CAPACITY_OUTBOX,
            _raw(_capacity(max_stay_days=10**15)),
            SCHEMA,
            shelter,
        ),
        lambda r: BadInput(
            "date_year_9999",
            RELOCATION_INBOX,
            _raw(_relocation(earliest="9999-12-31")),
            SCHEMA,
            mech,
        ),
        # fields
        lambda r: BadInput("unknown_field", OUTBOX, _raw(_ack(r, priority="high")), SCHEMA, gov),
        lambda r: BadInput(
            "missing_field",
            OUTBOX,
            _raw({k: v for k, v in _ack(r).items() if k != "time"}),
            SCHEMA,
            gov,
        ),
        lambda r: BadInput(
            "wrong_type", OUTBOX, _raw(_ack_data(r, official_role=["a", 1])), SCHEMA, gov
        ),
        lambda r: BadInput(
            "unknown_type",
            OUTBOX,
            _raw(_ack(r, type="mech.response.thumbs_up.v1")),
            RejectionReason.UNKNOWN_TYPE,
            gov,
        ),
        # subjects
        lambda r: BadInput(
            "extra_subject_tokens",
            f"{OUTBOX}.x.y",
            valid_acknowledgement(r),
            RejectionReason.WRONG_SUBJECT,
            gov,
        ),
        lambda r: BadInput(
            "extra_inbox_tokens",
            f"{INBOX}.x",
            _raw(_doc(b.patrol_request(id=new_message_id()))),
            RejectionReason.WRONG_SUBJECT,
            mech,
        ),
        lambda r: BadInput(
            "long_subject_token",
            _long_subject("k" * 3850),
            valid_acknowledgement(r),
            RejectionReason.WRONG_SUBJECT,
            gov,
        ),
        lambda r: BadInput(
            "long_subject_many_tokens",
            _long_subject("t"),
            valid_acknowledgement(r),
            RejectionReason.WRONG_SUBJECT,
            gov,
        ),
        lambda r: BadInput(
            "nul_in_subject",
            f"{OUTBOX}\0x",
            valid_acknowledgement(r),
            RejectionReason.WRONG_SUBJECT,
            gov,
        ),
        lambda r: BadInput(
            "control_character_in_subject",
            f"{OUTBOX}\x1b[2J",
            valid_acknowledgement(r),
            RejectionReason.WRONG_SUBJECT,
            gov,
        ),
        lambda r: BadInput(
            "unknown_agency_in_subject",
            "mech.v1.from.gro.police.acknowledgement",
            valid_acknowledgement(r),
            RejectionReason.WRONG_SUBJECT,
            None,
        ),
        lambda r: BadInput(
            "not_a_v1_subject",
            "mech.v1.sideways",
            valid_acknowledgement(r),
            RejectionReason.WRONG_SUBJECT,
            None,
        ),
    ]


def catalogue(request_id: str) -> list[BadInput]:
    """Every kind of bad input once; responses among them answer ``request_id``."""
    return [entry(request_id) for entry in _entries()]
