"""Exclusive locks that name their holder: an OS file lock (``flock``) on a small JSON file.

The OS releases a flock when its holder's process ends, however it ends, so a lock left by a
crash is simply free again: nothing to clean up, no pid to guess about.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bus.domain.errors import HeldError


class LockHeld(HeldError, RuntimeError):
    """Another live process holds the lock; ``holder`` is what it wrote in the file."""

    def __init__(self, path: Path, holder: dict[str, Any]) -> None:
        self.path = path
        self.holder = holder
        super().__init__(f"{path} is held by {describe(holder)}")


def describe(holder: dict[str, Any]) -> str:
    """The holder in words: process, machine, start time and whatever else it recorded."""
    if not holder:
        return "another process (it has not said which yet)"
    words = [f"pid {holder.get('pid', '?')} on {holder.get('host', '?')}"]
    if holder.get("started"):
        words.append(f"since {holder['started']}")
    if holder.get("listen"):
        words.append(f"listening on {holder['listen']}")
    return ", ".join(words)


class HeldLock:
    """A lock this process holds; ``record`` adds facts for whoever finds it held."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd
        # What the last holder recorded, if it ended without releasing (a crash).
        self.previous: dict[str, Any] = _read(fd)
        self.facts: dict[str, Any] = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        self._write()

    def record(self, **facts: Any) -> None:
        self.facts.update(facts)
        self._write()

    def _write(self) -> None:
        data = (json.dumps(self.facts, sort_keys=True) + "\n").encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)
        os.fsync(self._fd)

    def release(self) -> None:
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)  # nobody holds it: no facts to mislead a reader
        os.close(self._fd)  # closing the last descriptor releases the flock


def _open(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)


def _read(fd: int) -> dict[str, Any]:
    raw = os.pread(fd, 4096, 0)
    try:
        facts = json.loads(raw) if raw.strip() else {}
    except ValueError:  # caught while the holder was rewriting it
        facts = {}
    return facts if isinstance(facts, dict) else {}


def acquire(path: Path) -> HeldLock:
    """Take the lock at ``path`` at once, or raise ``LockHeld`` naming the holder."""
    fd = _open(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read(fd)
        os.close(fd)
        raise LockHeld(path, holder) from None
    return HeldLock(path, fd)


@contextlib.contextmanager
def held(path: Path) -> Iterator[HeldLock]:
    """``acquire`` for the length of a ``with`` block."""
    lock = acquire(path)
    try:
        yield lock
    finally:
        lock.release()


def holder(path: Path) -> dict[str, Any] | None:
    """What the live holder of ``path`` recorded, or None when nobody holds it."""
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read(fd)
        return None
    finally:
        os.close(fd)  # also drops the shared lock if we got it
