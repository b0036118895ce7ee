"""Command-line parsing shared by ``netsnake-server`` and ``netsnake-client``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import NoReturn

from netsnake.game.limits import MAX_VIEW_SIZE

__all__ = ["OneLineErrorParser", "int_range", "view_size", "view_size_from"]


def int_range(lo: int, hi: int) -> Callable[[str], int]:
    """An argparse ``type`` accepting whole numbers from ``lo`` to ``hi``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{value} is not between {lo} and {hi}")
        return value

    return parse


def view_size_from(lo: int) -> Callable[[str], tuple[int, int]]:
    """An argparse ``type`` for a viewport, ``COLSxROWS`` in cells (each ``lo`` to
    MAX_VIEW_SIZE)."""

    def parse(text: str) -> tuple[int, int]:
        cols, sep, rows = text.lower().partition("x")
        try:
            size = (int(cols), int(rows)) if sep else None
        except ValueError:
            size = None
        if size is None:
            raise argparse.ArgumentTypeError(f"{text!r} is not COLSxROWS, e.g. 64x28")
        if not all(lo <= v <= MAX_VIEW_SIZE for v in size):
            raise argparse.ArgumentTypeError(
                f"{text!r}: each side must be {lo}-{MAX_VIEW_SIZE} cells"
            )
        return size

    return parse


#: A viewport of any size a VIEW may state (1 to MAX_VIEW_SIZE each way).
view_size = view_size_from(1)


class OneLineErrorParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are a single line that points at ``--help``."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)
