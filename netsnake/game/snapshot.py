"""What a client needs to draw one tick of the game: plain, immutable data.

A :class:`Snapshot` is produced by :meth:`netsnake.game.world.World.snapshot` on the
server and rebuilt exactly by the snapshot decoder on the client.  Two
snapshots of the same tick compare equal and hash to the same
:func:`snapshot_hash`, which is how clients are checked against the server.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from netsnake.game.direction import Direction

__all__ = [
    "Cell",
    "PlayerState",
    "Rankable",
    "Snapshot",
    "player_digest",
    "rank_key",
    "ranked",
    "snapshot_hash",
]

Cell = tuple[int, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class PlayerState:
    """One player as everyone sees them.

    ``body`` lists the snake's cells head first and is empty while the player
    is dead.  ``respawn_ticks`` counts down to the respawn and is 0 when alive.
    """

    id: int
    name: str
    colour: int
    alive: bool
    direction: Direction
    body: tuple[Cell, ...]
    score: int
    best: int
    kills: int
    respawn_ticks: int = 0

    @property
    def length(self) -> int:
        return len(self.body)

    @property
    def head(self) -> Cell | None:
        return self.body[0] if self.body else None

    def moved(
        self, *, alive: bool, direction: Direction, body: tuple[Cell, ...], respawn_ticks: int
    ) -> PlayerState:
        """This player with new motion; identity and scores are kept.

        The delta decoder calls this for nearly every snake on every tick, so it
        builds the state directly: ``dataclasses.replace`` looks every field up by
        name and costs about twice as much.
        """
        return PlayerState(
            id=self.id,
            name=self.name,
            colour=self.colour,
            alive=alive,
            direction=direction,
            body=body,
            score=self.score,
            best=self.best,
            kills=self.kills,
            respawn_ticks=respawn_ticks,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    """The whole visible world at the end of ``tick``.

    ``players`` is sorted by id and ``food`` is sorted, so equal worlds give
    equal snapshots.
    """

    tick: int
    width: int
    height: int
    wrap: bool
    players: tuple[PlayerState, ...]
    food: tuple[Cell, ...]

    def player(self, player_id: int) -> PlayerState | None:
        for p in self.players:
            if p.id == player_id:
                return p
        return None


class Rankable(Protocol):
    """What ranking needs: a PlayerState, or a scoreboard line of one."""

    @property
    def id(self) -> int: ...
    @property
    def score(self) -> int: ...
    @property
    def kills(self) -> int: ...
    @property
    def length(self) -> int: ...


_R = TypeVar("_R", bound=Rankable)


def rank_key(p: Rankable) -> tuple[int, int, int, int]:
    """Scoreboard order as a sort key: score, then kills, then length (each the
    higher first), then the lower id."""
    return (-p.score, -p.kills, -p.length, p.id)


def ranked(players: Iterable[_R]) -> list[_R]:
    """Players in scoreboard order (:func:`rank_key`)."""
    return sorted(players, key=rank_key)


_HEADER = struct.Struct(">IHH?")
_PLAYER = struct.Struct(">HB?Biiii")
_DIGEST = struct.Struct(">I")


def player_digest(p: PlayerState) -> int:
    """CRC-32 of one player: name (UTF-8), then ``>HB?Biiii`` of id, colour,
    alive, direction, score, best, kills, respawn_ticks, then each body cell
    as two ``>i``.  A server hashing many area snapshots of one tick computes
    it once per player (the same PlayerState objects appear in all of them)."""
    crc = zlib.crc32(p.name.encode("utf-8", "surrogatepass"))
    crc = zlib.crc32(
        _PLAYER.pack(
            p.id,
            p.colour,
            p.alive,
            int(p.direction),
            p.score,
            p.best,
            p.kills,
            p.respawn_ticks,
        ),
        crc,
    )
    body = p.body
    # The same bytes as ``>ii`` per cell, packed in one call.
    return zlib.crc32(struct.pack(f">{2 * len(body)}i", *(v for cell in body for v in cell)), crc)


def snapshot_hash(snapshot: Snapshot, digests: dict[int, int] | None = None) -> int:
    """A cheap 32-bit digest of everything in ``snapshot`` (CRC-32, stable across runs).

    CRC-32 of: ``>IHH?`` (tick, width, height, wrap), then for each player in
    id order its :func:`player_digest` as ``>I``, then each food cell as two
    ``>i``.  ``digests`` (player id -> digest) is a cache the caller promises
    belongs to these very player states; missing entries are filled in.
    """
    crc = zlib.crc32(
        _HEADER.pack(snapshot.tick & 0xFFFFFFFF, snapshot.width, snapshot.height, snapshot.wrap)
    )
    parts = []
    for p in snapshot.players:
        if digests is None:
            digest = player_digest(p)
        else:
            cached = digests.get(p.id)
            if cached is None:
                cached = digests[p.id] = player_digest(p)
            digest = cached
        parts.append(_DIGEST.pack(digest))
    crc = zlib.crc32(b"".join(parts), crc)
    food = snapshot.food
    # The same bytes as ``>ii`` per cell, packed in one call.
    return zlib.crc32(struct.pack(f">{2 * len(food)}i", *(v for cell in food for v in cell)), crc)
