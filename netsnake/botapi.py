"""Write a netsnake bot: the view a bot function receives, and what it may return.

A bot is a plain function ``bot(view: BotView) -> Turn``.  ``netsnake-client
--bot FILE_OR_MODULE:FUNCTION`` connects a real client (the same core, UDP
session, prediction and stamped inputs a person plays with), and on every
tick calls the function with a fresh :class:`BotView`.  What it returns is
steered at once::

    from netsnake.botapi import BotView, Turn

    def bot(view: BotView) -> Turn:
        for direction, cell in view.moves():      # straight first, then the sides
            if view.is_free(cell):
                return direction
        return None                                # nothing is free: keep going

Stable contract
---------------
Everything named in ``__all__`` is the bot API: the dataclasses' fields, the
helpers' names and meanings.  It only grows (new fields get defaults), so a
bot written today keeps working.  The views are frozen: a bot may keep them
(e.g. the previous tick's) but never changes them.

The view
--------
* Coordinates are ``(x, y)`` cells, ``0 <= x < width``, ``0 <= y < height``;
  ``(0, 0)`` is the top-left corner and ``y`` grows *downwards*.
* ``wrap``: a step off one edge re-enters on the opposite edge; without it
  the edge is a wall (``view.step`` returns None there).
* ``tick`` is the tick whose board the view shows *for your snake*.  With
  prediction on (the default, ``--predict on``) the own snake is where the
  server will have it when a turn sent now arrives, so a returned turn takes
  effect on the step leaving ``view.me.head``, exactly where the bot saw it.
  The other snakes are extrapolated straight on to the same tick (the server
  has not told anyone their turns yet): their heads are guesses, their
  bodies behind the head are certain.  Food is as of the newest snapshot.
  With ``--predict off`` everything is the newest snapshot as received
  (about one downlink old) and turns apply when they arrive.
* ``me`` is the bot's own snake; ``others`` everyone else in the view,
  including dead players waiting to respawn (``alive`` False, empty body).
* ``area``: on a board bigger than the area of interest the server sends,
  the view holds only that area (about 72 x 56 cells around the own head,
  see the game spec's "Areas of interest"): the snakes with a cell in it,
  whole, and the food in it.  ``area`` is that rectangle as ``(x, y,
  columns, rows)`` (running on across the edge of a wrapping board), or None
  when the view holds the whole board.  Outside it nothing is known: a cell
  there is "free" only as far as the view can tell; test with
  :meth:`BotView.sees`.

Turns
-----
A bot returns a :class:`~netsnake.game.direction.Direction`, one of the
strings ``"up"``, ``"down"``, ``"left"``, ``"right"`` (any case), or None to
keep going straight.  Returning the current heading is the same as None.
Reversing (``me.heading.opposite``) is ignored, as the server would ignore
it.  Anything else is a bad answer: counted and reported, as an exception is.
``Direction`` is an ``IntEnum`` and ``Direction.UP`` is 0, so test a choice
with ``is None``, never by its truth value.

Rules a bot needs (all from ``netsnake.game.world``)
----------------------------------------------------
All snakes move one cell per tick, at the same time.  A head entering a wall
(no wrap), any snake's body, or a cell another head enters the same tick
(both die), dies.  A tail leaves its cell during the move, so following a
tail is safe, unless that snake eats this tick (then it keeps its tail).
Eating food adds 1 to length and score.  A dead snake respawns after
``respawn_ticks`` ticks, with its score reset to 0.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from netsnake.game.bots import choose_turn
from netsnake.game.direction import Direction, step
from netsnake.game.interest import Area, area_cells
from netsnake.game.snapshot import Cell, PlayerState, Snapshot

__all__ = [
    "BadTurn",
    "BotFunction",
    "BotView",
    "Cell",
    "Direction",
    "Snake",
    "Turn",
    "as_direction",
    "builtin",
    "builtin_bot",
    "view_of",
]

#: What a bot function returns: a direction, its name, or None (straight on).
Turn = Direction | str | None
#: A bot: called once per tick with the view, returns the turn to make.
BotFunction = Callable[["BotView"], Turn]


@dataclass(frozen=True, slots=True, kw_only=True)
class Snake:
    """One snake on the board, as the bot sees it.

    ``body`` lists its cells head first, empty while dead.  ``heading`` is
    the direction of its last move (the next move goes that way unless it
    turns).  ``respawn_in`` counts the ticks until a dead snake comes back
    (0 while alive).  ``score`` resets to 0 at each death; ``best`` is the
    best score of any life; ``kills`` counts snakes that ran into this one.
    """

    id: int
    name: str
    alive: bool
    heading: Direction
    body: tuple[Cell, ...]
    score: int
    best: int
    kills: int
    respawn_in: int = 0

    @property
    def head(self) -> Cell | None:
        """The head cell, or None while dead."""
        return self.body[0] if self.body else None

    @property
    def tail(self) -> Cell | None:
        """The last cell, or None while dead (it moves on next tick unless the snake eats)."""
        return self.body[-1] if self.body else None

    @property
    def length(self) -> int:
        return len(self.body)


@dataclass(frozen=True, slots=True, kw_only=True)
class BotView:
    """The game as a bot sees it on one tick (see the module docstring).

    ``time_budget`` is how long (seconds) the bot may think before its answer
    is too late and skipped.  The helpers all respect ``wrap``.
    """

    tick: int
    width: int
    height: int
    wrap: bool
    me: Snake
    others: tuple[Snake, ...]
    food: frozenset[Cell]
    time_budget: float = 0.0
    area: tuple[int, int, int, int] | None = None
    _occupied: frozenset[Cell] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        cells = {c for s in (self.me, *self.others) for c in s.body}
        object.__setattr__(self, "_occupied", frozenset(cells))

    @property
    def snakes(self) -> tuple[Snake, ...]:
        """Every snake: ``me`` first, then the others by id."""
        return (self.me, *self.others)

    def on_board(self, cell: Cell) -> bool:
        x, y = cell
        return 0 <= x < self.width and 0 <= y < self.height

    def sees(self, cell: Cell) -> bool:
        """True if ``cell`` is on the board and inside ``area``: what the view says
        of it (snakes, food) is known; outside, the view holds nothing."""
        if not self.on_board(cell):
            return False
        if self.area is None:
            return True
        x, y, columns, rows = self.area
        return (cell[0] - x) % self.width < columns and (cell[1] - y) % self.height < rows

    def step(self, cell: Cell, direction: Direction | str) -> Cell | None:
        """The cell one step from ``cell`` towards ``direction``; None off a walled edge."""
        return step(cell, _parse(direction), self.width, self.height, self.wrap)

    def neighbours(self, cell: Cell) -> tuple[tuple[Direction, Cell], ...]:
        """``(direction, cell)`` for each on-board neighbour of ``cell`` (up, right, down, left)."""
        pairs = []
        for d in Direction:
            n = step(cell, d, self.width, self.height, self.wrap)
            if n is not None:
                pairs.append((d, n))
        return tuple(pairs)

    def is_free(self, cell: Cell) -> bool:
        """True if ``cell`` is on the board and no snake's body covers it now.

        Outside ``area`` no body is known, so a cell there is free as far as
        the view can tell (see :meth:`sees`).  Tails count as covered (a tail
        moves on next tick only if its snake does not eat); food is free.
        Heads that may enter the cell next tick are not considered: see
        :meth:`heads_next_to`.
        """
        return self.on_board(cell) and cell not in self._occupied

    def snake_at(self, cell: Cell) -> Snake | None:
        """The snake whose body covers ``cell``, or None."""
        if cell not in self._occupied:
            return None
        return next(s for s in self.snakes if cell in s.body)

    def heads_next_to(self, cell: Cell) -> tuple[Snake, ...]:
        """Other live snakes whose head is one step from ``cell`` (a head-on risk)."""
        near = {n for _, n in self.neighbours(cell)}
        return tuple(s for s in self.others if s.head is not None and s.head in near)

    def moves(self) -> tuple[tuple[Direction, Cell], ...]:
        """The own snake's possible next moves: ``(direction, cell)``, straight ahead
        first, then the two sides; never the reversal, nor a step off a walled edge.

        Empty while dead.  The cells are not checked: see :meth:`is_free`.
        """
        head = self.me.head
        if head is None:
            return ()
        heading = self.me.heading
        order = (heading, Direction((heading + 1) % 4), Direction((heading + 3) % 4))
        around = dict(self.neighbours(head))
        return tuple((d, around[d]) for d in order if d in around)

    def distance(self, a: Cell, b: Cell) -> int:
        """Steps between two cells ignoring bodies (Manhattan; shorter way round with wrap)."""
        dx, dy = abs(a[0] - b[0]), abs(a[1] - b[1])
        if self.wrap:
            dx, dy = min(dx, self.width - dx), min(dy, self.height - dy)
        return dx + dy


class BadTurn(ValueError):
    """A bot returned something that is not a turn."""


_BY_NAME = {d.name.lower(): d for d in Direction}
_TURNS = "return a Direction, 'up', 'down', 'left', 'right' or None"


def _parse(turn: Direction | str) -> Direction:
    if isinstance(turn, Direction):
        return turn
    if isinstance(turn, str):
        found = _BY_NAME.get(turn.strip().lower())
        if found is not None:
            return found
    raise BadTurn(
        f"{turn!r} is not a turn: return a Direction, 'up', 'down', 'left', 'right' or None"
    )


def as_direction(turn: object) -> Direction | None:
    """A bot's answer as a Direction (None for None); raises BadTurn otherwise."""
    if turn is None:
        return None
    if isinstance(turn, Direction | str):
        return _parse(turn)
    raise BadTurn(f"{turn!r} ({type(turn).__name__}) is not a turn: {_TURNS}")


def _snake(p: PlayerState) -> Snake:
    return Snake(
        id=p.id,
        name=p.name,
        alive=p.alive,
        heading=p.direction,
        body=p.body,
        score=p.score,
        best=p.best,
        kills=p.kills,
        respawn_in=p.respawn_ticks,
    )


def view_of(
    snapshot: Snapshot, player_id: int, *, time_budget: float = 0.0, area: Area | None = None
) -> BotView | None:
    """The view of ``snapshot`` for ``player_id`` (None if that player is not in it);
    ``area`` is the area of interest ``snapshot`` holds (None: the whole board)."""
    me: Snake | None = None
    others: list[Snake] = []
    for p in snapshot.players:
        if p.id == player_id:
            me = _snake(p)
        else:
            others.append(_snake(p))
    if me is None:
        return None
    return BotView(
        tick=snapshot.tick,
        width=snapshot.width,
        height=snapshot.height,
        wrap=snapshot.wrap,
        me=me,
        others=tuple(others),
        food=frozenset(snapshot.food),
        time_budget=time_budget,
        area=area_cells(area, (snapshot.width, snapshot.height)),
    )


def _snapshot_of(view: BotView) -> Snapshot:
    """The view back as a game snapshot (for the built-in policy, which reads snapshots)."""
    players = sorted(
        (
            PlayerState(
                id=s.id,
                name=s.name,
                colour=0,
                alive=s.alive,
                direction=s.heading,
                body=s.body,
                score=s.score,
                best=s.best,
                kills=s.kills,
                respawn_ticks=s.respawn_in,
            )
            for s in view.snakes
        ),
        key=lambda p: p.id,
    )
    return Snapshot(
        tick=view.tick,
        width=view.width,
        height=view.height,
        wrap=view.wrap,
        players=tuple(players),
        food=tuple(sorted(view.food)),
    )


def builtin_bot(seed: int | None = None) -> BotFunction:
    """A new instance of the built-in bot (:func:`netsnake.game.bots.choose_turn`),
    breaking ties with its own ``random.Random(seed)``."""
    rng = random.Random(seed)

    def builtin(view: BotView) -> Turn:
        return choose_turn(_snapshot_of(view), view.me.id, rng)

    return builtin


#: The built-in bot as a plain bot function (``--bot netsnake.botapi:builtin``).
builtin: BotFunction = builtin_bot()
