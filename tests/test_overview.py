"""OVERVIEW: the whole arena, coarsely, for the minimap of a client sent only its area.

The message's hostile values, the server's grid, the client core keeping the
newest valid one, the minimap drawing it, and the whole game on a big board.
"""

from __future__ import annotations

import msgpack
import pytest

from netsnake.client.core import ClientCore
from netsnake.game.direction import Direction
from netsnake.game.interest import area_for, area_holds
from netsnake.game.messages import (
    Overview,
    decode_message,
    encode_message,
    overview_shape,
    pack_levels,
)
from netsnake.game.snapshot import PlayerState, Snapshot
from netsnake.game.world import WorldConfig
from netsnake.server.game import ServerSettings, world_overview
from netsnake.sim import GameSimulation
from netsnake.ui.minimap import minimap_cells
from protocol import DecodeError, PayloadReceived


def raw(*items: object) -> bytes:
    data = msgpack.packb([42, *items], use_bin_type=True)
    assert isinstance(data, bytes)
    return data


def test_levels_pack_four_a_byte_and_read_back() -> None:
    levels = [3, 0, 1, 2, 2, 1, 0, 3, 1]
    o = Overview(tick=1, columns=3, rows=3, food=pack_levels(levels), leaders=())
    assert [o.level(i % 3, i // 3) for i in range(9)] == levels
    assert len(o.food) == 3


@pytest.mark.parametrize(
    "items",
    [
        (1, 33, 24, bytes(192), []),  # too many columns
        (1, 32, 25, bytes(200), []),  # too many rows
        (1, 0, 1, b"", []),
        (1, 4, 2, bytes(3), []),  # grid length does not match 4x2
        (1, 4, 2, bytes(2), [1, 2]),  # leaders not in threes
        (1, 4, 2, bytes(2), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]),  # four leaders
        (1, 4, 2, bytes(2), [1, 2, 3, 1, 4, 5]),  # a leader twice
        (1, 4, 2, bytes(2), [1, 1024, 3]),  # off any board
        (1, 4, 2, bytes(2), [-1, 2, 3]),
        (1, 4, 2, "ab", []),  # food not bytes
        (-1, 4, 2, bytes(2), []),
        (1, 4, 2, bytes(2)),  # a field missing
    ],
)
def test_hostile_overviews_do_not_decode(items: tuple[object, ...]) -> None:
    with pytest.raises(DecodeError):
        decode_message(raw(*items))


def world(players: tuple[PlayerState, ...], food: tuple[tuple[int, int], ...]) -> Snapshot:
    return Snapshot(tick=7, width=200, height=150, wrap=False, players=players, food=food)


def snake(pid: int, head: tuple[int, int], score: int) -> PlayerState:
    body = (head, (head[0] + 1, head[1]), (head[0] + 2, head[1]))
    return PlayerState(
        id=pid,
        name=f"p{pid}",
        colour=pid,
        alive=True,
        direction=Direction.LEFT,
        body=body,
        score=score,
        best=score,
        kills=0,
    )


def test_the_server_grid_counts_food_per_cell_capped_at_three_and_ranks_leaders() -> None:
    players = tuple(snake(i, (10 + 20 * i, 10 + 10 * i), score=i) for i in range(5))
    food = ((0, 0), (1, 1), (199, 149), (198, 148), (197, 147), (196, 146), (100, 75))
    o = world_overview(world(players, food))
    assert (o.columns, o.rows) == overview_shape(200, 150) == (32, 24)
    assert o.level(0, 0) == 2 and o.level(31, 23) == 3 and o.level(16, 12) == 1
    assert sum(o.level(i, j) for i in range(32) for j in range(24)) == 6
    assert [pid for pid, _x, _y in o.leaders] == [4, 3, 2]
    assert o.leaders[0] == (4, 90, 50)
    assert decode_message(encode_message(o)) == o
    assert len(encode_message(o)) < 220
    assert overview_shape(20, 10) == (20, 10)


def core_on(board: tuple[int, int, bool]) -> ClientCore:
    core = ClientCore(("10.0.0.1", 5050), server_label="test", name="me")
    core.board = board  # as ACCEPTED sets it
    return core


def feed(core: ClientCore, msg: Overview | bytes) -> None:
    data = msg if isinstance(msg, bytes) else encode_message(msg)
    core.handle_event(PayloadReceived(peer=None, data=data), 0.0)


def test_the_core_keeps_the_newest_valid_overview_and_counts_the_rest() -> None:
    core = core_on((200, 150, False))
    good = Overview(tick=40, columns=32, rows=24, food=bytes(192), leaders=((3, 199, 149),))
    feed(core, good)
    assert core.overview == good
    feed(core, Overview(tick=20, columns=32, rows=24, food=bytes(192), leaders=()))
    assert core.overview == good  # late: ignored, not counted
    assert core.counters.bad_overviews == 0
    feed(core, Overview(tick=60, columns=16, rows=24, food=bytes(96), leaders=()))  # wrong grid
    feed(core, Overview(tick=60, columns=32, rows=24, food=bytes(192), leaders=((1, 200, 3),)))
    feed(core, Overview(tick=60, columns=32, rows=24, food=bytes(192), leaders=((1, 3, 150),)))
    feed(core, raw(60, 32, 24, bytes(191), []))  # does not even decode
    assert core.overview == good
    assert core.counters.bad_overviews == 3
    assert core.counters.bad_messages == 1
    unseated = ClientCore(("10.0.0.1", 5050), server_label="test", name="me")
    feed(unseated, good)  # no board yet
    assert unseated.overview is None and unseated.counters.bad_overviews == 1


def test_the_minimap_marks_a_leader_far_outside_the_area_and_the_food_there() -> None:
    me = snake(1, (20, 20), score=0)
    leader = snake(9, (180, 130), score=50)
    area = area_for((200, 150, False), (40, 20), me.body[0])
    assert not area_holds(area, (200, 150), leader.body[0])
    levels = [0] * (32 * 24)
    levels[21 * 32 + 29] = 3  # food around (184, 134), far outside the area
    levels[3 * 32 + 3] = 3  # food around (21, 21), inside: the snapshot's exact food wins
    o = Overview(
        tick=7, columns=32, rows=24, food=pack_levels(levels), leaders=((9, 180, 130), (1, 20, 20))
    )
    snap = world((me,), ())  # the area snapshot: me, and no food in the area
    plain = minimap_cells(snap, 1, None, 20, 8)
    assert not any(c.mark == "1" for line in plain for c in line)
    cells = minimap_cells(snap, 1, None, 20, 8, overview=o, area=area, colours={9: 5})
    marked = {(i, j): c for j, line in enumerate(cells) for i, c in enumerate(line) if c.mark}
    assert marked[(180 * 20 // 200, 130 * 8 // 150)].mark == "1"
    assert marked[(180 * 20 // 200, 130 * 8 // 150)].colour == 5
    assert marked[(20 * 20 // 200, 20 * 8 // 150)].mark == "@"
    food = {(i, j) for j, line in enumerate(cells) for i, c in enumerate(line) if c.food}
    assert food == {(184 * 20 // 200, 134 * 8 // 150)}


def big_board_game() -> GameSimulation:
    """30 bots on 200x150 at 10 Hz, seed 5: an area is a small part of the board."""
    settings_ = ServerSettings(
        tick_rate=10, world=WorldConfig(width=200, height=150), max_players=40, bots=30, seed=5
    )
    return GameSimulation(settings_, seed=5)


def test_the_overview_reaches_clients_on_a_big_board_only() -> None:
    """On 200x150 with 30 bots a client with an 80x24 terminal's area gets an
    OVERVIEW every 2 s whose leaders are the server's; on the default board
    (the area is the whole world) none is sent."""
    sim = big_board_game()
    client = sim.add_client("p")
    sim.run(1.0)
    client.core.set_view_size(64, 28)
    sim.run(5.0)
    o = client.core.overview
    assert o is not None and client.core.counters.bad_overviews == 0
    assert (o.columns, o.rows) == (32, 24)
    assert len(o.leaders) == 3
    assert sum(o.level(i, j) for i in range(32) for j in range(24)) > 0
    snap = client.core.latest_snapshot
    assert snap is not None and len(snap.players) < len(sim.server.snapshot.players)

    small = GameSimulation(ServerSettings(bots=3, seed=5), seed=5)
    c = small.add_client("p")
    small.run(5.0)
    assert c.core.latest_snapshot is not None and c.core.overview is None


def test_a_new_seat_gets_the_whole_scoreboard_and_the_minimap_at_once() -> None:
    """Not the leaders after up to 2 s and everyone after up to 10 s: with its
    first snapshots, a client on a big board knows every player's score and has
    an OVERVIEW, though the regular SCORES (every 2 s) has not come round yet."""
    sim = big_board_game()
    sim.run(0.5)  # the regular SCORES went out at tick 0; the next is at tick 20
    client = sim.add_client("p")
    sim.run(0.8)
    snap = client.core.latest_snapshot
    assert snap is not None and snap.tick < 20
    assert len(snap.players) < 31  # only its area in the snapshot...
    assert len(client.core.scores) == 31  # ...but every player on the scoreboard
    assert client.core.overview is not None
