"""Readable log lines with a component column, in the spirit of the tutorial's log_message."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

__all__ = ["setup_logging"]

_FORMAT = "%(asctime)s.%(msecs)03d  %(levelname)-7s  %(name)-9s  %(message)s"


def setup_logging(level: str = "info", stream: TextIO | None = None) -> None:
    """Send every netsnake log line to ``stream`` (stderr by default)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter(_FORMAT, datefmt="%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
