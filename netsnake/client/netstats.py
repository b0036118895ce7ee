"""What happened to each snapshot tick, for the net graph (a lagometer).

Theory of operation
-------------------
The server sends one snapshot per tick and the client plays them back
``render_delay`` behind the server (see :mod:`netsnake.client.interpolation`).
Whether the player saw a smooth picture depends on when each snapshot arrived
*relative to playback*, not on its arrival time alone, so :class:`NetStats`
watches two things: every snapshot that arrives (:meth:`NetStats.on_snapshot`)
and every frame the playback buffer hands out (:meth:`NetStats.on_frame`).

Playback *needs* tick ``t`` from the first frame drawn at or after tick
``t - 1``: that frame moves from ``t - 1`` towards ``t``.  If ``t`` is not
there, the buffer either *holds* (nothing newer than ``t - 1`` has arrived, so
the picture stops at ``t - 1``) or draws towards a stand-in for ``t`` rebuilt
from its neighbours (:func:`~netsnake.client.interpolation.fill_gap`, when a
later tick is already here).  A tick's fate is settled once playback has
reached it (a frame is drawn at ``t`` or beyond), and is one of:

``on time``  it arrived before playback needed it.
``late``     it arrived after playback needed it, while a rebuilt stand-in was
             being drawn towards; it replaced the stand-in before playback
             reached it.  Also a tick that arrived but was jumped over when
             playback skipped a long backlog.
``held``     playback reached ``t - 1`` with nothing newer, so the picture
             stopped there (a visible freeze) until this snapshot arrived.
``lost``     it had not arrived when playback reached it: the tick was drawn
             from a snapshot rebuilt from its neighbours (or skipped).  A
             straggler that turns up later does not change this.

``lost`` wins over ``held`` (a hold ended by a later tick leaves a rebuilt
gap), and ``held`` over ``late``.  Before playback reaches a tick it is
``buffered`` (arrived, waiting its turn) or ``missing`` (not here yet).

Each record also keeps the encoded snapshot's size, the smoothed round trip
and the render delay at its arrival, and the own-snake prediction corrections
counted with it.  Records live in a ring of ``capacity`` consecutive ticks;
the memory used is bounded whatever the server sends (a tick far ahead
restarts the ring, a tick older than the ring is counted and ignored).

Everything is pure: time is an argument, and nothing here knows the view.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum

from netsnake.client.interpolation import RenderFrame, SnapshotBuffer

__all__ = ["FINAL_FATES", "NET_HISTORY", "NetGraphData", "NetStats", "TickFate", "TickRecord"]

#: Ticks remembered (about 25 s at the default 10 Hz); the graph shows the newest.
NET_HISTORY = 256


class TickFate(StrEnum):
    """What happened to one snapshot tick (see the module docstring)."""

    ON_TIME = "on time"
    LATE = "late"
    HELD = "held"
    LOST = "lost"
    BUFFERED = "buffered"
    """Arrived; playback has not reached it yet."""
    MISSING = "missing"
    """Not arrived; playback has not reached it yet."""


#: The settled fates, in the order the graph's legend lists them.
FINAL_FATES: tuple[TickFate, ...] = (TickFate.ON_TIME, TickFate.LATE, TickFate.HELD, TickFate.LOST)


@dataclass(frozen=True, slots=True, kw_only=True)
class TickRecord:
    """One server tick as this client saw it."""

    tick: int
    fate: TickFate
    arrived_at: float | None = None
    """When its snapshot arrived (``None``: never, so far)."""
    size: int | None = None
    """Bytes of the encoded snapshot (full or delta)."""
    full: bool = False
    """A full snapshot rather than a delta."""
    ping_ms: float | None = None
    """The smoothed round trip when it arrived."""
    render_delay_ms: float | None = None
    """The render delay when it arrived (or, if it never did, when it was needed)."""
    corrections: int = 0
    """Own-snake prediction corrections counted while this was the newest tick."""
    needed: bool = False
    """Playback needed it before it arrived."""
    waited: bool = False
    """Playback stopped and waited for it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NetGraphData:
    """What the net graph draws: the records, oldest first, and running totals."""

    records: tuple[TickRecord, ...]
    corrections: int | None
    """Own-snake corrections so far; ``None`` when nothing predicts the own snake."""
    stale: int
    """Snapshots older than the history, ignored."""
    stragglers: int
    """Snapshots that arrived after their tick had been drawn rebuilt."""

    def counts(self, last: int | None = None) -> dict[TickFate, int]:
        """How many of the newest ``last`` records (all by default) have each fate."""
        chosen = self.records if last is None else self.records[-last:] if last > 0 else ()
        out = dict.fromkeys(TickFate, 0)
        for r in chosen:
            out[r.fate] += 1
        return out


class NetStats:
    """A bounded ring of :class:`TickRecord`, fed by the client core."""

    def __init__(self, capacity: int = NET_HISTORY) -> None:
        if capacity < 2:
            raise ValueError(f"capacity must be at least 2, got {capacity!r}")
        self._capacity = capacity
        self._ring: deque[TickRecord] = deque(maxlen=capacity)
        self._shown: int | None = None  # the tick playback drew last (frame.prev)
        self._corrections: int | None = None
        #: snapshots older than the ring, ignored
        self.stale = 0
        #: snapshots that arrived after their tick had been drawn rebuilt
        self.stragglers = 0

    # -- the ring (consecutive ticks, oldest first)

    @property
    def newest_tick(self) -> int | None:
        """The newest tick with a record."""
        return self._ring[-1].tick if self._ring else None

    def _index(self, tick: int) -> int | None:
        if not self._ring:
            return None
        i = tick - self._ring[0].tick
        return i if 0 <= i < len(self._ring) else None

    def _extend_to(self, tick: int) -> None:
        """Add ``missing`` records up to ``tick`` (restarting the ring on a long jump)."""
        newest = self.newest_tick
        if newest is None or tick - newest > self._capacity:
            # A first tick, or a jump further ahead than we remember: start at ``tick``.
            self._ring.clear()
            newest = tick - 1
        for t in range(newest + 1, tick + 1):
            # (a tick playback is already past, after a restart, counts as lost)
            passed = self._shown is not None and t <= self._shown
            self._ring.append(
                TickRecord(tick=t, fate=TickFate.LOST if passed else TickFate.MISSING)
            )

    # -- inputs

    def on_snapshot(
        self,
        tick: int,
        now: float,
        *,
        size: int,
        full: bool,
        ping_ms: float | None,
        render_delay_ms: float | None,
    ) -> None:
        """A decoded snapshot of ``tick`` arrived at ``now`` (``size`` bytes encoded)."""
        newest = self.newest_tick
        if newest is not None and tick < self._ring[0].tick:
            self.stale += 1
            return
        if newest is None or tick > newest:
            self._extend_to(tick)
        i = self._index(tick)
        assert i is not None
        old = self._ring[i]
        if old.arrived_at is not None:
            return  # a duplicate (the core drops those before us anyway)
        fate = old.fate
        if fate is TickFate.MISSING:
            fate = TickFate.BUFFERED
        elif fate is TickFate.LOST:
            self.stragglers += 1
        self._ring[i] = replace(
            old,
            fate=fate,
            arrived_at=now,
            size=size,
            full=full,
            ping_ms=ping_ms,
            render_delay_ms=render_delay_ms,
        )

    def on_frame(self, shown_tick: int, *, held: bool, render_delay_ms: float | None) -> None:
        """Playback drew a frame from tick ``shown_tick`` (``RenderFrame.prev.tick``).

        ``held`` is true when the buffer had to stop there for want of anything
        newer (its ``frames_held`` counter went up for this frame).
        """
        last = self._shown
        if last is not None and shown_tick < last:
            # Playback never goes backwards; a new buffer (a new board) does.
            self._shown = None
            last = None
        if last is None or shown_tick > last:
            # Settle everything playback has now reached.  Ticks strictly between
            # ``last + 1`` and ``shown_tick`` were jumped over, never drawn.
            first_drawn = last + 1 if last is not None else None
            oldest = self._ring[0].tick if self._ring else 0
            start = 0 if last is None else max(0, last + 1 - oldest)
            for i in range(start, len(self._ring)):
                r = self._ring[i]
                if r.tick > shown_tick:
                    break
                if r.fate in (TickFate.BUFFERED, TickFate.MISSING):
                    skipped = first_drawn is not None and first_drawn < r.tick < shown_tick
                    self._ring[i] = replace(r, fate=_settle(r, skipped))
            self._shown = shown_tick
        # Playback now moves from ``shown_tick`` towards the next tick: needed.
        wanted = shown_tick + 1
        if self.newest_tick is None or wanted > self.newest_tick:
            self._extend_to(wanted)
        at = self._index(wanted)
        if at is None:
            return
        r = self._ring[at]
        if r.arrived_at is None:
            self._ring[at] = replace(
                r,
                needed=True,
                waited=r.waited or held,
                render_delay_ms=r.render_delay_ms if r.needed else render_delay_ms,
            )

    def sample(self, buffer: SnapshotBuffer, now: float) -> RenderFrame | None:
        """``buffer.sample(now)``, noting what playback did (the client core's frames)."""
        held = buffer.frames_held
        frame = buffer.sample(now)
        if frame is not None and buffer.playing:  # not while it fills up at the start
            self.on_frame(
                frame.prev.tick,
                held=buffer.frames_held > held,
                render_delay_ms=buffer.render_delay * 1000,
            )
        return frame

    def note_corrections(self, total: int) -> None:
        """The own snake's prediction corrections so far (the core's counter).

        New ones are put on the newest tick received.  Until this is first
        called the graph shows no corrections at all (nothing predicts).
        """
        before = self._corrections if self._corrections is not None else total
        self._corrections = total
        new = total - before
        if new <= 0:
            return
        for i in range(len(self._ring) - 1, -1, -1):
            r = self._ring[i]
            if r.arrived_at is not None:
                self._ring[i] = replace(r, corrections=r.corrections + new)
                return

    # -- output

    def records(self, last: int | None = None) -> tuple[TickRecord, ...]:
        """The newest ``last`` records (all by default), oldest first."""
        ring: Iterable[TickRecord] = self._ring
        out = tuple(ring)
        return out if last is None else out[-last:] if last > 0 else ()

    def data(self, last: int | None = None) -> NetGraphData:
        """An immutable view for the UI: the newest ``last`` records and the totals."""
        return NetGraphData(
            records=self.records(last),
            corrections=self._corrections,
            stale=self.stale,
            stragglers=self.stragglers,
        )


def _settle(r: TickRecord, skipped: bool) -> TickFate:
    """The final fate of a record that playback has just reached."""
    if r.arrived_at is None:
        return TickFate.LOST
    if skipped:
        return TickFate.LATE
    if r.waited:
        return TickFate.HELD
    if r.needed:
        return TickFate.LATE
    return TickFate.ON_TIME
