"""How every mechbus process connects to NATS: one set of options for nats-py and FastStream.

The hub, the agency client, the federal commands and the HTTP bridge all connect the same way
(servers, name, nkey seed, TLS, inbox prefix, reconnect settings); building the options here
keeps them from drifting apart.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bus.domain.subjects import inbox_prefix


def server_list(servers: str | Sequence[str]) -> tuple[str, ...]:
    """A cluster's URLs: a list, or one string separated by commas as the nats tools accept."""
    return tuple(servers.split(",")) if isinstance(servers, str) else tuple(servers)


@dataclass(frozen=True)
class ConnectionOptions:
    servers: tuple[str, ...]
    name: str | None = None  # None: the library's own
    agency: str | None = None  # speaks as this agency: replies come to its own inbox prefix
    nkey_seed: Path | None = None  # its seed file (``mechbus creds issue``)
    tls: ssl.SSLContext | None = None  # trusting the deployment's CA
    # nats-py gives up after ~2 minutes by default; a mechbus process keeps trying.
    max_reconnect_attempts: int = -1
    reconnect_time_wait: float = 0.5
    connect_timeout: float | None = 5  # None: the library's own
    extra: Mapping[str, Any] = field(default_factory=dict)  # any other nats-py option

    @classmethod
    def of(
        cls,
        servers: str | Sequence[str],
        *,
        name: str | None = None,
        agency: str | None = None,
        creds: Path | None = None,
        tls: ssl.SSLContext | None = None,
        **options: Any,
    ) -> ConnectionOptions:
        """From the arguments the connecting functions take; ``options`` may override the
        reconnect settings or add any other nats-py option."""
        known = {
            k: options.pop(k)
            for k in ("max_reconnect_attempts", "reconnect_time_wait", "connect_timeout")
            if k in options
        }
        # a seed or context given the nats-py way wins, as it always did
        seed = options.pop("nkeys_seed", None)
        tls = options.pop("tls", tls)
        return cls(
            server_list(servers),
            name=name,
            agency=agency,
            nkey_seed=Path(seed) if seed is not None else creds,
            tls=tls,
            extra=options,
            **known,
        )

    def _common(self) -> dict[str, Any]:
        options: dict[str, Any] = {
            "servers": list(self.servers),
            "max_reconnect_attempts": self.max_reconnect_attempts,
            "reconnect_time_wait": self.reconnect_time_wait,
        }
        if self.name is not None:
            options["name"] = self.name
        if self.connect_timeout is not None:
            options["connect_timeout"] = self.connect_timeout
        return options

    def for_nats(self) -> dict[str, Any]:
        """Keyword arguments for ``nats.connect``."""
        options = self._common()
        if self.agency is not None:
            options["inbox_prefix"] = inbox_prefix(self.agency)
        if self.nkey_seed is not None:
            options["nkeys_seed"] = str(self.nkey_seed)
        if self.tls is not None:
            options["tls"] = self.tls
        return options | dict(self.extra)

    def for_faststream(self) -> dict[str, Any]:
        """Keyword arguments for FastStream's ``NatsBroker``, but its ``security`` (built from
        ``nkey_seed`` and ``tls`` where FastStream is installed: bus.runtime.broker)."""
        options = self._common()
        if self.agency is not None:
            options["inbox_prefix"] = inbox_prefix(self.agency).encode()
        return options | dict(self.extra)
