"""Checks the snake a camera follows against the leader rule, frame by frame.

Shared by the live spectator test and the replay test: the followed leader may
change on a death, or once it has trailed someone by score for LEADER_HOLD s of
play; a tie or a lead of a few ticks does not move it.
"""

from __future__ import annotations

from netsnake.client.leader import LEADER_HOLD
from netsnake.game.snapshot import Snapshot, ranked


class LeaderAudit:
    """Feed it every frame (:meth:`observe`); it asserts each switch and counts them,
    and the switches the raw ranking would have made."""

    def __init__(self, tick_rate: float, *, slack: int) -> None:
        #: Ticks short of the hold a switch may come (frames sampled between ticks).
        self.hold_ticks = round(LEADER_HOLD * tick_rate) - slack
        self.switches = self.raw_switches = 0
        self._last: int | None = None
        self._raw_last: int | None = None
        self._behind_since: int | None = None  # the tick the followed one fell behind

    def observe(self, snap: Snapshot, followed: int | None) -> None:
        """The frame ``snap`` shows the camera following ``followed`` (None: nobody)."""
        if followed is None:  # everyone left: an empty board
            self._last = self._behind_since = None
            return
        living = [p for p in ranked(snap.players) if p.alive and p.body]
        raw = living[0].id if living else None
        self.raw_switches += raw is not None and self._raw_last not in (None, raw)
        self._raw_last = raw
        old = snap.player(self._last) if self._last is not None else None
        if old is not None and living and living[0].score > old.score:
            self._behind_since = snap.tick if self._behind_since is None else self._behind_since
        else:
            self._behind_since = None
        if self._last is not None and followed != self._last:
            self.switches += 1
            if old is not None and old.alive and old.body:
                # Left while alive: for one with a clear lead, after trailing long enough.
                new = snap.player(followed)
                assert new is not None and new.score > old.score, snap.tick
                assert self._behind_since is not None, snap.tick
                assert snap.tick - self._behind_since >= self.hold_ticks, snap.tick
            self._behind_since = None
        self._last = followed
