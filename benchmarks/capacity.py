"""Capacity: how long one server tick takes, and how much CPU it burns, per player count.

Run it from the repository root::

    python benchmarks/capacity.py                       # 8, 16, 32, 64 players, 10 s each
    python benchmarks/capacity.py --players 64 --seconds 20 --json
    python benchmarks/capacity.py --clients light       # server cost alone, on a small machine

Theory of operation
-------------------
A real ``netsnake-server`` runs as a subprocess at ``--tick-rate`` (20 Hz),
its stats line every ``--seconds``.  The players are real
:class:`~netsnake.client.headless.HeadlessBot` clients (full protocol, delta
decoding, hash check, bot steering through the input path), spread over
worker *processes* so that their CPU is never charged to the server.  With
two or more CPUs the server is pinned to CPU 0 and the workers to the others
(``--no-pin`` turns this off), so client work does not steal the server's
core either.  Each HeadlessBot costs roughly 1-2 ms of CPU per snapshot at
64 players, so on a two-CPU machine 64 of them cannot keep up: ``--clients
light`` swaps in protocol clients that join, ack and steer like a player but
never decode, which isolates the server's own cost.  A run whose clients
received clearly fewer snapshots than the tick rate says so in a note.

The server measures itself: each stats line gives the tick time p50 and p99
over its interval, overruns, and datagrams and bytes per second in and out.
The benchmark waits until every client has joined, then uses the first stats
interval that lies entirely after that moment.  Server CPU is the change in
the process's user+system time (psutil) between the two stats lines that
bound that interval, divided by its wall time, in percent of one core.

Targets (issue): 64 players at 20 Hz with tick p99 < 12.5 ms and server CPU
< 25 % of one core; 256 players (light clients plus server bots, ``--bots``)
on a 256×192 board at 10 Hz with tick p99 < 50 ms and server CPU < 60 %::

    python benchmarks/capacity.py --clients light --players 256 --bots 128 \
        --width 256 --height 192 --tick-rate 10

Light clients send VIEW with ``--view`` (default 64x28: what the UI states
for the 38x20 board cells an 80x24 terminal shows, ``camera.area_span``), so
each gets its area of interest; ``down B/cl/tick`` is the server's bytes out
per client and tick.  Other work on the machine inflates every number here;
the load average at the start of each run is printed with it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing as mp
import os
import random
import sys
import threading
import time
from collections.abc import Coroutine
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil

from netsnake import GAME_VERSION
from netsnake.argparsing import view_size
from netsnake.client.headless import HeadlessBot
from netsnake.client.state import ConnectionState
from netsnake.game.direction import Direction
from netsnake.game.messages import Accepted, Input, Join, View, decode_message, encode_message
from netsnake.transport import UdpTransport, open_udp
from protocol import (
    ClientEndpoint,
    ClientState,
    ConnectionEstablished,
    Event,
    MessageReceived,
    PayloadReceived,
)
from tests.helpers_proc import STATS_RE, ServerProcess

__all__ = ["CapacityResult", "format_table", "main", "measure"]

P99_TARGET_MS = 12.5
CPU_TARGET_PCT = 25.0
TARGET_PLAYERS = 64
#: The arena target: (players, tick p99 ms, server CPU %).
ARENA_TARGET = (256, 50.0, 60.0)


@dataclass
class CapacityResult:
    """One player count: a table row and a ``--json`` object."""

    players: int
    tick_rate: float
    board: str
    clients: str = "headless"
    bots: int = 0
    """Players that are server bots (not clients)."""
    interval_s: float = 0.0
    tick_p50_ms: float = math.nan
    tick_p99_ms: float = math.nan
    overruns: int = 0
    server_cpu_pct: float = math.nan
    out_kb_s: float = math.nan
    out_dgram_s: float = math.nan
    in_kb_s: float = math.nan
    in_dgram_s: float = math.nan
    joined: int = 0
    join_s: float = math.nan
    client_snapshots_per_s: float = math.nan
    client_mismatches: int = 0
    client_full_snapshots: int = 0
    """Full (not delta) snapshots the clients decoded, joins included."""
    client_resyncs: int = 0
    clients_playing_at_end: int = 0
    load_avg_1m: float = 0.0
    pinned: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def meets_target(self) -> bool | None:
        """The issue's targets apply to the 64- and 256-player runs."""
        if self.players == ARENA_TARGET[0]:
            return self.tick_p99_ms < ARENA_TARGET[1] and self.server_cpu_pct < ARENA_TARGET[2]
        if self.players != TARGET_PLAYERS:
            return None
        return self.tick_p99_ms < P99_TARGET_MS and self.server_cpu_pct < CPU_TARGET_PCT

    @property
    def down_bytes_per_client_tick(self) -> float:
        """Server bytes out per client and tick (what one client downloads)."""
        clients = self.joined
        if not clients or math.isnan(self.out_kb_s):
            return math.nan
        return self.out_kb_s * 1000 / clients / self.tick_rate


# -- client worker processes -------------------------------------------------------------------


@dataclass
class _WorkerReport:
    joined: int = 0
    failures: list[str] = field(default_factory=list)
    snapshots: int = 0
    full: int = 0
    resyncs: int = 0
    mismatches: int = 0
    playing: int = 0


class _LightClient:
    """A real protocol client that joins and steers but never decodes a snapshot.

    To the server it looks like any player: the same handshake, JOIN, acks of
    every snapshot (the protocol acks what arrives, so baselines advance as
    usual) and INPUT datagrams.  It costs next to no CPU, so on a small
    machine the server can be measured at player counts whose real clients
    could not all keep up on the remaining cores.
    """

    def __init__(self, name: str, seed: int, view: tuple[int, int] = (64, 28)) -> None:
        self.name = name
        self.view = view
        self.snapshots = 0
        self.joined = asyncio.Event()
        self._rng = random.Random(seed)
        self._seq = 0
        self._endpoint: ClientEndpoint | None = None
        self._transport: UdpTransport | None = None

    async def join(self, host: str, port: int, timeout: float) -> _LightClient:
        loop = asyncio.get_running_loop()
        self._endpoint = ClientEndpoint((host, port))
        self._transport = await open_udp(self._endpoint, self._on_event, remote=(host, port))
        self._endpoint.connect(loop.time())
        self._transport.flush()
        try:
            await asyncio.wait_for(self.joined.wait(), timeout)
        except TimeoutError:
            self.close()
            raise RuntimeError(f"{self.name} could not join") from None
        return self

    def _on_event(self, event: Event) -> None:
        ep = self._endpoint
        assert ep is not None
        if isinstance(event, ConnectionEstablished):
            ep.send_reliable(encode_message(Join(name=self.name, version=GAME_VERSION)))
        elif isinstance(event, MessageReceived):
            if isinstance(decode_message(event.data), Accepted):
                ep.send_reliable(encode_message(View(columns=self.view[0], rows=self.view[1])))
                self.joined.set()
        elif isinstance(event, PayloadReceived):
            self.snapshots += 1
            # About as often as a bot turns; a turn the world refuses costs the server the same.
            if self._rng.random() < 0.25:
                turn = Direction(self._rng.randrange(4))
                ep.send_unreliable(
                    encode_message(Input(first_seq=self._seq, turns=(turn,), stamps=(0,)))
                )
                self._seq += 1

    @property
    def playing(self) -> bool:
        return (
            self.joined.is_set()
            and self._endpoint is not None
            and (self._endpoint.state is ClientState.CONNECTED)
        )

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


async def _join_all(
    kind: str, host: str, port: int, names: list[str], seed: int, view: tuple[int, int]
) -> tuple[list[HeadlessBot | _LightClient], list[str]]:
    coros: list[Coroutine[Any, Any, HeadlessBot | _LightClient]] = [
        HeadlessBot.join(host, port, name, seed=seed + i, timeout=10)
        if kind == "headless"
        else _LightClient(name, seed + i, view).join(host, port, timeout=10)
        for i, name in enumerate(names)
    ]
    # Join all at once: a join that fails costs its timeout only once, not once per client.
    joins = await asyncio.gather(*coros, return_exceptions=True)
    clients = [c for c in joins if not isinstance(c, BaseException)]
    return clients, [str(e) for e in joins if isinstance(e, BaseException)]


def _snapshots(client: HeadlessBot | _LightClient) -> int:
    return client.core.counters.snapshots if isinstance(client, HeadlessBot) else client.snapshots


async def _worker_main(
    kind: str,
    host: str,
    port: int,
    names: list[str],
    seed: int,
    pipe: Connection,
    view: tuple[int, int],
) -> None:
    report = _WorkerReport()
    clients, report.failures = await _join_all(kind, host, port, names, seed, view)
    report.joined = len(clients)
    pipe.send(("joined", report.joined, report.failures))
    loop = asyncio.get_running_loop()
    marks: dict[str, list[int]] = {}
    # Commands from the parent: a label records snapshot counts under it, "stop" ends.
    while True:
        command: str = await loop.run_in_executor(None, pipe.recv)
        if command == "stop":
            break
        marks[command] = [_snapshots(c) for c in clients]
        pipe.send(("marked", command))
    report.snapshots = sum(
        end - start
        for start, end in zip(marks.get("start", []), marks.get("end", []), strict=False)
    )
    for c in clients:
        if isinstance(c, HeadlessBot):
            report.mismatches += c.core.counters.mismatches
            report.full += c.core.counters.full
            report.resyncs += c.core.counters.resyncs
            report.playing += c.core.state is ConnectionState.PLAYING
            await c.close()
        else:
            report.playing += c.playing
            c.close()
    pipe.send(("report", asdict(report)))


def _worker(
    kind: str,
    host: str,
    port: int,
    names: list[str],
    seed: int,
    pipe: Connection,
    cpus: set[int] | None,
    view: tuple[int, int],
) -> None:
    if cpus:
        os.sched_setaffinity(0, cpus)
    asyncio.run(_worker_main(kind, host, port, names, seed, pipe, view))


# -- one measurement ---------------------------------------------------------------------------


class _CpuAtLines:
    """Samples the server's CPU time the moment each stats line arrives."""

    def __init__(self, pid: int) -> None:
        self._proc = psutil.Process(pid)
        self._lock = threading.Lock()
        self.samples: list[tuple[float, float, str]] = []  # (wall, cpu seconds, line)

    def on_line(self, line: str) -> None:
        if STATS_RE.search(line) is None:
            return
        try:
            t = self._proc.cpu_times()
        except psutil.Error:
            return
        with self._lock:
            self.samples.append((time.monotonic(), t.user + t.system, line))

    def after(self, moment: float) -> list[tuple[float, float, str]]:
        with self._lock:
            return [s for s in self.samples if s[0] >= moment]


def measure(
    players: int,
    *,
    seconds: int,
    tick_rate: float,
    width: int,
    height: int,
    per_process: int,
    pin: bool,
    seed: int,
    clients: str = "headless",
    bots: int = 0,
    view: tuple[int, int] = (64, 28),
) -> CapacityResult:
    """Run one server with ``players`` headless clients and read one stats interval."""
    result = CapacityResult(
        players=players,
        tick_rate=tick_rate,
        board=f"{width}x{height}",
        clients=clients,
        bots=bots,
        interval_s=seconds,
        load_avg_1m=os.getloadavg()[0],
    )
    cpus = sorted(os.sched_getaffinity(0))
    pin = pin and len(cpus) >= 2
    result.pinned = pin
    server_cpus, client_cpus = ({cpus[0]}, set(cpus[1:])) if pin else (None, None)

    def pin_server() -> None:
        if server_cpus:
            os.sched_setaffinity(0, server_cpus)

    server = ServerProcess(
        "--tick-rate",
        f"{tick_rate:g}",
        "--max-players",
        str(players),
        "--bots",
        str(bots),
        "--width",
        str(width),
        "--height",
        str(height),
        "--stats-interval",
        str(seconds),
        "--seed",
        str(seed),
        preexec=pin_server,
    )
    ctx = mp.get_context("spawn")  # no fork of a process with a reader thread
    workers: list[tuple[Any, Connection]] = []
    with server:
        cpu = _CpuAtLines(server.pid)
        server.on_line = cpu.on_line
        host, port = server.address
        n_workers = max(1, math.ceil((players - bots) / per_process))
        names = [f"cap{i}" for i in range(players - bots)]
        t0 = time.monotonic()
        try:
            for w in range(n_workers):
                mine, theirs = ctx.Pipe()
                proc = ctx.Process(
                    target=_worker,
                    daemon=True,
                    args=(
                        clients,
                        host,
                        port,
                        names[w::n_workers],
                        seed * 1000 + w,
                        theirs,
                        client_cpus,
                        view,
                    ),
                )
                proc.start()
                workers.append((proc, mine))
            for _, pipe in workers:
                if not pipe.poll(30):
                    raise RuntimeError("a client worker did not report its joins")
                _, joined, failures = pipe.recv()
                result.joined += joined
                result.notes.extend(failures[:3])
            result.join_s = time.monotonic() - t0
            all_joined = time.monotonic()
            for _, pipe in workers:
                pipe.send("start")
            t_start = time.monotonic()
            # The first stats interval that starts after every client is in.
            samples: list[tuple[float, float, str]] = []
            deadline = all_joined + 2 * seconds + 10
            while len(samples) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
                samples = cpu.after(all_joined)
            for _, pipe in workers:
                pipe.send("end")
            window = time.monotonic() - t_start
            if len(samples) < 2:
                result.notes.append("no complete stats interval after the joins")
                return result
            (t_a, cpu_a, _), (t_b, cpu_b, line) = samples[0], samples[1]
            m = STATS_RE.search(line)
            assert m is not None
            if int(m["players"]) != players:
                result.notes.append(f"stats line shows {m['players']} players")
            result.tick_p50_ms, result.tick_p99_ms = float(m["p50"]), float(m["p99"])
            result.overruns = int(m["overruns"])
            result.out_kb_s, result.out_dgram_s = float(m["out_kbs"]), float(m["out_dgrams"])
            result.in_kb_s, result.in_dgram_s = float(m["in_kbs"]), float(m["in_dgrams"])
            result.server_cpu_pct = 100 * (cpu_b - cpu_a) / (t_b - t_a)
            reports = []
            for _, pipe in workers:
                while pipe.recv() != ("marked", "end"):
                    pass
                pipe.send("stop")
                kind, report = pipe.recv()
                assert kind == "report"
                reports.append(report)
            snaps = sum(r["snapshots"] for r in reports)
            result.client_snapshots_per_s = snaps / max(1, result.joined) / window
            result.client_mismatches = sum(r["mismatches"] for r in reports)
            result.client_full_snapshots = sum(r["full"] for r in reports)
            result.client_resyncs = sum(r["resyncs"] for r in reports)
            if result.client_snapshots_per_s < 0.9 * tick_rate:
                # Late acks arrive after the server presumed those snapshots lost, so
                # baselines age out and fulls follow: the server numbers are inflated.
                result.notes.append(
                    f"clients received {result.client_snapshots_per_s:.1f} snapshots/s of "
                    f"{tick_rate:g}: they could not keep up on this machine"
                )
            result.clients_playing_at_end = sum(r["playing"] for r in reports)
        finally:
            for proc, _ in workers:
                proc.join(timeout=5)
                if proc.is_alive():
                    proc.kill()
                    proc.join()
    return result


# -- report ------------------------------------------------------------------------------------


def _fmt(value: float, digits: int = 2) -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def format_table(results: list[CapacityResult]) -> str:
    """The results as a fixed-width table with the targets checked."""
    head = (
        f"{'players':>7}  {'tick p50':>8}  {'tick p99':>8}  {'overruns':>8}  "
        f"{'server CPU':>10}  {'out KB/s':>8}  {'out dgram/s':>11}  {'in KB/s':>7}  "
        f"{'client snap/s':>13}  {'fulls':>5}  {'resyncs':>7}  {'mismatches':>10}  "
        f"{'down B/cl/tick':>14}  {'target':>6}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        verdict = {None: "", True: "met", False: "MISSED"}[r.meets_target]
        lines.append(
            f"{r.joined:>3}/{r.players:<3}  {_fmt(r.tick_p50_ms):>5} ms  "
            f"{_fmt(r.tick_p99_ms):>5} ms  {r.overruns:>8}  {_fmt(r.server_cpu_pct, 1):>8} %  "
            f"{_fmt(r.out_kb_s, 1):>8}  {_fmt(r.out_dgram_s, 0):>11}  {_fmt(r.in_kb_s, 1):>7}  "
            f"{_fmt(r.client_snapshots_per_s, 1):>13}  {r.client_full_snapshots:>5}  "
            f"{r.client_resyncs:>7}  {r.client_mismatches:>10}  "
            f"{_fmt(r.down_bytes_per_client_tick, 0):>14}  {verdict:>6}"
        )
        lines.extend(f"    note: {n}" for n in r.notes)
    if results:
        r0 = results[0]
        lines.append(
            f"{r0.clients} clients (+{r0.bots} server bots), {r0.tick_rate:g} Hz, "
            f"board {r0.board}, "
            f"stats interval {r0.interval_s:g} s, "
            f"server {'pinned to its own CPU' if r0.pinned else 'not pinned'}, "
            f"load average at start {', '.join(f'{r.load_avg_1m:.2f}' for r in results)}"
        )
        lines.append(
            f"target at {TARGET_PLAYERS} players: tick p99 < {P99_TARGET_MS} ms and "
            f"server CPU < {CPU_TARGET_PCT:g} % of one core; at {ARENA_TARGET[0]}: "
            f"p99 < {ARENA_TARGET[1]:g} ms and CPU < {ARENA_TARGET[2]:g} %"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument(
        "--players",
        type=int,
        nargs="+",
        default=[8, 16, 32, 64],
        help="player counts to measure, bots included (1-256; default 8 16 32 64)",
    )
    p.add_argument(
        "--seconds", type=int, default=10, help="measurement window per player count (default 10)"
    )
    p.add_argument("--tick-rate", type=float, default=20.0, help="server tick rate (default 20)")
    p.add_argument("--width", type=int, default=64, help="board width (default 64)")
    p.add_argument("--height", type=int, default=48, help="board height (default 48)")
    p.add_argument(
        "--clients-per-process",
        type=int,
        default=16,
        help="headless clients per worker process (default 16)",
    )
    p.add_argument(
        "--clients",
        choices=["headless", "light"],
        default="headless",
        help="headless: HeadlessBot (decode, hash check, bot steering); light: protocol "
        "clients that join, ack and steer without decoding (default headless)",
    )
    p.add_argument(
        "--no-pin",
        action="store_true",
        help="do not pin the server and the clients to separate CPUs",
    )
    p.add_argument(
        "--bots",
        type=int,
        default=0,
        help="of each player count, how many are server bots (default 0)",
    )
    p.add_argument(
        "--view",
        type=view_size,
        default="64x28",
        help="VIEW (cells, COLSxROWS) the light clients state (default 64x28)",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    args = p.parse_args(argv)
    if any(not 1 <= n <= 256 for n in args.players):
        p.error("--players must be between 1 and 256")
    if any(not 0 <= args.bots < n for n in args.players):
        p.error("--bots must leave at least one client in every player count")
    cols, rows = args.view
    if args.seconds < 1 or args.clients_per_process < 1:
        p.error("--seconds and --clients-per-process must be at least 1")
    results = []
    for n in args.players:
        r = measure(
            n,
            seconds=args.seconds,
            tick_rate=args.tick_rate,
            width=args.width,
            height=args.height,
            per_process=args.clients_per_process,
            pin=not args.no_pin,
            seed=args.seed,
            clients=args.clients,
            bots=args.bots,
            view=(cols, rows),
        )
        results.append(r)
        if not args.json:
            print(f"measured {n} players", file=sys.stderr, flush=True)
    if args.json:
        print(
            json.dumps(
                [
                    asdict(r)
                    | {
                        "meets_target": r.meets_target,
                        "down_bytes_per_client_tick": r.down_bytes_per_client_tick,
                    }
                    for r in results
                ],
                indent=2,
            )
        )
    else:
        print(format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
