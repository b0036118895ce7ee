"""Scoreboard lines for players in and out of a client's area of interest.

A client on a big board holds only the players in its area; the others reach
it as SCORES lines (and their names as JOINED and ROSTER).  The scoreboard
lists everyone: those in the snapshot as they are there, the rest as their
last line said.  A client recording keeps those lines too (its scores
records), so a replay lists everyone as the game did.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from netsnake.game.snapshot import PlayerState

__all__ = ["ScoreLine", "scoreboard"]


@dataclass(frozen=True, slots=True)
class ScoreLine:
    """One scoreboard row: a player in or out of the area of interest."""

    id: int
    name: str
    colour: int
    score: int
    length: int
    kills: int

    @property
    def alive(self) -> bool:
        return self.length > 0


def scoreboard(players: Iterable[PlayerState], others: Iterable[ScoreLine]) -> list[ScoreLine]:
    """Every player: those in ``players`` (a snapshot's) as they are there, then
    each line of ``others`` for a player not among them."""
    lines = {p.id: ScoreLine(p.id, p.name, p.colour, p.score, p.length, p.kills) for p in players}
    for line in others:
        lines.setdefault(line.id, line)
    return list(lines.values())
