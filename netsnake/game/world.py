"""The game world: a pure, deterministic snake simulation.

Nothing here reads a clock, touches a socket or draws: the server calls
:meth:`World.step` at its tick rate and ships :meth:`World.snapshot` to
clients.  All randomness comes from one ``random.Random(seed)``, and players
are always visited in id order, so the same seed and the same sequence of
``add_player`` / ``remove_player`` / ``queue_turn`` / ``step`` calls give the
same snapshot on every tick.

Rules of one :meth:`World.step`
-------------------------------
1. **Turns.**  Each live snake pops at most one turn from its queue and then
   advances one cell.  :meth:`World.queue_turn` compares a new turn with the
   *reference* direction: the last queued turn, or the current direction when
   the queue is empty.  The turn is dropped if it equals the reference (no-op)
   or is its opposite (a 180-degree reversal), or if three turns are already
   pending.  Every queued turn is therefore legal relative to the direction
   that will be current when it is applied (one turn is applied per tick), so
   a quick "up, left" while heading right plays out over two ticks and a
   reversal can never reach the board.
2. **Moves are simultaneous.**  Every live snake's new head is computed first,
   then collisions are judged against the bodies *after* everyone has moved.
   A snake *grows* this tick if its new head lands on food; a growing snake
   keeps its tail, every other snake's tail vacates its cell.
3. **Deaths** (checked in this order for each snake):

   - ``"wall"``: the head left the board (only when ``wrap`` is off; with
     ``wrap`` on, heads re-enter on the opposite edge).  ``killer_id`` None.
   - ``"head-on"``: two or more heads entered the same cell, or two heads
     swapped cells.  Every snake involved dies; ``killer_id`` is the other
     snake (the lowest id if several).  Nobody is credited a kill.
   - ``"self"``: the head entered its own body.  ``killer_id`` None.
   - ``"snake"``: the head entered another snake's body (including the cell
     behind that snake's new head).  The owner of that body is the killer and
     is credited one kill, even if it dies this tick too.

   Entering a cell that a tail vacates this tick (its own or another
   snake's) is allowed, unless that snake grows this tick.  Snakes that die
   this tick still take part in collisions as if they had moved.
4. **Food.**  A snake that survives with its head on food eats it: score
   grows by ``score_per_food`` and the length by one (tail kept).  A snake that
   dies does not eat.  Afterwards food is topped up to ``food_base +
   ceil(food_per_player * players)`` (dead players count), plus one per 256
   cells of the board beyond 64x64 (4096 cells), limited by free
   space; surplus food (after players leave) is left to be eaten.  Food only
   appears on cells holding neither a snake nor other food.
5. **Death and respawn.**  A dead snake leaves the board at once (empty body,
   ``alive`` False, turn queue cleared) with ``respawn_ticks =
   config.respawn_ticks``.  Its ``score`` resets to 0; ``best`` (always kept
   equal to the best score of any life, including the current one) and
   ``kills`` are kept, and so are name, colour and the last direction.  On
   each later step the counter drops by one and at 0 the snake respawns
   (after that step's moves) with ``start_length`` cells laid in a straight
   line, at a sampled spot that maximises distance from other heads and the
   free run ahead of it.  If no spot is free it stays dead with
   ``respawn_ticks`` 1 and retries every step.
6. Finally ``tick`` increases by one.

``add_player`` spawns immediately the same way (or, on a full board, joins
dead and waits like a respawning player).  ``remove_player`` takes the snake
off the board; its food stays.
"""

from __future__ import annotations

import math
import random
from bisect import insort
from collections import deque
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from netsnake.game.direction import Direction, step, step_direction
from netsnake.game.limits import (
    MAX_BOARD_SIZE,
    MAX_NAME_LENGTH,
    MAX_PLAYER_ID,
    MAX_PLAYERS,
    MIN_BOARD_SIZE,
)
from netsnake.game.snapshot import Cell, PlayerState, Snapshot, snapshot_hash

__all__ = [
    "MAX_QUEUED_TURNS",
    "FoodEaten",
    "PlayerDied",
    "PlayerRespawned",
    "World",
    "WorldConfig",
    "WorldEvent",
    "accepts_turn",
    "advance_body",
    "plan_move",
]

#: Turns a player may have pending at once.
MAX_QUEUED_TURNS = 3

DEATH_CAUSES = frozenset({"wall", "self", "snake", "head-on"})

# Spawn search: random candidate cells tried before an exhaustive scan, and the
# caps that stop one huge open area from dominating the score.
_SPAWN_SAMPLES = 40
_SPAWN_RUN_CAP = 14
# A fresh snake should have about a second of open road ahead at 10 Hz, so a
# person has time to see it and steer; shorter runs are only a fallback.
_SPAWN_MIN_RUN = 8
_SPAWN_DIST_CAP = 10
# Food scales with the area beyond a 64x64 board: one more per 256 cells, so a
# big arena is not a desert between snakes (boards up to 64x64 are unchanged).
_AREA_FOOD_FREE = 64 * 64
_CELLS_PER_AREA_FOOD = 256
# Random probes for a free food cell before falling back to listing them all.
_FOOD_PROBES = 32


@dataclass(frozen=True, slots=True, kw_only=True)
class WorldConfig:
    """Board size and rules; validated on construction.

    The default 26x20 board, drawn two terminal columns per cell with a
    border (54x22), leaves room for a gap and a 25-column scoreboard beside
    it, and a HUD and a message line below, on an 80x24 terminal.
    """

    width: int = 26
    height: int = 20
    wrap: bool = False
    respawn_ticks: int = 30
    start_length: int = 3
    food_base: int = 2
    food_per_player: float = 1.0
    max_players: int = 64
    score_per_food: int = 1

    def __post_init__(self) -> None:
        def check_int(name: str, lo: int, hi: int) -> None:
            value = getattr(self, name)
            if type(value) is not int or not lo <= value <= hi:
                raise ValueError(
                    f"WorldConfig.{name} must be an int in [{lo}, {hi}], got {value!r}"
                )

        check_int("width", MIN_BOARD_SIZE, MAX_BOARD_SIZE)
        check_int("height", MIN_BOARD_SIZE, MAX_BOARD_SIZE)
        if type(self.wrap) is not bool:
            raise ValueError(f"WorldConfig.wrap must be a bool, got {self.wrap!r}")
        check_int("respawn_ticks", 1, 100_000)
        check_int("start_length", 2, min(self.width, self.height) // 2)
        check_int("food_base", 0, 1000)
        fpp = self.food_per_player
        if not isinstance(fpp, int | float) or not math.isfinite(fpp) or not 0 <= fpp <= 16:
            raise ValueError(f"WorldConfig.food_per_player must be in [0, 16], got {fpp!r}")
        check_int("max_players", 1, MAX_PLAYERS)
        check_int("score_per_food", 0, 1_000_000)


@dataclass(frozen=True, slots=True, kw_only=True)
class WorldEvent:
    """Base class of everything :meth:`World.step` reports."""

    player_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PlayerDied(WorldEvent):
    """A snake died; ``cause`` is one of "wall", "self", "snake", "head-on"."""

    killer_id: int | None
    cause: str

    def __post_init__(self) -> None:
        if self.cause not in DEATH_CAUSES:
            raise ValueError(f"unknown death cause {self.cause!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class PlayerRespawned(WorldEvent):
    """A dead snake came back on the board."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FoodEaten(WorldEvent):
    """A snake ate the food at ``cell``."""

    cell: Cell


@dataclass(slots=True, kw_only=True)
class _Player:
    # Mutable on purpose: the world owns it and only snapshots leave.
    id: int
    name: str
    colour: int
    alive: bool = False
    direction: Direction = Direction.RIGHT
    body: deque[Cell]
    score: int = 0
    best: int = 0
    kills: int = 0
    respawn_ticks: int = 0
    turns: deque[Direction]


class World:
    """One game board and its players; see the module docstring for the rules."""

    def __init__(self, config: WorldConfig, seed: int) -> None:
        self._config = config
        self._rng = random.Random(seed)
        self.tick = 0
        self._players: dict[int, _Player] = {}
        self._order: list[int] = []  # player ids, sorted
        self._occupied: dict[Cell, int] = {}  # every live snake cell -> owner id
        self._food: set[Cell] = set()
        self._snapshot: Snapshot | None = None
        self._top_up_food()

    @classmethod
    def from_snapshot(cls, config: WorldConfig, snapshot: Snapshot, seed: int) -> World:
        """A world continuing from ``snapshot`` (scenarios, replays, tests).

        Turn queues start empty and the food is exactly the snapshot's until
        the next step tops it up.  Raises ValueError if the snapshot does not
        fit ``config`` or is not a legal position (overlapping or broken
        bodies, food on a snake, inconsistent alive/respawn fields).
        """
        if (snapshot.width, snapshot.height, snapshot.wrap) != (
            config.width,
            config.height,
            config.wrap,
        ):
            raise ValueError("snapshot board does not match the config")
        world = cls(config, seed)
        world.tick = snapshot.tick
        world._food.clear()
        board = (config.width, config.height, config.wrap)
        for p in snapshot.players:
            if p.alive != bool(p.body) or p.alive == (p.respawn_ticks > 0):
                raise ValueError(f"player {p.id}: alive, body and respawn_ticks disagree")
            if p.best < p.score:
                raise ValueError(f"player {p.id}: best below score")
            player = world._admit(p.id, p.name, p.colour)
            player.body = deque(p.body)
            player.alive, player.direction = p.alive, Direction(p.direction)
            player.score, player.best, player.kills = p.score, p.best, p.kills
            player.respawn_ticks = p.respawn_ticks
            for i, cell in enumerate(p.body):
                x, y = cell
                if not (0 <= x < config.width and 0 <= y < config.height):
                    raise ValueError(f"player {p.id}: cell {cell} off the board")
                if cell in world._occupied:
                    raise ValueError(f"player {p.id}: cell {cell} is taken")
                if i and step_direction(p.body[i - 1], cell, *board) is None:
                    raise ValueError(f"player {p.id}: body is not contiguous")
                world._occupied[cell] = p.id
        for cell in snapshot.food:
            if cell in world._occupied:
                raise ValueError(f"food on a snake at {cell}")
            world._food.add(cell)
        world._snapshot = None
        return world

    @property
    def config(self) -> WorldConfig:
        """The rules this world was built with."""
        return self._config

    @property
    def player_ids(self) -> tuple[int, ...]:
        """Ids of all players, alive or dead, in increasing order."""
        return tuple(self._order)

    def has_player(self, player_id: int) -> bool:
        """Whether ``player_id`` is in the game (alive or waiting to respawn)."""
        return player_id in self._players

    def free_cells(self) -> list[Cell]:
        """Cells holding neither a snake nor food, sorted."""
        occupied, food = self._occupied, self._food
        return [
            (x, y)
            for x in range(self._config.width)
            for y in range(self._config.height)
            if (x, y) not in occupied and (x, y) not in food
        ]

    # -- between ticks -------------------------------------------------------

    def add_player(self, player_id: int, name: str, colour: int, *, respawn_in: int = 0) -> None:
        """Add a player and spawn its snake at once (if the board has room), or
        with ``respawn_in`` > 0 dead, to respawn that many ticks from now (the
        server's way to make a player who gave up a dead snake wait it out).

        Raises ValueError for a duplicate or out-of-range id, a bad name or
        colour, or when ``max_players`` are already in the game.
        """
        player = self._admit(player_id, name, colour)
        if respawn_in > 0:
            player.respawn_ticks = respawn_in
        elif not self._spawn(player):
            player.respawn_ticks = 1
        self._snapshot = None

    def _admit(self, player_id: int, name: str, colour: int) -> _Player:
        """Check and register a new player, not yet on the board."""
        if type(player_id) is not int or not 0 <= player_id <= MAX_PLAYER_ID:
            raise ValueError(f"player id must be an int in [0, {MAX_PLAYER_ID}]")
        if player_id in self._players:
            raise ValueError(f"player {player_id} is already in the game")
        if len(self._players) >= self._config.max_players:
            raise ValueError(f"the game is full ({self._config.max_players} players)")
        if not isinstance(name, str) or len(name) > MAX_NAME_LENGTH:
            raise ValueError(f"name must be a str of at most {MAX_NAME_LENGTH} characters")
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("name must be encodable as UTF-8") from None
        if type(colour) is not int or not 0 <= colour <= 255:
            raise ValueError("colour must be an int in [0, 255]")
        player = _Player(id=player_id, name=name, colour=colour, body=deque(), turns=deque())
        self._players[player_id] = player
        insort(self._order, player_id)
        return player

    def remove_player(self, player_id: int) -> None:
        """Take a player and its snake out of the game (unknown ids are ignored)."""
        player = self._players.pop(player_id, None)
        if player is None:
            return
        self._order.remove(player_id)
        for cell in player.body:
            del self._occupied[cell]
        self._snapshot = None

    def queue_turn(self, player_id: int, direction: Direction) -> bool:
        """Queue a turn for the player's next free tick; False if it was dropped.

        Dropped: unknown or dead player, :data:`MAX_QUEUED_TURNS` already
        pending, or ``direction`` equal or opposite to the last queued turn
        (the current direction if none is queued).
        """
        player = self._players.get(player_id)
        if player is None or not player.alive:
            return False
        direction = Direction(direction)
        if not accepts_turn(player.turns, player.direction, direction, MAX_QUEUED_TURNS):
            return False
        player.turns.append(direction)
        return True

    def pending_turns(self, player_id: int) -> int:
        """How many turns ``player_id`` has queued (0 for unknown or dead players)."""
        player = self._players.get(player_id)
        return 0 if player is None else len(player.turns)

    # -- one tick -------------------------------------------------------------

    def step(self) -> list[WorldEvent]:
        """Advance the world by one tick and report what happened, in id order."""
        cfg = self._config
        players, occupied, food = self._players, self._occupied, self._food
        live = [players[pid] for pid in self._order if players[pid].alive]
        was_dead = [players[pid] for pid in self._order if not players[pid].alive]

        # 1. Turn and pick each new head; None means into a wall.
        new_heads: dict[int, Cell | None] = {}
        grows: dict[int, bool] = {}
        entering: dict[Cell, list[int]] = {}
        for p in live:
            p.direction, cell, grows[p.id] = plan_move(p.body, p.direction, p.turns, cfg, food)
            new_heads[p.id] = cell
            if cell is not None:
                entering.setdefault(cell, []).append(p.id)

        # 2. Judge every snake against the bodies as they are after the move.
        deaths: list[PlayerDied] = []
        for p in live:
            died = self._judge(p, new_heads, grows, entering)
            if died is not None:
                deaths.append(died)

        # 3. Apply: dead bodies and vacated tails go before new heads arrive.
        events: list[WorldEvent] = []
        dead_ids = {d.player_id for d in deaths}
        for death in deaths:
            p = players[death.player_id]
            if death.cause == "snake" and death.killer_id is not None:
                players[death.killer_id].kills += 1
            for cell in p.body:
                del occupied[cell]
            p.body.clear()
            p.turns.clear()
            p.alive = False
            p.score = 0
            p.respawn_ticks = cfg.respawn_ticks
            events.append(death)
        survivors = [p for p in live if p.id not in dead_ids]
        for p in survivors:
            if not grows[p.id]:
                del occupied[p.body[-1]]
        for p in survivors:
            head = new_heads[p.id]
            assert head is not None
            advance_body(p.body, head, grows[p.id])
            occupied[head] = p.id
            if grows[p.id]:
                food.remove(head)
                p.score += cfg.score_per_food
                p.best = max(p.best, p.score)
                events.append(FoodEaten(player_id=p.id, cell=head))

        # 4. Respawns, counted only for snakes that were already dead.
        for p in was_dead:
            p.respawn_ticks -= 1
            if p.respawn_ticks <= 0:
                if self._spawn(p):
                    events.append(PlayerRespawned(player_id=p.id))
                else:
                    p.respawn_ticks = 1

        self._top_up_food()
        self.tick += 1
        self._snapshot = None
        return events

    def _judge(
        self,
        p: _Player,
        new_heads: dict[int, Cell | None],
        grows: dict[int, bool],
        entering: dict[Cell, list[int]],
    ) -> PlayerDied | None:
        head = new_heads[p.id]
        if head is None:
            return PlayerDied(player_id=p.id, killer_id=None, cause="wall")
        rivals = [pid for pid in entering[head] if pid != p.id]
        if rivals:
            return PlayerDied(player_id=p.id, killer_id=min(rivals), cause="head-on")
        owner_id = self._occupied.get(head)
        if owner_id is None:
            return None
        owner = self._players[owner_id]
        if head == owner.body[-1] and not grows[owner_id]:
            return None  # that tail moves out of the way this tick
        if owner_id == p.id:
            return PlayerDied(player_id=p.id, killer_id=None, cause="self")
        if head == owner.body[0] and new_heads[owner_id] == p.body[0]:
            return PlayerDied(player_id=p.id, killer_id=owner_id, cause="head-on")
        return PlayerDied(player_id=p.id, killer_id=owner_id, cause="snake")

    # -- spawning ------------------------------------------------------------

    def _spawn(self, p: _Player) -> bool:
        placed = self._find_spawn()
        if placed is None:
            return False
        body, direction = placed
        p.body = deque(body)
        for cell in body:
            self._occupied[cell] = p.id
        p.direction = direction
        p.alive = True
        p.respawn_ticks = 0
        p.turns.clear()
        return True

    def _find_spawn(self) -> tuple[list[Cell], Direction] | None:
        cfg = self._config
        rng = self._rng
        heads = [self._players[pid].body[0] for pid in self._order if self._players[pid].alive]
        width, height, wrap = cfg.width, cfg.height, cfg.wrap

        def head_distance(cell: Cell) -> int:
            hx, hy = cell
            distance = _SPAWN_DIST_CAP
            for ox, oy in heads:
                dx, dy = abs(ox - hx), abs(oy - hy)
                if wrap:
                    dx, dy = min(dx, width - dx), min(dy, height - dy)
                distance = min(distance, dx + dy)
            return distance

        best: tuple[int, list[Cell], Direction] | None = None
        for _ in range(_SPAWN_SAMPLES):
            cell = (rng.randrange(width), rng.randrange(height))
            best = self._better_spawn(best, cell, head_distance, min_run=_SPAWN_MIN_RUN)
        if best is None:
            # Crowded board: look everywhere, settling for less room ahead.  The
            # distances to the nearest head come from one breadth-first pass
            # (on an empty grid it gives the same capped Manhattan distance).
            near = _head_distances(heads, width, height, wrap)

            def mapped_distance(cell: Cell) -> int:
                return near.get(cell, _SPAWN_DIST_CAP)

            for min_run in (3, 1):
                if best is not None:
                    break
                for x in range(width):
                    for y in range(height):
                        best = self._better_spawn(best, (x, y), mapped_distance, min_run=min_run)
        return None if best is None else (best[1], best[2])

    def _better_spawn(
        self,
        best: tuple[int, list[Cell], Direction] | None,
        head: Cell,
        head_distance: Callable[[Cell], int],
        min_run: int,
    ) -> tuple[int, list[Cell], Direction] | None:
        """``best`` or the best spawn with its head at ``head``, whichever scores higher.

        ``head_distance`` gives the distance to the nearest live head, capped at
        ``_SPAWN_DIST_CAP``; it is asked only once a direction could win.
        """
        cfg = self._config
        width, height = cfg.width, cfg.height
        occupied, food = self._occupied, self._food
        if head in occupied or head in food:
            return best
        if best is not None and best[0] >= 2 * _SPAWN_DIST_CAP + _SPAWN_RUN_CAP:
            return best  # nothing here can score higher
        hx, hy = head
        distance: int | None = None
        for direction in Direction:
            # The body trails straight behind the head, never across an edge.
            body = [(hx - direction.dx * i, hy - direction.dy * i) for i in range(cfg.start_length)]
            if not all(
                0 <= x < width and 0 <= y < height and (x, y) not in occupied and (x, y) not in food
                for x, y in body[1:]
            ):
                continue
            if distance is None:
                distance = head_distance(head)
            if best is not None and 2 * distance + _SPAWN_RUN_CAP <= best[0]:
                continue  # even the longest run would not score higher
            run = 0
            ahead = step(head, direction, width, height, cfg.wrap)
            while run < _SPAWN_RUN_CAP and ahead is not None and ahead not in occupied:
                run += 1
                ahead = step(ahead, direction, width, height, cfg.wrap)
            if run < min_run:
                continue
            score = 2 * distance + run
            if best is None or score > best[0]:
                best = (score, body, direction)
        return best

    def _top_up_food(self) -> None:
        cfg = self._config
        width, height = cfg.width, cfg.height
        target = (
            cfg.food_base
            + math.ceil(cfg.food_per_player * len(self._players))
            + max(0, width * height - _AREA_FOOD_FREE) // _CELLS_PER_AREA_FOOD
        )
        occupied, food, rng = self._occupied, self._food, self._rng
        free = width * height - len(occupied) - len(food)
        while len(food) < target and free > 0:
            for _ in range(_FOOD_PROBES):
                index = rng.randrange(width * height)
                cell = (index % width, index // width)
                if cell not in occupied and cell not in food:
                    break
            else:
                cell = rng.choice(self.free_cells())
            food.add(cell)
            free -= 1

    # -- what leaves the world ----------------------------------------------

    def snapshot(self) -> Snapshot:
        """The world as of the end of the last step (cached until it changes)."""
        if self._snapshot is None:
            cfg = self._config
            self._snapshot = Snapshot(
                tick=self.tick,
                width=cfg.width,
                height=cfg.height,
                wrap=cfg.wrap,
                players=tuple(self._player_state(self._players[pid]) for pid in self._order),
                food=tuple(sorted(self._food)),
            )
        return self._snapshot

    @staticmethod
    def _player_state(p: _Player) -> PlayerState:
        return PlayerState(
            id=p.id,
            name=p.name,
            colour=p.colour,
            alive=p.alive,
            direction=p.direction,
            body=tuple(p.body),
            score=p.score,
            best=p.best,
            kills=p.kills,
            respawn_ticks=p.respawn_ticks,
        )

    def state_hash(self) -> int:
        """``snapshot_hash(self.snapshot())``: what clients check their copy against."""
        return snapshot_hash(self.snapshot())


def accepts_turn(
    pending: Sequence[Direction], heading: Direction | None, turn: Direction, cap: int
) -> bool:
    """Whether ``turn`` may join the ``pending`` turns of a snake heading ``heading``.

    The one turn rule, for the world's queues and the client's unacknowledged
    inputs alike: refused when ``cap`` turns are already pending, or when
    ``turn`` equals or reverses the *reference* direction, the last pending
    turn (``heading`` if none is pending).  A ``heading`` of None (a client
    that does not see its snake) leaves only the cap with no pending turn.
    """
    if len(pending) >= cap:
        return False
    reference = pending[-1] if pending else heading
    return reference is None or (turn != reference and turn != reference.opposite)


# -- one snake's move, as pure functions -----------------------------------------
# World.step is built from these, and the client's predictor
# (netsnake.client.prediction) calls the same ones for the player's own snake.


def plan_move(
    body: Sequence[Cell],
    direction: Direction,
    turns: deque[Direction],
    config: WorldConfig,
    food: Collection[Cell],
) -> tuple[Direction, Cell | None, bool]:
    """One live snake's move this tick, before anyone is judged.

    Pops at most one turn from ``turns`` (the only mutation) and returns the
    new direction, the new head (``None``: into a wall) and whether the snake
    grows (its new head lands on food).
    """
    if turns:
        direction = turns.popleft()
    head = step(body[0], direction, config.width, config.height, config.wrap)
    return direction, head, head is not None and head in food


def advance_body(body: deque[Cell], head: Cell, grows: bool) -> None:
    """Move ``body`` onto ``head`` (a survivor's move): the tail leaves unless it grows."""
    if not grows:
        body.pop()
    body.appendleft(head)


def _head_distances(heads: Sequence[Cell], width: int, height: int, wrap: bool) -> dict[Cell, int]:
    """Cells closer than ``_SPAWN_DIST_CAP`` to a head -> that distance (Manhattan,
    the short way round on a wrap board), by a breadth-first pass from all heads."""
    near: dict[Cell, int] = {}
    frontier: list[Cell] = []
    for head in heads:
        if head not in near:
            near[head] = 0
            frontier.append(head)
    for distance in range(1, _SPAWN_DIST_CAP):
        following: list[Cell] = []
        for cell in frontier:
            for d in range(4):
                n = step(cell, d, width, height, wrap)
                if n is not None and n not in near:
                    near[n] = distance
                    following.append(n)
        frontier = following
    return near
