"""Rules of the game world, one test per rule, plus invariants over random games."""

from __future__ import annotations

import math
import random
import re
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netsnake.game import limits
from netsnake.game.direction import Direction
from netsnake.game.limits import MAX_NAME_LENGTH, MAX_PLAYER_ID, MAX_PLAYERS
from netsnake.game.snapshot import Cell, PlayerState, Snapshot, snapshot_hash
from netsnake.game.world import (
    FoodEaten,
    PlayerDied,
    PlayerRespawned,
    World,
    WorldConfig,
    WorldEvent,
)

# -- scenario helpers ----------------------------------------------------------


def snake(pid: int, *body: Cell, score: int = 0, kills: int = 0) -> PlayerState:
    """A live snake, facing the way its head moved (body given head first)."""
    direction = Direction.between(body[1], body[0])
    assert direction is not None
    return PlayerState(
        id=pid,
        name=f"p{pid}",
        colour=pid,
        alive=True,
        direction=direction,
        body=body,
        score=score,
        best=score,
        kills=kills,
    )


def scenario(
    *players: PlayerState, food: Sequence[Cell] = (), seed: int = 0, **config: object
) -> World:
    """A world in exactly this position; no food appears unless ``config`` asks."""
    options: dict[str, object] = {"food_base": 0, "food_per_player": 0.0}
    options.update(config)
    cfg = WorldConfig(**options)  # type: ignore[arg-type]
    snap = Snapshot(
        tick=0,
        width=cfg.width,
        height=cfg.height,
        wrap=cfg.wrap,
        players=tuple(sorted(players, key=lambda p: p.id)),
        food=tuple(sorted(food)),
    )
    return World.from_snapshot(cfg, snap, seed=seed)


def state(world: World, pid: int) -> PlayerState:
    p = world.snapshot().player(pid)
    assert p is not None
    return p


def deaths(events: list[WorldEvent]) -> dict[int, PlayerDied]:
    return {e.player_id: e for e in events if isinstance(e, PlayerDied)}


# -- moving and turning --------------------------------------------------------


def test_snake_advances_one_cell_per_tick_keeping_its_length() -> None:
    world = scenario(snake(1, (5, 5), (4, 5), (3, 5)))
    assert world.step() == []
    assert state(world, 1).body == ((6, 5), (5, 5), (4, 5))
    assert world.tick == 1


def test_reversal_and_repeated_direction_are_dropped() -> None:
    world = scenario(snake(1, (5, 5), (4, 5), (3, 5)))
    assert not world.queue_turn(1, Direction.LEFT)  # 180 degrees
    assert not world.queue_turn(1, Direction.RIGHT)  # already heading there
    world.step()
    assert state(world, 1).body[0] == (6, 5)


def test_reversal_is_judged_against_the_last_queued_turn() -> None:
    world = scenario(snake(1, (5, 5), (4, 5), (3, 5)))
    assert world.queue_turn(1, Direction.UP)
    assert not world.queue_turn(1, Direction.DOWN)  # opposite of the pending UP
    assert not world.queue_turn(1, Direction.UP)  # same as the pending UP
    assert world.queue_turn(1, Direction.RIGHT)  # legal once UP is applied
    world.step()
    world.step()
    assert state(world, 1).body[:3] == ((6, 4), (5, 4), (5, 5))


def test_quick_up_left_plays_over_two_ticks() -> None:
    world = scenario(snake(1, (5, 5), (4, 5), (3, 5)))
    assert world.queue_turn(1, Direction.UP)
    assert world.queue_turn(1, Direction.LEFT)
    world.step()
    assert state(world, 1).body[0] == (5, 4)
    assert state(world, 1).direction == Direction.UP
    world.step()
    assert state(world, 1).body == ((4, 4), (5, 4), (5, 5))
    assert state(world, 1).direction == Direction.LEFT


def test_queue_holds_at_most_three_turns() -> None:
    world = scenario(snake(1, (5, 5), (4, 5), (3, 5)))
    accepted = [
        world.queue_turn(1, d)
        for d in (Direction.UP, Direction.LEFT, Direction.DOWN, Direction.RIGHT)
    ]
    assert accepted == [True, True, True, False]
    for _ in range(3):
        world.step()
    # up, left, down: a tight loop that ends beside where it started.
    assert state(world, 1).body == ((4, 5), (4, 4), (5, 4))
    assert world.queue_turn(1, Direction.LEFT)  # room again once applied


def test_turns_for_unknown_or_dead_players_are_dropped() -> None:
    world = scenario(snake(1, (7, 5), (6, 5), (5, 5)), width=8)
    assert not world.queue_turn(99, Direction.UP)
    world.step()  # into the wall at x = 8
    assert not state(world, 1).alive
    assert not world.queue_turn(1, Direction.UP)


# -- deaths -----------------------------------------------------------------------


def test_wall_kills_and_removes_the_snake() -> None:
    world = scenario(snake(1, (25, 5), (24, 5), (23, 5), score=4, kills=2))
    events = world.step()
    assert events == [PlayerDied(player_id=1, killer_id=None, cause="wall")]
    p = state(world, 1)
    assert (p.alive, p.body, p.respawn_ticks) == (False, (), 30)
    assert world.free_cells() == sorted((x, y) for x in range(26) for y in range(20))


def test_wrap_mode_crosses_edges_instead_of_dying() -> None:
    world = scenario(snake(1, (25, 0), (24, 0), (23, 0)), wrap=True)
    world.queue_turn(1, Direction.UP)
    assert world.step() == []
    assert state(world, 1).body == ((25, 19), (25, 0), (24, 0))
    world.queue_turn(1, Direction.RIGHT)
    assert world.step() == []
    assert state(world, 1).body == ((0, 19), (25, 19), (25, 0))


def test_own_body_kills() -> None:
    # Heading down into a hook of its own body.
    world = scenario(snake(1, (5, 5), (5, 4), (6, 4), (6, 5), (6, 6), (5, 6), (4, 6)))
    events = world.step()
    assert events == [PlayerDied(player_id=1, killer_id=None, cause="self")]


def test_following_own_tail_is_allowed() -> None:
    # A 2x2 loop: the head always enters the cell the tail leaves.
    world = scenario(snake(1, (5, 5), (5, 4), (6, 4), (6, 5)))
    world.queue_turn(1, Direction.RIGHT)
    assert world.step() == []
    assert state(world, 1).body == ((6, 5), (5, 5), (5, 4), (6, 4))


def test_other_body_kills_and_credits_the_owner() -> None:
    a = snake(1, (5, 5), (4, 5), (3, 5))
    b = snake(2, (6, 3), (6, 4), (6, 5), (6, 6), (6, 7), kills=3)
    world = scenario(a, b)
    events = world.step()
    assert events == [PlayerDied(player_id=1, killer_id=2, cause="snake")]
    assert state(world, 2).kills == 4
    assert state(world, 2).alive


def test_hitting_the_cell_behind_a_moving_head_kills() -> None:
    # B's old head stays part of B (as its neck) after B moves.
    a = snake(1, (5, 5), (4, 5), (3, 5))
    b = snake(2, (6, 5), (6, 6), (6, 7))
    world = scenario(a, b)
    world.queue_turn(2, Direction.RIGHT)
    events = world.step()
    assert events == [PlayerDied(player_id=1, killer_id=2, cause="snake")]


def test_heads_entering_the_same_cell_both_die_without_credit() -> None:
    a = snake(1, (5, 5), (4, 5), (3, 5))
    b = snake(2, (7, 5), (8, 5), (9, 5))
    world = scenario(a, b)
    events = world.step()
    assert events == [
        PlayerDied(player_id=1, killer_id=2, cause="head-on"),
        PlayerDied(player_id=2, killer_id=1, cause="head-on"),
    ]
    assert state(world, 1).kills == state(world, 2).kills == 0
    assert world.free_cells() == sorted((x, y) for x in range(26) for y in range(20))


def test_heads_swapping_cells_both_die() -> None:
    a = snake(1, (5, 5), (4, 5), (3, 5))
    b = snake(2, (6, 5), (7, 5), (8, 5))
    events = scenario(a, b).step()
    assert events == [
        PlayerDied(player_id=1, killer_id=2, cause="head-on"),
        PlayerDied(player_id=2, killer_id=1, cause="head-on"),
    ]


def test_three_heads_into_one_cell_all_die_blaming_the_lowest_other() -> None:
    a = snake(1, (5, 5), (4, 5), (3, 5))
    b = snake(2, (7, 5), (8, 5), (9, 5))
    c = snake(3, (6, 4), (6, 3), (6, 2))
    died = deaths(scenario(a, b, c).step())
    assert {pid: d.killer_id for pid, d in died.items()} == {1: 2, 2: 1, 3: 1}
    assert {d.cause for d in died.values()} == {"head-on"}


@pytest.mark.parametrize("follower_id", [1, 3])
def test_entering_a_vacating_tail_is_allowed_whatever_the_id_order(follower_id: int) -> None:
    leader_id = 4 - follower_id
    leader = snake(leader_id, (8, 5), (7, 5), (6, 5))
    follower = snake(follower_id, (6, 6), (5, 6), (4, 6))
    world = scenario(leader, follower)
    world.queue_turn(follower_id, Direction.UP)  # into the leader's tail at (6, 5)
    assert world.step() == []
    assert state(world, follower_id).body[0] == (6, 5)
    assert state(world, leader_id).body == ((9, 5), (8, 5), (7, 5))


def test_tail_of_a_growing_snake_stays_and_kills() -> None:
    leader = snake(1, (8, 5), (7, 5), (6, 5))
    follower = snake(2, (6, 6), (5, 6), (4, 6))
    world = scenario(leader, follower, food=[(9, 5)])
    world.queue_turn(2, Direction.UP)
    events = world.step()
    assert events == [
        PlayerDied(player_id=2, killer_id=1, cause="snake"),
        FoodEaten(player_id=1, cell=(9, 5)),
    ]
    assert state(world, 1).body == ((9, 5), (8, 5), (7, 5), (6, 5))
    assert state(world, 1).kills == 1


def test_tail_of_a_snake_dying_this_tick_still_vacates() -> None:
    # B hits the wall; A takes the cell B's tail leaves in the same tick.
    b = snake(2, (25, 5), (24, 5), (23, 5))
    a = snake(1, (23, 6), (22, 6), (21, 6))
    world = scenario(a, b)
    world.queue_turn(1, Direction.UP)
    events = world.step()
    assert events == [PlayerDied(player_id=2, killer_id=None, cause="wall")]
    assert state(world, 1).body[0] == (23, 5)


def test_kill_is_credited_even_if_the_killer_dies_too() -> None:
    b = snake(2, (25, 5), (24, 5), (23, 5))  # into the wall
    a = snake(1, (24, 6), (24, 7), (24, 8))  # into B's neck at (24, 5)
    world = scenario(a, b)
    events = world.step()
    assert events == [
        PlayerDied(player_id=1, killer_id=2, cause="snake"),
        PlayerDied(player_id=2, killer_id=None, cause="wall"),
    ]
    assert state(world, 2).kills == 1


# -- food -------------------------------------------------------------------------


def test_eating_grows_by_one_and_scores() -> None:
    world = scenario(snake(1, (5, 5), (4, 5), (3, 5)), food=[(6, 5)], score_per_food=5)
    events = world.step()
    assert events == [FoodEaten(player_id=1, cell=(6, 5))]
    p = state(world, 1)
    assert p.body == ((6, 5), (5, 5), (4, 5), (3, 5))
    assert (p.score, p.best) == (5, 5)
    assert world.snapshot().food == ()
    world.step()
    assert len(state(world, 1).body) == 4  # grows once per food, not twice


def test_food_count_follows_player_count_and_free_space() -> None:
    config = WorldConfig(food_base=2, food_per_player=0.5)
    world = World(config, seed=3)
    assert len(world.snapshot().food) == 2
    for pid in range(5):
        world.add_player(pid, "x", 1)
    world.step()
    assert len(world.snapshot().food) == 2 + math.ceil(0.5 * 5)

    crowded = World(WorldConfig(width=8, height=8, food_base=1000), seed=1)
    assert len(crowded.snapshot().food) == 64  # capped by the board
    crowded.add_player(1, "late", 1)
    assert not state(crowded, 1).alive  # no room at all: waits to respawn
    assert state(crowded, 1).respawn_ticks == 1


def test_leftover_food_stays_when_players_leave() -> None:
    world = World(WorldConfig(food_base=1, food_per_player=1.0), seed=5)
    for pid in range(4):
        world.add_player(pid, "x", 1)
    world.step()
    assert len(world.snapshot().food) == 5
    for pid in range(4):
        world.remove_player(pid)
    world.step()
    assert len(world.snapshot().food) == 5
    every_cell = {(x, y) for x in range(26) for y in range(20)}
    assert world.free_cells() == sorted(every_cell - set(world.snapshot().food))


# -- death and respawn ------------------------------------------------------------


def test_respawn_delay_and_what_resets() -> None:
    victim = snake(1, (25, 5), (25, 6), (25, 7), score=7, kills=2)
    world = scenario(victim, snake(2, (3, 10), (2, 10), (1, 10)), respawn_ticks=5)
    assert world.queue_turn(1, Direction.RIGHT)  # into the wall
    assert world.queue_turn(1, Direction.UP)  # still pending at death
    events = world.step()
    assert deaths(events)[1].cause == "wall"
    seen = [state(world, 1).respawn_ticks]
    while not state(world, 1).alive:
        events = world.step()
        seen.append(state(world, 1).respawn_ticks)
    assert seen == [5, 4, 3, 2, 1, 0]
    assert PlayerRespawned(player_id=1) in events
    p = state(world, 1)
    # score resets; best, kills, name and colour survive; length starts over.
    assert (p.name, p.colour, p.score, p.best, p.kills) == ("p1", 1, 0, 7, 2)
    assert len(p.body) == 3
    # The turn queue was emptied at death: three fresh turns fit.
    turns = [Direction((p.direction + i) % 4) for i in (1, 2, 3)]
    assert [world.queue_turn(1, d) for d in turns] == [True, True, True]


def test_dead_for_exactly_respawn_ticks_snapshots() -> None:
    world = scenario(snake(1, (25, 5), (24, 5), (23, 5)), respawn_ticks=3)
    world.step()
    dead_ticks = 0
    while not state(world, 1).alive:
        dead_ticks += 1
        world.step()
    assert dead_ticks == 3


def _heads(world: World, except_id: int) -> list[Cell]:
    return [p.body[0] for p in world.snapshot().players if p.alive and p.id != except_id]


@pytest.mark.parametrize("seed", range(10))
def test_spawns_are_safe(seed: int) -> None:
    world = World(WorldConfig(), seed=seed)
    rng = random.Random(seed)
    for pid in range(12):
        world.add_player(pid, "x", 1)
        p = state(world, pid)
        assert p.alive and len(p.body) == 3
        head = p.body[0]
        # Straight body behind a head facing away from it.
        assert [Direction.between(p.body[i + 1], p.body[i]) for i in range(2)] == [p.direction] * 2
        # At least two free cells ahead and no other head too close.
        taken = {c for q in world.snapshot().players for c in q.body}
        ahead = [(head[0] + p.direction.dx * i, head[1] + p.direction.dy * i) for i in (1, 2)]
        assert all(0 <= x < 26 and 0 <= y < 20 and (x, y) not in taken for x, y in ahead)
        assert all(abs(hx - head[0]) + abs(hy - head[1]) >= 3 for hx, hy in _heads(world, pid))
        world.queue_turn(pid, Direction(rng.randrange(4)))


# -- bookkeeping ------------------------------------------------------------------


def test_add_and_remove_players() -> None:
    world = World(WorldConfig(max_players=2), seed=1)
    world.add_player(7, "seven", 3)
    with pytest.raises(ValueError, match="already"):
        world.add_player(7, "again", 3)
    world.add_player(2, "two", 4)
    with pytest.raises(ValueError, match="full"):
        world.add_player(9, "nine", 4)
    assert world.player_ids == (2, 7)
    assert [p.id for p in world.snapshot().players] == [2, 7]
    world.remove_player(7)
    world.remove_player(12345)  # unknown: ignored
    assert list(world.player_ids) == [2]
    assert not world.has_player(7)
    taken = set(state(world, 2).body)
    assert len(world.free_cells()) == 26 * 20 - len(taken) - len(world.snapshot().food)


@pytest.mark.parametrize(
    ("player_id", "name", "colour"),
    [
        (-1, "x", 0),
        (MAX_PLAYER_ID + 1, "x", 0),  # the wire carries ids 0..255 only
        (1, "x" * (MAX_NAME_LENGTH + 1), 0),
        (1, "\udcff", 0),
        (1, "x", 256),
    ],
)
def test_bad_players_are_refused(player_id: int, name: str, colour: int) -> None:
    with pytest.raises(ValueError):
        World(WorldConfig(), seed=1).add_player(player_id, name, colour)


def test_the_game_spec_quotes_the_shared_limits() -> None:
    spec = (Path(__file__).parent.parent / "docs" / "game-messages.rst").read_text()
    quoted = dict(re.findall(r"^``((?:MAX|MIN)_[A-Z_]+)``\s+(\d+)\s", spec, re.MULTILINE))
    assert quoted == {name: str(getattr(limits, name)) for name in limits.__all__}


def test_the_largest_id_and_longest_name_the_wire_carries_are_admitted() -> None:
    world = World(WorldConfig(), seed=1)
    world.add_player(MAX_PLAYER_ID, "é" * MAX_NAME_LENGTH, 255)
    assert world.snapshot().player(MAX_PLAYER_ID) is not None
    with pytest.raises(ValueError):
        WorldConfig(max_players=MAX_PLAYERS + 1)  # more players than ids
    WorldConfig(max_players=MAX_PLAYERS)


@pytest.mark.parametrize(
    "options",
    [
        {"width": 7},
        {"height": 1025},
        {"respawn_ticks": 0},
        {"start_length": 1},
        {"start_length": 11, "height": 20, "width": 20},
        {"food_per_player": -1.0},
        {"food_per_player": math.nan},
        {"max_players": 0},
        {"wrap": 1},
    ],
)
def test_bad_configs_are_refused(options: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="WorldConfig"):
        WorldConfig(**options)  # type: ignore[arg-type]


def test_state_hash_matches_snapshot_hash() -> None:
    world = World(WorldConfig(), seed=11)
    for pid in range(3):
        world.add_player(pid, f"n{pid}", pid)
    for _ in range(20):
        world.step()
        assert world.state_hash() == snapshot_hash(world.snapshot())


# -- random games -----------------------------------------------------------------


def play(world: World, rng: random.Random, ticks: int, max_id: int) -> list[Snapshot]:
    """Drive ``world`` with random joins, leaves and turns; return every snapshot."""
    snapshots = [world.snapshot()]
    for _ in range(ticks):
        for pid in world.player_ids:
            if rng.random() < 0.3:
                world.queue_turn(pid, Direction(rng.randrange(4)))
        roll = rng.random()
        if roll < 0.03 and world.player_ids:
            world.remove_player(rng.choice(world.player_ids))
        elif roll < 0.08:
            pid = rng.randrange(max_id)
            if not world.has_player(pid) and len(world.player_ids) < world.config.max_players:
                world.add_player(pid, f"p{pid}", pid % 256)
        world.step()
        snapshots.append(world.snapshot())
    return snapshots


def check_invariants(s: Snapshot, config: WorldConfig) -> None:
    taken: set[Cell] = set()
    for p in s.players:
        assert p.alive == bool(p.body) == (p.respawn_ticks == 0)
        assert p.best >= p.score >= 0
        if p.alive:
            assert len(p.body) >= config.start_length
            assert Direction.between(p.body[1], p.body[0]) in (p.direction, None)
        for cell in p.body:
            assert 0 <= cell[0] < s.width and 0 <= cell[1] < s.height
            assert cell not in taken
            taken.add(cell)
    assert len(set(s.food)) == len(s.food)
    assert not taken & set(s.food), "food on a snake"
    assert [p.id for p in s.players] == sorted({p.id for p in s.players})


game_settings = settings(derandomize=True, max_examples=25, deadline=None)


@game_settings
@given(
    width=st.integers(8, 30),
    height=st.integers(8, 30),
    wrap=st.booleans(),
    players=st.integers(1, 12),
    seed=st.integers(0, 2**32),
)
def test_random_games_keep_invariants(
    width: int, height: int, wrap: bool, players: int, seed: int
) -> None:
    config = WorldConfig(width=width, height=height, wrap=wrap, respawn_ticks=5)
    world = World(config, seed)
    for pid in range(players):
        world.add_player(pid, f"p{pid}", pid)
    snapshots = play(world, random.Random(seed), 150, players + 4)
    for s in snapshots:
        check_invariants(s, config)
    for s in snapshots[1:]:  # food is topped up at the end of each step
        wanted = config.food_base + math.ceil(config.food_per_player * len(s.players))
        room = width * height - sum(len(p.body) for p in s.players)
        assert len(s.food) >= min(wanted, room)


@game_settings
@given(seed=st.integers(0, 2**32), wrap=st.booleans())
def test_same_seed_same_inputs_same_game(seed: int, wrap: bool) -> None:
    def run() -> list[Snapshot]:
        world = World(WorldConfig(wrap=wrap, respawn_ticks=4), seed)
        for pid in range(6):
            world.add_player(pid, "x", pid)
        return play(world, random.Random(seed + 1), 120, 10)

    first, second = run(), run()
    assert first == second
    assert [snapshot_hash(s) for s in first] == [snapshot_hash(s) for s in second]
