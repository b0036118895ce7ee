"""Player name rules, shared by the server (which enforces them) and the client.

A name is 1 to ``MAX_NAME_LENGTH`` (16, in :mod:`netsnake.game.limits`)
characters after trimming surrounding spaces, and every character must be
printable: Python's ``str.isprintable`` refuses control
characters (so ANSI escape sequences), format characters (zero-width joiners,
bidirectional overrides), separators other than the space, and unassigned
code points.  Bad names are *refused* with a reason, never silently changed;
only clashes are resolved, by a numeric suffix.
"""

from __future__ import annotations

from collections.abc import Container

from netsnake.game.limits import MAX_NAME_LENGTH

__all__ = ["NameError_", "unique_name", "validate_name"]


class NameError_(ValueError):
    """The name breaks a rule; the message says which, for the player."""


def validate_name(raw: str) -> str:
    """Return the trimmed name or raise NameError_ with a reason a player can act on."""
    name = raw.strip(" ")
    if not name:
        raise NameError_("the name is empty")
    if len(name) > MAX_NAME_LENGTH:
        raise NameError_(f"the name is longer than {MAX_NAME_LENGTH} characters")
    if not name.isprintable():
        raise NameError_("the name contains control or invisible characters")
    return name


def unique_name(name: str, taken: Container[str]) -> str:
    """``name``, or ``name-2``, ``name-3``... (trimmed to fit) if it is taken."""
    if name not in taken:
        return name
    n = 2
    while True:
        suffix = f"-{n}"
        candidate = name[: MAX_NAME_LENGTH - len(suffix)] + suffix
        if candidate not in taken:
            return candidate
        n += 1
