"""The playing screen's layout, sized to the terminal at every render.

Board on the left, the side panel (scoreboard, and the minimap under it) on
the right, HUD and message line at the bottom.  The board column is as wide
as the whole board when the terminal has room, else as wide as the room
left: then the board draws a camera's viewport (see ``board.py``) and, if
``m`` has not hidden it, the minimap goes under the scoreboard.  The net
graph (``n``), when on, takes the bottom of the side panel; the minimap gives
way to it when the rows run out.
The replay (``replay.py``) uses the same layout: its progress line stands where
the HUD does (any one-row widget will do) and its key list is an *extra* side
widget, under the minimap, shown only while every other part keeps its rows.
Nothing is fixed at build time, so a resize changes the viewport at once.

Any terminal of at least :data:`MIN_GAME_SIZE` shows the game, whatever the
board size: it leaves the board at least :data:`MIN_VIEW` cells each way
beside the scoreboard.  Smaller terminals get "Make the terminal at least …".
"""

from __future__ import annotations

from typing import Final

import urwid
from urwid.widget.constants import Sizing

from netsnake.client.camera import view_within
from netsnake.game.interest import covers_axis
from netsnake.ui.board import Board
from netsnake.ui.minimap import Minimap
from netsnake.ui.netgraph import NETGRAPH_ROWS, NetGraph
from netsnake.ui.panels import SCOREBOARD_WIDTH, MessageLine, Scoreboard

__all__ = ["MIN_GAME_SIZE", "MIN_VIEW", "GameLayout", "view_limit"]

#: Fewest board cells (across and down) worth playing in.
MIN_VIEW: Final = 8
#: The smallest terminal (columns, rows) the game screen is drawn in: the
#: scoreboard, a divider, a MIN_VIEW×MIN_VIEW viewport with its frame, HUD and message line.
MIN_GAME_SIZE: Final = (SCOREBOARD_WIDTH + 1 + 2 * MIN_VIEW + 2, MIN_VIEW + 2 + 2)
#: Rows the scoreboard keeps above the minimap: header and three players.
_SCOREBOARD_KEEP = 4


def view_limit(span: tuple[int, int], board: tuple[int, int]) -> tuple[int, int]:
    """The most cells (across, down) of a ``board`` (width, height) to show when the
    area sent around the followed snake is sized by ``span``.

    An axis the area always covers whole is shown whole; on any other the view is
    :func:`view_within` the span, never below MIN_VIEW.
    """
    cap = view_within(span)
    return (
        board[0] if covers_axis(span[0], board[0]) else max(MIN_VIEW, cap[0]),
        board[1] if covers_axis(span[1], board[1]) else max(MIN_VIEW, cap[1]),
    )


class GameLayout(urwid.Pile):
    """The game screen for one board; see the module docstring.

    A ``Pile`` (columns over HUD and message line) that arranges its columns
    for the size it is rendered at; no wrapper layer, as it is drawn every frame.
    """

    _sizing = frozenset([Sizing.BOX])

    def __init__(
        self,
        board: Board,
        scoreboard: Scoreboard,
        hud: urwid.WidgetWrap[urwid.Text],
        messages: MessageLine,
        minimap: Minimap,
        grid: tuple[int, int],
        netgraph: NetGraph | None = None,
        *,
        extra: urwid.Pile | None = None,
    ) -> None:
        """``hud`` is the one-line text over the messages (the game's
        :class:`~netsnake.ui.panels.Hud`, the replay's progress line); ``extra`` a
        pile for the side panel (the replay's keys), shown when there is room for it."""
        self._board = board
        self._netgraph = netgraph
        self._grid = grid
        self._minimap = minimap
        self._extra = extra
        # Drawn as a box, all the height it is given: it shows the rows that fit,
        # the player's own among them.
        self._scores = urwid.Filler(scoreboard, valign="top", height=("relative", 100))
        self._side = urwid.Pile([self._scores])
        # Without the minimap the side panel is the scoreboard's Filler itself.
        self._columns = urwid.Columns(
            [(grid[0] * 2 + 2, board), (SCOREBOARD_WIDTH, self._scores)], dividechars=1
        )
        self._hud = hud
        self._messages = messages
        self._shape: tuple[int, int, bool] | None = None
        self._minimap_enabled = True
        self.minimap_shown = False
        #: Whether the ``extra`` side widget is shown at the size last drawn.
        self.extra_shown = False
        super().__init__([self._columns, ("pack", hud), ("pack", messages)])

    @property
    def minimap(self) -> Minimap:
        """The minimap widget in the side panel."""
        return self._minimap

    @property
    def minimap_enabled(self) -> bool:
        """Whether the minimap is shown when the board is bigger than the screen (``m``)."""
        return self._minimap_enabled

    @minimap_enabled.setter
    def minimap_enabled(self, value: bool) -> None:
        if value != self._minimap_enabled:
            self._minimap_enabled = value
            self._invalidate()

    @property
    def min_size(self) -> tuple[int, int]:
        """The smallest (columns, rows) to draw in: :data:`MIN_GAME_SIZE`, taller with
        the net graph (it and the scoreboard's header and a row beside the board)."""
        if self._netgraph is None:
            return MIN_GAME_SIZE
        return MIN_GAME_SIZE[0], max(MIN_GAME_SIZE[1], NETGRAPH_ROWS + 2 + 2)

    @property
    def natural_size(self) -> tuple[int, int]:
        """The (columns, rows) that show the whole board beside the scoreboard."""
        body_rows = self._grid[1] + 2
        if self._netgraph is not None:
            body_rows = max(body_rows, NETGRAPH_ROWS + 2)
        return self._grid[0] * 2 + 2 + 1 + SCOREBOARD_WIDTH, body_rows + 2

    def arrange(self, cols: int, rows: int) -> None:
        """Size the board column and show or hide the minimap for a ``cols``×``rows`` screen."""
        # No wider than the board's view limit (the area the server sends): beyond
        # it the column would only be padding, and what is left out needs the map.
        grid, limit = self._grid, self._board.max_view
        cells = grid if limit is None else (min(grid[0], limit[0]), min(grid[1], limit[1]))
        natural_cols, natural_rows = cells[0] * 2 + 2, cells[1] + 2
        board_cols = max(1, min(natural_cols, cols - 1 - SCOREBOARD_WIDTH))
        body_rows = rows - self._hud.rows((cols,)) - self._messages.rows((cols,))
        scrolled = cells != grid or board_cols < natural_cols or body_rows < natural_rows
        graph_rows = NETGRAPH_ROWS if self._netgraph is not None else 0
        map_rows = min(
            self._minimap.rows_for(self._grid, SCOREBOARD_WIDTH),
            body_rows - _SCOREBOARD_KEEP - graph_rows,
        )
        show = self.minimap_enabled and scrolled and map_rows >= 3
        # The extra widget gives way to everything else: it needs the rows left over.
        spare = body_rows - _SCOREBOARD_KEEP - graph_rows - (map_rows if show else 0)
        extra = self._extra
        with_extra = extra is not None and extra.rows((SCOREBOARD_WIDTH,)) <= spare
        shape = (board_cols, map_rows if show else 0, with_extra)
        if shape == self._shape:
            return
        self._shape = shape
        self.minimap_shown = show
        self.extra_shown = with_extra
        self._columns.contents[0] = (self._board, self._columns.options("given", board_cols))
        side = self._columns.options("given", SCOREBOARD_WIDTH)
        if not show and not with_extra and self._netgraph is None:
            self._columns.contents[1] = (self._scores, side)
            return
        parts = self._side.contents
        parts[:] = [(self._scores, self._side.options("weight", 1))]
        if show:
            parts.append((self._minimap, self._side.options("given", map_rows)))
        for widget in (extra if with_extra else None, self._netgraph):
            if widget is not None:
                parts.append((widget, self._side.options("pack")))
        self._columns.contents[1] = (self._side, side)

    def render(
        self, size: tuple[()] | tuple[int] | tuple[int, int], focus: bool = False
    ) -> urwid.SolidCanvas | urwid.CompositeCanvas:
        """Arrange for ``size``, then draw."""
        if len(size) != 2:
            raise ValueError(f"GameLayout renders as a box (cols, rows), got {size!r}")
        self.arrange(size[0], size[1])
        return super().render(size, focus)
