"""Giving the memory a batch freed back to the system, so the hub's size follows what it holds.

A batch of deliveries allocates a few megabytes (bodies, envelopes, rows) and frees them at
its commit; glibc's allocator keeps freed pages that sit below live ones, so a hub recording
for hours grew by a third before it levelled off, nearly all of it free memory held by the
allocator (``malloc_trim`` handed back most of it). ``HeapTrim`` asks glibc to return them at
most every ``every`` seconds; where the C library has no ``malloc_trim`` it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import time
from collections.abc import Callable
from typing import Any, cast

TRIM_EVERY = 10.0  # seconds; one trim of the hub's heap takes a few milliseconds


def c_function(library: str, symbol: str) -> Any | None:
    """``symbol`` of the shared C library ``library`` (``"c"``, ``"sqlite3"``), or None where
    the library or the symbol is missing (not glibc: musl, macOS)."""
    name = ctypes.util.find_library(library)
    if name is None:
        return None
    try:
        return getattr(ctypes.CDLL(name), symbol)
    except (OSError, AttributeError):
        return None


def _malloc_trim() -> Callable[[int], int] | None:
    trim = c_function("c", "malloc_trim")
    if trim is None:
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return cast(Callable[[int], int], trim)


class HeapTrim:
    def __init__(self, every: float = TRIM_EVERY) -> None:
        self._trim = _malloc_trim()
        self._every = every
        self._last = time.monotonic()

    def due(self) -> bool:
        return self._trim is not None and time.monotonic() - self._last >= self._every

    def trim(self) -> None:
        """Return free heap pages to the system (run off the event loop: it walks the heap)."""
        if self._trim is not None:
            self._trim(0)
        self._last = time.monotonic()
