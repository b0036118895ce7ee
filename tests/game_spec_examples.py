"""The golden examples of ``docs/game-messages.rst``: small hand-built worlds and messages.

One table, used three ways: ``tests/test_game_spec.py`` checks that the spec
shows exactly these bytes and hashes, that the reference encoder produces
them and the reference decoder reads them back, and that the independent
spec-only decoder (``tests/spec_client.py``) reads them too.  Run this file
to print the examples as they appear in the spec::

    .venv/bin/python -m tests.game_spec_examples
"""

from __future__ import annotations

from dataclasses import dataclass

from netsnake.game.direction import Direction
from netsnake.game.events import (
    PlayerDied,
    PlayerJoined,
    PlayerLeft,
    PlayerRespawned,
    ServerShuttingDown,
)
from netsnake.game.messages import (
    Accepted,
    Input,
    Join,
    Message,
    Overview,
    Quit,
    Rejected,
    RejectionCode,
    Resync,
    Roster,
    ScoreEntry,
    Scores,
    Seat,
    Seated,
    SnapshotMessage,
    Spectators,
    SwitchSeat,
    View,
    encode_message,
    pack_levels,
)
from netsnake.game.snapshot import Cell, PlayerState, Snapshot, snapshot_hash
from netsnake.game.snapshot_codec import encode_delta, encode_full

__all__ = ["MESSAGE_EXAMPLES", "SNAPSHOT_EXAMPLES", "MessageExample", "SnapshotExample"]

U, R, D, L = Direction.UP, Direction.RIGHT, Direction.DOWN, Direction.LEFT


def _p(
    pid: int,
    name: str,
    colour: int,
    direction: Direction,
    body: tuple[Cell, ...] = (),
    *,
    score: int = 0,
    best: int = 0,
    kills: int = 0,
    respawn: int = 0,
) -> PlayerState:
    return PlayerState(
        id=pid,
        name=name,
        colour=colour,
        alive=bool(body),
        direction=direction,
        body=body,
        score=score,
        best=best,
        kills=kills,
        respawn_ticks=respawn,
    )


def _world(
    tick: int, players: tuple[PlayerState, ...], food: tuple[Cell, ...], *, wrap: bool = False
) -> Snapshot:
    size = (6, 5) if wrap else (10, 8)
    return Snapshot(
        tick=tick,
        width=size[0],
        height=size[1],
        wrap=wrap,
        players=tuple(sorted(players, key=lambda p: p.id)),
        food=tuple(sorted(food)),
    )


# The base world, tick 100 on a 10x8 walled board.  ann heads down, bob up,
# cy is dead and respawns in 2 ticks.
ANN = _p(1, "ann", 2, D, ((6, 3), (6, 2), (6, 1)), score=3, best=5, kills=1)
BOB = _p(3, "bob", 5, U, ((7, 3), (7, 4), (7, 5)), score=1, best=2)
CY = _p(4, "cy", 1, L, best=4, kills=2, respawn=2)
BASE = _world(100, (ANN, BOB, CY), ((0, 0), (5, 3), (9, 7)))

# One tick later, everyone plain: ann down, bob up, cy one tick closer.
ANN_101 = ANN.moved(alive=True, direction=D, body=((6, 4), (6, 3), (6, 2)), respawn_ticks=0)
BOB_101 = BOB.moved(alive=True, direction=U, body=((7, 2), (7, 3), (7, 4)), respawn_ticks=0)
CY_101 = CY.moved(alive=False, direction=L, body=(), respawn_ticks=1)
MOVED = _world(101, (ANN_101, BOB_101, CY_101), BASE.food)

# bob turns left into the cell ann's head just left: bob dies, ann gets the kill.
DEATH = _world(
    101,
    (
        _p(1, "ann", 2, D, ANN_101.body, score=3, best=5, kills=2),
        _p(3, "bob", 5, L, best=2, respawn=30),
        CY_101,
    ),
    BASE.food,
)

# Two ticks after the base (a delta against an older baseline): ann moves
# down twice, bob up then left, and cy's countdown ends.
RESPAWN = _world(
    102,
    (
        ANN.moved(alive=True, direction=D, body=((6, 5), (6, 4), (6, 3)), respawn_ticks=0),
        BOB.moved(alive=True, direction=L, body=((6, 2), (7, 2), (7, 3)), respawn_ticks=0),
        CY.moved(alive=True, direction=R, body=((2, 5), (1, 5), (0, 5)), respawn_ticks=0),
    ),
    BASE.food,
)

# dee joins (and the food target rises by one).
JOIN = _world(
    101,
    (ANN_101, BOB_101, CY_101, _p(6, "dee", 7, R, ((3, 6), (2, 6), (1, 6)))),
    (*BASE.food, (4, 0)),
)

# bob leaves.
LEAVE = _world(101, (ANN_101, CY_101), BASE.food)

# A food cell appears, nothing else but the moves.
FOOD = _world(101, (ANN_101, BOB_101, CY_101), (*BASE.food, (2, 2)))

# ann turns left onto the food at (5, 3): one cell longer, one point more; the
# eaten cell is topped up elsewhere.
GROWTH = _world(
    101,
    (
        _p(1, "ann", 2, L, ((5, 3), (6, 3), (6, 2), (6, 1)), score=4, best=5, kills=1),
        BOB_101,
        CY_101,
    ),
    ((0, 0), (1, 4), (9, 7)),
)

# A 6x5 wrap board: "w" has just crossed the right edge, "v" the bottom one.
WRAP_BASE = _world(
    7,
    (
        _p(0, "w", 3, R, ((0, 2), (5, 2), (4, 2))),
        _p(2, "v", 4, D, ((2, 0), (2, 4), (2, 3)), score=2, best=2),
    ),
    ((3, 0),),
    wrap=True,
)
WRAP_NEXT = _world(
    8,
    (
        _p(0, "w", 3, R, ((1, 2), (0, 2), (5, 2))),
        _p(2, "v", 4, D, ((2, 1), (2, 0), (2, 4)), score=2, best=2),
    ),
    ((3, 0),),
    wrap=True,
)


# A long snake on a 40x2 board moves 16 cells between baselines and eats on the
# way: a MOVE chain too long for an int, sent as bin.
LONG_BASE = Snapshot(
    tick=200,
    width=40,
    height=2,
    wrap=False,
    players=(_p(9, "long", 6, R, tuple((x, 0) for x in range(17, -1, -1))),),
    food=((20, 0), (39, 1)),
)
LONG_NEXT = Snapshot(
    tick=216,
    width=40,
    height=2,
    wrap=False,
    players=(_p(9, "long", 6, R, tuple((x, 0) for x in range(33, 14, -1)), score=1, best=1),),
    food=((5, 1), (39, 1)),
)


# A 300x10 board: wider than 256, so every cell takes two bytes a coordinate.
WIDE_BASE = Snapshot(
    tick=50,
    width=300,
    height=10,
    wrap=False,
    players=(_p(7, "far", 3, L, ((280, 5), (281, 5), (282, 5))),),
    food=((0, 0), (299, 9)),
)
WIDE_NEXT = Snapshot(
    tick=51,
    width=300,
    height=10,
    wrap=False,
    players=(_p(7, "far", 3, L, ((279, 5), (280, 5), (281, 5))),),
    food=((0, 0), (256, 3), (299, 9)),
)


@dataclass(frozen=True, slots=True)
class SnapshotExample:
    """A snapshot, the baseline it is encoded against (None: full), and its name in the spec."""

    name: str
    snapshot: Snapshot
    baseline: Snapshot | None

    @property
    def data(self) -> bytes:
        if self.baseline is None:
            return encode_full(self.snapshot)
        return encode_delta(self.snapshot, self.baseline)

    @property
    def hash(self) -> int:
        return snapshot_hash(self.snapshot)


SNAPSHOT_EXAMPLES: tuple[SnapshotExample, ...] = (
    SnapshotExample("snapshot-full", BASE, None),
    SnapshotExample("delta-move", MOVED, BASE),
    SnapshotExample("delta-death", DEATH, BASE),
    SnapshotExample("delta-respawn", RESPAWN, BASE),
    SnapshotExample("delta-join", JOIN, BASE),
    SnapshotExample("delta-leave", LEAVE, BASE),
    SnapshotExample("delta-food", FOOD, BASE),
    SnapshotExample("delta-growth", GROWTH, BASE),
    SnapshotExample("snapshot-full-wrap", WRAP_BASE, None),
    SnapshotExample("delta-wrap", WRAP_NEXT, WRAP_BASE),
    SnapshotExample("delta-long-move", LONG_NEXT, LONG_BASE),
    SnapshotExample("snapshot-full-wide", WIDE_BASE, None),
    SnapshotExample("delta-wide", WIDE_NEXT, WIDE_BASE),
)


@dataclass(frozen=True, slots=True)
class MessageExample:
    name: str
    message: Message

    @property
    def data(self) -> bytes:
        return encode_message(self.message)


MESSAGE_EXAMPLES: tuple[MessageExample, ...] = (
    MessageExample("join", Join(name="ann", version=6, seat=Seat.PLAYER)),
    MessageExample("quit", Quit()),
    MessageExample("resync", Resync()),
    MessageExample("switch", SwitchSeat(seat=Seat.SPECTATOR)),
    MessageExample("view", View(columns=80, rows=40, follow=None)),
    MessageExample("view-follow", View(columns=40, rows=20, follow=3)),
    MessageExample(
        "accepted",
        Accepted(
            player_id=1,
            name="ann",
            width=10,
            height=8,
            wrap=False,
            tick_rate=10.0,
            colour=2,
            max_view=(128, 96),
        ),
    ),
    MessageExample(
        "accepted-spectator",
        Accepted(
            player_id=None,
            name="eve",
            width=10,
            height=8,
            wrap=False,
            tick_rate=12.5,
            colour=0,
            seat=Seat.SPECTATOR,
            max_view=(128, 96),
        ),
    ),
    MessageExample("rejected", Rejected(code=RejectionCode.BAD_NAME, reason="the name is empty")),
    MessageExample("seated", Seated(seat=Seat.PLAYER, player_id=6, colour=7)),
    MessageExample(
        "seated-refused",
        Seated(seat=Seat.SPECTATOR, player_id=None, colour=0, refusal="no seat free"),
    ),
    MessageExample("joined", PlayerJoined(player_id=6, name="dee")),
    MessageExample("left", PlayerLeft(player_id=3, name="bob", reason="quit")),
    MessageExample(
        "died",
        PlayerDied(player_id=3, name="bob", killer_id=1, killer_name="ann", cause="snake"),
    ),
    MessageExample(
        "died-wall",
        PlayerDied(player_id=1, name="ann", killer_id=None, killer_name=None, cause="wall"),
    ),
    MessageExample("respawned", PlayerRespawned(player_id=4, name="cy")),
    MessageExample("shutdown", ServerShuttingDown(reason="maintenance")),
    MessageExample("spectators", Spectators(count=2)),
    MessageExample("roster", Roster(ids=(1, 3, 4), names=("ann", "bob", "cy"))),
    MessageExample("input", Input(first_seq=0, turns=(L, U), stamps=(101, 102))),
    MessageExample("input-unstamped", Input(first_seq=300, turns=(R,), stamps=(0,))),
    MessageExample(
        "snapshot",
        SnapshotMessage(
            state_hash=snapshot_hash(MOVED),
            input_ack=1,
            inputs_pending=1,
            payload=encode_delta(MOVED, BASE),
        ),
    ),
    MessageExample(
        "scores",
        Scores(
            tick=100,
            complete=True,
            entries=(
                ScoreEntry(id=1, colour=2, length=3, score=3, kills=1),
                ScoreEntry(id=3, colour=5, length=3, score=1, kills=0),
                ScoreEntry(id=4, colour=1, length=0, score=0, kills=2),
            ),
        ),
    ),
    MessageExample(
        "overview",
        Overview(
            tick=100,
            columns=10,
            rows=8,
            food=pack_levels([int((x, y) in BASE.food) for y in range(8) for x in range(10)]),
            leaders=((1, 6, 3), (3, 7, 3)),
        ),
    ),
)


def _hex_block(data: bytes) -> str:
    rows = [data[i : i + 16].hex(" ") for i in range(0, len(data), 16)]
    return "\n".join(f"    {row}" for row in rows)


def render(name: str, data: bytes, world_hash: int | None = None) -> str:
    """One example as the spec writes it."""
    size = f"{len(data)} byte{'s' if len(data) != 1 else ''}"
    if world_hash is not None:
        size += f", world hash ``{world_hash:08x}``"
    return f"``{name}`` ({size})::\n\n{_hex_block(data)}\n"


if __name__ == "__main__":
    for snap in SNAPSHOT_EXAMPLES:
        print(render(snap.name, snap.data, snap.hash))
    for msg in MESSAGE_EXAMPLES:
        print(render(msg.name, msg.data))
