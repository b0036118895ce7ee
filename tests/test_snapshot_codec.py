"""Full and delta snapshot encodings: exact round trips, size, and hostile input."""

from __future__ import annotations

import itertools
import random
import statistics

import msgpack
import pytest
from corpora import random_game, snapshot_corpus
from hypothesis import given, settings
from hypothesis import strategies as st

from netsnake.game.bots import steer_bots
from netsnake.game.direction import Direction
from netsnake.game.limits import MAX_NAME_LENGTH, MAX_PLAYER_ID
from netsnake.game.snapshot import PlayerState, Snapshot
from netsnake.game.snapshot_codec import (
    SnapshotHistory,
    decode_snapshot,
    encode_delta,
    encode_full,
    peek_header,
)
from netsnake.game.world import World, WorldConfig
from protocol import DecodeError

# -- games to encode ---------------------------------------------------------------


def bot_game(players: int, seed: int, ticks: int, warmup: int = 100) -> list[Snapshot]:
    """Snapshots of bots playing on the default board, after a warm-up."""
    rng = random.Random(seed)
    world = World(WorldConfig(), seed)
    for pid in range(players):
        world.add_player(pid, f"bot {pid}", pid)
    snapshots = []
    for tick in range(warmup + ticks):
        steer_bots(world, rng)
        world.step()
        if tick >= warmup:
            snapshots.append(world.snapshot())
    return snapshots


# -- exactness ------------------------------------------------------------------------


@settings(derandomize=True, max_examples=30, deadline=None)
@given(
    width=st.integers(8, 40),
    height=st.integers(8, 40),
    wrap=st.booleans(),
    players=st.integers(1, 16),
    seed=st.integers(0, 2**32),
)
def test_every_retained_baseline_decodes_exactly(
    width: int, height: int, wrap: bool, players: int, seed: int
) -> None:
    config = WorldConfig(width=width, height=height, wrap=wrap, respawn_ticks=6)
    history = SnapshotHistory(window=32)
    for s in random_game(config, seed, players, ticks=80):
        assert decode_snapshot(encode_full(s), None) == s
        assert peek_header(encode_full(s)) == (s.tick, None)
        for baseline_tick in range(s.tick - 31, s.tick):
            baseline = history.get(baseline_tick)
            if baseline is None:
                continue
            data = encode_delta(s, baseline)
            assert peek_header(data) == (s.tick, baseline_tick)
            assert decode_snapshot(data, baseline) == s, f"tick {s.tick} vs {baseline_tick}"
        history.add(s)


def test_long_baselines_across_respawns_and_growth() -> None:
    # Bots grow and die; a 64-tick-old baseline forces body replacement.
    snapshots = bot_game(players=8, seed=4, ticks=200, warmup=0)
    for i, s in enumerate(snapshots):
        for age in (1, 2, 5, 17, 63, 64):
            if i >= age:
                baseline = snapshots[i - age]
                assert decode_snapshot(encode_delta(s, baseline), baseline) == s


def player(pid: int, **changes: object) -> PlayerState:
    fields: dict[str, object] = {
        "id": pid,
        "name": "n",
        "colour": 1,
        "alive": True,
        "direction": Direction.RIGHT,
        "body": ((3, 1), (2, 1), (1, 1)),
        "score": 0,
        "best": 0,
        "kills": 0,
        "respawn_ticks": 0,
    }
    fields.update(changes)
    return PlayerState(**fields)  # type: ignore[arg-type]


def frame(tick: int, *players: PlayerState, food: tuple[tuple[int, int], ...] = ()) -> Snapshot:
    return Snapshot(tick=tick, width=10, height=8, wrap=False, players=players, food=food)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        # Direction that is not the last step (allowed in a Snapshot, odd for a world).
        (player(1), player(1, body=((4, 1), (3, 1), (2, 1)), direction=Direction.DOWN)),
        # Alive and standing still; shrinking; a dead snake with its counter frozen.
        (player(1), player(1)),
        (player(1), player(1, body=((3, 1), (2, 1)))),
        (
            player(1, alive=False, body=(), respawn_ticks=9),
            player(1, alive=False, body=(), respawn_ticks=9),
        ),
        # A one-cell snake and an id reused by someone else.
        (player(1), player(1, body=((5, 5),))),
        (player(1), player(1, name="other", score=3, best=3)),
        # Everything at once.
        (
            player(1),
            player(
                1,
                body=((9, 7), (9, 6)),
                score=2,
                best=5,
                kills=7,
                respawn_ticks=2,
                direction=Direction.UP,
            ),
        ),
    ],
)
def test_unusual_changes_round_trip(before: PlayerState, after: PlayerState) -> None:
    base = frame(10, before, food=((0, 0), (5, 5)))
    new = frame(11, after, food=((0, 0), (7, 7)))
    assert decode_snapshot(encode_delta(new, base), base) == new
    assert decode_snapshot(encode_full(new), base) == new


# -- golden vectors ---------------------------------------------------------------------

GOLDEN_BASE = frame(
    5,
    player(2, name="ab", colour=9, body=((3, 1), (2, 1), (1, 1))),
    player(4, alive=False, body=(), direction=Direction.UP, respawn_ticks=3, best=2),
    food=((0, 0), (5, 5)),
)
GOLDEN_NEXT = frame(
    6,
    player(2, name="ab", colour=9, body=((3, 2), (3, 1), (2, 1)), direction=Direction.DOWN),
    player(4, alive=False, body=(), direction=Direction.UP, respawn_ticks=2, best=2),
    food=((0, 0), (5, 5)),
)
GOLDEN = [
    (
        # [0, 5, 10, 8, false, [[2,"ab",9,3,0,0,0,0,3,<3 1 0b1111>],
        #  [4,"n",1,0,0,2,0,3,0,<>]], <0 0 5 5>]
        GOLDEN_BASE,
        None,
        "97 00 05 0a 08 c2 92"
        " 9a 02 a2 61 62 09 03 00 00 00 00 03 c4 03 03 01 0f"
        " 9a 04 a1 6e 01 00 00 02 00 03 00 c4 00"
        " c4 04 00 00 05 05",
    ),
    # [1, 6, <0b10>]: one plain mover going down (2 bits), the dead one implied.
    (GOLDEN_NEXT, GOLDEN_BASE, "93 01 06 c4 01 02"),
]


@pytest.mark.parametrize(("snapshot", "baseline", "hex_bytes"), GOLDEN)
def test_golden_vectors(snapshot: Snapshot, baseline: Snapshot | None, hex_bytes: str) -> None:
    data = bytes.fromhex(hex_bytes)
    encoded = encode_full(snapshot) if baseline is None else encode_delta(snapshot, baseline)
    assert encoded.hex(" ") == data.hex(" ")
    assert decode_snapshot(data, baseline) == snapshot


# -- size ------------------------------------------------------------------------------


def test_eight_bots_cost_at_most_forty_bytes_a_tick() -> None:
    snapshots = bot_game(players=8, seed=1, ticks=300)
    sizes = [len(encode_delta(t, b)) for b, t in itertools.pairwise(snapshots)]
    assert statistics.mean(sizes) <= 40, statistics.mean(sizes)


def test_thirty_two_bots_deltas_fit_1100_bytes() -> None:
    snapshots = bot_game(players=32, seed=2, ticks=150)
    sizes = [len(encode_delta(t, b)) for b, t in itertools.pairwise(snapshots)]
    assert max(sizes) <= 1100, max(sizes)


def test_unchanged_players_cost_nothing() -> None:
    dead = [player(i, alive=False, body=(), respawn_ticks=20) for i in range(10, 40)]
    base = frame(1, player(1), *dead)
    new = frame(
        2,
        player(1, body=((4, 1), (3, 1), (2, 1))),
        *[player(i, alive=False, body=(), respawn_ticks=19) for i in range(10, 40)],
    )
    assert len(encode_delta(new, base)) == 6  # header and one byte of moves


# -- misuse and malformed input ------------------------------------------------------------


def test_delta_needs_its_own_baseline() -> None:
    snapshots = random_game(WorldConfig(), seed=3, players=4, ticks=5)
    data = encode_delta(snapshots[5], snapshots[3])
    with pytest.raises(DecodeError, match="baseline"):
        decode_snapshot(data, None)
    with pytest.raises(DecodeError, match="against tick 3"):
        decode_snapshot(data, snapshots[4])


def test_encode_delta_refuses_misuse() -> None:
    a, b = random_game(WorldConfig(), seed=3, players=2, ticks=1)
    with pytest.raises(ValueError, match="older"):
        encode_delta(a, b)
    other_board = Snapshot(tick=0, width=9, height=9, wrap=False, players=(), food=())
    with pytest.raises(ValueError, match="board"):
        encode_delta(b, other_board)
    broken = frame(3, player(1, body=((1, 1), (5, 5))))
    with pytest.raises(ValueError, match="adjacent"):
        encode_full(broken)


CORPUS = snapshot_corpus(seed=8)


def test_truncations_are_refused() -> None:
    for data, baseline in CORPUS:
        for cut in range(len(data)):
            with pytest.raises(DecodeError):
                decode_snapshot(data[:cut], baseline)


@pytest.mark.parametrize(
    ("hex_bytes", "reason"),
    [
        ("93 01 06 c4 01 06", "moves do not match"),  # a stray bit after the last mover
        ("92 01 06", "moves do not match"),  # no moves for the plain mover
        ("94 01 06 c4 00 92 02 01", "cut short"),  # MOVE promised, no value
        ("94 01 06 c4 00 94 02 11 01 c4 00", "MOVE and BODY"),
        ("94 01 06 c4 00 93 02 02 05", "LENGTH without"),
        ("94 01 06 c4 00 93 02 01 02", "marker"),  # 0b10: marker at an odd bit
        ("94 01 06 c4 00 94 02 03 05 05", "MOVE length"),  # 1 step, length 5 from 3
        ("94 01 06 c4 00 93 02 01 10", "leaves the board"),  # up from (3, 1) twice
        ("97 00 05 0a 08 c2 91 9a 01 a0 00 01 00 00 00 00 01 c4 02 0a 00 c4 00", "head off"),
        ("94 01 06 c4 00 93 04 01 05", "no body"),  # MOVE for the dead snake
        ("96 01 06 c4 00 90 90 91 07", "not in the baseline"),
        ("98 01 06 c4 01 02 90 90 90 c4 02 01 01 c4 00", "not there"),
        ("98 01 06 c4 01 02 90 90 90 c4 00 c4 02 00 00", "already there"),
        ("93 02 06 c4 01 02", "against tick 4"),
        ("97 00 05 0a 08 c3 90 c4 02 0a 00", "off the board"),
        ("97 00 05 0a 08 01 90 c4 00", "bool"),
        ("ff", "expected list"),
    ],
)
def test_specific_malformations(hex_bytes: str, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        decode_snapshot(bytes.fromhex(hex_bytes), GOLDEN_BASE)


def test_ids_and_names_beyond_the_shared_limits_are_refused_both_ways() -> None:
    longest = player(MAX_PLAYER_ID, name="é" * MAX_NAME_LENGTH)
    assert decode_snapshot(encode_full(frame(0, longest)), None).players == (longest,)
    for bad in (player(MAX_PLAYER_ID + 1), player(1, name="x" * (MAX_NAME_LENGTH + 1))):
        with pytest.raises(ValueError):
            encode_full(frame(0, bad))
        # The same record, forced onto the wire, is refused by the decoder.
        items = msgpack.unpackb(encode_full(frame(0, longest)))
        items[5][0][:2] = [bad.id, bad.name]
        with pytest.raises(DecodeError):
            decode_snapshot(msgpack.packb(items), None)


# -- history --------------------------------------------------------------------------


def test_history_shares_encodings_and_forgets_old_ticks() -> None:
    snapshots = random_game(WorldConfig(), seed=6, players=6, ticks=80)
    history = SnapshotHistory(window=32)
    for s in snapshots:
        history.add(s)
    assert history.newest_tick == 80
    assert history.get(48) is None and history.get(49) is not None
    first = history.encode_for(80, 79)
    assert history.encode_for(80, 79) is first
    assert (history.encodes, history.cache_hits) == (1, 1)
    assert decode_snapshot(first, snapshots[79]) == snapshots[80]
    # A baseline that is gone (or not older) gets the full snapshot, cached too.
    full = history.encode_for(80, 10)
    assert peek_header(full) == (80, None)
    assert history.encode_for(80, None) is full
    assert history.encode_for(80, 80) is full
    assert (history.encodes, history.cache_hits) == (2, 3)
    with pytest.raises(KeyError):
        history.encode_for(20, None)
    with pytest.raises(ValueError):
        history.add(snapshots[80])
    with pytest.raises(ValueError):
        SnapshotHistory(window=31)
