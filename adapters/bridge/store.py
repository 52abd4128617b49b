"""What the bridge knows of each agency, kept beside its NATS credentials (``creds/bridge.json``,
0600): the SHA-256 of its bearer token (never the token), the webhook it registered with the
secret its deliveries are signed with, and the address its email notices go to.

Tokens are 32 random bytes; a token is looked up by its hash, so the file alone lets no one in.
Revoking keeps the hash with the time it was revoked, so the bridge can say "revoked" in its
logs but answers 401 all the same.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bus.domain.errors import RefusalError
from schemas.registry import active_registry

TOKEN_PREFIX = "mbt_"


class BridgeStoreError(RefusalError, ValueError):
    """An unknown agency, a bad URL, or nothing to revoke: the message says which."""


@dataclass(frozen=True)
class Webhook:
    agency: str
    url: str
    secret: str


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_webhook_url(url: str, *, allow_loopback_http: bool = False) -> str:
    parts = urlsplit(url)
    if parts.scheme != "https" and not (
        allow_loopback_http and parts.scheme == "http" and parts.hostname == "127.0.0.1"
    ):
        raise BridgeStoreError(f"a webhook must be an https:// URL, not {url[:100]!r}")
    if not parts.hostname or len(url) > 2000:
        raise BridgeStoreError(f"not a usable URL: {url[:100]!r}")
    return url


class BridgeStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / "bridge.json"

    def _load(self) -> dict[str, Any]:
        if not self.path.exists():
            return {"tokens": {}, "webhooks": {}, "emails": {}}
        data: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
        for key in ("tokens", "webhooks", "emails"):
            data.setdefault(key, {})
        return data

    def _save(self, data: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
        tmp.replace(self.path)

    @staticmethod
    def _known(agency: str) -> None:
        registry = active_registry()
        found = registry.get(agency)
        if found is None:
            raise BridgeStoreError(f"unknown agency {agency!r}: not in the agency registry")
        if found.is_federal:
            raise BridgeStoreError(f"{agency} is a federal service: the bridge is for agencies")

    # --- tokens ---------------------------------------------------------------------------

    def issue_token(self, agency: str, now: datetime | None = None) -> str:
        """A new bearer token for ``agency``; its previous one stops working at once."""
        self._known(agency)
        token = TOKEN_PREFIX + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip(
            "="
        )
        data = self._load()
        data["tokens"][agency] = {
            "sha256": token_hash(token),
            "issued_at": (now or datetime.now(UTC)).isoformat(),
            "revoked_at": None,
        }
        self._save(data)
        return token

    def revoke_token(self, agency: str, now: datetime | None = None) -> None:
        data = self._load()
        entry = data["tokens"].get(agency)
        if entry is None or entry.get("revoked_at"):
            raise BridgeStoreError(f"{agency} holds no bridge token")
        entry["revoked_at"] = (now or datetime.now(UTC)).isoformat()
        self._save(data)

    def agency_for(self, token: str) -> str | None:
        """The agency holding ``token``, or None (unknown or revoked)."""
        wanted = token_hash(token)
        for agency, entry in self._load()["tokens"].items():
            if secrets.compare_digest(entry["sha256"], wanted) and not entry.get("revoked_at"):
                return str(agency)
        return None

    def tokens(self) -> dict[str, dict[str, Any]]:
        return dict(self._load()["tokens"])

    # --- webhooks and email ---------------------------------------------------------------

    def set_webhook(self, agency: str, url: str, *, allow_loopback_http: bool = False) -> str:
        """Register ``url``; returns the signing secret (a new one each time)."""
        self._known(agency)
        check_webhook_url(url, allow_loopback_http=allow_loopback_http)
        secret = secrets.token_hex(32)
        data = self._load()
        data["webhooks"][agency] = {"url": url, "secret": secret}
        self._save(data)
        return secret

    def remove_webhook(self, agency: str) -> None:
        data = self._load()
        if data["webhooks"].pop(agency, None) is None:
            raise BridgeStoreError(f"{agency} has no webhook")
        self._save(data)

    def webhook(self, agency: str) -> Webhook | None:
        entry = self._load()["webhooks"].get(agency)
        return Webhook(agency, entry["url"], entry["secret"]) if entry else None

    def webhooks(self) -> list[Webhook]:
        return [Webhook(a, e["url"], e["secret"]) for a, e in self._load()["webhooks"].items()]

    def set_email(self, agency: str, address: str) -> None:
        self._known(agency)
        if "@" not in address or len(address) > 254 or any(c in address for c in "\r\n <>"):
            raise BridgeStoreError(f"not an email address: {address[:100]!r}")
        data = self._load()
        data["emails"][agency] = address
        self._save(data)

    def emails(self) -> dict[str, str]:
        return {str(a): str(e) for a, e in self._load()["emails"].items()}

    def email(self, agency: str) -> str | None:
        address = self._load()["emails"].get(agency)
        return str(address) if address else None
