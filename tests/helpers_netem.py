"""What the UDP and TCP relay tests share: a time-bounded event loop and the command line."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

__all__ = ["REPO", "netem", "run_async"]

REPO = Path(__file__).resolve().parents[1]


def run_async(test: Callable[[], Awaitable[None]], timeout: float = 5.0) -> None:
    """Each loopback test is a coroutine with a hard time bound."""

    async def bounded() -> None:
        await asyncio.wait_for(test(), timeout)

    asyncio.run(bounded())


def netem(*args: str, **kw: Any) -> subprocess.Popen[str]:
    """``python -m netsnake.netem args`` from the checkout, its output captured as text."""
    return subprocess.Popen(
        [sys.executable, "-m", "netsnake.netem", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )
