"""Client-side prediction of the player's own snake.

Theory of operation
-------------------
Everybody else is drawn ``render_delay`` in the past (``interpolation.py``);
the player's own snake is drawn *ahead* of the server instead, at the tick
in which the server will apply a turn sent now.  A key press then turns the
head at the cell where the player saw it.

*Stamps.*  Each turn is stamped with the tick whose step should apply it:
``own.tick + 1`` when the head is drawn at the cell of ``own.tick`` (the
server holds early turns until that step; see docs/game-messages.rst).
Consecutive turns get strictly increasing stamps, as the world's turn queue
applies at most one per tick.

*Lead.*  :class:`LeadClock` keeps the drawn position ``P`` (a float tick).
Its target is ``server_tick(now) + (rtt + margin) * tick_rate``: the
snapshot buffer's ``server_tick`` is the server's tick as last seen arriving
(one downlink behind the server), so adding the round trip gives the tick
the server will be at when an input sent now arrives.  The margin covers
the time a frame stays on screen (a key is stamped from the frame seen),
jitter, upstream loss (a lost INPUT is repeated with the next snapshot, one
tick later) and grows by half a tick each time the client sees one of its
turns arrive late, decaying again afterwards; for the first snapshots, whose
clock offset is still rough and RTT unknown, it holds one more tick.  ``P`` moves at nominal speed
nudged by up to 10 % towards the target and never backwards, so the snake
glides; it jumps only at the start and when it falls behind the newest
snapshot.

*Rebuild.*  On every frame the own snake is rebuilt from the newest
authoritative snapshot plus the turns the server has not yet consumed
(``input_applied``), stepped with the world's own rules
(:func:`~netsnake.game.world.accepts_turn`, :func:`~netsnake.game.world.plan_move`,
:func:`~netsnake.game.world.advance_body`) and the same hold-then-release
model of stamped turns as the server.  Nothing only the server knows is
predicted: no deaths (a move into a wall or a body stops at the cell before
it), no respawns, no other snake's turn, no new food; growth from food eaten
in prediction lasts only until a snapshot says otherwise.

*Corrections.*  When a new snapshot's rebuild moves the snake as drawn (a
late turn, a collision, food someone else took), that is a correction: it is
counted, and the drawn head walks to the corrected cell at most one cell per
frame.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from netsnake.game.direction import Direction, signed_distance, step
from netsnake.game.snapshot import Cell, PlayerState, Snapshot
from netsnake.game.world import (
    MAX_QUEUED_TURNS,
    WorldConfig,
    accepts_turn,
    advance_body,
    plan_move,
)

log = logging.getLogger("client")

__all__ = [
    "LeadClock",
    "OwnSnake",
    "OwnSnakePredictor",
    "StampedTurn",
    "extrapolate_heads",
    "extrapolate_others",
    "predict_own",
]

_BASE_MARGIN = 0.010  # s of lead beyond the round trip (the server's tick timer wobbles)
_JITTER_FACTOR = 2.0  # × the connection's RTT variation
_MAX_JITTER_MARGIN = 0.100  # s
_LATE_PENALTY = 0.5  # ticks of extra lead per late turn seen
_LATE_DECAY = 0.995  # per snapshot
_MAX_LATE_MARGIN = 3.0  # ticks
_NUDGE_PER_TICK = 0.05
_MAX_NUDGE = 0.10
_JUMP_ABOVE = 4.0  # ticks off target before the clock jumps instead of gliding
# The first snapshots give a poor clock offset and no RTT yet: one tick of extra
# lead at the start, fading out over this many snapshots.
_WARMUP_SNAPSHOTS = 30
_MAX_STAMP = 0xFFFF_FFFF


@dataclass(frozen=True, slots=True)
class StampedTurn:
    """One of the player's turns: its input sequence, direction and stamp tick."""

    seq: int
    direction: Direction
    stamp: int


@dataclass(frozen=True, slots=True)
class OwnSnake:
    """The player's own snake as drawn in one frame.

    ``state`` is the snake at ``tick`` (its head cell is where a key pressed now
    lands: the turn is stamped ``tick + 1``), ``next_state`` one tick later,
    and ``progress`` (0..1) how far the head has grown from one to the other.
    A dead snake has ``alive`` False and an empty body.  ``correcting`` marks a
    frame on the way to a corrected position.
    """

    tick: int
    state: PlayerState
    next_state: PlayerState
    progress: float
    correcting: bool = False

    @property
    def head(self) -> Cell | None:
        """The cell the head is drawn on, or None while dead."""
        return self.state.body[0] if self.state.body else None


def board_config(snapshot: Snapshot) -> WorldConfig | None:
    """A :class:`WorldConfig` with the snapshot's board (only the geometry matters here).

    None for a board no netsnake world can have (a hostile or broken server):
    nothing is predicted on it.
    """
    try:
        return WorldConfig(
            width=snapshot.width, height=snapshot.height, wrap=snapshot.wrap, start_length=2
        )
    except ValueError:
        return None


def predict_own(
    base: Snapshot,
    player_id: int,
    turns: Sequence[StampedTurn],
    until: int,
    config: WorldConfig | None = None,
) -> list[PlayerState]:
    """The player's snake at ticks ``base.tick .. until`` (index 0 is ``base``'s own state).

    ``turns`` are the turns the server had not consumed at ``base``, in
    sequence order.  Each is handed to the turn queue at the step its stamp
    names (or the first step, if its stamp has passed), exactly as the server
    releases held turns.  A move into a wall or a body (the snake's own body
    as it will be; the others as in ``base``, their tails moving on) holds
    the snake in place from then on.  Returns ``[]`` if the player is not in ``base``.
    """
    me = base.player(player_id)
    if me is None:
        return []
    states = [me]
    if not me.alive or not me.body or until <= base.tick:
        return states + [me] * max(0, until - base.tick)
    cfg = config or board_config(base)
    if cfg is None:
        return states + [me] * (until - base.tick)
    # Another snake's cell is in the way until its tail has left it, ``len - j``
    # steps on for the ``j``-th cell, as long as that snake keeps moving
    # without growing (the only thing known of it); its new heads are not guessed.
    free_from = {
        c: len(p.body) - j for p in base.players if p.id != player_id for j, c in enumerate(p.body)
    }
    food = set(base.food)
    body = deque(me.body)
    direction = me.direction
    queue: deque[Direction] = deque()
    pending = deque(turns)
    state = me
    held = False
    for tick in range(base.tick + 1, until + 1):
        steps = tick - base.tick
        if not held:
            while pending and pending[0].stamp <= tick:
                turn = pending.popleft().direction
                if accepts_turn(queue, direction, turn, MAX_QUEUED_TURNS):
                    queue.append(turn)
            direction, head, grows = plan_move(body, direction, queue, cfg, food)
            if head is None or free_from.get(head, 0) > steps or _hits_itself(head, body, grows):
                held = True  # only the server decides a death
                state = replace(state, direction=direction)
            else:
                advance_body(body, head, grows)
                food.discard(head)
                state = replace(state, direction=direction, body=tuple(body))
        states.append(state)
    return states


def _hits_itself(head: Cell, body: Sequence[Cell], grows: bool) -> bool:
    # The tail moves out of the way this tick unless the snake grows.
    return head in body and (grows or head != body[-1])


def extrapolate_others(
    snapshot: Snapshot, ticks: int, exclude: int | None = None
) -> dict[int, PlayerState]:
    """Where each live snake probably is ``ticks`` after ``snapshot``.

    Straight on along its heading (nobody can know its turns), its tail
    following, stopping before a wall or a body.  ``exclude`` leaves one
    player out.
    """
    cfg = board_config(snapshot)
    if cfg is None:
        return {}
    occupied = {c for p in snapshot.players for c in p.body}
    out: dict[int, PlayerState] = {}
    for p in snapshot.players:
        if p.id == exclude or not p.alive or not p.body:
            continue
        body = deque(p.body)
        for _ in range(max(0, ticks)):
            nxt = step(body[0], p.direction, cfg.width, cfg.height, cfg.wrap)
            if nxt is None or nxt in occupied:
                break
            advance_body(body, nxt, grows=False)
        out[p.id] = replace(p, body=tuple(body))
    return out


def extrapolate_heads(
    snapshot: Snapshot, ticks: int, exclude: int | None = None
) -> dict[int, Cell]:
    """The heads of :func:`extrapolate_others`: where the others' heads probably are now."""
    return {pid: p.body[0] for pid, p in extrapolate_others(snapshot, ticks, exclude).items()}


class LeadClock:
    """The float tick the own snake is drawn at; see the module docstring."""

    def __init__(self, tick_rate: float) -> None:
        self._rate = float(tick_rate)
        self._pos: float | None = None
        self._last: float | None = None
        self.late_margin = 0.0
        """Extra lead in ticks, raised by late turns."""
        self.jumps = 0
        self._warmup = _WARMUP_SNAPSHOTS

    def target(
        self,
        server_tick: float,
        rtt: float,
        jitter: float,
        loss_out: float,
        frame_gap: float = 0.0,
    ) -> float:
        """The tick an input sent now reaches the server in, plus the safety margin.

        ``frame_gap`` (s) is how long a drawn frame stays on screen: a key is
        stamped from the frame the player saw, which may be that much older.
        """
        margin = _BASE_MARGIN + min(_MAX_JITTER_MARGIN, _JITTER_FACTOR * jitter) + frame_gap
        ticks = (rtt + margin) * self._rate + self.late_margin + self._warmup / _WARMUP_SNAPSHOTS
        if loss_out > 0.01:
            ticks += min(1.0, loss_out * 10)  # room for one repeat of a lost INPUT
        return server_tick + ticks

    def saw_late_turn(self) -> None:
        self.late_margin = min(_MAX_LATE_MARGIN, self.late_margin + _LATE_PENALTY)

    def saw_snapshot(self) -> None:
        self.late_margin *= _LATE_DECAY
        self._warmup = max(0, self._warmup - 1)

    @property
    def position(self) -> float | None:
        """The drawn position after the last :meth:`advance`."""
        return self._pos

    def advance(self, now: float, target: float, floor: float) -> float:
        """Move towards ``target`` for a frame at ``now``; never below ``floor`` nor backwards."""
        pos, last = self._pos, self._last
        self._last = now
        if pos is None or last is None or abs(target - pos) > _JUMP_ABOVE:
            new = max(target, floor)
            if pos is not None:
                self.jumps += 1
                new = max(new, pos)
        else:
            nominal = max(0.0, now - last) * self._rate
            behind = target - (pos + nominal)
            speed = 1.0 + max(-_MAX_NUDGE, min(_MAX_NUDGE, _NUDGE_PER_TICK * behind))
            new = pos + nominal * speed
            if new < floor:
                new = floor
        self._pos = new
        return new


class OwnSnakePredictor:
    """The player's own snake, predicted; fed snapshots and turns, sampled per frame."""

    def __init__(self, player_id: int, tick_rate: float) -> None:
        self.player_id = player_id
        self.clock = LeadClock(tick_rate)
        self._base: Snapshot | None = None
        self._config: WorldConfig | None = None
        self._turns: list[StampedTurn] = []  # not yet consumed by the server, in seq order
        self._late_seen: set[int] = set()
        self._shown: OwnSnake | None = None
        self._cache: tuple[tuple[int, int, int, int], list[PlayerState]] | None = None
        #: times a snapshot moved the snake away from where it was drawn
        self.corrections = 0
        #: own turns that reached the server after their stamp's step
        self.late_turns = 0

    # -- inputs

    @property
    def base(self) -> Snapshot | None:
        """The newest authoritative snapshot predictions start from."""
        return self._base

    @property
    def turns(self) -> tuple[StampedTurn, ...]:
        """Turns sent and not yet consumed by the server, oldest first."""
        return tuple(self._turns)

    @property
    def shown(self) -> OwnSnake | None:
        """The own snake as last sampled (drawn)."""
        return self._shown

    def add_turn(self, turn: StampedTurn) -> None:
        """A turn just sent; stamped for a step already seen, it is late from the start."""
        self._turns.append(turn)
        if self._base is not None and turn.stamp <= self._base.tick:
            self._late_seen.add(turn.seq)
            self.late_turns += 1
            self.clock.saw_late_turn()

    def next_stamp(self, now: float) -> int:
        """The stamp for a turn made at ``now``: one past the tick drawn as the head."""
        pos = self.clock.position
        drawn = math.floor(pos) if pos is not None else (self._base.tick if self._base else 0)
        last = self._turns[-1].stamp if self._turns else -1
        # A stamp is a u32 on the wire, however far a (hostile) server's ticks go.
        return min(max(drawn + 1, last + 1), _MAX_STAMP)

    def on_snapshot(self, snapshot: Snapshot, input_applied: int) -> None:
        """A new authoritative snapshot (older ones are ignored) and its ``input_applied``."""
        if self._base is not None and snapshot.tick <= self._base.tick:
            return
        if self._config is None or (snapshot.width, snapshot.height, snapshot.wrap) != (
            self._config.width,
            self._config.height,
            self._config.wrap,
        ):
            self._config = board_config(snapshot)
        self._turns = [t for t in self._turns if t.seq > input_applied]
        for t in self._turns:
            # Stamped for a step this snapshot already includes, yet unconsumed: late.
            if t.stamp <= snapshot.tick and t.seq not in self._late_seen:
                self._late_seen.add(t.seq)
                self.late_turns += 1
                self.clock.saw_late_turn()
                log.debug(
                    "turn %d stamped %d still unapplied at tick %d", t.seq, t.stamp, snapshot.tick
                )
        self._late_seen = {s for s in self._late_seen if s > input_applied}
        self.clock.saw_snapshot()
        shown = self._shown
        self._base = snapshot
        self._cache = None
        if (
            shown is not None
            and shown.state.alive
            and not shown.correcting
            and shown.tick >= snapshot.tick
        ):
            now_state = self._states(shown.tick + 1)[shown.tick - snapshot.tick]
            if now_state.alive and now_state.body != shown.state.body:
                self.corrections += 1
                log.debug(
                    "correction at tick %d (base %d): drawn %s, now %s",
                    shown.tick,
                    snapshot.tick,
                    shown.state.body[:3],
                    now_state.body[:3],
                )

    # -- output

    def _states(self, until: int) -> list[PlayerState]:
        base = self._base
        assert base is not None
        key = (base.tick, until, len(self._turns), self._turns[-1].seq if self._turns else -1)
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        states = predict_own(base, self.player_id, self._turns, until, self._config)
        self._cache = (key, states)
        return states

    def sample(self, now: float, target: float) -> OwnSnake | None:
        """The own snake for a frame at ``now``; ``target`` from :meth:`LeadClock.target`."""
        base = self._base
        if base is None or base.player(self.player_id) is None:
            return None
        pos = self.clock.advance(now, target, float(base.tick))
        tick = math.floor(pos)
        states = self._states(tick + 1)
        if len(states) < 2 or tick < base.tick:
            return None
        state, nxt = states[tick - base.tick], states[tick - base.tick + 1]
        own = OwnSnake(tick=tick, state=state, next_state=nxt, progress=pos - tick)
        own = self._limit_jump(own, base)
        self._shown = own
        return own

    def _limit_jump(self, own: OwnSnake, board: Snapshot) -> OwnSnake:
        """Walk to a corrected position at most one cell per frame."""
        shown = self._shown
        if shown is None or not (shown.state.alive and own.state.alive) or shown.head is None:
            return own
        target = own.head
        assert target is not None
        dx = signed_distance(shown.head[0], target[0], board.width, board.wrap)
        dy = signed_distance(shown.head[1], target[1], board.height, board.wrap)
        if abs(dx) + abs(dy) <= 1:
            return own
        if abs(dx) >= abs(dy):
            toward = Direction.RIGHT if dx > 0 else Direction.LEFT
        else:
            toward = Direction.DOWN if dy > 0 else Direction.UP
        cfg = self._config or board_config(board)
        if cfg is None:
            return own
        head = step(shown.head, toward, cfg.width, cfg.height, cfg.wrap)
        if head is None:
            return own
        body = (head, *shown.state.body[: max(0, len(own.state.body) - 1)])
        state = replace(own.state, body=body, direction=toward)
        return OwnSnake(tick=own.tick, state=state, next_state=state, progress=0.0, correcting=True)

    def view(self, tick: int) -> Snapshot | None:
        """The newest snapshot as a player sees it at ``tick``: the own snake predicted,
        the others extrapolated straight on (what bots steer from)."""
        base, shown = self._base, self._shown
        if base is None:
            return None
        others = extrapolate_others(base, tick - base.tick, exclude=self.player_id)
        players = tuple(
            shown.state if p.id == self.player_id and shown is not None else others.get(p.id, p)
            for p in base.players
        )
        return replace(base, tick=tick, players=players)

    def others_now(self, tick: int) -> Mapping[int, Cell]:
        """Other snakes' heads extrapolated from the newest snapshot to ``tick``."""
        base = self._base
        if base is None:
            return {}
        return extrapolate_heads(base, tick - base.tick, exclude=self.player_id)
