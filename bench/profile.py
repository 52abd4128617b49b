"""``--profile``: where the hub's time goes in one mechbus drain on each ledger backend,
sampled by pyinstrument in the event loop's thread and in the thread the ledger work runs in."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pyinstrument import Profiler


class HubProfile:
    """pyinstrument samples one thread only: one profiler on the loop, and one on the single
    worker thread given to the loop as its default executor (Hub._commit's asyncio.to_thread
    runs record_batch there; the hub awaits each commit, so one worker changes nothing)."""

    def __init__(self, out: Path, row: str = "mechbus") -> None:
        self.out = out
        self.row = row  # the measured row's name: the profiles' file names
        self._loop_profiler = Profiler(async_mode="disabled")  # the thread, idle time included
        self._ledger_profiler = Profiler(async_mode="disabled")
        self._executor = ThreadPoolExecutor(1, initializer=self._ledger_profiler.start)

    async def __aenter__(self) -> HubProfile:
        asyncio.get_running_loop().set_default_executor(self._executor)
        self._loop_profiler.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self._loop_profiler.stop()
        if self._ledger_profiler.is_running:  # started once the worker thread first ran
            await asyncio.get_running_loop().run_in_executor(None, self._ledger_profiler.stop)
        self.out.mkdir(parents=True, exist_ok=True)
        for name, profiler in (("loop", self._loop_profiler), ("ledger", self._ledger_profiler)):
            if profiler.last_session is not None:
                path = self.out / f"profile-{self.row}-{name}.txt"
                path.write_text(profiler.output_text(show_all=False))
                print(f"  profile of the {name} thread: {path}", flush=True)
