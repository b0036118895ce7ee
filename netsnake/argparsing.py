"""Command-line parsing shared by ``netsnake-server`` and ``netsnake-client``."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

__all__ = ["OneLineErrorParser"]


class OneLineErrorParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are a single line that points at ``--help``."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)
