"""The game board: a custom urwid widget drawing one interpolated frame.

Each grid cell is two terminal columns wide and one row high, so cells look
square.  The widget builds its canvas directly from runs of same-attribute
cells rather than one ``Text`` per row, and keeps each finished row with the
cells it shows: between frames most rows do not change, and those are reused
as ready-made bytes and attribute runs.

Sub-cell movement (block mode): between two ticks the head grows into its next
cell and the tail shrinks out of its last one, drawn with Unicode eighth
blocks.  Cells fill from the left (``▏▎▍▌▋▊▉``) or the bottom (``▁▂▃▄▅▆▇``)
with the glyph itself; there are no glyphs growing from the right or the
top, so those use the complementary glyph in reverse video (``snake.i.inv``).
A horizontal cell has 16 steps (two columns of eighths), a vertical one 8.

A board bigger than the box it is given is drawn through a camera
(:mod:`netsnake.client.camera`) that follows the marked snake: only the cells
in the viewport are painted (culled), the walls are drawn where the view
reaches the board's edge, and elsewhere the frame is a faint dashed line
(``border.open``) saying the board goes on.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Iterable

import urwid
from urwid.widget.constants import Sizing

from netsnake.client.camera import Camera, Viewport, frame_focus
from netsnake.client.interpolation import RenderFrame
from netsnake.client.prediction import OwnSnake
from netsnake.game.direction import Direction, step_direction
from netsnake.game.snapshot import Cell, PlayerState, Snapshot
from netsnake.ui.palette import snake_attr
from netsnake.ui.text import attributed_row

__all__ = ["Board"]

_LEFT_EIGHTHS = " ▏▎▍▌▋▊▉█"
_LOWER_EIGHTHS = " ▁▂▃▄▅▆▇█"
_ARROWS = {Direction.UP: "▲", Direction.RIGHT: "▶", Direction.DOWN: "▼", Direction.LEFT: "◀"}
_ASCII_ARROWS = {Direction.UP: "^", Direction.RIGHT: ">", Direction.DOWN: "v", Direction.LEFT: "<"}
# Monochrome block mode tells snakes apart by texture.
_MONO_BODIES = ("██", "▓▓", "▒▒", "░░")

Token = int
Attr = Hashable
Sides = tuple[tuple[Attr, bytes], tuple[Attr, bytes]]
# A board row: the cells drawn, its bytes and attribute runs, and the side glyphs it has.
_CachedRow = tuple[list[Token], bytes, list[tuple[Attr, int]], tuple[Sides, bool]]


class _Edges:
    """The top and bottom rows and the side glyphs of the frame for one viewport shape.

    A side on the board's edge is a wall (``border``); a side where the screen
    cuts the board off is a faint dashed line (``border.open``).
    """

    def __init__(self, glyphs: _Glyphs, width: int, walls: tuple[bool, bool, bool, bool]) -> None:
        left, right, top, bottom = walls

        def corner(vertical_wall: bool, horizontal_wall: bool, wall_corner: str) -> str:
            if vertical_wall and horizontal_wall:
                return wall_corner
            if vertical_wall:
                return glyphs.vertical
            if horizontal_wall:
                return glyphs.horizontal
            return glyphs.open_corner

        def row(wall: bool, corners: tuple[str, str]) -> tuple[bytes, list[tuple[Attr, int]]]:
            first = corner(left, wall, corners[0])
            last = corner(right, wall, corners[1])
            inner = (glyphs.horizontal if wall else glyphs.open_horizontal) * (width * 2)
            pieces = [
                ("border" if (left or wall) else "border.open", first),
                ("border" if wall else "border.open", inner),
                ("border" if (right or wall) else "border.open", last),
            ]
            return attributed_row(pieces)

        c = glyphs.corners
        self.top, self.top_attrs = row(top, (c[0], c[1]))
        self.bottom, self.bottom_attrs = row(bottom, (c[2], c[3]))
        self.sides: tuple[tuple[Attr, bytes], tuple[Attr, bytes]] = (
            ("border", glyphs.vertical.encode("utf-8"))
            if left
            else ("border.open", glyphs.open_vertical.encode("utf-8")),
            ("border", glyphs.vertical.encode("utf-8"))
            if right
            else ("border.open", glyphs.open_vertical.encode("utf-8")),
        )


class _Glyphs:
    """Border and cell texts for one drawing mode."""

    def __init__(self, ascii_mode: bool) -> None:
        if ascii_mode:
            self.corners = ("+", "+", "+", "+")
            self.horizontal, self.vertical = "-", "|"
            self.food = "**"
            self.open_horizontal, self.open_vertical, self.open_corner = ".", ":", "."
        else:
            self.corners = ("┌", "┐", "└", "┘")
            self.horizontal, self.vertical = "─", "│"
            self.food = "▐▌"
            self.open_horizontal, self.open_vertical, self.open_corner = "╌", "╎", "·"


def _head_text(direction: Direction, ascii_mode: bool) -> str:
    if ascii_mode:
        arrow = _ASCII_ARROWS[direction]
        return f"{arrow}@" if direction is Direction.LEFT else f"@{arrow}"
    arrow = _ARROWS[direction]
    # The arrow sits on the leading side of the cell.
    return f" {arrow}" if direction is Direction.RIGHT else f"{arrow} "


class Board(urwid.Widget):
    """Draws a :class:`RenderFrame`: border, food and every snake in its colour.

    It is a fixed widget (``pack()`` gives its natural size, two columns per
    cell plus the border) that also renders at any box size, so a layout can
    never make it raise: a box the whole board fits is padded; a smaller one
    shows the camera's viewport, following ``my_id``'s snake.
    """

    _sizing = frozenset([Sizing.FIXED, Sizing.BOX])
    _selectable = False
    ignore_focus = True

    def __init__(self, *, ascii_mode: bool = False, mono: bool = False) -> None:
        super().__init__()
        self._ascii = ascii_mode
        self._mono = mono
        self._glyphs = _Glyphs(ascii_mode)
        self._frame: RenderFrame | None = None
        self._my_id: int | None = None
        self._pending: Direction | None = None
        self._dims = (0, 0)
        self._camera = Camera()
        self._now: float | None = None
        self._view: Viewport | None = None
        self._view_whole = False
        #: The most cells (across, down) a view may show; the rest of the box is padded.
        self.max_view: tuple[int, int] | None = None
        self._halves: dict[tuple[Token, int], Token] = {}
        self._tokens: list[tuple[Attr, bytes]] = []
        self._token_ids: dict[tuple[Attr, str], Token] = {}
        self._empty = self._token("board", "  ")
        self._food = self._token("food", self._glyphs.food)
        # Per board row: the cells drawn last frame and their finished bytes and attributes.
        self._rows: list[_CachedRow | None] = []
        self._edges: dict[tuple[int, bool, bool, bool, bool], _Edges] = {}

    # -- state

    @property
    def ascii_mode(self) -> bool:
        """Whether whole cells are drawn with ASCII characters only."""
        return self._ascii

    @property
    def grid_size(self) -> tuple[int, int]:
        """The board size in cells (width, height) of the frame shown."""
        return self._dims

    @property
    def natural_size(self) -> tuple[int, int]:
        """Terminal (columns, rows) the whole board takes, border included."""
        return self._dims[0] * 2 + 2, self._dims[1] + 2

    @property
    def viewport(self) -> Viewport | None:
        """The part of the board drawn last (``None`` before the first render)."""
        return self._view

    @property
    def camera(self) -> Camera:
        """The camera following the marked snake when the board is bigger than the box."""
        return self._camera

    def set_frame(
        self,
        frame: RenderFrame | None,
        *,
        my_id: int | None = None,
        pending_direction: Direction | None = None,
        now: float | None = None,
    ) -> None:
        """Show ``frame``; ``my_id`` marks the player's snake (and is what the camera
        follows), ``pending_direction`` turns its head before the server has applied
        the turn; ``now`` times the camera's pans (``None``: it moves at once)."""
        self._frame = frame
        self._my_id = my_id
        self._pending = pending_direction
        self._now = now
        if frame is not None:
            dims = (max(0, frame.prev.width), max(0, frame.prev.height))
            if dims != self._dims:
                self._dims = dims
                self._rows.clear()
                self._edges.clear()
        self._invalidate()

    def set_snapshot(
        self,
        snapshot: Snapshot,
        *,
        my_id: int | None = None,
        pending_direction: Direction | None = None,
    ) -> None:
        """Show a single snapshot with no interpolation."""
        self.set_frame(
            RenderFrame(snapshot, snapshot, 0.0, float(snapshot.tick)),
            my_id=my_id,
            pending_direction=pending_direction,
        )

    # -- urwid

    def pack(self, size: tuple[int, ...] | None = None, focus: bool = False) -> tuple[int, int]:
        """The natural size, whatever ``size`` is offered."""
        return self.natural_size

    def rows(self, size: tuple[int], focus: bool = False) -> int:
        """Rows taken at the natural height."""
        return self.natural_size[1]

    def render(
        self, size: tuple[()] | tuple[int] | tuple[int, int], focus: bool = False
    ) -> urwid.Canvas:
        """Draw the board at its natural size (``()``) or in ``(cols, rows)``: padded
        when it fits, else the camera's viewport of it."""
        width, height = self._dims
        whole = Viewport(0, 0, width, height, width, height, False)
        if not size:
            return self._render_view(whole)
        if len(size) != 2:
            raise ValueError(f"Board renders as fixed () or box (cols, rows), got {size!r}")
        cols, rows = size
        if cols <= 0 or rows <= 0:  # urwid cannot trim to nothing; an empty canvas will do
            return urwid.TextCanvas([b""] * max(0, rows), maxcol=max(0, cols), check_width=False)
        room = ((cols - 2) // 2, rows - 2)
        if self.max_view is not None:
            room = (min(room[0], self.max_view[0]), min(room[1], self.max_view[1]))
        view = whole
        if (room[0] < width or room[1] < height) and min(room) > 0 and self._frame is not None:
            board = self._frame.prev
            point = frame_focus(self._frame, self._my_id, self._ascii)
            view = self._camera.viewport(
                (width, height, board.wrap), room, point, self._now, halves=not self._ascii
            )
        canvas = self._render_view(view)
        nat_cols, nat_rows = view.width * 2 + 2, view.height + 2
        if (cols, rows) == (nat_cols, nat_rows):
            return canvas
        composite = urwid.CompositeCanvas(canvas)
        composite.pad_trim_left_right(0, cols - nat_cols)
        composite.pad_trim_top_bottom(0, rows - nat_rows)
        return composite

    # -- drawing

    def _token(self, attr: Attr, text: str) -> Token:
        key = (attr, text)
        tok = self._token_ids.get(key)
        if tok is None:
            tok = len(self._tokens)
            self._tokens.append((attr, text.encode("utf-8")))
            self._token_ids[key] = tok
        return tok

    def _render_view(self, view: Viewport) -> urwid.Canvas:
        """The frame and the cells of ``view`` (only those are painted)."""
        grid = [[self._empty] * view.columns for _ in range(view.height)]
        frame = self._frame
        self._view = view
        self._view_whole = view.whole
        if frame is not None:
            self._paint(grid, frame)
        edges = self._edge_rows(view)
        text = [edges.top]
        attrs = [list(edges.top_attrs)]
        rows = self._rows
        if len(rows) != view.height:
            rows[:] = [None] * view.height
        for y, row in enumerate(grid):
            cached = rows[y]
            shape = (edges.sides, view.half)
            if cached is None or cached[0] != row or cached[3] != shape:
                cached = rows[y] = (row, *self._build_row(row, edges.sides, view.half), shape)
            text.append(cached[1])
            attrs.append(list(cached[2]))
        text.append(edges.bottom)
        attrs.append(list(edges.bottom_attrs))
        return urwid.TextCanvas(text, attrs, maxcol=view.width * 2 + 2, check_width=False)

    def _edge_rows(self, view: Viewport) -> _Edges:
        left, right, top, bottom = view.walls
        key = (view.width, left, right, top, bottom)
        edges = self._edges.get(key)
        if edges is None:
            edges = self._edges[key] = _Edges(self._glyphs, view.width, view.walls)
        return edges

    def _half_token(self, tok: Token, column: int) -> Token:
        """One ``column`` (0 left, 1 right) of a two-column cell token."""
        key = (tok, column)
        half = self._halves.get(key)
        if half is None:
            attr, text = self._tokens[tok]
            half = self._halves[key] = self._token(attr, text.decode("utf-8")[column])
        return half

    def _build_row(
        self, row: list[Token], sides: Sides, half: bool = False
    ) -> tuple[bytes, list[tuple[Attr, int]]]:
        """A row's bytes and runs; ``half``: the first cell shows only its right
        column and the last only its left one (a view scrolled by half a cell)."""
        (left_attr, left), (right_attr, side) = sides
        if half and len(row) >= 2:
            row = [self._half_token(row[0], 1), *row[1:-1], self._half_token(row[-1], 0)]
        parts = [left]
        runs: list[tuple[Attr, int]] = [(left_attr, len(left))]
        tokens = self._tokens
        for tok, group in itertools.groupby(row):
            attr, text = tokens[tok]
            n = sum(1 for _ in group)
            parts.append(text * n)
            if runs[-1][0] == attr:
                runs[-1] = (attr, runs[-1][1] + len(text) * n)
            else:
                runs.append((attr, len(text) * n))
        parts.append(side)
        if runs[-1][0] == right_attr:
            runs[-1] = (right_attr, runs[-1][1] + len(side))
        else:
            runs.append((right_attr, len(side)))
        return b"".join(parts), runs

    def _paint(self, grid: list[list[Token]], frame: RenderFrame) -> None:
        whole = self._ascii or frame.next is frame.prev or frame.alpha <= 0.0
        shown = frame.next if (self._ascii and frame.alpha >= 0.5) else frame.prev
        self._put(grid, shown.food, self._food)
        if frame.others_now:
            # Faint marks where the others' heads probably are now; snakes paint over them.
            ghost = self._token("ghost", "::" if self._ascii else "··")
            self._put(grid, frame.others_now.values(), ghost)
        next_players = {p.id: p for p in frame.next.players}
        own = frame.own
        mine_last = sorted(shown.players, key=lambda p: p.id == self._my_id)
        for p in mine_last:
            if own is not None and p.id == self._my_id:
                continue  # drawn from the prediction below
            if whole:
                self._paint_whole(grid, p)
                continue
            q = next_players.get(p.id)
            if q is not None and self._moved(p, q, frame.prev):
                self._paint_moving(grid, p, q, frame.prev, frame.alpha)
            else:
                self._paint_whole(grid, p if frame.alpha < 0.5 or q is None else q)
        if own is not None:
            self._paint_own(grid, own, frame.prev)

    def _paint_own(self, grid: list[list[Token]], own: OwnSnake, board: Snapshot) -> None:
        """The player's predicted snake: whole cells in ASCII, growing in block mode."""
        p, q = own.state, own.next_state
        if self._ascii or own.progress <= 0.0 or not self._moved(p, q, board):
            self._paint_whole(grid, p)
        else:
            self._paint_moving(grid, p, q, board, own.progress)

    @staticmethod
    def _moved(p: PlayerState, q: PlayerState, snap: Snapshot) -> bool:
        """Whether ``q`` is ``p`` one ordinary step later."""
        if not (p.alive and q.alive and p.body and len(q.body) >= 2):
            return False
        return (
            q.body[1] == p.body[0]
            and step_direction(p.body[0], q.body[0], snap.width, snap.height, snap.wrap) is not None
        )

    def _attrs(self, p: PlayerState) -> tuple[str, str, str]:
        """(body, reverse-video body, head) attribute names for ``p``."""
        if p.id == self._my_id:
            return (
                snake_attr(p.colour, "mine.body"),
                snake_attr(p.colour, "mine.inv"),
                snake_attr(p.colour, "mine"),
            )
        return snake_attr(p.colour), snake_attr(p.colour, "inv"), snake_attr(p.colour, "head")

    def _body_text(self, p: PlayerState) -> str:
        if self._ascii:
            return "##" if p.id == self._my_id else "oo"
        if self._mono:
            return _MONO_BODIES[p.colour % len(_MONO_BODIES)]
        return "██"

    def _heading(self, p: PlayerState, moved_to: Direction | None = None) -> Direction:
        if p.id == self._my_id and self._pending is not None:
            return self._pending
        return moved_to if moved_to is not None else p.direction

    def _put(self, grid: list[list[Token]], cells: Iterable[Cell], tok: Token) -> None:
        """Paint board ``cells`` with ``tok``; cells outside the viewport are skipped."""
        view = self._view
        if view is None:
            return
        if self._view_whole:
            width, height = self._dims
            for x, y in cells:
                if 0 <= x < width and 0 <= y < height:
                    grid[y][x] = tok
            return
        # Viewport.to_view, inlined: this runs for every snake cell on the board.
        x0, y0, w, h = view.x, view.y, view.columns, view.height
        if view.wrap:
            bw, bh = view.board_width, view.board_height
            for x, y in cells:
                i, j = (x - x0) % bw, (y - y0) % bh
                if i < w and j < h:
                    grid[j][i] = tok
            return
        for x, y in cells:
            i, j = x - x0, y - y0
            if 0 <= i < w and 0 <= j < h:
                grid[j][i] = tok

    def _paint_whole(self, grid: list[list[Token]], p: PlayerState) -> None:
        if not p.alive or not p.body:
            return
        body_attr, _inv, head_attr = self._attrs(p)
        self._put(grid, p.body[1:], self._token(body_attr, self._body_text(p)))
        head_tok = self._token(head_attr, _head_text(self._heading(p), self._ascii))
        self._put(grid, p.body[:1], head_tok)

    def _paint_moving(
        self, grid: list[list[Token]], p: PlayerState, q: PlayerState, snap: Snapshot, alpha: float
    ) -> None:
        body_attr, inv_attr, head_attr = self._attrs(p)
        w, h, wrap = snap.width, snap.height, snap.wrap
        body = p.body
        vacating = (
            len(q.body) <= len(body)
            and len(body) >= 2
            and body[-1] != body[-2]
            and body[-1] not in q.body
        )
        full = body[1:-1] if vacating else body[1:]
        self._put(grid, full, self._token(body_attr, self._body_text(p)))
        if vacating:
            toward = step_direction(body[-1], body[-2], w, h, wrap)
            if toward is not None:
                tok = self._partial(1.0 - alpha, toward, body_attr, inv_attr, p)
                if tok is not None:
                    self._put(grid, body[-1:], tok)
        moving = step_direction(body[0], q.body[0], w, h, wrap)
        assert moving is not None  # _moved() checked it
        tok = self._partial(alpha, moving.opposite, body_attr, inv_attr, p)
        if tok is not None:
            self._put(grid, q.body[:1], tok)
        head_tok = self._token(head_attr, _head_text(self._heading(p, moving), self._ascii))
        self._put(grid, body[:1], head_tok)

    def _partial(
        self, fraction: float, side: Direction, attr: str, inv_attr: str, p: PlayerState
    ) -> Token | None:
        """A cell ``fraction`` full, filled from its ``side`` edge; ``None`` when empty."""
        if side in (Direction.LEFT, Direction.RIGHT):
            steps = round(fraction * 16)
            if steps <= 0:
                return None
            if steps >= 16:
                return self._token(attr, self._body_text(p))
            near, far = min(8, steps), max(0, steps - 8)
            if side is Direction.LEFT:
                return self._token(attr, _LEFT_EIGHTHS[near] + _LEFT_EIGHTHS[far])
            # From the right: the inverse of the left glyph covering the rest.
            return self._token(inv_attr, _LEFT_EIGHTHS[8 - far] + _LEFT_EIGHTHS[8 - near])
        steps = round(fraction * 8)
        if steps <= 0:
            return None
        if steps >= 8:
            return self._token(attr, self._body_text(p))
        if side is Direction.DOWN:  # from the bottom edge up
            return self._token(attr, _LOWER_EIGHTHS[steps] * 2)
        return self._token(inv_attr, _LOWER_EIGHTHS[8 - steps] * 2)
