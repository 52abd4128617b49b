"""Personal data in a message body: separate it out so it can be sealed apart. Pure.

Personal details (names, addresses, phones, coordinates) always travel in a body's
``data.personal`` field (schemas.common.PersonalDetails). The ledger keeps the body without
that field, and the field itself sealed with the deployment's key.
"""

from __future__ import annotations

import json
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
