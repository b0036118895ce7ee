"""Command-line parsing shared by ``netsnake-server`` and ``netsnake-client``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import NoReturn

__all__ = ["OneLineErrorParser", "int_range"]


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


class OneLineErrorParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are a single line that points at ``--help``."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)
