"""The four directions a snake can face, and the grid steps they make.

Every one-cell move on the board, in the rules, the snapshot codec, the
client's gap filling and the bots, goes through :func:`step`, :func:`walk`
and :func:`step_direction`, so a wrap board wraps the same way everywhere:
with ``wrap`` on, a step off one edge re-enters on the opposite edge; with it
off, that step leaves the board (``None``).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum
from typing import Final

__all__ = ["STEPS", "Direction", "signed_distance", "step", "step_direction", "walk"]

Cell = tuple[int, int]  # the same alias as netsnake.game.snapshot.Cell


class Direction(IntEnum):
    """A heading on the grid. ``y`` grows downwards, as on a terminal."""

    UP = 0
    RIGHT = 1
    DOWN = 2
    LEFT = 3

    @property
    def dx(self) -> int:
        return STEPS[self][0]

    @property
    def dy(self) -> int:
        return STEPS[self][1]

    @property
    def opposite(self) -> Direction:
        return Direction((self + 2) % 4)

    @classmethod
    def between(cls, src: tuple[int, int], dst: tuple[int, int]) -> Direction | None:
        """The direction of a one-cell step from ``src`` to ``dst`` (no wrap), if any."""
        return _BY_STEP.get((dst[0] - src[0], dst[1] - src[1]))


#: ``(dx, dy)`` of a one-cell step, indexed by direction (0 up, 1 right, 2 down, 3 left).
STEPS: Final[tuple[tuple[int, int], ...]] = ((0, -1), (1, 0), (0, 1), (-1, 0))
_BY_STEP: Final[dict[tuple[int, int], Direction]] = {v: Direction(k) for k, v in enumerate(STEPS)}
_UP, _RIGHT, _DOWN, _LEFT = Direction


def step(cell: Cell, direction: int, width: int, height: int, wrap: bool) -> Cell | None:
    """The cell one step from ``cell`` towards ``direction``; None if it leaves a walled board."""
    dx, dy = STEPS[direction]
    x, y = cell[0] + dx, cell[1] + dy
    if wrap:
        return x % width, y % height
    if 0 <= x < width and 0 <= y < height:
        return x, y
    return None


def walk(
    start: Cell, directions: Iterable[int], width: int, height: int, wrap: bool
) -> list[Cell] | None:
    """The cells visited by ``directions`` from ``start`` (start excluded).

    None if a step leaves a walled board.  The loop is :func:`step` inlined:
    the snapshot decoder walks every body cell of a full snapshot through it.
    """
    x, y = start
    cells: list[Cell] = []
    for d in directions:
        dx, dy = STEPS[d]
        x += dx
        y += dy
        if wrap:
            x %= width
            y %= height
        elif not (0 <= x < width and 0 <= y < height):
            return None
        cells.append((x, y))
    return cells


def step_direction(a: Cell, b: Cell, width: int, height: int, wrap: bool) -> Direction | None:
    """The direction of the one-cell step ``a -> b`` (across an edge on a wrap board).

    None if the cells are not neighbours.  On a wrap board two cells wide (or
    high) both ways round are one step; the step across the edge wins, which
    the snapshot encodings depend on.
    """
    dx, dy = b[0] - a[0], b[1] - a[1]
    if wrap:
        if dx == 1 - width and width > 1:
            dx = 1
        elif dx == width - 1 and width > 1:
            dx = -1
        if dy == 1 - height and height > 1:
            dy = 1
        elif dy == height - 1 and height > 1:
            dy = -1
    # An if-chain, not a dict lookup: the snapshot encoder calls this for every
    # body cell of a full snapshot.
    if dx == 0:
        if dy == -1:
            return _UP
        if dy == 1:
            return _DOWN
    elif dy == 0:
        if dx == 1:
            return _RIGHT
        if dx == -1:
            return _LEFT
    return None


def signed_distance(a: int, b: int, size: int, wrap: bool) -> int:
    """The shortest signed distance from ``a`` to ``b`` along one axis of ``size``
    cells (across the edge when the board wraps)."""
    d = b - a
    if wrap and size > 0:
        d = (d + size // 2) % size - size // 2
    return d
