"""Debian's Chromium driven by Playwright, for the browser tests (tier e2e)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")


def launch_chromium(playwright: Any) -> Any:
    """A headless Chromium (no sandbox: tests may run as root in a container)."""
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-gpu"]
    )
