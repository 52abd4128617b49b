"""Per-agency NATS credentials (nkey users) and the nats-server authorization they imply.

Each agency gets an Ed25519 user key (the ``nkeys`` library); only its public key goes into the
server's configuration, with the subject permissions of ``bus.domain.permissions``. The seed file is
that agency's secret: written 0600, handed to the agency, never logged. Revoking removes the
public key; a reloaded server then refuses the seed.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import nkeys

from bus.domain.errors import ConfigurationError
from bus.domain.federal import HUB
from bus.domain.permissions import for_agency
from bus.domain.streams import StreamSpec
from schemas.registry import AgencyRegistry, active_registry

__all__ = ["HUB", "CredentialError", "CredentialStore"]


class CredentialError(ConfigurationError, ValueError):
    """An agency that cannot be given credentials, or a store that is not set up."""


class CredentialStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.users_file = directory / "users.json"

    def init(self) -> None:
        """Create the store (0700) and the hub's own credentials; idempotent."""
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        if not self.users_file.exists():
            self._save({})
        self.ensure(HUB)

    def _users(self) -> dict[str, str]:
        if not self.users_file.exists():
            raise CredentialError(
                f"no credential store in {self.directory}: run mechbus creds init"
            )
        users: dict[str, str] = json.loads(self.users_file.read_text(encoding="utf-8"))
        return users

    def _save(self, users: dict[str, str]) -> None:
        tmp = self.users_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(users, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        tmp.replace(self.users_file)

    def seed_path(self, agency: str) -> Path:
        return self.directory / f"{agency}.nk"

    def issue(self, agency: str, registry: AgencyRegistry | None = None) -> Path:
        """A new key for ``agency`` (any older one stops working at the next reload)."""
        if agency not in (registry or active_registry()):
            raise CredentialError(f"unknown agency {agency!r}: not in the agency registry")
        users = self._users()
        seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
        public = nkeys.from_seed(seed).public_key.decode()
        path = self.seed_path(agency)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(seed + b"\n")
        users[agency] = public
        self._save(users)
        return path

    def ensure(self, agency: str) -> Path:
        """The agency's seed file, issuing one if it has none."""
        path = self.seed_path(agency)
        if path.exists() and agency in self._users():
            return path
        return self.issue(agency)

    def revoke(self, agency: str) -> None:
        users = self._users()
        if users.pop(agency, None) is None:
            raise CredentialError(f"{agency} holds no credentials")
        self._save(users)
        self.seed_path(agency).unlink(missing_ok=True)

    def issued(self) -> dict[str, str]:
        return dict(self._users())

    def digest(self) -> str:
        """A fingerprint of who holds credentials now: a running ``mechbus up`` records the one
        it applied, so ``issue`` and ``revoke`` can tell when their change took effect."""
        if not self.users_file.exists():
            return ""
        return hashlib.sha256(self.users_file.read_bytes()).hexdigest()[:16]

    def server_config(self, stream: StreamSpec | None = None) -> str:
        """The nats-server ``authorization`` block: one nkey user per issued agency, allowed
        only its own subjects. There is no anonymous user: anyone else is refused."""
        registry = active_registry()
        entries = []
        for agency_id, public in sorted(self._users().items()):
            agency = registry.get(agency_id)
            if agency is None:
                continue  # left the registry: no access
            rules = for_agency(agency, stream)
            permissions = {
                "publish": {"allow": list(rules.publish)},
                "subscribe": {"allow": list(rules.subscribe)},
            }
            if rules.publish_deny:
                permissions["publish"]["deny"] = list(rules.publish_deny)
            # nats-server's config syntax accepts JSON values.
            user = {"nkey": public, "permissions": permissions}
            entries.append("    " + json.dumps(user))
        if not entries:
            raise CredentialError("no agency holds credentials: issue some first")
        return "authorization {\n  users = [\n" + ",\n".join(entries) + "\n  ]\n}\n"
