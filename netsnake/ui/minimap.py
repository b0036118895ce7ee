"""The minimap: the whole arena in a few rows, shown when the board is bigger than the screen.

Each minimap character stands for a block of board cells.  It shows, most
important first: your head (or the followed player's) as ``@``, the three
leaders' heads as their rank ``1``-``3`` in their colour, and otherwise how
much food lies in the block (`` ░▒▓`` / `` .:*``).  The blocks the board's
viewport currently shows have a lighter background, so the minimap also says
where on the arena the screen is.  ``m`` toggles it (see ``app.py``).

On a board bigger than the client's area of interest the snapshot holds only
the area; the server's OVERVIEW (:class:`netsnake.game.messages.Overview`,
every 2 s) fills in the rest: the food density outside the area and the
leaders' heads wherever they are.

:func:`minimap_cells` is the pure part (what each character means);
:class:`Minimap` only draws it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass

import urwid
from urwid.widget.constants import Sizing

from netsnake.client.camera import Viewport
from netsnake.game.interest import Area, area_holds
from netsnake.game.messages import Overview
from netsnake.game.snapshot import Snapshot, ranked
from netsnake.ui.palette import snake_attr
from netsnake.ui.text import attributed_row

__all__ = ["LEADERS", "MAX_ROWS", "Minimap", "MinimapCell", "minimap_cells", "minimap_shape"]

#: How many leaders the minimap marks.
LEADERS = 3
#: Most rows the map itself takes (the frame adds two).
MAX_ROWS = 8
_FOOD_GLYPHS = " ░▒▓"
_ASCII_FOOD_GLYPHS = " .:*"


@dataclass(frozen=True, slots=True)
class MinimapCell:
    """What one minimap character shows.

    ``mark`` is ``"@"`` (the followed snake's head), a leader's rank digit, or
    ``""``; ``colour`` is that leader's snake colour; ``food`` is 0..3, how much
    food is in the block; ``in_view`` whether the board's viewport shows part of it.
    """

    mark: str = ""
    colour: int = 0
    food: int = 0
    in_view: bool = False


def minimap_shape(
    board: tuple[int, int], max_cols: int, max_rows: int = MAX_ROWS
) -> tuple[int, int]:
    """(columns, rows) of a map of a ``board`` (cells) within ``max_cols``×``max_rows``.

    A board cell is two columns wide and one row high on screen, so the map
    keeps the board's on-screen shape, ``2·width : height``, as well as whole
    characters allow; each side is at least 1 and never more than the board has.
    """
    width, height = max(1, board[0]), max(1, board[1])
    max_cols, max_rows = max(1, max_cols), max(1, max_rows)
    scale = min(max_cols / (2 * width), max_rows / height)
    cols = min(max_cols, 2 * width, max(1, round(2 * width * scale)))
    rows = min(max_rows, height, max(1, round(height * scale)))
    return cols, rows


def _block(cell: int, board: int, span: int) -> int:
    """The minimap index of board coordinate ``cell`` on an axis of ``board`` cells in ``span``."""
    return min(span - 1, cell * span // board)


@dataclass(frozen=True, slots=True)
class _MapInputs:
    """What the map shows, reduced to blocks (cheap to compare between ticks)."""

    cols: int
    rows: int
    food: tuple[tuple[int, ...], ...]  # per row, food count per block (capped at 3)
    seen_x: frozenset[int]
    seen_y: frozenset[int]
    marks: tuple[tuple[tuple[int, int], tuple[str, int]], ...]  # ((i, j), (mark, colour))


def _map_inputs(
    snapshot: Snapshot,
    my_id: int | None,
    view: Viewport | None,
    cols: int,
    rows: int,
    overview: Overview | None = None,
    area: Area | None = None,
    colours: Mapping[int, int] | None = None,
) -> _MapInputs:
    width, height = max(1, snapshot.width), max(1, snapshot.height)
    food = [[0] * cols for _ in range(rows)]
    for x, y in snapshot.food:
        if 0 <= x < width and 0 <= y < height:
            food[_block(y, height, rows)][_block(x, width, cols)] += 1
    if overview is not None and area is not None:
        # Outside the area the snapshot holds no food: take the overview's level,
        # placed at its grid cell's centre (inside, the snapshot's food is exact).
        for cj in range(overview.rows):
            y = (2 * cj + 1) * height // (2 * overview.rows)
            for ci in range(overview.columns):
                level = overview.level(ci, cj)
                x = (2 * ci + 1) * width // (2 * overview.columns)
                if level and not area_holds(area, (width, height), (x, y)):
                    food[_block(y, height, rows)][_block(x, width, cols)] += level
    xs: frozenset[int] = frozenset()
    ys: frozenset[int] = frozenset()
    if view is not None:
        xs = frozenset(
            _block((view.x + i) % width, width, cols) for i in range(min(view.width, width))
        )
        ys = frozenset(
            _block((view.y + j) % height, height, rows) for j in range(min(view.height, height))
        )
    marks: dict[tuple[int, int], tuple[str, int]] = {}
    heads: list[tuple[int, int, int]] = []  # (x, y, colour), best first
    if overview is not None:
        # The overview ranks the whole arena; a leader in the snapshot is drawn
        # where it is now, one outside it where the overview saw it.
        for pid, x, y in overview.leaders:
            p = snapshot.player(pid)
            if p is not None and p.alive and p.body:
                heads.append((p.body[0][0], p.body[0][1], p.colour))
            elif p is None and 0 <= x < width and 0 <= y < height:
                heads.append((x, y, (colours or {}).get(pid, 0)))
    else:
        leaders = [p for p in ranked(snapshot.players) if p.alive and p.body][:LEADERS]
        heads = [(p.body[0][0], p.body[0][1], p.colour) for p in leaders]
    for rank, (x, y, colour) in reversed(list(enumerate(heads[:LEADERS], start=1))):
        marks[(_block(x, width, cols), _block(y, height, rows))] = (str(rank), colour)  # 1 on top
    me = snapshot.player(my_id) if my_id is not None else None
    if me is not None and me.alive and me.body:
        x, y = me.body[0]
        marks[(_block(x, width, cols), _block(y, height, rows))] = ("@", me.colour)
    return _MapInputs(
        cols,
        rows,
        tuple(tuple(min(3, n) for n in line) for line in food),
        xs,
        ys,
        tuple(sorted(marks.items())),
    )


def _cells(inputs: _MapInputs) -> list[list[MinimapCell]]:
    marks = dict(inputs.marks)
    return [
        [
            MinimapCell(
                *marks.get((i, j), ("", 0)), inputs.food[j][i], i in inputs.seen_x and in_row
            )
            for i in range(inputs.cols)
        ]
        for j, in_row in ((j, j in inputs.seen_y) for j in range(inputs.rows))
    ]


def minimap_cells(
    snapshot: Snapshot,
    my_id: int | None,
    view: Viewport | None,
    cols: int,
    rows: int,
    *,
    overview: Overview | None = None,
    area: Area | None = None,
    colours: Mapping[int, int] | None = None,
) -> list[list[MinimapCell]]:
    """The ``rows`` × ``cols`` map of ``snapshot``: marks, food and the viewport.

    With an ``overview``, its leaders are marked (those outside the snapshot in
    the colour ``colours`` gives their id), and with the client's ``area`` too
    (None: the snapshot holds the whole board) its food levels fill the blocks
    outside the area.
    """
    return _cells(_map_inputs(snapshot, my_id, view, cols, rows, overview, area, colours))


class Minimap(urwid.Widget):
    """Draws :func:`minimap_cells` in a frame, at the top left of the box it is given.

    :meth:`update` hands it the snapshot and the board's viewport; it sizes the
    map to the box at render time, so a resize redraws it at once.
    """

    _sizing = frozenset([Sizing.BOX])
    _selectable = False
    ignore_focus = True

    def __init__(
        self,
        *,
        ascii_mode: bool = False,
        board_view: Callable[[], Viewport | None] | None = None,
    ) -> None:
        """``board_view``, if given, is read at render time for the viewport to
        highlight (the board renders first, so it is the one on screen)."""
        super().__init__()
        self._ascii = ascii_mode
        self._board_view = board_view
        self._snapshot: Snapshot | None = None
        self._my_id: int | None = None
        self._view: Viewport | None = None
        self._overview: Overview | None = None
        self._area: Area | None = None
        self._colours: Mapping[int, int] | None = None
        self._key: object = None
        self._inputs: object = None
        self._inputs_snapshot: Snapshot | None = None
        self._canvas: urwid.Canvas | None = None

    def update(
        self,
        snapshot: Snapshot | None,
        my_id: int | None,
        view: Viewport | None = None,
        *,
        overview: Overview | None = None,
        area: Area | None = None,
        colours: Mapping[int, int] | None = None,
    ) -> None:
        """Show ``snapshot`` with ``my_id``'s head marked and ``view`` highlighted
        (without ``board_view``); ``overview``, ``area`` and ``colours`` as for
        :func:`minimap_cells`."""
        self._snapshot, self._my_id, self._view = snapshot, my_id, view
        self._overview, self._area, self._colours = overview, area, colours
        self._invalidate()

    def rows_for(self, board: tuple[int, int], cols: int) -> int:
        """Rows the minimap takes (frame included) for a ``board`` in ``cols`` columns."""
        return minimap_shape(board, cols - 2)[1] + 2

    def render(
        self, size: tuple[()] | tuple[int] | tuple[int, int], focus: bool = False
    ) -> urwid.Canvas:
        """The framed map in ``size`` (cols, rows), or blank when it has no room."""
        if len(size) != 2:
            raise ValueError(f"Minimap renders as a box (cols, rows), got {size!r}")
        cols, rows = max(0, size[0]), max(0, size[1])
        snap = self._snapshot
        if snap is None or cols < 3 or rows < 3:
            return urwid.SolidCanvas(" ", cols, rows)
        map_cols, map_rows = minimap_shape((snap.width, snap.height), cols - 2, rows - 2)
        view = self._board_view() if self._board_view is not None else self._view
        # Frames between two ticks show the same snapshot object: reuse the canvas.
        inputs = (cols, rows, id(snap), self._my_id, view, id(self._overview), self._area)
        if inputs == self._inputs and snap is self._inputs_snapshot and self._canvas is not None:
            return self._canvas
        self._inputs, self._inputs_snapshot = inputs, snap
        # The map itself changes far less often (a head crossing a block, food eaten).
        key = (
            cols,
            rows,
            _map_inputs(
                snap,
                self._my_id,
                view,
                map_cols,
                map_rows,
                self._overview,
                self._area,
                self._colours,
            ),
        )
        if key == self._key and self._canvas is not None:
            return self._canvas
        text, attrs = self._draw(_cells(key[2]), map_cols, cols)
        text += [b" " * cols] * (rows - len(text))
        attrs += [[(None, cols)]] * (rows - len(attrs))
        canvas = urwid.TextCanvas(text[:rows], attrs[:rows], maxcol=cols, check_width=False)
        self._key, self._canvas = key, canvas
        return canvas

    def _draw(
        self, cells: Sequence[Sequence[MinimapCell]], map_cols: int, cols: int
    ) -> tuple[list[bytes], list[list[tuple[Hashable, int]]]]:
        if self._ascii:
            tl, tr, bl, br, hz, vt = "+", "+", "+", "+", "-", "|"
            food_glyphs = _ASCII_FOOD_GLYPHS
        else:
            tl, tr, bl, br, hz, vt = "┌", "┐", "└", "┘", "─", "│"
            food_glyphs = _FOOD_GLYPHS
        pad = " " * (cols - map_cols - 2)
        text: list[bytes] = []
        attrs: list[list[tuple[Hashable, int]]] = []

        def add(pieces: list[tuple[Hashable, str]]) -> None:
            row, runs = attributed_row(pieces)
            text.append(row)
            attrs.append(runs)

        add([("border", tl + hz * map_cols + tr), (None, pad)])
        for line in cells:
            pieces: list[tuple[Hashable, str]] = [("border", vt)]
            for cell in line:
                if cell.mark == "@":
                    pieces.append(("minimap.me", "@"))
                elif cell.mark:
                    pieces.append((snake_attr(cell.colour, "head"), cell.mark))
                elif cell.food:
                    attr = "minimap.view.food" if cell.in_view else "minimap.food"
                    pieces.append((attr, food_glyphs[cell.food]))
                else:
                    pieces.append(("minimap.view" if cell.in_view else "minimap", " "))
            pieces += [("border", vt), (None, pad)]
            add(pieces)
        add([("border", bl + hz * map_cols + br), (None, pad)])
        return text, attrs
