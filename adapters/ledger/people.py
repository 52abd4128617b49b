"""What the ledger keeps so that staff can search: the blind index of people named in each
message (``person_index``) and each request message's searchable text (``request_text``).
Written by the unit of work with the message itself, and rebuilt for older messages by
``reindex`` (``mechbus search reindex``), which needs the deployment key to open them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert
from sqlalchemy import select as select_columns
from sqlmodel import Session, col

from adapters.ledger.sealing import Sealer
from adapters.ledger.tables import MessageRow, PersonIndexRow, RequestTextRow
from bus.domain.personal import full_names, name_key, search_words, searchable_text

# The families whose text a caseworker searches: what was asked, and what agencies answered
# about it (commitments, declines, progress).
TEXT_FAMILIES = ("request", "response")
NAME, WORD = "name", "word"


def name_token(sealer: Sealer, name: str) -> str:
    """The index's key for a whole name (any order, accents, punctuation)."""
    return sealer.blind(f"{NAME}:{name_key(name)}")


def word_tokens(sealer: Sealer, name: str) -> list[str]:
    """The index's keys for each word of 3 letters or more of ``name``."""
    return [sealer.blind(f"{WORD}:{word}") for word in search_words(name)]


@dataclass(frozen=True)
class Indexed:
    """One message, as the index needs it."""

    source: str
    message_id: str
    request_id: str
    case_ref: str | None
    family: str


def person_entries(
    sealer: Sealer, message: Indexed, personal: bytes | None
) -> list[dict[str, Any]]:
    """The ``person_index`` rows of ``message``, whose personal details are ``personal``."""
    rows: list[dict[str, Any]] = []
    for person, name in enumerate(full_names(personal)):
        whole = [(NAME, name_token(sealer, name))] if name_key(name) else []
        for kind, token in whole + [(WORD, t) for t in word_tokens(sealer, name)]:
            rows.append(
                {
                    "token": token,
                    "kind": kind,
                    "person": person,
                    "source": message.source,
                    "message_id": message.message_id,
                    "request_id": message.request_id,
                    "case_ref": message.case_ref,
                }
            )
    return rows


def text_entries(message: Indexed, body: bytes) -> list[dict[str, Any]]:
    """The ``request_text`` row of ``message`` (a body without personal details), if any."""
    if message.family not in TEXT_FAMILIES:
        return []
    text = searchable_text(body)
    if not text:
        return []
    return [
        {
            "request_id": message.request_id,
            "source": message.source,
            "message_id": message.message_id,
            "text": text,
        }
    ]


@dataclass(frozen=True)
class Reindexed:
    messages: int
    people: int  # persons named (a person named in two messages counts twice)
    texts: int


def reindex(session: Session, sealer: Sealer, batch: int = 2000) -> Reindexed:
    """Rebuild both tables from every recorded message, in one transaction (the caller
    commits): what an older ledger lacks, or what a changed normalisation needs again."""
    connection = session.connection()
    connection.execute(delete(PersonIndexRow))
    connection.execute(delete(RequestTextRow))
    messages = people = texts = 0
    after = 0
    while True:  # a page at a time by sequence: SQLite cannot write under an open cursor
        page = connection.execute(
            select_columns(
                col(MessageRow.seq),
                col(MessageRow.source),
                col(MessageRow.message_id),
                col(MessageRow.thread_id),
                col(MessageRow.case_ref),
                col(MessageRow.family),
                col(MessageRow.body),
                col(MessageRow.personal_sealed),
            )
            .where(col(MessageRow.seq) > after)
            .order_by(col(MessageRow.seq))
            .limit(batch)
        ).all()
        if not page:
            return Reindexed(messages, people, texts)
        found: list[dict[str, Any]] = []
        said: list[dict[str, Any]] = []
        for seq, source, message_id, thread, case_ref, family, body, sealed in page:
            message = Indexed(source, message_id, thread, case_ref, family)
            entries = person_entries(
                sealer, message, sealer.open(sealed, message_id) if sealed else None
            )
            found += entries
            people += len({row["person"] for row in entries})
            said += text_entries(message, body)
            after = seq or after
        messages += len(page)
        texts += len(said)
        _flush(connection, found, said)


def _flush(connection: Any, people: list[dict[str, Any]], texts: list[dict[str, Any]]) -> None:
    if people:
        connection.execute(insert(PersonIndexRow), people)
    if texts:
        connection.execute(insert(RequestTextRow), texts)


def tokens_for(sealer: Sealer, name: str) -> tuple[str | None, list[str]]:
    """What a search for ``name`` looks up: the whole name's key and its words' keys."""
    return (name_token(sealer, name) if name_key(name) else None), word_tokens(sealer, name)
