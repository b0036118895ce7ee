"""Responsiveness benchmark: how soon a key press shows, and where the turn lands (issue 10).

Run from the repository root (as root for kernel-level loss on the TCP rows)::

    python benchmarks/responsiveness.py                   # every row, 40 s each
    python benchmarks/responsiveness.py --quick --check   # CI: a few short rows, correctness only
    python benchmarks/responsiveness.py --json out.json

Rows: netsnake with ``--predict on`` and ``--predict off`` and the tutorial's TCP + JSON design
(``tcp-json``), at one-way latencies of 0, 50 and 100 ms and loss of 0 % and 20 % each way,
with 8 bots on a 10 Hz server, frames drawn at 30 fps.

Theory of operation
-------------------
Each row is one *trial* in fresh processes, as in ``packet_loss.py`` (whose loss set-up this
reuses): the real server (``netsnake.server.cli --bots 8`` or ``tcp_json.py server --bots 8``),
the netem relay in front of it (its TCP mode for tcp-json) adding the latency, and one *worker*
process (this file with ``--worker``) holding the measuring player.  Loss comes from nftables
in a network namespace, on the client-facing hop only, for every row; without a namespace the
UDP relay drops datagrams itself and tcp-json runs without loss (a notice says so).

The worker is the real client.  For netsnake it is a :class:`~netsnake.client.core.ClientCore`
on a real UDP socket, drawn by the real :class:`~netsnake.ui.app.GameApp` (``--ascii``, whole
cells) at 30 fps: every frame calls ``GameApp.update(now)`` and renders its board to a canvas,
and the measurements read the *canvas*, as a person reads the screen: the own head is the cell
drawn with the own head's palette entry, others' heads are found by their colours.  Key
presses go through the same call the app makes for an arrow key.  For tcp-json the player is
:class:`~benchmarks.tcp_json.TcpJsonClient`, whose screen is the same board showing the newest
state line (the tutorial draws what it last received).

Presses come at random moments (a uniform pause after the previous press settled), so they
fall at random tick phases; each goes perpendicular to the heading drawn at that moment, to
the side with more room (and earlier, still at a random phase, when the snake nears an
obstacle).  A press is *settled* when the server has applied it and the screen has shown it,
or after 3 s; a death in between voids it.  Per press:

* **key-to-screen**: from the press to the first frame whose own head is one or more cells
  along the new direction from the head drawn at the press;
* **overshoot**: cells from the head drawn at the press to the cell where the server applied
  the turn; positive means the snake ran on past the drawn head.  The turn cell is the head of
  the state before the first one with the new heading; if that state was lost, the end of the
  run of body cells entered going the new way; if the whole body is on that run, where its
  line crosses the line drawn at the press (counted in ``turn_cells_inferred``);
* **corrections** per 100 ticks (the client's own counter; prediction only);
* **others' lag**: every frame, for every other live snake, the cells between its drawn head
  and where the server had it at that instant ("with aid": the "where they are now" head the
  client draws for it).  The server's tick at an instant comes from the least-delayed state
  arrival minus the configured one-way latency.  A head drawn on the snake's body counts the
  cells between; straight ahead of the true head it counts negative (the aid extrapolates to
  the tick the own snake is drawn at, so it may lead); elsewhere the grid distance.

``--quick`` asserts correctness only (the probe stayed connected, presses were made, applied
and seen, nothing mismatched), never a timing: the machine is shared.  Its rows are short, so a
row runs on (up to three times its length) until 3 presses count: a death voids the press in
flight, and two deaths in 6 s once left a row with none.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: make the checkout importable
    sys.path.insert(0, str(REPO))

import urwid  # noqa: E402

from benchmarks import _netns  # noqa: E402
from benchmarks._metrics import percentile, rounded  # noqa: E402
from benchmarks._rig import (  # noqa: E402
    aligned_table,
    apply_result,
    report_worker,
    run_worker,
)
from benchmarks._rig import emit as _emit  # noqa: E402
from benchmarks._rig import wait_go as _wait_go  # noqa: E402
from benchmarks.packet_loss import (  # noqa: E402
    PortLossNamespace,
    _free_port,
    _Setup,
    _start_relay,
    _wait_for_text,
)
from netsnake.game.bots import choose_turn  # noqa: E402
from netsnake.game.direction import Direction, step, step_direction  # noqa: E402
from netsnake.game.snapshot import Cell, PlayerState, Snapshot  # noqa: E402
from netsnake.ui.palette import snake_attr  # noqa: E402

__all__ = ["KINDS", "Probe", "RowResult", "TrialOptions", "main", "run_benchmark", "run_trial"]

KINDS = ("predict-on", "predict-off", "tcp-json")
FULL_LATENCIES = (0.0, 50.0, 100.0)
FULL_LOSSES = (0.0, 0.20)
QUICK_LATENCIES = (50.0,)
QUICK_LOSSES = (0.0, 0.20)
TICK_RATE = 10.0
FPS = 30.0
BOTS = 8
_NS_SERVER_PORT = 5050
_NS_RELAY_PORT = 6060
_SETTLE_TIMEOUT = 3.0  # s a press may take to be applied and shown
#: A row short of ``--min-counted`` presses runs on, up to this many times its duration: own
#: deaths void presses, and a short row can lose every one of them.
_EXTEND_UP_TO = 3.0
_PAUSE = (0.25, 0.75)  # s between a settled press and the next one, uniform
_ARROWS = {"^": Direction.UP, ">": Direction.RIGHT, "v": Direction.DOWN, "<": Direction.LEFT}


# ============================================================================ the probe (pure)


def _axis_offset(a: Cell, b: Cell, direction: Direction, snap: Snapshot) -> int:
    """Signed cells from ``a`` to ``b`` along ``direction`` (wrap-aware); the other axis is
    ignored."""
    if direction in (Direction.LEFT, Direction.RIGHT):
        d, size = b[0] - a[0], snap.width
    else:
        d, size = b[1] - a[1], snap.height
    if snap.wrap and size > 0:
        d = (d + size // 2) % size - size // 2
    return d * (direction.dx + direction.dy)  # +1 for RIGHT/DOWN, -1 for LEFT/UP


def _on_line(a: Cell, b: Cell, direction: Direction) -> bool:
    """Whether ``b`` lies on the line through ``a`` along ``direction``."""
    return a[1] == b[1] if direction in (Direction.LEFT, Direction.RIGHT) else a[0] == b[0]


def _grid_distance(a: Cell, b: Cell, snap: Snapshot) -> int:
    dx, dy = abs(a[0] - b[0]), abs(a[1] - b[1])
    if snap.wrap:
        dx, dy = min(dx, snap.width - dx), min(dy, snap.height - dy)
    return dx + dy


def cells_behind(drawn: Cell, true: PlayerState, snap: Snapshot) -> int:
    """How many cells ``drawn`` is behind ``true``'s head; negative when ahead of it.

    On the snake's body it is the cells along the body; straight ahead along its heading it
    is minus the cells in between; anywhere else the grid distance (counted as behind).
    """
    if drawn in true.body:
        return true.body.index(drawn)
    x, y = true.body[0]
    for k in range(1, max(snap.width, snap.height)):
        x, y = x + true.direction.dx, y + true.direction.dy
        if snap.wrap:
            x, y = x % snap.width, y % snap.height
        if (x, y) == drawn:
            return -k
    return _grid_distance(drawn, true.body[0], snap)


def turn_cell(player: PlayerState, direction: Direction, snap: Snapshot) -> Cell | None:
    """The cell where ``player`` turned into ``direction``: the end of the run of body cells
    behind the head that were entered going ``direction``.  None if the run fills the body."""
    body = player.body
    i = 0
    while i + 1 < len(body):
        step = step_direction(body[i + 1], body[i], snap.width, snap.height, snap.wrap)
        if step is not direction:
            return body[i]
        i += 1
    return None


@dataclass(slots=True)
class Drawn:
    """What one frame showed: the own head (cell and arrow) and the other snakes' heads."""

    own: Cell | None
    heading: Direction | None
    others: dict[int, Cell]
    others_now: dict[int, Cell] | None  # the "where they are now" aid, if the client has one


@dataclass(slots=True)
class Press:
    """One key press and what became of it."""

    t: float
    direction: Direction
    head: Cell  # the own head drawn at the press
    heading: Direction  # the heading drawn at the press
    shown_at: float | None = None
    applied_tick: int | None = None
    applied_cell: Cell | None = None
    overshoot: int | None = None
    voided: str | None = None  # why the press does not count (death, timeout)

    @property
    def settled(self) -> bool:
        return self.voided is not None or (
            self.shown_at is not None and self.applied_tick is not None
        )


class Probe:
    """Bookkeeping of one measuring player: frames, authoritative states and presses.

    Pure: every method takes ``now``; the workers feed it from the real client.  ``pid`` is
    the player's id once known.
    """

    def __init__(self, tick_rate: float, one_way_latency: float, min_jitter: float) -> None:
        self.rate = tick_rate
        self.latency = one_way_latency
        self.min_jitter = min_jitter  # the least a state can arrive before latency (uniform jitter)
        self.pid: int | None = None
        self.presses: list[Press] = []
        self.frames = 0
        self.deaths = 0
        #: Turn cells inferred from two lines because the states showing them were lost.
        self.inferred = 0
        #: The longest wait (s) between two arrivals that advanced the newest state.
        self.longest_stall = 0.0
        self._advanced_at: float | None = None
        self._states: dict[int, tuple[Snapshot, float]] = {}
        self._latest: Snapshot | None = None
        self._last_drawn: Drawn | None = None
        self._frames_log: list[tuple[float, dict[int, Cell], dict[int, Cell] | None]] = []
        self._window: tuple[float, float] | None = None
        self._next_press: float | None = None
        self._rng = random.Random(0)
        #: How the client shows the player's own snake in a state (prediction moves it ahead).
        self.steering_view: Callable[[Snapshot], Snapshot] = lambda snap: snap

    # -- inputs

    def start(self, now: float, seed: int) -> None:
        """Open the measuring window."""
        self._window = (now, math.inf)
        self._rng = random.Random(seed)
        self._next_press = now + self._rng.uniform(*_PAUSE)

    def stop(self, now: float) -> None:
        """Close the measuring window; unsettled presses are voided as timed out."""
        if self._window is not None:
            self._window = (self._window[0], now)
        for press in self.presses:
            if not press.settled:
                press.voided = "unsettled at the end"

    @property
    def recording(self) -> bool:
        return self._window is not None and self._window[1] == math.inf

    def on_state(self, snap: Snapshot, now: float) -> None:
        """An authoritative state arrived (every decoded snapshot / state line)."""
        self._states[snap.tick] = (snap, now)
        if self._latest is None or snap.tick > self._latest.tick:
            previous = self._latest
            self._latest = snap
            if self.recording and self._advanced_at is not None:
                self.longest_stall = max(self.longest_stall, now - self._advanced_at)
            self._advanced_at = now
            if self.pid is not None and previous is not None:
                was = previous.player(self.pid)
                me = snap.player(self.pid)
                if was is not None and was.alive and (me is None or not me.alive):
                    self.deaths += 1
        self._resolve_applied()

    def on_frame(self, now: float, drawn: Drawn) -> None:
        """A frame was drawn at ``now``."""
        self._last_drawn = drawn
        if not self.recording:
            return
        self.frames += 1
        self._frames_log.append((now, drawn.others, drawn.others_now))
        for press in self.presses:
            if press.settled or press.shown_at is not None or drawn.own is None:
                continue
            moved = _axis_offset(press.head, drawn.own, press.direction, self._board())
            if moved >= 1 and now > press.t:
                press.shown_at = now
        self._expire(now)

    # -- pressing

    def due(self, now: float) -> bool:
        """Whether a press should happen at ``now`` (call :meth:`plan` first, every frame)."""
        return (
            self.recording
            and self._next_press is not None
            and now >= self._next_press
            and not self._pending()
        )

    def next_press_at(self) -> float | None:
        """When the next press is planned (None: wait for the pending one to settle)."""
        return None if self._pending() or not self.recording else self._next_press

    def plan(self, now: float) -> None:
        """Bring the next press forward, to a random point within the next tick, when the
        player would want to turn: the bots' policy advises it, or an obstacle is near."""
        if self._next_press is None or self._pending() or not self.recording:
            return
        if self._next_press <= now + 1 / self.rate:
            return  # already soon; drawing again would bias the phase towards now
        view, pid = self._view_now(), self.pid
        if view is None or pid is None:
            return
        me = view.player(pid)
        if me is None or not me.alive or not me.body:
            return
        # A turn sent now lands a round trip (plus a tick or two) beyond the newest state.
        margin = math.ceil(3 * self.latency * self.rate) + 3
        advice = choose_turn(view, pid, self._rng)
        if advice is not None or _free_run(view, me, me.direction) <= margin:
            self._next_press = now + self._rng.uniform(0, 1 / self.rate)

    def press(self, now: float) -> Direction | None:
        """Record a press at ``now`` and return the direction to send (None: nothing drawn)."""
        drawn, view, pid = self._last_drawn, self._view_now(), self.pid
        self._next_press = None
        if drawn is None or drawn.own is None or drawn.heading is None or view is None:
            self._reschedule(now)
            return None
        me = view.player(pid) if pid is not None else None
        if me is None or not me.alive or (me.direction - drawn.heading) % 2:
            # Dead, or the screen still shows the snake before a respawn: the client would
            # refuse a turn that is perpendicular on screen but not for the snake it steers.
            self._next_press = now + self._rng.uniform(0, 1 / self.rate)
            return None
        direction = _choose_side(view, me, drawn.heading, self._rng)
        self.presses.append(Press(now, direction, drawn.own, drawn.heading))
        return direction

    def _view_now(self) -> Snapshot | None:
        """The newest state as the player steers from it (see ``steering_view``)."""
        return None if self._latest is None else self.steering_view(self._latest)

    def ignored(self) -> None:
        """The client refused the last press (as it refuses a turn it cannot make)."""
        if self.presses and not self.presses[-1].settled:
            self.presses[-1].voided = "refused by the client"

    def _reschedule(self, now: float) -> None:
        self._next_press = now + self._rng.uniform(*_PAUSE)

    def _pending(self) -> bool:
        return bool(self.presses) and not self.presses[-1].settled

    def counted(self) -> list[Press]:
        """The presses that count: applied and shown, not voided."""
        return [p for p in self.presses if p.voided is None and p.settled]

    def _expire(self, now: float) -> None:
        for press in self.presses:
            if not press.settled and now - press.t > _SETTLE_TIMEOUT:
                press.voided = "not applied and shown within 3 s"
        if self.presses and self.presses[-1].settled and self._next_press is None:
            self._reschedule(now)

    def _board(self) -> Snapshot:
        assert self._latest is not None
        return self._latest

    def _resolve_applied(self) -> None:
        """Find where the server applied each pending press, from the states received."""
        if self.pid is None:
            return
        for press in self.presses:
            if press.settled or press.applied_tick is not None:
                continue
            seen = self._tick_seen_before(press.t)
            for tick in sorted(t for t in self._states if t > seen):
                snap, _ = self._states[tick]
                me = snap.player(self.pid)
                if me is None or not me.alive:
                    press.voided = "died before the turn was applied"
                    break
                if me.direction is not press.direction:
                    continue
                press.applied_tick = tick
                cell = self._turned_at(press, tick, me, snap)
                press.applied_cell = cell
                if _on_line(press.head, cell, press.heading):
                    press.overshoot = _axis_offset(press.head, cell, press.heading, snap)
                else:
                    press.voided = "turn cell off the line drawn at the press"
                break

    def _turned_at(self, press: Press, tick: int, me: PlayerState, snap: Snapshot) -> Cell:
        """The cell the server turned from, given the first state showing the new heading."""
        before = self._states.get(tick - 1)
        was = before[0].player(me.id) if before is not None else None
        if was is not None and was.alive and was.body and was.direction is not me.direction:
            return was.body[0]  # the step between two consecutive states made the turn
        cell = turn_cell(me, press.direction, snap)
        if cell is not None:
            return cell
        # States lost and the whole body already on the new line: the turn cell is where
        # that line crosses the line the snake was drawn on at the press.
        self.inferred += 1
        if press.heading in (Direction.LEFT, Direction.RIGHT):
            return (me.body[0][0], press.head[1])
        return (press.head[0], me.body[0][1])

    def _tick_seen_before(self, t: float) -> int:
        """The newest tick that had arrived before ``t``."""
        return max((k for k, (_, a) in self._states.items() if a <= t), default=-1)

    # -- results

    def server_offset(self) -> float | None:
        """Server time of tick 0 on our clock: least-delayed arrival minus the one-way delay."""
        if not self._states:
            return None
        best = min(arrived - tick / self.rate for tick, (_, arrived) in self._states.items())
        return best - max(0.0, self.latency - self.min_jitter)

    def others_lag(self) -> tuple[list[int], list[int]]:
        """Cells others are drawn behind the server at each frame: (plain, with the aid)."""
        offset = self.server_offset()
        plain: list[int] = []
        aided: list[int] = []
        if offset is None:
            return plain, aided
        for t, others, others_now in self._frames_log:
            tick = math.floor((t - offset) * self.rate)
            entry = self._states.get(tick)
            if entry is None:
                continue  # that state was lost: no ground truth for this frame
            snap = entry[0]
            for pid, cell in others.items():
                true = snap.player(pid)
                if pid == self.pid or true is None or not true.alive or not true.body:
                    continue
                plain.append(cells_behind(cell, true, snap))
                if others_now is not None and pid in others_now:
                    aided.append(cells_behind(others_now[pid], true, snap))
        return plain, aided


def _free_run(snap: Snapshot, me: PlayerState, direction: Direction) -> int:
    """Free cells straight ahead of ``me`` in ``direction`` (bodies and walls stop it)."""
    occupied = {c for p in snap.players if p.alive for c in p.body}
    cell, run = me.body[0], 0
    while run < max(snap.width, snap.height):
        ahead = step(cell, direction, snap.width, snap.height, snap.wrap)
        if ahead is None or ahead in occupied:
            break
        cell, run = ahead, run + 1
    return run


def _choose_side(
    snap: Snapshot, me: PlayerState, heading: Direction, rng: random.Random
) -> Direction:
    """A turn perpendicular to ``heading``: the bots' choice if it is one, else the roomier."""
    sides = [Direction((heading + 1) % 4), Direction((heading + 3) % 4)]
    rng.shuffle(sides)
    room = {d: _room(snap, me, d) for d in sides}
    advice = choose_turn(snap, me.id, rng)
    if advice in sides and room[advice] >= min(room.values()):
        return advice
    return max(sides, key=lambda d: room[d])


def _room(snap: Snapshot, me: PlayerState, direction: Direction, cap: int = 60) -> int:
    """Free cells reachable after one step in ``direction`` (a capped flood fill)."""
    occupied = {c for p in snap.players if p.alive for c in p.body}
    board = snap.width, snap.height, snap.wrap
    first = step(me.body[0], direction, *board)
    if first is None or first in occupied:
        return 0
    seen, frontier = {first}, [first]
    while frontier and len(seen) < cap:
        cell = frontier.pop()
        for d in Direction:
            n = step(cell, d, *board)
            if n is not None and n not in occupied and n not in seen:
                seen.add(n)
                frontier.append(n)
    return len(seen)


# ============================================================================ reading the screen


def read_canvas(canvas: urwid.Canvas, colours: dict[int, int], my_id: int | None) -> Drawn:
    """The heads drawn on a ``--ascii`` board canvas.

    ``colours`` maps each player id to its colour; a head is a two-column cell drawn with
    that colour's ``head`` palette entry (the own one with ``mine``).  Colours shared by two
    players are skipped: their heads cannot be told apart on screen.
    """
    by_attr: dict[str, int] = {}
    shared: set[str] = set()
    own_attr = None
    for pid, colour in colours.items():
        if pid == my_id:
            own_attr = snake_attr(colour, "mine")
            continue
        attr = snake_attr(colour, "head")
        if attr in by_attr:
            shared.add(attr)
        by_attr[attr] = pid
    own: Cell | None = None
    heading: Direction | None = None
    others: dict[int, Cell] = {}
    for row, runs in enumerate(canvas.content()):
        col = 0
        for run_attr, _cs, text in runs:
            name = run_attr if isinstance(run_attr, str) else None
            if name is not None and (name == own_attr or (name in by_attr and name not in shared)):
                cell = ((col - 1) // 2, row - 1)  # a border column and row come first
                if name == own_attr:
                    own = cell
                    glyphs = text.decode("ascii", "replace")
                    heading = next((_ARROWS[g] for g in glyphs if g in _ARROWS), None)
                else:
                    others[by_attr[name]] = cell
            col += len(text)
    return Drawn(own, heading, others, None)


# ============================================================================ results


@dataclass
class RowResult:
    """One row of the table (one object of ``--json``)."""

    kind: str
    latency_ms: float
    loss: float
    loss_mechanism: str = ""
    duration_s: float = 0.0
    presses: int = 0
    counted: int = 0  # presses applied and shown (not voided)
    voided: dict[str, int] = field(default_factory=dict)
    key_ms_p50: float | None = None
    key_ms_p90: float | None = None
    key_ms_p99: float | None = None
    overshoot_zero_share: float | None = None
    overshoot_mean: float | None = None
    overshoot_max: int | None = None
    overshoot_min: int | None = None
    corrections_per_100_ticks: float | None = None
    others_lag_p50: float | None = None  # cells behind the server (negative: ahead)
    others_lag_mean_abs: float | None = None  # mean cells off, either way
    others_lag_p90: float | None = None
    others_now_lag_p50: float | None = None  # the same for the "where they are now" heads
    others_now_lag_mean_abs: float | None = None
    others_now_lag_p90: float | None = None
    frames: int = 0
    deaths: int = 0
    turn_cells_inferred: int = 0
    longest_stall_ms: float | None = None  # longest wait for a newer state
    mismatches: int | None = None
    connected: bool = True
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def field_names(cls) -> set[str]:
        return {f.name for f in fields(cls)}


def summarise(probe: Probe, duration: float) -> dict[str, Any]:
    """The worker's result fields from a probe after :meth:`Probe.stop`."""
    counted = probe.counted()
    voided: dict[str, int] = {}
    for p in probe.presses:
        if p.voided is not None:
            voided[p.voided] = voided.get(p.voided, 0) + 1
    keys = [1000 * (p.shown_at - p.t) for p in counted if p.shown_at is not None]
    overs = [p.overshoot for p in counted if p.overshoot is not None]
    plain, aided = probe.others_lag()
    return {
        "presses": len(probe.presses),
        "counted": len(counted),
        "voided": voided,
        "key_ms_p50": rounded(percentile(keys, 50), 1),
        "key_ms_p90": rounded(percentile(keys, 90), 1),
        "key_ms_p99": rounded(percentile(keys, 99), 1),
        "overshoot_zero_share": rounded(sum(o == 0 for o in overs) / len(overs), 4)
        if overs
        else None,
        "overshoot_mean": rounded(sum(overs) / len(overs)) if overs else None,
        "overshoot_max": max(overs) if overs else None,
        "overshoot_min": min(overs) if overs else None,
        "others_lag_p50": rounded(percentile([float(v) for v in plain], 50)),
        "others_lag_mean_abs": rounded(sum(map(abs, plain)) / len(plain)) if plain else None,
        "others_lag_p90": rounded(percentile([float(v) for v in plain], 90)),
        "others_now_lag_p50": rounded(percentile([float(v) for v in aided], 50)),
        "others_now_lag_mean_abs": rounded(sum(map(abs, aided)) / len(aided)) if aided else None,
        "others_now_lag_p90": rounded(percentile([float(v) for v in aided], 90)),
        "frames": probe.frames,
        "deaths": probe.deaths,
        "turn_cells_inferred": probe.inferred,
        "longest_stall_ms": rounded(1000 * probe.longest_stall, 1),
        "duration_s": rounded(duration, 1),
    }


# ============================================================================ workers


async def _netsnake_worker(args: argparse.Namespace) -> dict[str, Any]:
    from netsnake.client.session import ClientSession
    from netsnake.client.state import ConnectionState
    from netsnake.ui.app import GameApp
    from protocol import ClientConfig

    loop = asyncio.get_running_loop()
    predict = args.worker == "predict-on"
    session = await ClientSession.connect(
        "127.0.0.1",
        args.worker_port,
        name="probe",
        config=ClientConfig(connect_timeout=15.0),
        predict=predict,
    )
    core = session.core
    if not await session.wait_for(ConnectionState.PLAYING, timeout=20.0):
        raise RuntimeError(f"probe could not join: {core.state.value} {core.status_reason}")
    probe = Probe(TICK_RATE, args.latency / 1000, args.jitter / 1000)
    probe.pid = core.player_id
    probe.steering_view = core.steering_view
    core.snapshot_listeners.append(probe.on_state)
    if core.latest_snapshot is not None:
        probe.on_state(core.latest_snapshot, loop.time())
    app = GameApp(core, ascii_mode=True, fps=FPS, clock=loop.time)

    def draw(now: float) -> None:
        app.update(now)
        snap = core.latest_snapshot
        colours = {p.id: p.colour for p in snap.players} if snap is not None else {}
        drawn = read_canvas(app.board.render(()), colours, core.player_id)
        # The faint "now" heads this frame drew (read back without sampling a second frame).
        predictor = core.predictor
        shown = predictor.shown if predictor is not None else None
        if predictor is not None and shown is not None and core.show_others_now:
            drawn.others_now = dict(predictor.others_now(shown.tick))
        probe.on_frame(now, drawn)
        probe.plan(now)

    def press(now: float) -> None:
        direction = probe.press(now)
        # What GameApp does for an arrow key.
        if direction is not None and core.steer(direction, now) is None:
            probe.ignored()

    async def run_for(seconds: float) -> None:
        end = loop.time() + seconds
        next_frame = loop.time()
        while loop.time() < end:
            now = loop.time()
            if now >= next_frame:
                draw(now)
                next_frame = max(next_frame + 1 / FPS, now)
            due = probe.next_press_at()
            if due is not None and now >= due:
                press(now)
                due = None
            wake = min(next_frame, end, due if due is not None else math.inf)
            await asyncio.sleep(max(0.0, wake - loop.time()))

    await run_for(1.5)  # fill the playback buffer before measuring
    _emit({"event": "ready"})
    await loop.run_in_executor(None, _wait_go)
    corrections0 = getattr(core.counters, "corrections", None)
    start = loop.time()
    probe.start(start, args.seed)
    await run_for(args.duration)
    while len(probe.counted()) < args.min_counted and loop.time() - start < _longest(args):
        await run_for(0.5)
    duration = loop.time() - start
    probe.stop(loop.time())
    result = summarise(probe, duration)
    corrections1 = getattr(core.counters, "corrections", None)
    if predict and corrections0 is not None and corrections1 is not None:
        ticks = duration * TICK_RATE
        result["corrections_per_100_ticks"] = rounded(100 * (corrections1 - corrections0) / ticks)
    result["mismatches"] = core.counters.mismatches
    result["connected"] = core.state is ConnectionState.PLAYING
    await session.quit()
    return result


def _tcp_worker(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks.tcp_json import TcpJsonClient
    from netsnake.ui.board import Board

    probe = Probe(TICK_RATE, args.latency / 1000, args.jitter / 1000)
    lock = threading.Lock()

    def on_state(snapshot: Snapshot, now: float) -> None:
        with lock:
            probe.on_state(snapshot, now)

    client = TcpJsonClient("127.0.0.1", args.worker_port, "probe", steer=False, on_state=on_state)
    client.connect(timeout=20.0)
    deadline = time.monotonic() + 20.0
    while client.joined_at is None:
        if time.monotonic() > deadline or client.closed.is_set():
            raise RuntimeError("tcp-json probe did not join")
        time.sleep(0.01)
    latest = client.latest
    assert latest is not None
    me = next(p for p in latest.players if p.name == "probe")
    probe.pid = me.id
    board = Board(ascii_mode=True)

    def draw(now: float) -> None:
        snap = client.latest
        if snap is None:
            return
        board.set_snapshot(snap, my_id=probe.pid)
        colours = {p.id: p.colour for p in snap.players}
        drawn = read_canvas(board.render(()), colours, probe.pid)
        with lock:
            probe.on_frame(now, drawn)
            probe.plan(now)

    def run_for(seconds: float) -> None:
        end = time.monotonic() + seconds
        next_frame = time.monotonic()
        while time.monotonic() < end:
            now = time.monotonic()
            if now >= next_frame:
                draw(now)
                next_frame = max(next_frame + 1 / FPS, now)
            with lock:
                due = probe.next_press_at()
                direction = probe.press(now) if due is not None and now >= due else None
            if direction is not None:
                client.move(direction)
                due = None
            wake = min(next_frame, end, due if due is not None else math.inf)
            time.sleep(max(0.0, wake - time.monotonic()))

    run_for(1.5)
    _emit({"event": "ready"})
    _wait_go()
    start = time.monotonic()
    with lock:
        probe.start(start, args.seed)
    run_for(args.duration)
    while time.monotonic() - start < _longest(args):
        with lock:
            if len(probe.counted()) >= args.min_counted:
                break
        run_for(0.5)
    with lock:
        probe.stop(time.monotonic())
        result = summarise(probe, time.monotonic() - start)
    result["connected"] = not client.closed.is_set()
    result["notes"] = ["the tutorial's client draws the newest state line; no prediction"]
    client.quit()
    return result


def _longest(args: argparse.Namespace) -> float:
    """How long a row short of ``--min-counted`` presses may run on for."""
    return float(args.duration) * _EXTEND_UP_TO


def _worker_main(args: argparse.Namespace) -> int:
    def measure() -> dict[str, Any]:
        if args.worker == "tcp-json":
            return _tcp_worker(args)
        return asyncio.run(_netsnake_worker(args))

    return report_worker(measure)


# ============================================================================ orchestrator


@dataclass
class TrialOptions:
    """What one benchmark run covers (the command line, parsed)."""

    kinds: tuple[str, ...] = KINDS
    latencies_ms: tuple[float, ...] = FULL_LATENCIES
    losses: tuple[float, ...] = FULL_LOSSES
    duration: float = 40.0
    min_counted: int = 0  # run on (up to _EXTEND_UP_TO × duration) until this many count
    jitter_ms: float = 0.0
    seed: int = 1
    udp_loss: str = "auto"  # auto | nftables | relay


def run_trial(
    kind: str, latency_ms: float, loss: float, opts: TrialOptions, *, netns: bool
) -> RowResult:
    """Run one row in fresh processes and return it."""
    tcp = kind == "tcp-json"
    work = Path(tempfile.mkdtemp(prefix=f"resp-{kind}-"))
    stream = socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM
    if netns:
        server_port, relay_port = _NS_SERVER_PORT, _NS_RELAY_PORT
    else:
        server_port, relay_port = _free_port(stream), _free_port(stream)
    namespace = PortLossNamespace("respbench", [relay_port], opts.seed) if netns else None
    if netns:
        mechanism = "nftables on the client<->relay hop"
    elif tcp:
        mechanism = "none (no lossy namespace): tcp-json runs without loss"
    else:
        mechanism = "netem relay (user space)"
    result = RowResult(
        kind=kind,
        latency_ms=latency_ms,
        loss=loss if (netns or not tcp) else 0.0,
        loss_mechanism=mechanism,
        duration_s=opts.duration,
    )
    if not netns and tcp and loss:
        result.notes.append(f"asked for {loss:.0%} loss; ran without (no namespace)")
    py = sys.executable
    with _Setup(namespace) as setup:
        server_log = work / "server.log"
        if tcp:
            argv = [py, str(REPO / "benchmarks" / "tcp_json.py"), "server"]
            argv += ["--port", str(server_port), "--bots", str(BOTS)]
            marker = "listening"
        else:
            argv = [py, "-m", "netsnake.server.cli", "--host", "127.0.0.1"]
            argv += ["--port", str(server_port), "--bots", str(BOTS), "--stats-interval", "3600"]
            marker = "press Ctrl+C"
        argv += ["--tick-rate", str(TICK_RATE), "--seed", str(opts.seed)]
        with server_log.open("w") as out:
            server = setup.popen(argv, stdout=out, stderr=subprocess.STDOUT)
        _wait_for_text(server_log, marker, server, 20)
        mode = ["--tcp"] if tcp else [] if netns else ["--loss", str(loss * 100)]
        _start_relay(
            setup, work, relay_port, server_port, latency_ms, opts.jitter_ms, opts.seed, mode
        )
        argv = [py, "-m", "benchmarks.responsiveness", "--worker", kind]
        argv += ["--worker-port", str(relay_port), "--duration", str(opts.duration)]
        argv += ["--latency", str(latency_ms), "--jitter", str(opts.jitter_ms)]
        argv += ["--seed", str(opts.seed), "--min-counted", str(opts.min_counted)]
        worker_log = work / "worker.log"
        timeout = opts.duration * _EXTEND_UP_TO + 60.0
        payload = run_worker(setup, argv, worker_log, loss, timeout, suffix=f" (logs in {work})")
    apply_result(result, payload, RowResult.field_names())
    shutil.rmtree(work, ignore_errors=True)
    return result


def run_benchmark(opts: TrialOptions, log: Callable[[str], None] = print) -> list[RowResult]:
    """Every row; notices and progress go to ``log``."""
    ok, why = _netns.netns_available()
    netns = ok and opts.udp_loss != "relay"
    if opts.udp_loss == "nftables" and not ok:
        raise SystemExit(f"responsiveness: --udp-loss nftables needs a lossy namespace: {why}")
    if not netns:
        log(
            f"notice: no lossy network namespace ({why if not ok else '--udp-loss relay'}): "
            "UDP loss comes from the netem relay and tcp-json runs WITHOUT loss"
        )
    results: list[RowResult] = []
    for loss in opts.losses:
        for latency in opts.latencies_ms:
            for kind in opts.kinds:
                label = f"[{kind} @ {latency:g} ms, {loss:.0%}]"
                log(f"{label} running ({opts.duration:g} s)...")
                t0 = time.monotonic()
                try:
                    row = run_trial(kind, latency, loss, opts, netns=netns)
                except RuntimeError as exc:
                    log(f"{label} FAILED: {exc}")
                    row = RowResult(
                        kind, latency, loss, "failed", connected=False, notes=[f"failed: {exc}"]
                    )
                log(f"{label} done in {time.monotonic() - t0:.0f} s")
                results.append(row)
    return results


# ============================================================================ output


_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("client", "kind", "{}"),
    ("lat ms", "latency_ms", "{:.0f}"),
    ("loss", "loss", "{:.0%}"),
    ("presses", "counted", "{}"),
    ("key p50", "key_ms_p50", "{:.0f}"),
    ("p90", "key_ms_p90", "{:.0f}"),
    ("p99", "key_ms_p99", "{:.0f}"),
    ("over=0", "overshoot_zero_share", "{:.0%}"),
    ("over mean", "overshoot_mean", "{:.2f}"),
    ("max", "overshoot_max", "{}"),
    ("corr/100t", "corrections_per_100_ticks", "{:.2f}"),
    ("others p50", "others_lag_p50", "{:.1f}"),
    ("|mean|", "others_lag_mean_abs", "{:.2f}"),
    ("aid p50", "others_now_lag_p50", "{:.1f}"),
    ("|mean|", "others_now_lag_mean_abs", "{:.2f}"),
    ("deaths", "deaths", "{}"),
    ("stall ms", "longest_stall_ms", "{:.0f}"),
)


def format_table(results: Sequence[RowResult]) -> str:
    """The rows as an aligned text table with a legend."""
    legend = (
        "presses = applied and shown (deaths and timeouts left out); key = key press -> first "
        "frame with the head moved along the new direction (ms); over = cells from the head "
        "drawn at the press to where the server turned (+ = ran past); corr = corrections per "
        "100 ticks; others = cells other snakes' heads are drawn behind the server's (- = ahead; "
        "|mean| = cells off either way), aid = the same for the 'where they are now' heads; "
        "deaths = own deaths while measuring; stall = longest wait for a newer state (ms)"
    )
    return aligned_table(_COLUMNS, results) + "\n" + legend


def check_failures(results: Sequence[RowResult]) -> list[str]:
    """Correctness failures (never timings): what ``--check`` exits on."""
    failures = []
    for r in results:
        where = f"{r.kind} @ {r.latency_ms:g} ms, {r.loss:.0%}"
        if r.loss_mechanism == "failed":
            failures.append(f"{where}: trial failed: {r.notes}")
            continue
        if not r.connected:
            failures.append(f"{where}: the probe lost its connection")
        if r.frames == 0:
            failures.append(f"{where}: no frames drawn")
        if r.counted + sum(r.voided.values()) != r.presses:
            failures.append(f"{where}: presses unaccounted for: {r.presses}, {r.voided}")
        if r.kind == "tcp-json":
            continue  # its TCP stream may stall for seconds under loss: a finding, not a fault
        if r.presses == 0 or r.counted == 0:
            failures.append(f"{where}: {r.presses} presses, {r.counted} applied and shown")
        if r.mismatches:
            failures.append(f"{where}: {r.mismatches} snapshot mismatches")
        if r.others_lag_p50 is None:
            failures.append(f"{where}: no other snake was measured")
    return failures


# ============================================================================ command line


def _csv_floats(scale: float) -> Callable[[str], tuple[float, ...]]:
    def parse(text: str) -> tuple[float, ...]:
        try:
            values = tuple(float(v) * scale for v in text.split(",") if v.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected numbers like 0,50,100: {text!r}") from None
        if not values or not all(0 <= v < 10_000 for v in values):
            raise argparse.ArgumentTypeError(f"out of range: {text!r}")
        return values

    return parse


def _kinds(text: str) -> tuple[str, ...]:
    values = tuple(v.strip() for v in text.split(",") if v.strip())
    if not values or any(v not in KINDS for v in values):
        raise argparse.ArgumentTypeError(f"clients are {', '.join(KINDS)}")
    return values


def build_parser() -> argparse.ArgumentParser:
    """The benchmark's command line."""
    p = argparse.ArgumentParser(
        prog="responsiveness.py",
        description="Key-to-screen, overshoot and others' lag: netsnake vs the TCP+JSON design.",
    )
    p.add_argument("--quick", action="store_true", help="50 ms, 0 and 20 %% loss, 6 s rows (CI)")
    p.add_argument("--check", action="store_true", help="exit 1 on a correctness failure")
    p.add_argument("--clients", type=_kinds, default=KINDS, help="subset of " + ",".join(KINDS))
    p.add_argument("--latencies", type=_csv_floats(1.0), default=None, help="one-way ms list")
    p.add_argument("--losses", type=_csv_floats(0.01), default=None, help="loss %% list")
    p.add_argument("--duration", type=float, default=None, help="s per row (default 40, quick 6)")
    p.add_argument(
        "--min-counted",
        type=int,
        default=None,
        help="run a row on, up to 3x its duration, until this many presses count "
        "(default 0, quick 3)",
    )
    p.add_argument("--jitter", type=float, default=0.0, help="± ms of jitter (default 0)")
    p.add_argument("--seed", type=int, default=1, help="world, relay and press seed (default 1)")
    p.add_argument(
        "--udp-loss",
        choices=["auto", "nftables", "relay"],
        default="auto",
        help="what drops packets (default auto: nftables when available)",
    )
    p.add_argument("--json", type=Path, metavar="PATH", help='write {"rows": [...]} here')
    # Internal: the measuring player of one trial.
    p.add_argument("--worker", choices=KINDS, help=argparse.SUPPRESS)
    p.add_argument("--worker-port", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--latency", type=float, default=0.0, help=argparse.SUPPRESS)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark (or, with ``--worker``, one trial's measuring player)."""
    args = build_parser().parse_args(argv)
    if args.worker:
        args.duration = args.duration or 40.0
        args.min_counted = args.min_counted or 0
        return _worker_main(args)
    quick = bool(args.quick)
    opts = TrialOptions(
        kinds=args.clients,
        latencies_ms=args.latencies or (QUICK_LATENCIES if quick else FULL_LATENCIES),
        losses=args.losses or (QUICK_LOSSES if quick else FULL_LOSSES),
        duration=args.duration or (6.0 if quick else 40.0),
        min_counted=args.min_counted if args.min_counted is not None else 3 if quick else 0,
        jitter_ms=args.jitter,
        seed=args.seed,
        udp_loss=args.udp_loss,
    )
    if opts.duration <= 0:
        raise SystemExit("responsiveness: --duration must be positive")
    if opts.min_counted < 0:
        raise SystemExit("responsiveness: --min-counted must be 0 or more")
    t0 = time.monotonic()
    print(
        f"responsiveness benchmark: {', '.join(opts.kinds)}; one-way latency "
        f"{', '.join(f'{v:g}' for v in opts.latencies_ms)} ms (± {opts.jitter_ms:g}); loss "
        f"{', '.join(f'{v:.0%}' for v in opts.losses)} each way; {BOTS} bots, "
        f"{TICK_RATE:g} Hz, {FPS:g} fps, {opts.duration:g} s per row, seed {opts.seed}, "
        f"pid {os.getpid()}",
        flush=True,
    )
    results = run_benchmark(opts, lambda line: print(line, flush=True))
    print()
    print(format_table(results))
    for r in results:
        for note in r.notes:
            print(f"note [{r.kind} @ {r.latency_ms:g} ms, {r.loss:.0%}]: {note}")
        if r.voided:
            print(f"left out [{r.kind} @ {r.latency_ms:g} ms, {r.loss:.0%}]: {r.voided}")
    if args.json:
        args.json.write_text(json.dumps({"rows": [r.to_json() for r in results]}, indent=2))
        print(f"wrote {args.json}")
    print(f"total {time.monotonic() - t0:.0f} s")
    if args.check:
        failures = check_failures(results)
        for failure in failures:
            print(f"CHECK FAILED: {failure}")
        if failures:
            return 1
        print("check passed: every row made, applied and showed presses; no mismatches")
    return 0


if __name__ == "__main__":
    sys.exit(main())
