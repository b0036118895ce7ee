"""Full garbage collections between ticks, not in the middle of one.

CPython's collector runs whenever allocations cross its thresholds, and a
tick allocates a great deal (every player's new state, every client's area
snapshot), so its *full* collections used to land inside ticks: at 256
players each one walks some 25,000 long-lived objects (the snapshot history)
and added 8-40 ms to whichever tick it hit, the tick's p99.  The server's own
data has no reference cycles (snapshots are trees of tuples and frozen
dataclasses, freed by reference counting), so it only needs full
collections for the odd cycle from elsewhere (asyncio, exceptions).

:class:`IdleCollector` therefore leaves the young generations to the
automatic collector (cheap: they hold only what was allocated since) and
takes the oldest one over: the automatic full collection is switched off and
the tick loop calls :meth:`IdleCollector.after_tick` once a tick's snapshots
are out, which runs a full collection about once a second, in the time left
before the next tick.  After the first tick the long-lived tables built at
start (the bots' neighbour tables, the world) are frozen out of the
collector's sight altogether.
"""

from __future__ import annotations

import gc
import time
from typing import Final

__all__ = ["IdleCollector"]

#: An oldest-generation threshold no server lives to reach: only we collect it.
_NEVER: Final = 1 << 30

# The collector's settings are the process's: with two servers in one process
# (tests, a local game beside a bot match) the first to start saves them and
# the last to stop puts them back.
_users = 0
_saved: tuple[int, int, int] | None = None


class IdleCollector:
    """Runs the full collections of a tick loop between its ticks.

    Call :meth:`start` before the first tick, :meth:`after_tick` after every
    tick with the time left until the next one, and :meth:`stop` when the
    loop ends (the last collector to stop restores the collector's own
    settings).  Written for CPython's generational collector (3.11-3.13).
    """

    def __init__(self, every: int, *, max_wait: int | None = None) -> None:
        """Collect every ``every`` ticks, waiting for a tick with slack to do it
        in, but never longer than ``max_wait`` ticks (default ``2 * every``)."""
        if every < 1:
            raise ValueError("every must be at least 1 tick")
        self.every = every
        self.max_wait = 2 * every if max_wait is None else max_wait
        self.collections = 0
        #: Seconds spent in full collections, in all and the longest one.
        self.total_time = 0.0
        self.longest = 0.0
        self._ticks = 0
        self._frozen = False
        self._started = False
        self._last_cost = 0.0
        self._interval = (0, 0.0)  # collections and longest at the last take_interval

    def start(self) -> None:
        """Take the full collections over from the automatic collector."""
        global _users, _saved
        if self._started:
            return
        self._started = True
        if _users == 0:
            _saved = gc.get_threshold()
            young, middle, _ = _saved
            gc.set_threshold(young, middle, _NEVER)
        _users += 1

    def stop(self) -> None:
        """Give the automatic collector its settings back (when no other collector runs)."""
        global _users, _saved
        if not self._started:
            return
        self._started = False
        _users -= 1
        if _users == 0 and _saved is not None:
            gc.set_threshold(*_saved)
            _saved = None

    def take_interval(self) -> tuple[int, float]:
        """Full collections run and the longest one (seconds) since the last call."""
        count = self.collections - self._interval[0]
        longest = self.longest
        self._interval = (self.collections, 0.0)
        self.longest = 0.0
        return count, longest

    def after_tick(self, slack: float) -> bool:
        """Called after each tick with ``slack`` seconds left before the next one;
        True when it ran a full collection."""
        if not self._frozen:
            # The first tick built the long-lived tables: never scan them again.
            gc.freeze()
            self._frozen = True
            return False
        self._ticks += 1
        if self._ticks < self.every:
            return False
        if slack < 1.5 * self._last_cost and self._ticks < self.max_wait:
            return False  # a busy moment: try after the next tick
        t0 = time.perf_counter()
        gc.collect()
        cost = time.perf_counter() - t0
        self._last_cost = cost
        self._ticks = 0
        self.collections += 1
        self.total_time += cost
        self.longest = max(self.longest, cost)
        return True
