"""Whom a spectator's camera follows when nobody is chosen: the leader, held steady.

In a close race the lead changes hands every few ticks, and a camera that followed
the raw ranking would swing across the board each time.  :class:`LeaderHold` keeps
the camera on a leader while it is tied for the best score, and for
:data:`LEADER_HOLD` seconds of play after another has overtaken it; a leader that
dies gives way at once to the best living snake.  Replays and live spectating
share it.  Pure: the caller passes the ranking and the time of play.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

__all__ = ["LEADER_HOLD", "Contender", "LeaderHold"]

#: Seconds of play the camera stays on a leader another has just overtaken.
LEADER_HOLD: Final = 3.0


@dataclass(frozen=True, slots=True)
class Contender:
    """One player as the leader rule sees them."""

    id: int
    score: int
    #: Alive with a body, or not known to be dead (outside the area sent).
    living: bool


class LeaderHold:
    """The leader to follow, held through ties and for ``hold`` s after being overtaken."""

    def __init__(self, hold: float = LEADER_HOLD) -> None:
        self.hold = hold
        #: The leader the camera is on (None: none yet, or after :meth:`reset`).
        self.leader: int | None = None
        self._overtaken_at: float | None = None

    def reset(self) -> None:
        """Forget the leader held: the next :meth:`pick` takes whoever leads then."""
        self.leader = self._overtaken_at = None

    def pick(self, order: Sequence[Contender], now: float) -> int | None:
        """Whom to follow at ``now`` (seconds of play), given the players best first
        (:func:`~netsnake.game.snapshot.ranked`); None only when there is nobody."""
        best = next((c for c in order if c.living), None)
        if best is None:  # nobody living: the best of the dead, not held
            return order[0].id if order else None
        current = next((c for c in order if c.id == self.leader), None)
        if current is not None and current.living and current.id != best.id:
            if current.score >= best.score:  # tied: the lead has not changed hands
                self._overtaken_at = None
                return current.id
            if self._overtaken_at is None:
                self._overtaken_at = now
            if now - self._overtaken_at < self.hold:
                return current.id
        self.leader, self._overtaken_at = best.id, None
        return best.id
