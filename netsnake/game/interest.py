"""Areas of interest: the part of the world one client is sent.

Theory of operation
-------------------
The board is cut into square *blocks* of :data:`BLOCK` (4) cells (block
``(bx, by)`` holds the cells ``bx*BLOCK <= x < (bx+1)*BLOCK``, and likewise
in y; the last block of a row or column may be partial).  A client's area is
a rectangle of whole blocks, so deciding what it holds is a union of
per-block sets built once per tick (:class:`BlockIndex`) instead of a test of
every cell of every snake against every client.

:func:`area_for` sizes the area from the client's viewport (cells across and
down, capped by the server) plus :data:`VIEW_MARGIN` cells on every side,
rounded up to whole blocks, and places it on the block of the *focus* (the
client's own snake's head, or the followed player's), so the area moves in
steps of a block and clients near each other often get the same area.  On a
wrapping board the blocks wrap; on a bounded one blocks past the edge are
simply empty.  On a wrapping axis with a short last block, an area holding
that block off its middle takes one block more on that side, so the short
block never eats into the margin.  An axis the area covers entirely is the
whole axis; an area covering both is :data:`WHOLE` and its snapshot is the
world's own snapshot.

What an area snapshot holds (:meth:`BlockIndex.snapshot_for`):

- every living snake with at least one cell in the area, *whole* (cells
  outside the area included: interpolation and prediction need whole bodies);
- the focus player always, alive or dead, so the client knows its own (or its
  followed) player's countdown and score;
- the food cells inside the area.

For a :data:`WHOLE` area it is the world snapshot unchanged (dead players
included).  Everything else about the snapshot (tick, board size, wrap) is
the world's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from netsnake.game.snapshot import Cell, PlayerState, Snapshot

__all__ = [
    "BLOCK",
    "DEFAULT_VIEW",
    "VIEW_MARGIN",
    "WHOLE",
    "Area",
    "BlockIndex",
    "area_cells",
    "area_centre",
    "area_for",
    "area_holds",
    "covers_axis",
]

#: Side of a block, in cells: small, so the area hugs the viewport (bytes go
#: with the area), large enough that an area is a few dozen dict lookups.
BLOCK: Final = 4
#: Cells of the area beyond the viewport on each side (before rounding to
#: blocks).  Placing the area by the head's block may take up to BLOCK - 1
#: of it; the rest covers the render delay and the camera's lead.
VIEW_MARGIN: Final = 4
#: The viewport assumed until a client sends VIEW (cells across, down).
DEFAULT_VIEW: Final = (64, 48)


@dataclass(frozen=True, slots=True)
class Area:
    """A rectangle of blocks: ``columns`` blocks from ``bx``, ``rows`` from ``by``.

    ``bx``/``by`` are already reduced modulo the board's blocks on a wrapping
    board; an axis with ``bx == 0`` and as many blocks as the board has is the
    whole axis.
    """

    bx: int
    by: int
    columns: int
    rows: int


#: The area of a client that sees the whole board.
WHOLE: Final = None


def _blocks(cells: int) -> int:
    return -(-cells // BLOCK)


def covers_axis(view: int, board: int) -> bool:
    """Whether an area for a ``view`` cells long always covers a board axis ``board``
    cells long whole, wherever it is centred."""
    return _blocks(view + 2 * VIEW_MARGIN) >= _blocks(board)


def _axis(centre: int, view: int, board: int, wrap: bool) -> tuple[int, int] | None:
    """(first block, block count) along one axis, or None for the whole axis."""
    if covers_axis(view, board):
        return None
    board_blocks = _blocks(board)
    count = _blocks(view + 2 * VIEW_MARGIN)
    first = centre // BLOCK - count // 2
    if wrap:
        # The board's last block is short when the side is not a multiple of
        # BLOCK; inside the area it would leave that side of the centre cells
        # short of the margin, so the area takes one block more on that side.
        at = (board_blocks - 1 - first) % board_blocks  # its place in the area
        if board % BLOCK and at < count and at != count // 2:
            if at < count // 2:
                first -= 1  # before the centre's block: start a block earlier
            count += 1
            if count >= board_blocks:
                return None
        return first % board_blocks, count
    # A bounded board: keep the area on the board, so clients near an edge
    # share areas and no block is wasted beyond the edge.
    return max(0, min(first, board_blocks - count)), count


def area_centre(focus: PlayerState | None, last: Cell | None, board: tuple[int, int]) -> Cell:
    """Where an area is centred (the game spec's "Centre and focus"): the focus's
    head while it has a body, else where it was ``last`` centred, else the middle
    of the ``board`` (width, height).  The server places areas so, and a client
    or a replay reckons them the same way."""
    if focus is not None and focus.body:
        return focus.body[0]
    return last if last is not None else (board[0] // 2, board[1] // 2)


def area_for(board: tuple[int, int, bool], view: tuple[int, int], centre: Cell) -> Area | None:
    """The area for a ``view`` (cells across, down) focused on ``centre``; None = WHOLE."""
    # Only the centre's block matters: every client, every tick, asks again.
    return _area_for_block(board, view, centre[0] // BLOCK, centre[1] // BLOCK)


@lru_cache(maxsize=8192)
def _area_for_block(
    board: tuple[int, int, bool], view: tuple[int, int], cbx: int, cby: int
) -> Area | None:
    width, height, wrap = board
    xs = _axis(cbx * BLOCK, view[0], width, wrap)
    ys = _axis(cby * BLOCK, view[1], height, wrap)
    if xs is None and ys is None:
        return WHOLE
    bx, columns = (0, _blocks(width)) if xs is None else xs
    by, rows = (0, _blocks(height)) if ys is None else ys
    return Area(bx, by, columns, rows)


def area_holds(area: Area | None, board: tuple[int, int], cell: Cell) -> bool:
    """Whether ``cell`` of a ``board`` (width, height) lies in ``area`` (WHOLE holds all)."""
    if area is WHOLE:
        return True
    nbx, nby = _blocks(board[0]), _blocks(board[1])
    return (cell[0] // BLOCK - area.bx) % nbx < area.columns and (
        cell[1] // BLOCK - area.by
    ) % nby < area.rows


def area_cells(area: Area | None, board: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """``area`` in cells: ``(x, y, columns, rows)``, from its top-left cell ``(x, y)``
    and running on across the edge of a wrapping board; None (WHOLE) stays None.

    A cell ``(cx, cy)`` lies in it exactly when ``(cx - x) % width < columns``
    and ``(cy - y) % height < rows`` (:func:`area_holds`, in cells).
    """
    if area is WHOLE:
        return None
    return (
        area.bx * BLOCK,
        area.by * BLOCK,
        _span(area.bx, area.columns, board[0]),
        _span(area.by, area.rows, board[1]),
    )


def _span(first: int, count: int, cells: int) -> int:
    """Cells in ``count`` blocks from block ``first`` of an axis ``cells`` long."""
    blocks = _blocks(cells)
    if count >= blocks:
        return cells
    # Only the axis's last block may be short of BLOCK cells.
    short = blocks * BLOCK - cells if (blocks - 1 - first) % blocks < count else 0
    return count * BLOCK - short


@lru_cache(maxsize=4096)
def _block_keys(area: Area, nbx: int, nby: int) -> tuple[int, ...]:
    """The keys ``bx + by * nbx`` of an area's blocks (areas repeat tick after tick)."""
    xs = [(area.bx + i) % nbx for i in range(min(area.columns, nbx))]
    ys = [(area.by + j) % nby for j in range(min(area.rows, nby))]
    return tuple(x + y * nbx for y in ys for x in xs)


class BlockIndex:
    """Which snakes and food lie in each block of one world snapshot."""

    def __init__(self, world: Snapshot, by_id: Mapping[int, PlayerState] | None = None) -> None:
        """Index ``world``; ``by_id`` is its players by id, if the caller has it already."""
        self.world = world
        nbx = _blocks(world.width)
        self._board_blocks = (nbx, _blocks(world.height))
        # One dict, int keys: a client's area is a hundred-odd lookups a tick.
        blocks: dict[int, tuple[set[int], list[Cell]]] = {}
        for p in world.players:
            if p.alive:
                pid = p.id
                # A long body lies in few blocks: list each block once.
                for key in {x // BLOCK + y // BLOCK * nbx for x, y in p.body}:
                    entry = blocks.get(key)
                    if entry is None:
                        entry = blocks[key] = (set(), [])
                    entry[0].add(pid)
        for x, y in world.food:
            key = x // BLOCK + y // BLOCK * nbx
            entry = blocks.get(key)
            if entry is None:
                entry = blocks[key] = (set(), [])
            entry[1].append((x, y))
        self._blocks = blocks
        self._by_id = {p.id: p for p in world.players} if by_id is None else by_id

    def snapshot_for(self, area: Area | None, focus: int | None) -> Snapshot:
        """The snapshot a client with ``area`` and ``focus`` player is meant to hold."""
        world = self.world
        if area is WHOLE:
            return world
        ids: set[int] = set()
        food: list[Cell] = []
        get = self._blocks.get
        for key in _block_keys(area, *self._board_blocks):
            entry = get(key)
            if entry is not None:
                ids |= entry[0]
                food += entry[1]
        if focus is not None and focus in self._by_id:
            ids.add(focus)
        by_id = self._by_id
        food.sort()
        return Snapshot(
            tick=world.tick,
            width=world.width,
            height=world.height,
            wrap=world.wrap,
            players=tuple(by_id[i] for i in sorted(ids)),
            food=tuple(food),
        )
