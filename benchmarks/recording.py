"""Recording size and seek time, on seeded bot games played by the real server logic.

Each game is a :class:`~netsnake.server.game.GameServer` with only bots (no
sockets: its protocol endpoint never sees a datagram), ticked as fast as it
goes, recorded exactly as ``netsnake-server --record`` does (every tick, the
events the server announced, keyframes every 10 s) but into memory.

- Bytes per minute of play at 10 Hz with 2, 8 and 16 snakes on the default
  board, after a warm-up (target: <= 20 KB/min at 8 snakes).
- A one-hour recording (8 snakes, 10 Hz): its size, how long opening it
  takes (reading and indexing), and the time of random seeks, each decoding
  the frame shown at a random tick from the nearest keyframe (target: every
  seek <= 200 ms).

    python benchmarks/recording.py --minutes 3 --hour-minutes 60 --seeks 200 --seed 1
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time

from netsnake.game.recording import Recording, RecordingWriter
from netsnake.game.snapshot import snapshot_hash
from netsnake.server.game import GameServer, ServerSettings
from netsnake.server.recorder import server_header
from protocol import ServerEndpoint

TARGET_BYTES_PER_MINUTE_8 = 20_000
TARGET_SEEK_S = 0.200
TICK_RATE = 10.0


def recorded_game(
    snakes: int, seed: int, minutes: float, warmup: int, keep_hashes: bool = False
) -> tuple[bytes, int, dict[int, int]]:
    """``minutes`` of a bot game recorded after ``warmup`` ticks; (bytes, frames, hashes)."""
    settings = ServerSettings(tick_rate=TICK_RATE, max_players=snakes, bots=snakes, seed=seed)
    game = GameServer(settings, ServerEndpoint(secret=os.urandom(32)))
    for tick in range(warmup):
        game.tick(tick / TICK_RATE)
    game.event_log = []
    writer = RecordingWriter(server_header(settings, server_name="benchmark", started=0.0))
    hashes: dict[int, int] = {}
    ticks = round(minutes * 60 * TICK_RATE)
    for tick in range(warmup, warmup + ticks):
        game.tick(tick / TICK_RATE)
        for event in game.event_log:
            writer.add_event(event)
        game.event_log.clear()
        writer.add_frame(game.snapshot)
        if keep_hashes:
            hashes[game.snapshot.tick] = snapshot_hash(game.snapshot)
    return writer.take(), ticks, hashes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="play measured per size")
    parser.add_argument("--warmup", type=int, default=300, help="ticks played first")
    parser.add_argument("--hour-minutes", type=float, default=60.0, help="long recording length")
    parser.add_argument("--seeks", type=int, default=200, help="random seeks timed")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    print(
        f"bots on the default board at {TICK_RATE:g} Hz, {args.minutes:g} min after "
        f"{args.warmup} warm-up ticks, seed {args.seed}"
    )
    print(f"{'snakes':>6} {'KB/min':>8} {'B/tick':>7}")
    per_minute: dict[int, float] = {}
    for snakes in (2, 8, 16):
        data, ticks, _ = recorded_game(snakes, args.seed, args.minutes, args.warmup)
        per_minute[snakes] = len(data) / args.minutes
        print(f"{snakes:>6} {per_minute[snakes] / 1000:>8.1f} {len(data) / ticks:>7.1f}")

    started = time.perf_counter()
    data, ticks, hashes = recorded_game(8, args.seed, args.hour_minutes, args.warmup, True)
    made = time.perf_counter() - started
    started = time.perf_counter()
    recording = Recording(data)
    opened = time.perf_counter() - started
    rng = random.Random(args.seed)
    times = []
    for _ in range(args.seeks):
        tick = rng.randint(recording.first_tick, recording.last_tick)
        started = time.perf_counter()
        frame = recording.frame_at(tick)
        times.append(time.perf_counter() - started)
        assert snapshot_hash(frame) == hashes[tick], tick
    print(
        f"{args.hour_minutes:g}-minute recording, 8 snakes: {len(data) / 1e6:.2f} MB, "
        f"{recording.frame_count} frames, {recording.keyframe_count} keyframes "
        f"(simulated in {made:.0f} s)"
    )
    print(f"open (read and index): {opened * 1000:.0f} ms")
    print(
        f"seek over {args.seeks} random ticks: median {statistics.median(times) * 1000:.1f} ms, "
        f"max {max(times) * 1000:.1f} ms"
    )
    checks = [
        (
            f"8 snakes <= {TARGET_BYTES_PER_MINUTE_8 / 1000:g} KB/min",
            per_minute[8] <= TARGET_BYTES_PER_MINUTE_8,
        ),
        (f"every seek <= {TARGET_SEEK_S * 1000:g} ms", max(times) <= TARGET_SEEK_S),
    ]
    for label, ok in checks:
        print(f"  [{'ok' if ok else 'MISSED'}] {label}")


if __name__ == "__main__":
    main()
