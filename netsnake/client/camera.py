"""The camera: which part of a board bigger than the screen is shown.

Pure model, no drawing: the board widget asks :meth:`Camera.viewport` for the
window of cells to draw each frame, handing it the board, the number of cells
the terminal has room for and the *focus*, the point the camera follows (the
drawn head of the player's snake, or of the followed player when watching).

Theory of operation
-------------------
Each axis is handled on its own.  When the board fits the room along an axis,
the whole axis is shown and the camera does not move along it.  Otherwise the
camera keeps a float origin (the board coordinate of the left/top edge of the
view) and a *dead zone*: the focus may move freely while it stays at least
``margin`` cells from either edge of the view; when it would come closer, the
origin moves by exactly as much as needed to keep the margin.  The margin is
the same on every side, so whatever direction the snake heads, at least
``margin`` cells ahead of its head are on screen.

The focus is the head as drawn, with its sub-cell glide (block mode grows the
head into its next cell frame by frame), so the origin moves continuously.
The shown window is the origin rounded to what a terminal can show: whole
rows down, and *half cells* across (a cell is two columns wide), so a snake
gliding sideways scrolls the view one column at a time, half-way through its
glide and again at its end; the view never jumps while following.  A window
starting half-way into a cell (``Viewport.half``) shows the second column of
its first cell and the first column of one more cell at the right.

* Non-wrap boards: the origin is clamped to ``[0, size - view]``, so the view
  stops at the walls and the walls come into view at the board's edges.
* Wrap boards: the origin is taken modulo the board size and distances are
  measured the short way round, so the view scrolls across the seam.
* Jumps (a respawn, following another player, the first frame): when keeping
  the margin would need a move of more than :data:`FOLLOW_STEP` cells, the
  camera *pans*: each frame it covers a fixed share of the way left, as a
  function of the time elapsed (``1 - exp(-dt / PAN_TIME)``), so a respawn
  across a 200-cell board is on screen within about half a second and no frame
  moves further than the remaining distance needs.  Without a clock (``now``
  is ``None``), and on the first frame, it moves at once.
* Resizing: a change of the room or of the board resets nothing but moves the
  view at once (clamped and with the margin kept), never by a pan: the screen
  has just changed anyway.
* No focus (the snake is dead, or nobody is followed): the camera stays put.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from netsnake.client.interpolation import RenderFrame
from netsnake.game.direction import step_direction
from netsnake.game.snapshot import PlayerState, Snapshot

__all__ = [
    "FOLLOW_STEP",
    "PAN_TIME",
    "Camera",
    "Viewport",
    "area_span",
    "frame_focus",
    "head_point",
    "margin_for",
    "view_within",
]

#: Largest move (cells, per frame) made at once while following; beyond it the camera pans.
FOLLOW_STEP: Final = 1.5
#: Time constant (s) of a pan: each ``PAN_TIME`` covers ~63 % of the way left.
PAN_TIME: Final = 0.08
#: Largest margin kept between the focus and the edge of the view, in cells.
MAX_MARGIN: Final = 8

Point = tuple[float, float]


def area_span(columns: int, rows: int) -> tuple[int, int]:
    """What to state in VIEW for a ``columns`` x ``rows`` view: the cells around the
    followed head the view may show.

    The server centres the area of interest on that head, but the dead zone lets
    the head sit anywhere at least the margin from an edge, so the far edge may
    be ``view - margin`` cells away on either side.
    """
    return (
        2 * (columns - margin_for(columns)),
        2 * (rows - margin_for(rows)),
    )


def view_within(cap: tuple[int, int]) -> tuple[int, int]:
    """The largest view (cells across, down) whose :func:`area_span` fits in ``cap``:
    the server's cap on VIEW (ACCEPTED's ``max_view``).  A bigger view could show
    cells outside the area the server sends, where snakes are there but unseen.
    """
    return _longest_view(cap[0]), _longest_view(cap[1])


def _longest_view(span: int) -> int:
    # n - margin_for(n) grows by 0 or 1 as n grows, and the margin is at most
    # MAX_MARGIN, so the answer is at most span // 2 + MAX_MARGIN.
    n = span // 2 + MAX_MARGIN
    while n > 1 and 2 * (n - margin_for(n)) > span:
        n -= 1
    return n


def margin_for(view: int) -> int:
    """The margin (cells) kept on each side of the focus in a view ``view`` cells long.

    A third of the view, at most :data:`MAX_MARGIN`, and 0 for views too short to keep any.
    """
    return max(0, min(MAX_MARGIN, (view - 1) // 3))


@dataclass(frozen=True, slots=True)
class Viewport:
    """The window of the board shown: ``width``×``height`` cells from ``(x, y)``.

    On wrap boards the window may run across the seam: the cell shown at
    column ``i`` is ``(x + i) % board_width``.
    """

    x: int
    y: int
    width: int
    height: int
    board_width: int
    board_height: int
    wrap: bool
    half: bool = False

    @property
    def columns(self) -> int:
        """Cells painted across: ``width``, plus the one cut in half at each side when ``half``."""
        return self.width + self.half

    @property
    def whole(self) -> bool:
        """Whether the whole board is shown."""
        return self.width >= self.board_width and self.height >= self.board_height

    def to_view(self, x: int, y: int) -> tuple[int, int] | None:
        """The painted column (``0 .. columns - 1``; its screen columns start at
        ``2 * i - half`` inside the frame) and row of board cell ``(x, y)``, or
        ``None`` when not shown."""
        i = (x - self.x) % self.board_width if self.wrap else x - self.x
        j = (y - self.y) % self.board_height if self.wrap else y - self.y
        if 0 <= i < self.columns and 0 <= j < self.height:
            return i, j
        return None

    @property
    def walls(self) -> tuple[bool, bool, bool, bool]:
        """Whether the board's (left, right, top, bottom) edge lies at the view's edge.

        A view showing a whole axis always shows both its edges (also on a
        wrap board, whose frame is drawn as before); a scrolled one only the
        wall it has reached, and a wrap board none.
        """
        full_x = self.width >= self.board_width
        full_y = self.height >= self.board_height
        edge = not self.wrap
        edge_x = edge and not self.half  # a half cell at the side is never a wall
        return (
            full_x or (edge_x and self.x == 0),
            full_x or (edge_x and self.x + self.width >= self.board_width),
            full_y or (edge and self.y == 0),
            full_y or (edge and self.y + self.height >= self.board_height),
        )


class _Axis:
    """The camera along one axis (see the module docstring)."""

    __slots__ = ("origin",)

    def __init__(self) -> None:
        self.origin: float | None = None

    def target(self, origin: float, focus: float, size: int, view: int, wrap: bool) -> float:
        """The nearest origin to ``origin`` keeping ``focus`` inside the margins."""
        margin = margin_for(view)
        rel = focus - origin
        if wrap:  # measure the short way round, centred on the view
            rel = (rel - view / 2 + size / 2) % size - size / 2 + view / 2
        low, high = margin, view - margin
        if rel < low:
            origin += rel - low
        elif rel > high:
            origin += rel - high
        return origin

    def step(
        self,
        focus: float | None,
        size: int,
        view: int,
        wrap: bool,
        fraction: float | None,
        halves: bool = False,
    ) -> tuple[int, int, bool]:
        """Move and return the shown (first cell, cell count, half); ``fraction`` is the
        pan share for this frame, ``None`` to move at once; ``halves`` rounds the origin
        to half cells rather than whole ones."""
        if view >= size:
            self.origin = None
            return 0, size, False
        origin = self.origin
        if focus is not None:
            if origin is None:
                origin = focus - view / 2  # first sight: centred
            else:
                target = self.target(origin, focus, size, view, wrap)
                move = target - origin
                if abs(move) > FOLLOW_STEP and fraction is not None:
                    move *= fraction
                origin += move
        elif origin is None:
            origin = 0.0
        if wrap:
            origin %= size
        else:
            origin = min(max(origin, 0.0), float(size - view))
        self.origin = origin
        if halves:
            # Clamped, the origin rounds to 0 or 2·(size - view) half cells at the
            # walls (no half there), and a half window never reaches past the board.
            at = math.floor(2 * origin + 0.5)
            first, half = at // 2, bool(at % 2)
        else:
            first, half = math.floor(origin + 0.5), False
        return (first % size if wrap else first), view, half


class Camera:
    """Follows a point on the board; see the module docstring for the rules."""

    def __init__(self) -> None:
        self._x = _Axis()
        self._y = _Axis()
        self._shape: tuple[int, int, bool, int, int] | None = None
        self._last: float | None = None

    def reset(self) -> None:
        """Forget the position: the next viewport is centred on the focus."""
        self._x.origin = self._y.origin = None
        self._shape = None
        self._last = None

    def viewport(
        self,
        board: tuple[int, int, bool],
        room: tuple[int, int],
        focus: Point | None,
        now: float | None = None,
        *,
        halves: bool = True,
    ) -> Viewport:
        """The cells to show of a ``board`` (width, height, wrap) in ``room`` (cells
        across, down) with the camera following ``focus`` (cell units, ``(0.5, 0.5)``
        is the centre of the top-left cell; ``None``: stay put) at time ``now``.

        ``halves``: scroll across by half cells (one column); off for ASCII's whole cells.
        """
        width, height, wrap = board
        room_x, room_y = max(0, room[0]), max(0, room[1])
        shape = (width, height, wrap, room_x, room_y)
        if shape[:3] != (self._shape or shape)[:3]:
            self.reset()  # another board: nothing carries over
        fraction: float | None = None
        if shape == self._shape and now is not None and self._last is not None:
            fraction = 1.0 - math.exp(-max(0.0, now - self._last) / PAN_TIME)
        # A resize (or no clock) moves at once; so does the first frame.
        self._shape = shape
        if now is not None:
            self._last = now
        fx, fy = focus if focus is not None else (None, None)
        x, w, half = self._x.step(fx, width, room_x, wrap, fraction, halves)
        y, h, _half = self._y.step(fy, height, room_y, wrap, fraction)
        return Viewport(x, y, w, h, width, height, wrap, half)


def head_point(
    p: PlayerState, q: PlayerState | None, fraction: float, board: Snapshot
) -> Point | None:
    """The centre of ``p``'s head as drawn ``fraction`` of the way to ``q``'s head.

    ``q`` is the same player one step later (``None``: no later state); a
    ``q`` that is not one ordinary step on (a respawn, a wrap-less jump) is
    not glided to.  ``None`` when ``p`` has no head.
    """
    if not p.alive or not p.body:
        return None
    hx, hy = p.body[0]
    point = (hx + 0.5, hy + 0.5)
    if q is None or not q.alive or not q.body or fraction <= 0.0:
        return point
    if q.body[0] == p.body[0]:
        return point
    moving = step_direction(p.body[0], q.body[0], board.width, board.height, board.wrap)
    if moving is None:
        return (q.body[0][0] + 0.5, q.body[0][1] + 0.5) if fraction >= 0.5 else point
    return point[0] + moving.dx * fraction, point[1] + moving.dy * fraction


def frame_focus(frame: RenderFrame, player_id: int | None, whole_cells: bool) -> Point | None:
    """Where the board draws ``player_id``'s head in ``frame``: the camera's focus.

    The player's own snake, when predicted (``frame.own``), is drawn ahead of
    the snapshots: its head at ``own.state`` growing into ``own.next_state``
    by ``own.progress``.  Everyone else is interpolated: ``whole_cells`` (ASCII
    mode) switches to the next snapshot half-way, block mode glides by
    ``frame.alpha``.
    """
    if player_id is None:
        return None
    own = frame.own
    if own is not None and own.state.id == player_id:
        if whole_cells:
            return head_point(own.state, None, 0.0, frame.prev)
        return head_point(own.state, own.next_state, own.progress, frame.prev)
    if whole_cells:
        shown = frame.next if frame.alpha >= 0.5 else frame.prev
        p = shown.player(player_id)
        return head_point(p, None, 0.0, shown) if p is not None else None
    p = frame.prev.player(player_id)
    if p is None:
        q = frame.next.player(player_id)
        return head_point(q, None, 0.0, frame.next) if q is not None else None
    return head_point(p, frame.next.player(player_id), frame.alpha, frame.prev)
