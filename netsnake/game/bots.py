"""Computer players: a pure function from what a client sees to its next turn.

Theory of operation
-------------------
The board is flattened to cell indices, and every snake cell gets the tick
at which it will be free again: the cell ``i`` places behind a head of a
snake of length ``L`` is vacated after ``L - i`` moves (one more for a rival
whose head is next to food, as it may grow).  Searches are *time-aware*: a
cell first reached on move ``t`` is passable when it is free by then.  So a
snake may follow its own tail, and pockets that open up as bodies move on
are counted as space.

For each of the (at most three) legal first moves the bot measures the room
behind it with a flood fill capped a little above its length.  A move is
*roomy* when that room is at least the snake's length, and *calm* when no
rival head could enter the same cell next tick (head-on crashes kill both).
A breadth-first search from the best class of first moves finds the nearest
food; with no food in reach, the move with the most room wins.  Ties prefer
going straight, then a random order from ``rng``.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol

from netsnake.game.direction import Direction, step
from netsnake.game.snapshot import PlayerState, Snapshot

if TYPE_CHECKING:
    from netsnake.game.world import World

__all__ = ["Steerable", "choose_turn", "steer_bots", "steer_client"]

# Flood fills stop after this many cells beyond the snake's length: enough to
# tell a dead end from open space without exploring the whole board each time.
_ROOM_MARGIN = 12

Neighbours = tuple[tuple[tuple[int, int], ...], ...]


@lru_cache(maxsize=16)
def _neighbours(width: int, height: int, wrap: bool) -> Neighbours:
    """For each cell index, its ``(direction, neighbour index)`` pairs."""
    table: list[tuple[tuple[int, int], ...]] = []
    for index in range(width * height):
        x, y = index % width, index // width
        pairs: list[tuple[int, int]] = []
        for d in Direction:
            cell = step((x, y), d, width, height, wrap)
            if cell is not None:
                pairs.append((int(d), cell[1] * width + cell[0]))
        table.append(tuple(pairs))
    return tuple(table)


@lru_cache(maxsize=16)
def _neighbour_cells(width: int, height: int, wrap: bool) -> tuple[tuple[int, ...], ...]:
    """For each cell index, its neighbour indices (as :func:`_neighbours`, no directions)."""
    return tuple(tuple(n for _, n in pairs) for pairs in _neighbours(width, height, wrap))


def _room(start: int, free_at: list[int], cells: tuple[tuple[int, ...], ...], cap: int) -> int:
    """Cells reachable from ``start`` (entered on move 1), counted up to ``cap``."""
    seen = {start}
    add = seen.add
    frontier = [start]
    t = 1
    while frontier and len(seen) < cap:
        t += 1
        following: list[int] = []
        append = following.append
        for cell in frontier:
            for n in cells[cell]:
                if n not in seen and free_at[n] <= t:
                    add(n)
                    append(n)
        frontier = following
    return len(seen)


def _nearest_food_move(
    starts: list[tuple[int, int]],
    free_at: list[int],
    food: set[int],
    cells: tuple[tuple[int, ...], ...],
) -> int | None:
    """The first move (a direction) of a shortest path from ``starts`` to food.

    Breadth-first, one layer (move) at a time; a food cell is recognised when
    it is first reached, which is the order a queue would pop it in.
    """
    origin: dict[int, int] = {}
    frontier: list[int] = []
    for d, cell in starts:
        if cell not in origin:
            if cell in food:
                return d
            origin[cell] = d
            frontier.append(cell)
    t = 1
    while frontier:
        t += 1
        following: list[int] = []
        append = following.append
        for cell in frontier:
            first = origin[cell]
            for n in cells[cell]:
                if n not in origin and free_at[n] <= t:
                    if n in food:
                        return first
                    origin[n] = first
                    append(n)
        frontier = following
    return None


class _Board:
    """What every bot of one snapshot shares: the free-at table, food and rival heads.

    Built once per tick (:func:`steer_bots`), so a tick with hundreds of bots
    costs one pass over the board and the bodies, not one per bot.  The table
    holds every body with its owner's *rival* delay; :meth:`choose` puts the
    bot's own body in without a delay for its own decision and back after.
    """

    def __init__(self, view: Snapshot) -> None:
        self.view = view
        width = view.width
        self.width = width
        self.neighbours = _neighbours(width, view.height, view.wrap)
        self.cells = _neighbour_cells(width, view.height, view.wrap)
        self.players = {p.id: p for p in reversed(view.players)}  # first wins, as view.player
        food = self.food = {y * width + x for x, y in view.food}
        free_at = self.free_at = [0] * (width * view.height)
        self.contested: dict[int, int] = {}  # cell -> rival heads next to it
        self.delays: dict[int, int] = {}
        for p in view.players:
            if not p.alive or not p.body:
                continue
            length = len(p.body)
            hx, hy = p.body[0]
            head = hy * width + hx
            around = self.neighbours[head]
            delay = 1 if any(n in food for _, n in around) else 0  # it may eat and keep its tail
            self.delays[p.id] = delay
            for _, n in around:
                self.contested[n] = self.contested.get(n, 0) + 1
            for i, (x, y) in enumerate(p.body):
                free_at[y * width + x] = length - i + delay

    def choose(self, player_id: int, rng: random.Random | None) -> Direction | None:
        me = self.players.get(player_id)
        if me is None or not me.alive or not me.body:
            return None
        width, free_at = self.width, self.free_at
        length = len(me.body)
        delay = self.delays[player_id]
        cells = [y * width + x for x, y in me.body]
        if delay:
            for i, c in enumerate(cells):
                free_at[c] = length - i
        hx, hy = me.body[0]
        own_head = hy * width + hx
        try:
            return self._choose(me, own_head, rng)
        finally:
            if delay:
                for i, c in enumerate(cells):
                    free_at[c] = length - i + delay

    def _choose(
        self, me: PlayerState, own_head: int, rng: random.Random | None
    ) -> Direction | None:
        free_at, neighbours, food = self.free_at, self.neighbours, self.food
        own_around = {n for _, n in neighbours[own_head]}
        contested = self.contested

        def is_contested(cell: int) -> bool:
            # Next to a rival head: to any head but our own.
            return contested.get(cell, 0) > (1 if cell in own_around else 0)

        straight = int(me.direction)
        reverse = int(me.direction.opposite)
        moves = [(d, n) for d, n in neighbours[own_head] if d != reverse and free_at[n] <= 1]
        if not moves:
            return None
        if rng is not None:
            rng.shuffle(moves)
        moves.sort(key=lambda move: move[0] != straight)

        length = len(me.body)
        cap = length + _ROOM_MARGIN
        cells = self.cells
        room = {d: _room(n, free_at, cells, cap) for d, n in moves}
        roomy = [(d, n) for d, n in moves if room[d] >= min(length, cap)]
        calm_roomy = [(d, n) for d, n in roomy if not is_contested(n)]

        choice: int | None = None
        for candidates in (calm_roomy, roomy):
            if candidates:
                choice = _nearest_food_move(candidates, free_at, food, cells)
                if choice is None:
                    choice = max(candidates, key=lambda move: room[move[0]])[0]
                break
        if choice is None:
            calm = [(d, n) for d, n in moves if not is_contested(n)] or moves
            choice = max(calm, key=lambda move: room[move[0]])[0]
        return None if choice == straight else Direction(choice)


def choose_turn(
    view: Snapshot, player_id: int, rng: random.Random | None = None
) -> Direction | None:
    """The turn ``player_id`` should make now, or None to keep going straight.

    Pure: reads ``view`` only (and draws from ``rng``, if given, to break
    ties).  Returns None too when the player is absent or dead.
    """
    return _Board(view).choose(player_id, rng)


def steer_bots(world: World, rng: random.Random, player_ids: Iterable[int] | None = None) -> None:
    """Queue the bots' turns for the next tick (all players by default).

    Turns go through :meth:`World.queue_turn`, the same path as a human's.
    """
    board = _Board(world.snapshot())
    for pid in world.player_ids if player_ids is None else player_ids:
        turn = board.choose(pid, rng)
        if turn is not None:
            world.queue_turn(pid, turn)


class Steerable(Protocol):
    """A client a bot can drive: its id, its newest snapshot, what its player sees
    of their own snake (predicted or not) and a steering wheel."""

    @property
    def player_id(self) -> int | None: ...
    @property
    def latest_snapshot(self) -> Snapshot | None: ...
    def steering_view(self, snapshot: Snapshot) -> Snapshot: ...
    def steer(self, direction: Direction) -> object: ...


def steer_client(client: Steerable, snapshot: Snapshot, rng: random.Random) -> object:
    """Steer ``client`` with :func:`choose_turn` when ``snapshot`` is its newest one,
    through the client's own input path (as a person pressing keys would).

    Returns what ``client.steer`` returned, or None when no turn was made.
    """
    pid = client.player_id
    if pid is None or snapshot is not client.latest_snapshot:
        return None
    turn = choose_turn(client.steering_view(snapshot), pid, rng)
    return None if turn is None else client.steer(turn)
