"""How big and how fast snapshot encodings are, on seeded bot games.

For 2, 8, 16 and 32 bots on the default board (after a warm-up, so the game
is in its steady state) this prints, per tick: the delta against the
previous tick (mean, p99 and max bytes), the full snapshot, the same state
written the way a simple tutorial would (one JSON text line with a list of
``[x, y]`` pairs per snake), the JSON/delta ratio, and the median encode and
decode times of a delta.  It ends with the lone-bot survival average.

Then, for arenas (``--arena``, on by default), what one client downloads a
tick with areas of interest (``netsnake/game/interest.py``): bots play on
the board, and a sample of them are clients with a ``--view`` viewport
(default 40x20 cells, an 80x24 terminal) whose area snapshot is sent as a
delta against the previous one.  ``delta`` is the payload, ``msg`` the whole
SNAPSHOT message (hash and acks around it), ``scores`` the SCORES message
spread over its 2 s at 10 Hz, ``overvw`` the OVERVIEW likewise (sent only
when the area is not the whole board); ``down`` = msg + scores + overvw per
client and tick
and ``wire`` adds the sealed DATA packet around each (header, AES-GCM tag,
frame and ack-delay fields; UDP/IP headers not counted): what the client
downloads.  The targets: 256 players on 256x192 at most 2x the wire bytes a
client gets with 8 on the default board; 64 players on 512x512 with a mean
delta <= 60 B; equal density gives equal bytes.  The UI states a view of
``area_span`` of its viewport (the camera's dead zone around the head): an
80x24 terminal's 38x20-cell board gives 64x28, the default ``--view``.

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

from netsnake.argparsing import view_size
from netsnake.game.bots import choose_turn, steer_bots
from netsnake.game.interest import BlockIndex, area_for
from netsnake.game.messages import SnapshotMessage, encode_message
from netsnake.game.snapshot import Snapshot, snapshot_hash
from netsnake.game.snapshot_codec import decode_snapshot, encode_delta, encode_full
from netsnake.game.world import PlayerDied, World, WorldConfig
from netsnake.server.game import SCORES_COMPLETE_EVERY, world_overview, world_scores
from protocol._wire import (
    ACK_DELAY_FRAME_SIZE,
    DATA_HEADER_SIZE,
    TAG_SIZE,
    UNRELIABLE_FRAME_OVERHEAD,
)

TARGET_DELTA_8 = 40
TARGET_RATIO = 40
TARGET_DELTA_32 = 1200
TARGET_CODEC_US_8 = 100
TARGET_ARENA_RATIO = 2.0
# A sealed DATA packet around one unreliable frame: header, tag, frame header, ack delay.
_PACKET_OVERHEAD = DATA_HEADER_SIZE + TAG_SIZE + UNRELIABLE_FRAME_OVERHEAD + ACK_DELAY_FRAME_SIZE
TARGET_512_DELTA = 60


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


@dataclass(frozen=True, slots=True, kw_only=True)
class ArenaRow:
    players: int
    board: str
    clients: int
    snakes_in_area: float
    delta: float
    msg: float
    scores: float
    overview: float
    """OVERVIEW bytes a tick (0 when the area is the whole board)."""

    @property
    def down(self) -> float:
        return self.msg + self.scores + self.overview

    @property
    def wire(self) -> float:
        """Per tick: one sealed packet per snapshot, one per SCORES and one per
        OVERVIEW (each every 2 s at 10 Hz)."""
        packets = 1 + 1 / 20 + (1 / 20 if self.overview else 0)
        return self.down + _PACKET_OVERHEAD * packets


def arena_download(
    players: int,
    width: int,
    height: int,
    *,
    view: tuple[int, int],
    seed: int,
    ticks: int,
    warmup: int,
    clients: int = 16,
) -> ArenaRow:
    """Mean bytes a client downloads a tick with its area of interest (see the docstring)."""
    rng = random.Random(seed)
    world = World(WorldConfig(width=width, height=height, max_players=256), seed)
    for pid in range(players):
        world.add_player(pid, f"bot-{pid}", pid % 12)
    watchers = list(range(0, players, max(1, players // clients)))[:clients]
    previous: dict[int, Snapshot] = {}
    centres: dict[int, tuple[int, int]] = {}
    deltas: list[int] = []
    messages: list[int] = []
    in_area: list[int] = []
    board = (width, height, False)
    scores_every = 20  # 2 s at 10 Hz
    scores_bytes: list[int] = []
    overview_bytes: list[int] = []
    partial = area_for(board, view, (width // 2, height // 2)) is not None
    for tick in range(warmup + ticks):
        steer_bots(world, rng)
        world.step()
        if tick < warmup:
            continue
        snap = world.snapshot()
        index = BlockIndex(snap)
        digests: dict[int, int] = {}
        for pid in watchers:
            me = snap.player(pid)
            if me is not None and me.body:
                centres[pid] = me.body[0]
            centre = centres.get(pid, (width // 2, height // 2))
            area = index.snapshot_for(area_for(board, view, centre), pid)
            before = previous.get(pid)
            previous[pid] = area
            if before is None:
                continue
            payload = encode_delta(area, before)
            assert decode_snapshot(payload, before) == area
            msg = SnapshotMessage(
                state_hash=snapshot_hash(area, digests),
                input_ack=1000,
                inputs_pending=0,
                payload=payload,
            )
            deltas.append(len(payload))
            messages.append(len(encode_message(msg)))
            in_area.append(len(area.players))
        if tick % scores_every == 0:
            # As the server: every SCORES_COMPLETE_EVERY-th lists all, the others the leaders.
            complete = len(scores_bytes) % SCORES_COMPLETE_EVERY == 0
            scores_bytes.append(len(encode_message(world_scores(snap, complete))))
            if partial:  # as the server: only to clients sent an area
                overview_bytes.append(len(encode_message(world_overview(snap))))
    return ArenaRow(
        players=players,
        board=f"{width}x{height}",
        clients=len(watchers),
        snakes_in_area=statistics.mean(in_area),
        delta=statistics.mean(deltas),
        msg=statistics.mean(messages),
        scores=statistics.mean(scores_bytes) / scores_every,
        overview=statistics.mean(overview_bytes) / scores_every if overview_bytes else 0.0,
    )


def arena_report(view: tuple[int, int], seed: int, ticks: int, warmup: int) -> None:
    """Print the arena table and its targets."""
    print(f"\nper-client download with areas of interest, view {view[0]}x{view[1]} cells")
    header = (
        f"{'players':>7} {'board':>9} {'clients':>7} {'in area':>7} {'delta':>7} {'msg':>7}"
        f" {'scores':>7} {'overvw':>7} {'down':>7} {'wire':>7}"
    )
    print(header)
    print("-" * len(header))
    rows = {}
    for players, width, height in (
        (8, 26, 20),
        (64, 64, 48),
        (64, 256, 192),
        (256, 256, 192),
        (64, 512, 512),
        (256, 512, 384),
    ):
        row = arena_download(
            players, width, height, view=view, seed=seed, ticks=ticks, warmup=warmup
        )
        rows[players, row.board] = row
        print(
            f"{row.players:>7} {row.board:>9} {row.clients:>7} {row.snakes_in_area:>7.1f}"
            f" {row.delta:>7.1f} {row.msg:>7.1f} {row.scores:>7.1f} {row.overview:>7.1f}"
            f" {row.down:>7.1f}"
            f" {row.wire:>7.1f}"
        )
    small, big = rows[8, "26x20"], rows[256, "256x192"]
    sparse = rows[64, "512x512"]
    for label, ok in (
        (
            f"256 on 256x192 wire <= {TARGET_ARENA_RATIO:g}x 8 on 26x20 "
            f"({big.wire:.0f} vs {small.wire:.0f} B; {big.down / small.down:.2f}x before the "
            "packet)",
            big.wire <= TARGET_ARENA_RATIO * small.wire,
        ),
        (
            f"64 on 512x512 mean delta <= {TARGET_512_DELTA} B ({sparse.delta:.0f} B)",
            sparse.delta <= TARGET_512_DELTA,
        ),
    ):
        print(f"  [{'ok' if ok else 'MISSED'}] {label}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=600, help="measured ticks per game")
    parser.add_argument("--warmup", type=int, default=200, help="ticks played first")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--games", type=int, default=20, help="lone-bot games")
    parser.add_argument("--cap", type=int, default=3000, help="lone-bot game length cap")
    parser.add_argument("--arena-only", action="store_true", help="only the per-client arena table")
    parser.add_argument("--arena-ticks", type=int, default=200, help="measured arena ticks")
    parser.add_argument(
        "--view", type=view_size, default="64x28", help="VIEW the clients state (64x28)"
    )
    args = parser.parse_args(argv)
    cols, rows_ = args.view
    if args.arena_only:
        arena_report((cols, rows_), args.seed, args.arena_ticks, 100)
        return

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
    arena_report((cols, rows_), args.seed, args.arena_ticks, 100)


if __name__ == "__main__":
    main()
