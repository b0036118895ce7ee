"""Prediction of the player's own snake, and the server's stamped inputs.

The predictor is checked against the world itself: with nothing interfering,
the path it predicts from a snapshot plus stamped turns is the path the world
then takes when those turns are released at their stamps, as the server does.
"""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netsnake.client.prediction import OwnSnakePredictor, StampedTurn, predict_own
from netsnake.game.direction import Direction
from netsnake.game.messages import MAX_INPUT_LEAD, Input, encode_message
from netsnake.game.snapshot import Cell, PlayerState, Snapshot
from netsnake.game.world import World, WorldConfig
from netsnake.server.game import ServerSettings
from netsnake.sim import GameSimulation, SimClient
from protocol.simulator import LinkConfig

pytestmark = pytest.mark.timeout(120)


def authoritative_run(
    world: World, pid: int, turns: list[StampedTurn], until: int
) -> list[PlayerState]:
    """Step ``world`` to ``until``, releasing ``turns`` at their stamps as the server does."""
    pending = list(turns)
    states = [_me(world.snapshot(), pid)]
    while world.tick < until:
        while pending and pending[0].stamp <= world.tick + 1:
            world.queue_turn(pid, pending.pop(0).direction)
        world.step()
        states.append(_me(world.snapshot(), pid))
    return states


def _me(snap: Snapshot, pid: int) -> PlayerState:
    me = snap.player(pid)
    assert me is not None
    return me


def _grid_distance(a: Cell, b: Cell, width: int, height: int, wrap: bool) -> int:
    dx, dy = abs(a[0] - b[0]), abs(a[1] - b[1])
    if wrap:
        dx, dy = min(dx, width - dx), min(dy, height - dy)
    return dx + dy


def random_turns(rng: random.Random, start: int, count: int) -> list[StampedTurn]:
    stamp = start
    turns = []
    for seq in range(count):
        stamp += rng.randrange(0, 4) if seq else rng.randrange(-3, 4)
        stamp = max(stamp, turns[-1].stamp + 1 if turns else stamp)
        turns.append(StampedTurn(seq, Direction(rng.randrange(4)), stamp))
    return turns


def check_prediction_matches_world(seed: int, wrap: bool, count: int, ahead: int) -> None:
    """The predicted path equals the world's, up to the first thing only the server knows."""
    rng = random.Random(seed)
    config = WorldConfig(width=16, height=12, wrap=wrap, food_base=4, food_per_player=2)
    world = World(config, seed)
    world.add_player(1, "me", 0)
    for _ in range(rng.randrange(0, 15)):  # start somewhere along the game
        world.step()
    base = world.snapshot()
    if not _me(base, 1).alive:
        return
    turns = random_turns(rng, base.tick + 1, count)
    until = base.tick + ahead
    predicted = predict_own(base, 1, turns, until)
    actual = authoritative_run(world, 1, turns, until)
    assert len(predicted) == len(actual) == ahead + 1
    food = set(base.food)
    for k in range(1, ahead + 1):
        got, want = predicted[k], actual[k]
        if not want.alive:
            # A death is the server's to decide: the prediction stops at the cell before.
            assert got.alive and got.body == actual[k - 1].body, f"seed {seed} tick +{k}"
            return
        if want.body[0] not in food and len(want.body) > len(actual[k - 1].body):
            return  # ate food that appeared after the snapshot: not predictable
        assert got.body == want.body, f"seed {seed} tick +{k}"
        assert got.direction == want.direction, f"seed {seed} tick +{k}"
        food.discard(want.body[0])


@pytest.mark.parametrize("seed", range(12))
def test_predicted_path_equals_the_world_path_that_follows(seed: int) -> None:
    check_prediction_matches_world(seed, wrap=seed % 2 == 0, count=6, ahead=12)


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    wrap=st.booleans(),
    count=st.integers(0, 8),
    ahead=st.integers(0, 20),
)
def test_prediction_matches_the_world_for_random_games_and_stamps(
    seed: int, wrap: bool, count: int, ahead: int
) -> None:
    check_prediction_matches_world(seed, wrap, count, ahead)


def test_a_move_into_a_wall_stops_at_the_cell_before() -> None:
    config = WorldConfig(width=10, height=10, food_base=0, food_per_player=0)
    world = World(config, 1)
    world.add_player(1, "me", 0)
    base = world.snapshot()
    me = _me(base, 1)
    to_wall = {
        Direction.RIGHT: 9 - me.body[0][0],
        Direction.LEFT: me.body[0][0],
        Direction.DOWN: 9 - me.body[0][1],
        Direction.UP: me.body[0][1],
    }[me.direction]
    states = predict_own(base, 1, [], base.tick + to_wall + 5)
    last = states[to_wall]
    assert all(s.body == last.body and s.alive for s in states[to_wall:])
    assert last.body[0] != me.body[0] or to_wall == 0


def test_late_stamps_apply_at_the_first_step_as_the_server_does() -> None:
    world = World(WorldConfig(wrap=True, food_base=0, food_per_player=0), 3)
    world.add_player(1, "me", 0)
    base = world.snapshot()
    me = _me(base, 1)
    turn = Direction((me.direction + 1) % 4)
    states = predict_own(base, 1, [StampedTurn(0, turn, base.tick - 5)], base.tick + 2)
    assert states[1].direction is turn


# ------------------------------------------------------------ corrections and the clock


def _board(tick: int, body: tuple[Cell, ...], direction: Direction) -> Snapshot:
    me = PlayerState(
        id=1,
        name="me",
        colour=0,
        alive=True,
        direction=direction,
        body=body,
        score=0,
        best=0,
        kills=0,
        respawn_ticks=0,
    )
    return Snapshot(tick=tick, width=20, height=20, wrap=False, players=(me,), food=())


def test_a_correction_is_counted_and_walked_at_most_one_cell_per_frame() -> None:
    rate = 10.0
    p = OwnSnakePredictor(1, rate)
    p.on_snapshot(_board(100, ((5, 10), (4, 10), (3, 10)), Direction.RIGHT), -1)
    now = 0.0
    own = p.sample(now, 104.0)  # drawn four ticks ahead: head at (9, 10)
    assert own is not None and own.head == (9, 10)
    assert p.next_stamp(now) == 105
    p.add_turn(StampedTurn(0, Direction.DOWN, 105))
    heads = [own.head]
    while own.tick < 105:
        now += 1 / 30
        own = p.sample(now, 104.0 + now * rate)
        assert own is not None and own.head is not None
        heads.append(own.head)
    assert own.head == (9, 11)
    # The turn reached the server late: snapshot 105 still heads right.
    p.on_snapshot(_board(105, ((10, 10), (9, 10), (8, 10)), Direction.RIGHT), -1)
    assert (p.corrections, p.late_turns) == (1, 1)
    for _ in range(12):
        now += 1 / 30
        own = p.sample(now, 104.0 + now * rate)
        assert own is not None and own.head is not None
        heads.append(own.head)
    steps = [_grid_distance(a, b, 20, 20, False) for a, b in itertools.pairwise(heads)]
    assert max(steps) <= 1, heads
    assert heads[-1][0] == 10  # going down from the cell where the server turned it


def test_the_lead_clock_glides_and_never_goes_back() -> None:
    p = OwnSnakePredictor(1, 10.0)
    p.on_snapshot(_board(10, ((5, 5), (4, 5), (3, 5)), Direction.RIGHT), -1)
    now, last = 0.0, -1.0
    for i in range(60):
        now += 1 / 30
        target = 12.0 + now * 10 + (0.8 if 20 <= i < 40 else 0.0)  # the RTT estimate jumps
        p.sample(now, target)
        pos = p.clock.position
        assert pos is not None and pos >= last
        if last >= 0:
            assert pos - last <= 1 / 3 * 1.1 + 1e-9  # nominal speed +10 % at most
        last = pos


# ------------------------------------------------------------------ server: stamped inputs


def _joined(seed: int, link: LinkConfig | None = None) -> tuple[GameSimulation, SimClient, int]:
    world = WorldConfig(wrap=True, food_base=0, food_per_player=0)
    sim = GameSimulation(ServerSettings(tick_rate=10, world=world, seed=seed), seed=seed, link=link)
    client = sim.add_client("p", steer=False)
    sim.run(1.0)
    assert client.core.player_id is not None
    return sim, client, client.core.player_id


def _send(client: SimClient, first_seq: int, turns: list[Direction], stamps: list[int]) -> None:
    msg = Input(first_seq=first_seq, turns=tuple(turns), stamps=tuple(stamps))
    client.core.endpoint.send_unreliable(encode_message(msg))


def _direction_at(sim: GameSimulation, pid: int, tick: int) -> Direction:
    snap = sim.server.history.get(tick)
    assert snap is not None
    return _me(snap, pid).direction


def test_a_stamped_turn_is_held_and_applied_at_its_tick() -> None:
    sim, c, pid = _joined(41)
    t = sim.server.world.tick
    before = _direction_at(sim, pid, t)
    turn = Direction((before + 1) % 4)
    _send(c, 0, [turn], [t + 5])
    sim.run(1.0)
    assert [_direction_at(sim, pid, t + k) for k in range(1, 6)] == [before] * 4 + [turn]
    counters = sim.server.counters
    assert (counters.turns_on_time, counters.turns_late, counters.turns_refused) == (1, 0, 0)


def test_a_late_stamped_turn_is_applied_at_once_and_counted() -> None:
    sim, c, pid = _joined(42)
    t = sim.server.world.tick
    before = _direction_at(sim, pid, t)
    turn = Direction((before + 3) % 4)
    _send(c, 0, [turn], [t - 3])
    sim.run(0.5)
    # The first step after it arrived (the simulated link has no latency).
    first = next(k for k in range(1, 5) if _direction_at(sim, pid, t + k) is turn)
    assert first <= 2
    assert (sim.server.counters.turns_late, sim.server.counters.turns_on_time) == (1, 0)


def test_a_duplicated_stamped_turn_is_applied_once() -> None:
    sim, c, pid = _joined(43)
    t = sim.server.world.tick
    before = _direction_at(sim, pid, t)
    first, second = Direction((before + 1) % 4), before
    _send(c, 0, [first], [t + 3])
    _send(c, 0, [first], [t + 3])
    _send(c, 0, [first, second], [t + 3, t + 4])
    sim.run(1.0)
    directions = [_direction_at(sim, pid, t + k) for k in range(1, 6)]
    assert directions == [before, before, first, second, second]
    assert sim.server.counters.turns_duplicate == 2
    assert sim.server.counters.turns_received == 2


def test_a_far_future_stamp_is_refused_counted_and_consumed() -> None:
    sim, c, pid = _joined(44)
    t = sim.server.world.tick
    before = _direction_at(sim, pid, t)
    _send(c, 0, [Direction((before + 1) % 4)], [t + MAX_INPUT_LEAD + 50])
    sim.run(1.0)
    assert all(_direction_at(sim, pid, t + k) is before for k in range(1, 10))
    counters = sim.server.counters
    assert counters.turns_refused == 1 and counters.dropped["input_refused"] == 1
    # Consumed: the client sees input_applied past it, so its prediction drops it.
    client = sim.server._clients[next(iter(sim.server._clients))]
    assert sim.server.input_applied(client) == 0


# ----------------------------------------------------- the whole loop: exact landing


@pytest.mark.parametrize(("latency", "seed"), [(0.0, 51), (0.05, 52), (0.1, 53)])
def test_turns_land_on_the_cell_drawn_when_they_were_made(latency: float, seed: int) -> None:
    sim = GameSimulation(
        ServerSettings(tick_rate=10, bots=4, seed=seed),
        seed=seed,
        link=LinkConfig(latency=latency, jitter=0.005),
    )
    c = sim.add_client("p", steer=False)
    seen: dict[int, Snapshot] = {}
    c.core.snapshot_listeners.append(lambda snap, now: seen.__setitem__(snap.tick, snap))
    sim.run(2.0)
    core = c.core
    pid = core.player_id
    assert pid is not None
    rng = random.Random(seed)
    made: list[tuple[int, Cell, Direction]] = []  # (stamp, head drawn, turn)
    frame_dt = 1 / 30
    for _ in range(1500):
        sim.run(frame_dt)
        frame = core.frame(sim.now)
        own = frame.own if frame is not None else None
        if own is None or own.head is None or rng.random() > 0.04:
            continue
        turn = Direction((own.state.direction + rng.choice((1, 3))) % 4)
        seq = core.steer(turn, sim.now)
        if seq is not None:
            stamp = core.stamp_of(seq)
            assert stamp == own.tick + 1
            made.append((stamp, own.head, turn))
    sim.run(1.0)
    landed = 0
    for stamp, head, turn in made:
        before, after = seen.get(stamp - 1), seen.get(stamp)
        if before is None or after is None:
            continue
        me_before, me_after = before.player(pid), after.player(pid)
        if me_before is None or me_after is None or not (me_before.alive and me_after.alive):
            continue  # died or respawned around it
        assert me_before.body[0] == head, f"seed {seed}: drawn {head}, server {me_before.body}"
        assert me_after.direction is turn
        landed += 1
    assert landed >= 8, f"seed {seed}: only {landed} of {len(made)} turns checked"
    assert sim.server.counters.turns_late == 0, f"seed {seed}"
    assert c.hash_mismatches == 0


def test_predict_off_draws_the_own_snake_interpolated_and_sends_unstamped_turns() -> None:
    sim = GameSimulation(
        ServerSettings(tick_rate=10, bots=2, seed=61), seed=61, link=LinkConfig(latency=0.05)
    )
    c = sim.add_client("p", steer=False, predict=False)
    sim.run(2.0)
    core = c.core
    assert core.predictor is None
    frame = core.frame(sim.now)
    assert frame is not None and frame.own is None and not frame.others_now
    assert core.hud(sim.now).corrections is None
    me = core.own_player
    assert me is not None and me.alive
    seq = core.steer(Direction((me.direction + 1) % 4), sim.now)
    assert seq is not None and core.stamp_of(seq) == 0
    sim.run(1.0)
    counters = sim.server.counters
    assert counters.turns_unstamped == 1
    assert counters.turns_on_time == counters.turns_late == 0


def test_a_board_no_world_can_have_is_not_predicted_and_stamps_stay_u32() -> None:
    me = PlayerState(
        id=1,
        name="me",
        colour=0,
        alive=True,
        direction=Direction.RIGHT,
        body=((1, 1), (0, 1)),
        score=0,
        best=0,
        kills=0,
        respawn_ticks=0,
    )
    tiny = Snapshot(tick=0xFFFF_FFFF, width=4, height=3, wrap=False, players=(me,), food=())
    p = OwnSnakePredictor(1, 10.0)
    p.on_snapshot(tiny, -1)
    own = p.sample(0.0, float(tiny.tick) + 3)
    assert own is not None and own.head == (1, 1)  # held where the server has it
    assert p.others_now(own.tick) == {}
    stamp = p.next_stamp(0.0)
    assert stamp == 0xFFFF_FFFF
    encode_message(Input(first_seq=0, turns=(Direction.UP,), stamps=(stamp,)))
