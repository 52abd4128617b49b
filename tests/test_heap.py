"""The hub hands freed heap pages back to the system at most every few seconds."""

from __future__ import annotations

import ctypes.util
import sys

import pytest

from bus.runtime.heap import HeapTrim, _malloc_trim


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or ctypes.util.find_library("c") is None,
    reason="malloc_trim is glibc's",
)
def test_glibc_trim_is_found_and_runs() -> None:
    assert _malloc_trim() is not None
    heap = HeapTrim(every=0)
    assert heap.due()
    heap.trim()  # returns; nothing to assert but that it ran without raising


def test_a_trim_is_due_only_after_its_interval() -> None:
    heap = HeapTrim(every=3600)
    assert not heap.due()
    heap.trim()
    assert not heap.due()


def test_without_malloc_trim_nothing_is_ever_due(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bus.runtime.heap._malloc_trim", lambda: None)
    heap = HeapTrim(every=0)
    assert not heap.due()
    heap.trim()  # a no-op
