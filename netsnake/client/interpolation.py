"""Smooth playback of server snapshots: rebuilding lost ticks and the render-delay buffer.

Theory of operation
-------------------
The server sends one :class:`~netsnake.game.snapshot.Snapshot` per tick.  Drawing
each one the moment it arrives would make the game stutter with every bit of
network jitter, so the client plays snapshots back a little in the past — at
``server_time - render_delay`` — and interpolates between the two snapshots
around that instant.  Everything here is pure: ``now`` is always an argument,
so tests drive it with a hand-stepped clock.

*Server clock.*  Each arrival gives a sample ``offset = arrival_time -
tick / tick_rate``.  The least delayed packet is the best estimate of the true
offset, so we keep a minimum filter that is allowed to creep upwards slowly
(``_OFFSET_DRIFT``) to follow clock drift and route changes.  The server tick
"now" is then ``(now - offset) * tick_rate``.  The amount by which samples
exceed the minimum is the arrival jitter (an exponential average).

*Playback clock.*  The playback position (a float tick) moves at nominal speed,
nudged up to ±10 % towards ``target = server_tick(now) - render_delay *
tick_rate`` so the buffered amount holds steady.  When it is more than two
ticks behind (after a stall followed by a burst) it catches up faster, up to
``_MAX_CATCHUP`` × nominal.  It never goes backwards and never passes the
newest snapshot received: if data runs out, it holds the last snapshot and
counts a held frame.  A single :meth:`SnapshotBuffer.sample` never advances
more than one tick beyond what nominal speed would, and at 30 fps with a tick
rate up to 30 Hz that is at most one tick per frame, so every tick — and hence
every cell a snake's head passes through — is shown.  The one exception is
a *snap*: if playback is more than ``_SNAP_SECONDS`` behind, it jumps to the
newest snapshot not after the target instead of replaying a long backlog.

*Render delay.*  Unless fixed by the caller, it is about two snapshot
intervals plus 2.5 × jitter, plus up to three intervals when snapshots are
being lost (a lost tick is rebuilt only once the next one arrives, so loss
needs one more interval of cushion), clamped to ``[1 interval, 0.5 s + 2
intervals]``.  Jitter and loss are the larger of the buffer's own estimates and
those reported by the connection through :meth:`SnapshotBuffer.update_network`.

*Gaps.*  A missing tick is rebuilt by :func:`fill_gap` only when playback
needs it, so a late or reordered snapshot that arrives in time simply takes
its place (and replaces a rebuilt one that is not yet displayed).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from netsnake.client.prediction import OwnSnake
from netsnake.game.direction import Direction, signed_distance, step_direction, walk
from netsnake.game.snapshot import Cell, PlayerState, Snapshot

__all__ = ["RenderFrame", "SnapshotBuffer", "fill_gap"]


@dataclass(frozen=True, slots=True)
class RenderFrame:
    """What to draw at one instant: two consecutive snapshots and how far between them.

    ``next.tick == prev.tick + 1``, or ``next is prev`` while playback holds.
    ``display_tick`` is ``prev.tick + alpha``.

    With prediction on, ``own`` is the player's own snake, drawn ahead of the
    others instead of from ``prev``/``next``, and ``others_now`` holds the
    other snakes' heads extrapolated to ``own.tick`` ("where they are now").
    """

    prev: Snapshot
    next: Snapshot
    alpha: float
    display_tick: float
    own: OwnSnake | None = None
    others_now: Mapping[int, Cell] = field(default_factory=lambda: _NO_HEADS)


_NO_HEADS: Mapping[int, Cell] = MappingProxyType({})

# --------------------------------------------------------------------------- gap filling


def _is_step(a: Cell, b: Cell, width: int, height: int, wrap: bool) -> bool:
    return step_direction(a, b, width, height, wrap) is not None


def _plausible_path(
    start: Cell, end: Cell, steps: int, heading: Direction, width: int, height: int, wrap: bool
) -> list[Cell] | None:
    """``steps`` cells, each one move after the previous, leading from ``start`` to ``end``.

    Used when a gap is longer than the newer snake, so part of the head's
    path is unknown.  It prefers to keep going the way the snake was heading,
    then turns; spare moves (always an even number on a grid) become a small
    detour.  ``None`` when no such path exists.
    """
    dxs = [signed_distance(start[0], end[0], width, wrap)]
    dys = [signed_distance(start[1], end[1], height, wrap)]
    if wrap:  # the long way round may be the one with the right parity
        dxs += [dxs[0] - width, dxs[0] + width]
        dys += [dys[0] - height, dys[0] + height]
    options = sorted(
        ((abs(dx) + abs(dy), dx, dy) for dx in dxs for dy in dys),
        key=lambda t: t[0],
    )
    for dist, dx, dy in options:
        spare = steps - dist
        if spare < 0 or spare % 2:
            continue
        horizontal = [Direction.RIGHT if dx > 0 else Direction.LEFT] * abs(dx)
        vertical = [Direction.DOWN if dy > 0 else Direction.UP] * abs(dy)
        main = (
            vertical + horizontal
            if heading in (Direction.UP, Direction.DOWN)
            else horizontal + vertical
        )
        for moves in _with_detour(main, spare):
            path = walk(start, moves, width, height, wrap)
            if path is not None and path[-1] == end:
                return path
    return None


def _with_detour(main: list[Direction], spare: int) -> list[list[Direction]]:
    """Ways to pad ``main`` with ``spare`` extra moves without ever reversing."""
    if spare == 0:
        return [main]
    half = spare // 2
    if main:
        # A U-shaped bump: out sideways, along the path, back in.
        side = Direction((main[0] + 1) % 4)
        return [
            [side] * half + main + [side.opposite] * half,
            [side.opposite] * half + main + [side] * half,
        ]
    if spare >= 4:  # back to the start: a thin rectangle loop
        a = (spare - 2) // 2
        loops = []
        for first in Direction:
            turn = Direction((first + 1) % 4)
            loops.append([first] * a + [turn] + [first.opposite] * a + [turn.opposite])
        return loops
    return []


def _growth_schedule(old_len: int, new_len: int, steps: int, food_ticks: list[int]) -> list[int]:
    """Snake lengths at gap ticks ``1 .. steps`` (the last equals ``new_len``).

    Growth is put where the head ate food on the way (a snake grows by at most
    one cell a tick), else as late as possible; shrinking is spread evenly.
    """
    lengths: list[int] = []
    if new_len >= old_len:
        delta = new_len - old_len
        per_food = math.ceil(delta / len(food_ticks)) if food_ticks and delta else 0
        length, pending = old_len, 0
        for k in range(1, steps + 1):
            if k in food_ticks:
                pending += per_food
            # never later than the last moment that still reaches new_len
            must = new_len - (steps - k)
            if pending > 0 or length < must:
                length += 1
                pending = max(0, pending - 1)
            lengths.append(min(length, new_len))
    else:
        for k in range(1, steps + 1):
            lengths.append(max(new_len, old_len - k))
    lengths[-1] = new_len
    return lengths


def _rebuild_snake(
    old: PlayerState,
    new: PlayerState,
    steps: int,
    food: frozenset[Cell],
    width: int,
    height: int,
    wrap: bool,
) -> list[PlayerState] | None:
    """States at gap ticks ``1 .. steps-1`` of a snake alive in both snapshots, or ``None``.

    ``None`` means the two bodies do not fit one continuous run (e.g. it died
    and respawned inside the gap).
    """
    if not (old.alive and new.alive and old.body and new.body):
        return None
    body = new.body
    if any(
        not _is_step(body[i], body[i + 1], width, height, wrap)
        for i in range(len(body) - 1)
        if body[i] != body[i + 1]
    ):
        return None
    # heads[j] is the head j ticks before `new`; `new.body` gives the first len(body).
    if len(body) > steps:
        if body[steps] != old.body[0]:
            return None
        # the older part of the new body must be the older snake's body
        for i in range(steps + 1, len(body)):
            j = i - steps
            if j < len(old.body) and body[i] != old.body[j]:
                return None
        forward = list(reversed(body[:steps]))  # heads at ticks 1 .. steps
    else:
        known = len(body)
        unknown = steps - known  # heads at ticks 1 .. unknown are not in `new`
        if unknown == 0:
            if not _is_step(old.body[0], body[-1], width, height, wrap):
                return None
            middle: list[Cell] = []
        else:
            guessed = _plausible_path(
                old.body[0], body[-1], unknown + 1, old.direction, width, height, wrap
            )
            if guessed is None:
                return None
            middle = guessed[:-1]
        forward = middle + list(reversed(body))
    history = list(reversed(old.body)) + forward  # oldest first
    base = len(old.body)
    food_ticks = [k for k in range(1, steps + 1) if forward[k - 1] in food]
    lengths = _growth_schedule(len(old.body), len(new.body), steps, food_ticks)
    states: list[PlayerState] = []
    prev_head = old.body[0]
    for k in range(1, steps):
        upto = base + k  # history[:upto] holds every head up to tick k
        length = min(lengths[k - 1], upto)
        cells = tuple(reversed(history[upto - length : upto]))
        heading = step_direction(prev_head, cells[0], width, height, wrap)
        if heading is None:  # (Direction.UP is falsy, so no `or` here)
            heading = old.direction
        prev_head = cells[0]
        states.append(replace(old, body=cells, direction=heading))
    return states


def fill_gap(older: Snapshot, newer: Snapshot) -> list[Snapshot]:
    """Rebuild the snapshots of ticks ``older.tick + 1 .. newer.tick - 1`` lost in between.

    Snakes move one cell per tick, so the first *k* cells of a snake's body in
    ``newer`` are its last *k* heads: a snake alive in both snapshots with
    consistent bodies gets its exact path (and a plausible one where the gap
    is longer than the snake), with its length changing monotonically between
    the two.  Snakes that died, spawned, joined or left inside the gap keep
    their ``older`` state until ``newer``.  Scores switch at ``newer``; food
    stays as in ``older`` except cells a rebuilt head has already eaten.
    """
    steps = newer.tick - older.tick
    if steps <= 1:
        return []
    if (older.width, older.height, older.wrap) != (newer.width, newer.height, newer.wrap):
        return []  # a new board: nothing sensible lies between
    w, h, wrap = newer.width, newer.height, newer.wrap
    food = frozenset(older.food)
    newer_by_id = {p.id: p for p in newer.players}
    tracks: dict[int, list[PlayerState]] = {}
    for p in older.players:
        q = newer_by_id.get(p.id)
        rebuilt = _rebuild_snake(p, q, steps, food, w, h, wrap) if q is not None else None
        tracks[p.id] = rebuilt if rebuilt is not None else [p] * (steps - 1)
    out: list[Snapshot] = []
    eaten: set[Cell] = set()
    for k in range(1, steps):
        players = tuple(track[k - 1] for _, track in sorted(tracks.items()))
        for p in players:
            if p.body and p.body[0] in food:
                eaten.add(p.body[0])
        remaining = tuple(c for c in older.food if c not in eaten)
        out.append(replace(older, tick=older.tick + k, players=players, food=remaining))
    return out


# --------------------------------------------------------------------------- playback buffer

_JITTER_GAIN = 1 / 16  # as RFC 3550's interarrival jitter
_LOSS_GAIN = 1 / 32
_OFFSET_DRIFT = 0.01  # s/s the offset minimum may rise, to follow drift and route changes
_NUDGE_PER_TICK = 0.05  # speed change per tick of error
_MAX_NUDGE = 0.10
_CATCHUP_ABOVE = 2.0  # ticks behind before catch-up mode
_MAX_CATCHUP = 2.0  # × nominal speed
_SNAP_SECONDS = 3.0
_MAX_DELAY_BASE = 0.5  # s, plus two intervals
_MAX_BUFFERED = 256  # snapshots held at most (about 25 s at 10 Hz)


class SnapshotBuffer:
    """Holds received snapshots and plays them back ``render_delay`` behind the server.

    See the module docstring for how the playback clock and the automatic
    render delay work.  ``render_delay=None`` picks the delay automatically.
    """

    def __init__(self, tick_rate: float, render_delay: float | None = None) -> None:
        if not tick_rate > 0:
            raise ValueError(f"tick_rate must be positive, got {tick_rate!r}")
        if render_delay is not None and render_delay < 0:
            raise ValueError(f"render_delay must not be negative, got {render_delay!r}")
        self._rate = float(tick_rate)
        self._interval = 1.0 / self._rate
        self._fixed_delay = render_delay
        self._snaps: dict[int, Snapshot] = {}
        self._rebuilt: set[int] = set()
        self._latest: int | None = None
        self._pos: float | None = None
        self._last_sample: float | None = None
        self._offset: float | None = None
        self._offset_at = 0.0
        self._jitter = 0.0
        self._own_loss = 0.0
        self._net_jitter = 0.0
        self._net_loss = 0.0
        #: samples where playback reached the newest snapshot and had to wait for data
        self.frames_held = 0
        #: snapshots that arrived after their tick had already been displayed
        self.late_drops = 0
        #: snapshots received twice
        self.duplicates = 0
        #: times playback jumped forward instead of catching up
        self.snaps = 0

    # -- inputs

    def push(self, snapshot: Snapshot, now: float) -> None:
        """Add a snapshot received at ``now``; duplicates and already-shown ticks are ignored."""
        tick = snapshot.tick
        if tick in self._snaps and tick not in self._rebuilt:
            self.duplicates += 1
            return
        if self._pos is not None and tick <= math.floor(self._pos):
            self.late_drops += 1
            return
        self._snaps[tick] = snapshot
        self._rebuilt.discard(tick)
        self._observe_arrival(tick, now)
        if len(self._snaps) > _MAX_BUFFERED:
            self._forget_oldest()

    def _forget_oldest(self) -> None:
        # Only reached when nobody samples (a headless client) or playback is
        # hopelessly behind: keep memory bounded, and keep the playback
        # position on a snapshot that still exists.
        keep = sorted(self._snaps)[-_MAX_BUFFERED // 2 :]
        oldest = keep[0]
        for t in [t for t in self._snaps if t < oldest]:
            del self._snaps[t]
            self._rebuilt.discard(t)
        if self._pos is not None and self._pos < oldest:
            self._pos = float(oldest)
            self.snaps += 1

    def update_network(self, jitter_s: float, loss: float) -> None:
        """Tell the buffer the connection's measured jitter (seconds) and loss (0..1)."""
        self._net_jitter = max(0.0, jitter_s)
        self._net_loss = min(1.0, max(0.0, loss))

    def _observe_arrival(self, tick: int, now: float) -> None:
        sample = now - tick * self._interval
        if self._offset is None:
            self._offset = sample
        else:
            allowed = self._offset + _OFFSET_DRIFT * max(0.0, now - self._offset_at)
            self._offset = min(allowed, sample)
            self._jitter += _JITTER_GAIN * (sample - self._offset - self._jitter)
        self._offset_at = now
        if self._latest is None:
            self._latest = tick
        elif tick > self._latest:
            missing = tick - self._latest - 1
            for _ in range(min(missing, 64)):
                self._own_loss += _LOSS_GAIN * (1.0 - self._own_loss)
            self._own_loss -= _LOSS_GAIN * self._own_loss
            self._latest = tick

    # -- state

    @property
    def render_delay(self) -> float:
        """The current target delay behind the server, in seconds."""
        if self._fixed_delay is not None:
            return self._fixed_delay
        jitter = max(self._jitter, self._net_jitter)
        loss = max(self._own_loss, self._net_loss)
        delay = 2 * self._interval + 2.5 * jitter + self._interval * min(3.0, loss * 20)
        return min(max(delay, self._interval), _MAX_DELAY_BASE + 2 * self._interval)

    @property
    def playing(self) -> bool:
        """Whether playback has started (the buffer has filled up to the render delay)."""
        return self._pos is not None

    @property
    def latest_tick(self) -> int | None:
        """The newest tick received, if any."""
        return self._latest

    @property
    def buffered_ticks(self) -> float:
        """How many ticks of received data lie ahead of the playback position."""
        if self._latest is None:
            return 0.0
        if self._pos is None:
            return float(self._latest - min(self._snaps))
        return max(0.0, self._latest - self._pos)

    def server_tick(self, now: float) -> float | None:
        """The estimated tick the server is at, at ``now``."""
        if self._offset is None:
            return None
        return (now - self._offset) * self._rate

    # -- output

    def sample(self, now: float) -> RenderFrame | None:
        """The frame to draw at ``now``, advancing the playback clock; ``None`` before any data."""
        if self._latest is None or not self._snaps:
            return None
        server = self.server_tick(now)
        assert server is not None
        target = server - self.render_delay * self._rate
        if self._pos is None:
            first = min(self._snaps)
            if target < first:  # still filling the buffer up to the render delay
                snap = self._snaps[first]
                return RenderFrame(snap, snap, 0.0, float(first))
            # Start at the newest tick not after the target: already at the right delay.
            self._pos = float(max(t for t in self._snaps if t <= target))
            self._last_sample = now
        assert self._last_sample is not None
        dt = max(0.0, now - self._last_sample)
        self._last_sample = now
        self._advance(target, dt)
        return self._frame()

    def _advance(self, target: float, dt: float) -> None:
        assert self._pos is not None and self._latest is not None
        pos = self._pos
        nominal = dt * self._rate
        behind = target - (pos + nominal)  # the error this frame would have at nominal speed
        if behind > max(_SNAP_SECONDS * self._rate, 4 * self.render_delay * self._rate):
            # Far behind (long stall): skip the backlog to the newest tick not after the target.
            candidates = [t for t in self._snaps if pos < t <= target]
            if candidates:
                self._pos = float(max(candidates))
                self._rebuilt = {t for t in self._rebuilt if t >= self._pos}
                self.snaps += 1
                return
        if behind > _CATCHUP_ABOVE:
            speed = min(_MAX_CATCHUP, 1.0 + _MAX_NUDGE + _NUDGE_PER_TICK * 2 * (behind - 2))
        else:
            speed = 1.0 + max(-_MAX_NUDGE, min(_MAX_NUDGE, _NUDGE_PER_TICK * behind))
        # Never more than one tick beyond nominal per sample, so no tick goes unseen.
        step = min(nominal * speed, max(1.0, nominal))
        new_pos = pos + step
        if new_pos > self._latest:
            new_pos = max(pos, float(self._latest))
            if step > 0:
                self.frames_held += 1
        self._pos = new_pos

    def _frame(self) -> RenderFrame:
        assert self._pos is not None
        t0 = math.floor(self._pos)
        if t0 not in self._snaps:
            # Playback stepped into a gap that opened after the last frame (a lost
            # snapshot, then a step of a whole tick): rebuild it from its neighbours.
            self._snapshot_after(max(t for t in self._snaps if t < t0))
        prev = self._snaps[t0]
        nxt = self._snapshot_after(t0)
        for t in [t for t in self._snaps if t < t0]:
            del self._snaps[t]
            self._rebuilt.discard(t)
        if nxt is None:
            return RenderFrame(prev, prev, 0.0, float(t0))
        alpha = min(1.0, max(0.0, self._pos - t0))
        return RenderFrame(prev, nxt, alpha, t0 + alpha)

    def _snapshot_after(self, t0: int) -> Snapshot | None:
        """The snapshot of tick ``t0 + 1``, rebuilding a gap if a later one is here."""
        nxt = self._snaps.get(t0 + 1)
        if nxt is not None:
            return nxt
        later = [t for t in self._snaps if t > t0]
        if not later:
            return None
        t1 = min(later)
        filled = fill_gap(self._snaps[t0], self._snaps[t1])
        if not filled:  # a board change: nothing to rebuild, repeat the older one
            filled = [replace(self._snaps[t0], tick=t) for t in range(t0 + 1, t1)]
        for s in filled:
            self._snaps[s.tick] = s
            self._rebuilt.add(s.tick)
        return self._snaps[t0 + 1]
