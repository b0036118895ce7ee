"""Showing untrusted text (player names from the network) safely in a terminal.

A name is drawn straight into the terminal, so anything that the terminal
would interpret — escape sequences, control characters, bidirectional
overrides that reorder the rest of the line, zero-width characters that make
two names look alike — has to go, and truncation must count display columns,
not code points, because East Asian wide characters take two columns.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import TypeVar

from urwid.str_util import calc_width

__all__ = ["ELLIPSIS", "attributed_row", "display_width", "safe_name"]

_A = TypeVar("_A")

ELLIPSIS = "…"

# ESC-introduced sequences: CSI (ESC [ ... final), OSC/DCS/SOS/PM/APC strings
# (terminated by BEL or ST), and two-byte escapes; plus their 8-bit C1 forms.
_ESCAPES = re.compile(
    r"""
      (?:\x1b\[|\x9b) [\x30-\x3f]* [\x20-\x2f]* [\x40-\x7e]?     # CSI
    | (?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f]) [^\x07\x1b\x9c]* (?:\x07|\x1b\\|\x9c)?  # strings
    | \x1b [\x20-\x2f]* [\x30-\x7e]?                                # other escapes
    """,
    re.VERBOSE,
)
_WHITESPACE = re.compile(r"\s+")
# Longest input looked at: far more than any sane name, bounded so a huge one costs nothing.
_MAX_INPUT = 1024
# Categories removed outright: controls, format characters (bidi controls,
# zero-width joiners/spaces, BOM), surrogates, private use, unassigned, and
# line/paragraph separators.
_DROP = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_COMBINING = frozenset({"Mn", "Me"})


def display_width(text: str) -> int:
    """How many terminal columns ``text`` takes (wide characters count two)."""
    return int(calc_width(text, 0, len(text)))


def _clean(name: str) -> str:
    name = _ESCAPES.sub("", name[:_MAX_INPUT])
    name = _WHITESPACE.sub(" ", name)
    out: list[str] = []
    marks = 0
    for ch in name:
        category = unicodedata.category(ch)
        if category in _DROP:
            continue
        if category in _COMBINING:
            # One mark per base character is real text; stacks of them ("zalgo")
            # spill over neighbouring rows, and a leading one joins whatever is left of it.
            if not out or marks >= 1 or out[-1] == " ":
                continue
            marks += 1
        else:
            marks = 0
        out.append(ch)
    return "".join(out).strip()


def safe_name(name: str, width: int, placeholder: str = "?") -> str:
    """Make an untrusted ``name`` safe to print and fit it into ``width`` columns.

    Escape sequences, control and format characters (bidi overrides
    U+202A–U+202E and U+2066–U+2069, zero-width characters), surrogates and
    private-use characters are removed, runs of whitespace become one space,
    and a name wider than ``width`` is cut by display width and ends in "…".
    A name with nothing printable left becomes ``placeholder``.  The result
    is never wider than ``width`` (``""`` when ``width <= 0``).
    """
    if width <= 0:
        return ""
    text = _clean(name) or placeholder
    if display_width(text) <= width:
        return text
    budget = width - display_width(ELLIPSIS)
    # Measure whole prefixes, not single characters: a combining mark or a
    # grapheme cluster can change the width of what it follows.
    cut = ""
    for i in range(1, len(text) + 1):
        if display_width(text[:i]) > budget:
            break
        cut = text[:i]
    return cut.rstrip() + ELLIPSIS


def attributed_row(pieces: Iterable[tuple[_A, str]]) -> tuple[bytes, list[tuple[_A, int]]]:
    """One canvas row from ``(attribute, text)`` pieces: the UTF-8 bytes and the
    attribute runs over them (byte counts, as urwid's TextCanvas wants them),
    neighbouring pieces of the same attribute merged and empty ones dropped."""
    parts: list[str] = []
    runs: list[tuple[_A, int]] = []
    for attr, text in pieces:
        n = len(text.encode("utf-8"))
        if not n:
            continue
        parts.append(text)
        if runs and runs[-1][0] == attr:
            runs[-1] = (attr, runs[-1][1] + n)
        else:
            runs.append((attr, n))
    return "".join(parts).encode("utf-8"), runs
