"""How big and how fast snapshot encodings are, on seeded bot games.

For 2, 8, 16 and 32 bots on the default board (after a warm-up, so the game
is in its steady state) this prints, per tick: the delta against the
previous tick (mean, p99 and max bytes), the full snapshot, the same state
written the way a simple tutorial would (one JSON text line with a list of
``[x, y]`` pairs per snake), the JSON/delta ratio, and the median encode and
decode times of a delta.  It ends with the lone-bot survival average.

    python benchmarks/snapshot_size.py --ticks 600 --seed 1
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import statistics
import time
from dataclasses import dataclass

from netsnake.game.bots import choose_turn, steer_bots
from netsnake.game.snapshot import Snapshot
from netsnake.game.snapshot_codec import decode_snapshot, encode_delta, encode_full
from netsnake.game.world import PlayerDied, World, WorldConfig

TARGET_DELTA_8 = 40
TARGET_RATIO = 40
TARGET_DELTA_32 = 1200
TARGET_CODEC_US_8 = 100


def tutorial_json(s: Snapshot) -> bytes:
    """The state as a naive server would send it: a JSON text line."""
    state = {
        "snakes": [
            {"name": p.name, "body": [[x, y] for x, y in p.body], "score": p.score}
            for p in s.players
        ],
        "food": [[x, y] for x, y in s.food],
    }
    return (json.dumps(state) + "\n").encode()


def bot_game(players: int, seed: int, ticks: int, warmup: int) -> list[Snapshot]:
    """Snapshots of ``ticks`` ticks of bots on the default board, after ``warmup``."""
    rng = random.Random(seed)
    world = World(WorldConfig(), seed)
    for pid in range(players):
        world.add_player(pid, f"bot-{pid}", pid % 16)
    snapshots = []
    for tick in range(warmup + ticks + 1):
        steer_bots(world, rng)
        world.step()
        if tick >= warmup:
            snapshots.append(world.snapshot())
    return snapshots


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    snakes: int
    delta_mean: float
    delta_p99: float
    delta_max: int
    full_mean: float
    full_max: int
    json_mean: float
    encode_us: float
    decode_us: float


def percentile(values: list[int], fraction: float) -> float:
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))])


def measure(players: int, seed: int, ticks: int, warmup: int) -> Row:
    snapshots = bot_game(players, seed, ticks, warmup)
    deltas: list[int] = []
    encode_times: list[float] = []
    decode_times: list[float] = []
    for baseline, current in itertools.pairwise(snapshots):
        start = time.perf_counter()
        data = encode_delta(current, baseline)
        middle = time.perf_counter()
        decoded = decode_snapshot(data, baseline)
        end = time.perf_counter()
        assert decoded == current
        deltas.append(len(data))
        encode_times.append(middle - start)
        decode_times.append(end - middle)
    fulls = [len(encode_full(s)) for s in snapshots[1:]]
    texts = [len(tutorial_json(s)) for s in snapshots[1:]]
    return Row(
        snakes=players,
        delta_mean=statistics.mean(deltas),
        delta_p99=percentile(deltas, 0.99),
        delta_max=max(deltas),
        full_mean=statistics.mean(fulls),
        full_max=max(fulls),
        json_mean=statistics.mean(texts),
        encode_us=statistics.median(encode_times) * 1e6,
        decode_us=statistics.median(decode_times) * 1e6,
    )


def lone_bot_survival(games: int, cap: int) -> tuple[float, float]:
    """Mean ticks a lone bot lives (capped) over seeded games, and seconds per bot call."""
    lifetimes = []
    calls = 0
    spent = 0.0
    for seed in range(games):
        world = World(WorldConfig(), seed)
        world.add_player(1, "bot", 1)
        rng = random.Random(seed)
        lifetime = cap
        for tick in range(1, cap + 1):
            view = world.snapshot()
            start = time.perf_counter()
            turn = choose_turn(view, 1, rng)
            spent += time.perf_counter() - start
            calls += 1
            if turn is not None:
                world.queue_turn(1, turn)
            if any(isinstance(e, PlayerDied) for e in world.step()):
                lifetime = tick
                break
        lifetimes.append(lifetime)
    return statistics.mean(lifetimes), spent / calls


def bot_call_time(players: int, seed: int, ticks: int) -> float:
    """Median seconds of one ``choose_turn`` with ``players`` bots on the board."""
    world = World(WorldConfig(), seed)
    for pid in range(players):
        world.add_player(pid, "bot", pid)
    times = []
    for _ in range(ticks):
        view = world.snapshot()
        for pid in world.player_ids:
            start = time.perf_counter()
            turn = choose_turn(view, pid)
            times.append(time.perf_counter() - start)
            if turn is not None:
                world.queue_turn(pid, turn)
        world.step()
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=600, help="measured ticks per game")
    parser.add_argument("--warmup", type=int, default=200, help="ticks played first")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--games", type=int, default=20, help="lone-bot games")
    parser.add_argument("--cap", type=int, default=3000, help="lone-bot game length cap")
    args = parser.parse_args(argv)

    print(
        f"default board {WorldConfig().width}x{WorldConfig().height}, "
        f"{args.ticks} ticks after {args.warmup} warm-up, seed {args.seed}"
    )
    header = (
        f"{'snakes':>6} {'delta':>7} {'p99':>6} {'max':>5} {'full':>7} {'fullmax':>7}"
        f" {'json':>7} {'json/d':>7} {'enc us':>7} {'dec us':>7}"
    )
    print(header)
    print("-" * len(header))
    rows = {}
    for players in (2, 8, 16, 32):
        row = measure(players, args.seed, args.ticks, args.warmup)
        rows[players] = row
        print(
            f"{row.snakes:>6} {row.delta_mean:>7.1f} {row.delta_p99:>6.0f} {row.delta_max:>5}"
            f" {row.full_mean:>7.1f} {row.full_max:>7} {row.json_mean:>7.1f}"
            f" {row.json_mean / row.delta_mean:>6.1f}x {row.encode_us:>7.1f}"
            f" {row.decode_us:>7.1f}"
        )
    eight, thirty_two = rows[8], rows[32]
    max_datagram = max(r.delta_max for r in rows.values())
    print(f"largest delta datagram payload: {max_datagram} B")
    checks = [
        (f"8 snakes mean delta <= {TARGET_DELTA_8} B", eight.delta_mean <= TARGET_DELTA_8),
        (
            f"JSON/delta ratio >= {TARGET_RATIO}x at 8 snakes",
            eight.json_mean / eight.delta_mean >= TARGET_RATIO,
        ),
        (f"32 snakes deltas <= {TARGET_DELTA_32} B", thirty_two.delta_max <= TARGET_DELTA_32),
        (
            f"encode+decode <= {TARGET_CODEC_US_8} us at 8 snakes",
            eight.encode_us + eight.decode_us <= TARGET_CODEC_US_8,
        ),
    ]
    for label, ok in checks:
        print(f"  [{'ok' if ok else 'MISSED'}] {label}")

    mean_life, per_call = lone_bot_survival(args.games, args.cap)
    print(
        f"lone bot survival: mean {mean_life:.0f} ticks over {args.games} games "
        f"(cap {args.cap}); {per_call * 1e6:.0f} us per choose_turn"
    )
    for players in (8, 16):
        median = bot_call_time(players, args.seed, 200)
        print(f"choose_turn with {players} bots on the board: median {median * 1e6:.0f} us")


if __name__ == "__main__":
    main()
