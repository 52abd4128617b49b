"""CSRF protection: one random token per session, required in every POST form."""

from __future__ import annotations

import hmac
import secrets
from typing import Any

FIELD = "csrf_token"


def token(session: dict[str, Any]) -> str:
    """The session's token, made on first use (the login form gets one before any login)."""
    value = session.get("csrf")
    if not isinstance(value, str):
        value = secrets.token_urlsafe(32)
        session["csrf"] = value
    return value


def valid(session: dict[str, Any], sent: object) -> bool:
    expected = session.get("csrf")
    return (
        isinstance(expected, str)
        and isinstance(sent, str)
        and hmac.compare_digest(expected.encode(), sent.encode())
    )


def rotate(session: dict[str, Any]) -> str:
    """A new token at login, so one seen before the login is worth nothing after it."""
    session["csrf"] = secrets.token_urlsafe(32)
    return str(session["csrf"])
