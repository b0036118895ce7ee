"""The table ``netsnake-client --list`` prints: one line per server, aligned columns.

Names come from the network, so they go through :func:`safe_name` (no escape
sequences, cut by display width) and columns are padded by display width, so
a name with wide characters does not push the rest of its line out of line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from netsnake.client.listing import ListedServer
from netsnake.ui.text import display_width, safe_name
from protocol import PROTOCOL_VERSION

__all__ = ["NAME_WIDTH", "format_table"]

#: Widest name shown, in terminal columns (longer ones end in "…").
NAME_WIDTH = 24
_HEADER = ["NAME", "ADDRESS", "PING", "PLAYERS", "WATCHING", "TICK", "BOARD", "UPTIME", "VERSION"]


def _ping(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    ms = seconds * 1000
    return f"{ms:.1f} ms" if ms < 10 else f"{ms:.0f} ms"


def _uptime(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds // 60 % 60:02d}m"
    return f"{seconds // 86400}d{seconds // 3600 % 24:02d}h"


def _cells(row: ListedServer) -> list[str]:
    info = row.info
    if info is None:
        return [f"({row.problem or '?'})", row.address, _ping(row.ping), "", "", "", "", "", ""]
    version = safe_name(info.version, 16)
    if row.protocol_version is not None and row.protocol_version != PROTOCOL_VERSION:
        version += f" (protocol v{row.protocol_version})"
    return [
        safe_name(info.name, NAME_WIDTH),
        row.address,
        _ping(row.ping),
        f"{info.players}/{info.max_players}",
        str(info.spectators),
        f"{info.tick_rate:g} Hz",
        f"{info.width}x{info.height}",
        _uptime(info.uptime),
        version,
    ]


def format_table(rows: Sequence[ListedServer], out: TextIO) -> None:
    """Print ``rows`` as an aligned table under a header line."""
    table = [_HEADER, *(_cells(r) for r in rows)]
    widths = [max(display_width(line[i]) for line in table) for i in range(len(_HEADER))]
    for line in table:
        cells = (c + " " * (w - display_width(c)) for c, w in zip(line, widths, strict=True))
        out.write("  ".join(cells).rstrip() + "\n")
