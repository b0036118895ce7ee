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
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Iterable

import urwid
from urwid.widget.constants import Sizing

from netsnake.client.interpolation import RenderFrame
from netsnake.client.prediction import OwnSnake
from netsnake.game.direction import Direction, step_direction
from netsnake.game.snapshot import Cell, PlayerState, Snapshot
from netsnake.ui.palette import snake_attr

__all__ = ["Board"]

_LEFT_EIGHTHS = " ▏▎▍▌▋▊▉█"
_LOWER_EIGHTHS = " ▁▂▃▄▅▆▇█"
_ARROWS = {Direction.UP: "▲", Direction.RIGHT: "▶", Direction.DOWN: "▼", Direction.LEFT: "◀"}
_ASCII_ARROWS = {Direction.UP: "^", Direction.RIGHT: ">", Direction.DOWN: "v", Direction.LEFT: "<"}
# Monochrome block mode tells snakes apart by texture.
_MONO_BODIES = ("██", "▓▓", "▒▒", "░░")

Token = int
Attr = Hashable


class _Glyphs:
    """Border and cell texts for one drawing mode."""

    def __init__(self, ascii_mode: bool) -> None:
        if ascii_mode:
            self.corners = ("+", "+", "+", "+")
            self.horizontal, self.vertical = "-", "|"
            self.food = "**"
        else:
            self.corners = ("┌", "┐", "└", "┘")
            self.horizontal, self.vertical = "─", "│"
            self.food = "▐▌"


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
    cell plus the border) that also renders at any box size, cropping or
    padding, so a layout can never make it raise.
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
        self._tokens: list[tuple[Attr, bytes]] = []
        self._token_ids: dict[tuple[Attr, str], Token] = {}
        self._empty = self._token("board", "  ")
        self._food = self._token("food", self._glyphs.food)
        # Per board row: the cells drawn last frame and their finished bytes and attributes.
        self._rows: list[tuple[list[Token], bytes, list[tuple[Attr, int]]] | None] = []
        self._edges: tuple[bytes, bytes, list[tuple[Attr, int]]] | None = None

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

    def set_frame(
        self,
        frame: RenderFrame | None,
        *,
        my_id: int | None = None,
        pending_direction: Direction | None = None,
    ) -> None:
        """Show ``frame``; ``my_id`` marks the player's snake, ``pending_direction``
        turns its head before the server has applied the turn."""
        self._frame = frame
        self._my_id = my_id
        self._pending = pending_direction
        if frame is not None:
            dims = (max(0, frame.prev.width), max(0, frame.prev.height))
            if dims != self._dims:
                self._dims = dims
                self._rows.clear()
                self._edges = None
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
        """Draw the board at its natural size (``()``) or cropped/padded to ``(cols, rows)``."""
        canvas = self._render_natural()
        if not size:
            return canvas
        if len(size) != 2:
            raise ValueError(f"Board renders as fixed () or box (cols, rows), got {size!r}")
        cols, rows = size
        nat_cols, nat_rows = self.natural_size
        if (cols, rows) == (nat_cols, nat_rows):
            return canvas
        if cols <= 0 or rows <= 0:  # urwid cannot trim to nothing; an empty canvas will do
            return urwid.TextCanvas([b""] * max(0, rows), maxcol=max(0, cols), check_width=False)
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

    def _render_natural(self) -> urwid.Canvas:
        width, height = self._dims
        grid = [[self._empty] * width for _ in range(height)]
        frame = self._frame
        if frame is not None:
            self._paint(grid, frame)
        top, bottom, edge_attr = self._edge_rows()
        text = [top]
        attrs = [list(edge_attr)]
        rows = self._rows
        if len(rows) != height:
            rows[:] = [None] * height
        for y, row in enumerate(grid):
            cached = rows[y]
            if cached is None or cached[0] != row:
                cached = rows[y] = (row, *self._build_row(row))
            text.append(cached[1])
            attrs.append(list(cached[2]))
        text.append(bottom)
        attrs.append(list(edge_attr))
        return urwid.TextCanvas(text, attrs, maxcol=width * 2 + 2, check_width=False)

    def _edge_rows(self) -> tuple[bytes, bytes, list[tuple[Attr, int]]]:
        if self._edges is None:
            g = self._glyphs
            inner = g.horizontal * (self._dims[0] * 2)
            top = (g.corners[0] + inner + g.corners[1]).encode("utf-8")
            bottom = (g.corners[2] + inner + g.corners[3]).encode("utf-8")
            self._edges = (top, bottom, [("border", len(top))])
        return self._edges

    def _build_row(self, row: list[Token]) -> tuple[bytes, list[tuple[Attr, int]]]:
        side = self._glyphs.vertical.encode("utf-8")
        parts = [side]
        runs: list[tuple[Attr, int]] = [("border", len(side))]
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
        if runs[-1][0] == "border":
            runs[-1] = ("border", runs[-1][1] + len(side))
        else:
            runs.append(("border", len(side)))
        return b"".join(parts), runs

    def _paint(self, grid: list[list[Token]], frame: RenderFrame) -> None:
        width, height = self._dims
        whole = self._ascii or frame.next is frame.prev or frame.alpha <= 0.0
        shown = frame.next if (self._ascii and frame.alpha >= 0.5) else frame.prev
        for x, y in shown.food:
            if 0 <= x < width and 0 <= y < height:
                grid[y][x] = self._food
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
        width, height = self._dims
        for x, y in cells:
            if 0 <= x < width and 0 <= y < height:
                grid[y][x] = tok

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
