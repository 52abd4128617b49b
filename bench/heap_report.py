"""What a process's heap is made of, for the memory suite: glibc's own accounting
(``mallinfo2``: bytes in use, free bytes it keeps, its mmapped chunks), SQLite's share of the
bytes in use, and CPython's small-object allocator (its arenas and the bytes in their blocks,
from ``sys._debugmallocstats``), so that a growing RSS can be told apart: live objects, caches
filling, free memory held back, or arenas kept by a few survivors."""

from __future__ import annotations

import collections
import ctypes
import gc
import os
import re
import sys
import tempfile
from typing import Any

from bus.runtime.heap import c_function


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
            "fsmblks", "uordblks", "fordblks", "keepcost",
        )
    ]  # fmt: skip


def _glibc() -> dict[str, int]:
    """glibc's figures in bytes, or none where the C library has no ``mallinfo2``."""
    mallinfo2 = c_function("c", "mallinfo2")
    if mallinfo2 is None:
        return {}
    mallinfo2.restype = _MallInfo2
    info = mallinfo2()
    return {
        "malloc_in_use": int(info.uordblks) + int(info.hblkhd),
        "malloc_free_held": int(info.fordblks),
        "malloc_mmapped": int(info.hblkhd),
    }


def _sqlite() -> dict[str, int]:
    """SQLite's own allocations (its page caches, schemas, prepared statements) across every
    connection of the process, where the C library Python's sqlite3 uses can be loaded."""
    used = c_function("sqlite3", "sqlite3_memory_used")
    if used is None:
        return {}
    used.restype = ctypes.c_int64
    return {"sqlite_in_use": int(used())}


_FIGURES = {
    "pymalloc_arenas": re.compile(r"# arenas allocated current\s*=\s*([\d,]+)"),
    "pymalloc_in_blocks": re.compile(r"# bytes in allocated blocks\s*=\s*([\d,]+)"),
    "pymalloc_total": re.compile(r"^Total\s*=\s*([\d,]+)", re.MULTILINE),
}


def _pymalloc() -> dict[str, int]:
    """``sys._debugmallocstats`` writes to the C stderr: read it through a scratch file."""
    debug = getattr(sys, "_debugmallocstats", None)
    if debug is None:
        return {}
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as scratch:
        os.dup2(scratch.fileno(), 2)
        try:
            debug()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        scratch.seek(0)
        text = scratch.read().decode("ascii", "replace")
    found = {name: pattern.search(text) for name, pattern in _FIGURES.items()}
    return {name: int(m.group(1).replace(",", "")) for name, m in found.items() if m}


def _kinds(top: int = 12) -> dict[str, int]:
    """The most numerous kinds among the objects the garbage collector tracks (containers:
    a cache or a record that keeps growing shows here)."""
    counts = collections.Counter(type(o).__qualname__ for o in gc.get_objects())
    return dict(counts.most_common(top))


def heap() -> dict[str, Any]:
    return (
        _glibc()
        | _sqlite()
        | _pymalloc()
        | {"objects": sys.getallocatedblocks(), "kinds": _kinds()}
    )
