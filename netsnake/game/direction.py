"""The four directions a snake can face, and the grid steps they make."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["Direction"]


class Direction(IntEnum):
    """A heading on the grid. ``y`` grows downwards, as on a terminal."""

    UP = 0
    RIGHT = 1
    DOWN = 2
    LEFT = 3

    @property
    def dx(self) -> int:
        return _STEPS[self][0]

    @property
    def dy(self) -> int:
        return _STEPS[self][1]

    @property
    def opposite(self) -> Direction:
        return Direction((self + 2) % 4)

    @classmethod
    def between(cls, src: tuple[int, int], dst: tuple[int, int]) -> Direction | None:
        """The direction of a one-cell step from ``src`` to ``dst`` (no wrap), if any."""
        return _BY_STEP.get((dst[0] - src[0], dst[1] - src[1]))


_STEPS: dict[int, tuple[int, int]] = {0: (0, -1), 1: (1, 0), 2: (0, 1), 3: (-1, 0)}
_BY_STEP: dict[tuple[int, int], Direction] = {v: Direction(k) for k, v in _STEPS.items()}
