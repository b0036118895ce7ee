"""Bots: sensible single decisions, and how long they last in real games."""

from __future__ import annotations

import random
import statistics

import pytest

from netsnake.game.bots import choose_turn, steer_bots
from netsnake.game.direction import Direction
from netsnake.game.snapshot import Cell, PlayerState, Snapshot
from netsnake.game.world import PlayerDied, PlayerRespawned, World, WorldConfig


def snake(pid: int, *body: Cell) -> PlayerState:
    direction = Direction.between(body[1], body[0])
    assert direction is not None
    return PlayerState(
        id=pid,
        name="b",
        colour=1,
        alive=True,
        direction=direction,
        body=body,
        score=0,
        best=0,
        kills=0,
    )


def view(*players: PlayerState, food: tuple[Cell, ...] = (), size: int = 12) -> Snapshot:
    return Snapshot(tick=0, width=size, height=size, wrap=False, players=players, food=food)


def heading(s: Snapshot, pid: int, turn: Direction | None) -> Direction:
    me = s.player(pid)
    assert me is not None
    return me.direction if turn is None else turn


# -- single decisions -----------------------------------------------------------------


def test_turns_towards_food() -> None:
    s = view(snake(1, (5, 5), (4, 5), (3, 5)), food=((5, 1),))
    assert choose_turn(s, 1) == Direction.UP


def test_keeps_straight_towards_food_ahead() -> None:
    s = view(snake(1, (5, 5), (4, 5), (3, 5)), food=((9, 5),))
    assert choose_turn(s, 1) is None


def test_avoids_the_wall() -> None:
    s = view(snake(1, (11, 5), (10, 5), (9, 5)))
    assert choose_turn(s, 1) in (Direction.UP, Direction.DOWN)


def test_never_reverses_and_ignores_absent_or_dead_players() -> None:
    s = view(snake(1, (5, 5), (4, 5), (3, 5)), food=((0, 5),))
    assert choose_turn(s, 1) != Direction.LEFT
    assert choose_turn(s, 2) is None
    dead = PlayerState(
        id=2,
        name="d",
        colour=0,
        alive=False,
        direction=Direction.UP,
        body=(),
        score=0,
        best=0,
        kills=0,
        respawn_ticks=5,
    )
    assert choose_turn(view(dead), 2) is None


def test_refuses_a_pocket_smaller_than_itself() -> None:
    # Its own body walls off the 4x3 top-left corner, where the food is; the
    # 15-cell snake would not fit in those 12 cells, so it turns away.
    body: tuple[Cell, ...] = ((0, 3), (1, 3), (2, 3), (3, 3), (4, 3), (4, 2), (4, 1), (4, 0))
    body += tuple((x, 0) for x in range(5, 12))
    s = view(snake(1, *body), food=((0, 0),))
    assert choose_turn(s, 1) == Direction.DOWN
    # With the food outside instead, it still is the only sensible way.
    assert choose_turn(view(snake(1, *body), food=((0, 9),)), 1) == Direction.DOWN


def test_heads_into_a_pocket_big_enough() -> None:
    body = ((0, 3), (1, 3), (2, 3), (3, 3), (4, 3), (4, 2), (4, 1), (4, 0), (5, 0))
    s = view(snake(1, *body), food=((0, 0),))
    assert choose_turn(s, 1) == Direction.UP


def test_avoids_cells_another_head_can_reach() -> None:
    # Food straight ahead, but the rival's head is next to that cell too.
    me = snake(1, (5, 5), (4, 5), (3, 5))
    rival = snake(2, (7, 5), (8, 5), (9, 5))
    s = view(me, rival, food=((6, 5),))
    assert choose_turn(s, 1) in (Direction.UP, Direction.DOWN)


def test_follows_its_tail_when_boxed_in() -> None:
    # Coiled in a corner: the only way out is the cell its tail leaves.
    me = snake(1, (0, 1), (0, 2), (1, 2), (1, 1), (1, 0), (0, 0))
    s = view(me)
    assert heading(s, 1, choose_turn(s, 1)) == Direction.UP  # into (0, 0), its tail


def test_is_pure_and_repeatable() -> None:
    world = World(WorldConfig(), seed=9)
    for pid in range(6):
        world.add_player(pid, "b", pid)
    for _ in range(30):
        world.step()
    s = world.snapshot()
    first = [choose_turn(s, pid, random.Random(1)) for pid in range(6)]
    again = [choose_turn(s, pid, random.Random(1)) for pid in range(6)]
    assert first == again
    assert world.snapshot() is s


# -- whole games ------------------------------------------------------------------------


def lone_bot_lifetime(seed: int, cap: int = 3000) -> int:
    """Ticks a lone bot on the default board survives (a game ends at first death)."""
    world = World(WorldConfig(), seed)
    world.add_player(1, "bot", 1)
    rng = random.Random(seed)
    for tick in range(1, cap + 1):
        turn = choose_turn(world.snapshot(), 1, rng)
        if turn is not None:
            world.queue_turn(1, turn)
        if any(isinstance(e, PlayerDied) for e in world.step()):
            return tick
    return cap


def test_lone_bot_survives_500_ticks_on_average() -> None:
    lifetimes = [lone_bot_lifetime(seed) for seed in range(20)]
    assert statistics.mean(lifetimes) >= 500, lifetimes


@pytest.mark.parametrize("seed", [1, 2])
def test_eight_bots_mostly_survive(seed: int) -> None:
    world = World(WorldConfig(), seed)
    for pid in range(8):
        world.add_player(pid, "bot", pid)
    rng = random.Random(seed)
    born = dict.fromkeys(range(8), 0)
    lifetimes: list[int] = []
    causes: list[str] = []
    for _ in range(1000):
        steer_bots(world, rng)
        for event in world.step():
            if isinstance(event, PlayerDied):
                lifetimes.append(world.tick - born[event.player_id])
                causes.append(event.cause)
            elif isinstance(event, PlayerRespawned):
                born[event.player_id] = world.tick
    # Crowded (8 snakes on 520 cells) so deaths happen, but not often, and
    # rarely by driving into a wall.
    assert len(lifetimes) <= 80, (seed, len(lifetimes))
    assert statistics.mean(lifetimes) >= 80, (seed, statistics.mean(lifetimes))
    assert causes.count("wall") <= len(causes) // 5, (seed, causes)


@pytest.mark.parametrize(
    ("config", "players", "seeds", "ticks", "expected", "died", "respawned"),
    [
        # The issue-15 arena: 256 bots on 256x192.
        (WorldConfig(width=256, height=192, max_players=256), 256, (2024, 11), 40, 753402629, 1, 0),
        # Crowded boards, where spawns fall back to scanning the whole board.
        (
            WorldConfig(width=40, height=30, max_players=256, respawn_ticks=3),
            200,
            (99, 5),
            25,
            894125964,
            457,
            400,
        ),
        (
            WorldConfig(width=40, height=30, wrap=True, max_players=256, respawn_ticks=3),
            200,
            (99, 5),
            25,
            2301936676,
            460,
            409,
        ),
    ],
)
def test_seeded_crowd_is_pinned(
    config: WorldConfig,
    players: int,
    seeds: tuple[int, int],
    ticks: int,
    expected: int,
    died: int,
    respawned: int,
) -> None:
    """Hundreds of bots give exactly the world they gave before the bots' searches
    and the spawn search were made faster (hashes recorded from the slow code)."""
    world = World(config, seed=seeds[0])
    for pid in range(players):
        world.add_player(pid, f"bot{pid}", pid % 8)
    rng = random.Random(seeds[1])
    events = []
    for _ in range(ticks):
        steer_bots(world, rng)
        events.extend(world.step())
    assert sum(isinstance(e, PlayerDied) for e in events) == died
    assert sum(isinstance(e, PlayerRespawned) for e in events) == respawned
    assert world.state_hash() == expected
