"""Packet-loss benchmark: netsnake against the tutorial's TCP + JSON design and ENet.

Run from the repository root (as root for kernel-level loss)::

    python benchmarks/packet_loss.py                  # full: 0,1,5,10,20,30,50 % loss
    python benchmarks/packet_loss.py --quick --check  # CI: 0 and 20 %, under 90 s
    python benchmarks/packet_loss.py --json out.json --plot out.png

Theory of operation
-------------------
Every (transport, loss rate) pair is one *trial* with fresh processes: a real
server program, the netem relay (in TCP mode for tcp-json), and one *worker* process
(this file with ``--worker``) that runs all the measuring clients.  The
worker connects its clients, prints ``ready``, and waits; the orchestrator
then turns the loss on and answers ``go``; the worker measures for
``--duration`` seconds, runs the join/quit cycles and prints one JSON result.
Connecting before the loss starts keeps TCP's multi-second SYN backoff out of
the steady-state numbers (the join/quit cycles do run under loss).

Where the loss comes from (printed with every run, and in ``loss_mechanism``):

* **nftables** (root, ``ip`` and ``nft`` present): everything runs inside a
  throwaway network namespace (:mod:`benchmarks._netns`) whose loopback drops
  packets in the kernel.  The drop rule matches only the *client-facing
  port* (the relay's), so every packet crosses exactly one lossy hop per
  direction, whichever transport carries it.  Every transport goes through
  the netem relay for the same latency and jitter: UDP through the datagram
  relay at 0 % loss, tcp-json through its TCP mode (``--tcp``), which delays
  the byte stream each way and keeps its order.
* **relay**: without a namespace (or with ``--udp-loss relay``) the netem
  relay applies the loss to UDP in user space, and tcp-json runs without
  loss (a notice says so), still with the relay's latency and jitter.

Each worker's measurements are described in ``docs/benchmark-schema.rst``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: make the checkout importable
    sys.path.insert(0, str(REPO))

from benchmarks import _netns  # noqa: E402
from benchmarks._metrics import (  # noqa: E402
    DisplayTracker,
    InputLedger,
    RunResult,
    ServerClock,
    ms,
    percentile,
    read_input_trace,
    rounded,
)
from benchmarks._rig import (  # noqa: E402
    aligned_table,
    apply_result,
    report_worker,
    run_worker,
)
from benchmarks._rig import emit as _emit  # noqa: E402
from benchmarks._rig import wait_go as _wait_go  # noqa: E402

__all__ = ["BenchOptions", "main", "run_benchmark", "run_trial"]

TRANSPORTS = ("netsnake", "tcp-json", "enet")
FULL_LOSSES = (0.0, 0.01, 0.05, 0.10, 0.20, 0.30, 0.50)
QUICK_LOSSES = (0.0, 0.20)
TICK_RATE = 10.0
FPS = 30.0
_NS_SERVER_PORT = 5050  # a fresh namespace has its own, empty port space
_NS_RELAY_PORT = 6060
_INPUT_GRACE = 2.0  # s after the window before reading the input trace
_JOIN_TIMEOUT = 15.0  # TCP's SYN backoff is 1 s, 3 s, 7 s: give it a real chance
_SEEN_TIMEOUT = 10.0
_CYCLE_OVERTIME = 15.0  # s after the window during which cycles may still start


# ============================================================================ loss setups


class PortLossNamespace(_netns.LossyNamespace):
    """A :class:`~benchmarks._netns.LossyNamespace` that only drops packets to or from ``ports``.

    On loopback a relayed datagram crosses ``lo`` twice (client to relay,
    relay to server); matching the client-facing port makes that one lossy
    hop, as it is for TCP's direct connection.
    """

    def __init__(self, name_prefix: str, ports: Sequence[int], seed_hint: int = 0) -> None:
        self.ports = tuple(ports)
        super().__init__(name_prefix, 0.0, seed_hint)

    def set_loss(self, loss: float) -> None:
        """Drop ``loss`` of the packets whose source or destination port is in ``ports``."""
        self._check_loss(loss)
        per_mille = round(loss * 1000)
        table, chain = _netns._TABLE, _netns._CHAIN
        batch = f"flush chain inet {table} {chain}\n"
        if per_mille:
            draw = f"numgen random mod 1000 < {per_mille} " if per_mille < 1000 else ""
            ports = "{ " + ", ".join(str(p) for p in self.ports) + " }"
            for side in ("dport", "sport"):
                batch += (
                    f"add rule inet {table} {chain} meta l4proto {{ tcp, udp }} "
                    f"th {side} {ports} {draw}counter drop\n"
                )
        self._nft(batch)
        self._loss = per_mille / 1000

    def dropped(self) -> int:
        """Packets dropped (both rules) since the last :meth:`set_loss`."""
        listing = self._nft_output(["list", "chain", "inet", _netns._TABLE, _netns._CHAIN])
        return sum(int(n) for n in re.findall(r"counter packets (\d+)", listing))


class _Setup:
    """Where a trial's processes run: a lossy namespace, or this machine as is."""

    def __init__(self, namespace: PortLossNamespace | None) -> None:
        self.namespace = namespace
        self._children: list[subprocess.Popen[Any]] = []

    def __enter__(self) -> _Setup:
        if self.namespace is not None:
            self.namespace.open()
        return self

    def __exit__(self, *exc: object) -> None:
        for child in self._children:
            if child.poll() is None:
                child.terminate()
                try:
                    child.wait(timeout=3)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
        if self.namespace is not None:
            self.namespace.close()

    def popen(self, argv: list[str], **kwargs: Any) -> subprocess.Popen[Any]:
        kwargs.setdefault("cwd", REPO)
        if self.namespace is not None:
            child = self.namespace.popen(argv, **kwargs)
        else:
            child = subprocess.Popen(argv, **kwargs)
        self._children.append(child)
        return child

    def set_loss(self, loss: float) -> None:
        if self.namespace is not None:
            self.namespace.set_loss(loss)

    def dropped(self) -> int | None:
        return None if self.namespace is None else self.namespace.dropped()


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_text(path: Path, marker: str, child: subprocess.Popen[Any], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and marker in path.read_text(errors="replace"):
            return
        if child.poll() is not None:
            break
        time.sleep(0.05)
    tail = path.read_text(errors="replace")[-2000:] if path.exists() else ""
    raise RuntimeError(f"{path.name}: no {marker!r} (exit {child.poll()}):\n{tail}")


def _start_relay(
    setup: _Setup,
    work: Path,
    relay_port: int,
    server_port: int,
    latency_ms: float,
    jitter_ms: float,
    seed: int,
    mode: list[str],
) -> None:
    """The netem relay from ``relay_port`` to the server, once it listens; ``mode`` is
    its loss or ``--tcp`` arguments (its log is ``work/relay.log``)."""
    relay_log = work / "relay.log"
    argv = [sys.executable, "-m", "netsnake.netem", str(relay_port), f"127.0.0.1:{server_port}"]
    argv += ["--latency", str(latency_ms), "--jitter", str(jitter_ms), "--seed", str(seed), *mode]
    with relay_log.open("w") as out:
        relay = setup.popen(argv, stdout=out, stderr=subprocess.STDOUT)
    _wait_for_text(relay_log, "netem: listening", relay, 20)


# ============================================================================ orchestrator


@dataclass
class BenchOptions:
    """What one benchmark run covers (the command line, parsed)."""

    transports: tuple[str, ...] = TRANSPORTS
    losses: tuple[float, ...] = FULL_LOSSES
    clients: int = 8
    duration: float = 20.0
    cycles: int = 8
    latency_ms: float = 50.0
    jitter_ms: float = 20.0
    seed: int = 1
    udp_loss: str = "auto"  # auto | nftables | relay


def _mechanisms(opts: BenchOptions) -> tuple[bool, str]:
    """Whether trials use the lossy namespace, and the reason if not."""
    if opts.udp_loss == "relay":
        ok, why = _netns.netns_available()
        return ok, why
    ok, why = _netns.netns_available()
    if opts.udp_loss == "nftables" and not ok:
        raise SystemExit(f"packet_loss: --udp-loss nftables needs a lossy namespace: {why}")
    return ok, why


def run_trial(
    transport: str,
    loss: float,
    opts: BenchOptions,
    *,
    netns: bool,
    udp_netns: bool,
    log: Callable[[str], None],
) -> RunResult:
    """Run one transport at one loss rate in fresh processes and return its row."""
    udp = transport != "tcp-json"
    in_ns = udp_netns if udp else netns
    work = Path(tempfile.mkdtemp(prefix=f"pl-{transport}-"))
    try:
        kind = socket.SOCK_DGRAM if udp else socket.SOCK_STREAM
        if in_ns:
            server_port, relay_port = _NS_SERVER_PORT, _NS_RELAY_PORT
        else:
            server_port, relay_port = _free_port(kind), _free_port(kind)
        # Clients always talk to the relay: its port is the one lossy hop.
        namespace = PortLossNamespace("plbench", [relay_port], opts.seed) if in_ns else None
        if in_ns:
            mechanism = (
                "nftables on the client<->relay hop; relay adds latency/jitter"
                if udp
                else "nftables on the client<->relay hop; TCP relay adds latency/jitter"
            )
        elif udp:
            mechanism = "netem relay (user space) applies loss, latency and jitter"
        else:
            mechanism = "TCP relay adds latency/jitter; no lossy namespace, so no loss"
        result = RunResult(
            transport=transport,
            loss=loss,
            loss_mechanism=mechanism,
            latency_ms=opts.latency_ms,
            jitter_ms=opts.jitter_ms,
            duration_s=opts.duration,
            clients=opts.clients,
        )
        if not in_ns and not udp:
            result.loss = 0.0
            result.notes.append(f"asked for {loss:.0%} loss; ran without (no namespace)")
        trace = work / "inputs.jsonl"
        py = sys.executable
        with _Setup(namespace) as setup:
            server_log = work / "server.log"
            if transport == "netsnake":
                argv = [
                    py,
                    "-m",
                    "netsnake.server.cli",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(server_port),
                    "--tick-rate",
                    str(TICK_RATE),
                    "--max-players",
                    str(min(64, opts.clients + 8)),
                    "--seed",
                    str(opts.seed),
                    "--stats-interval",
                    "3600",
                    "--input-trace",
                    str(trace),
                ]
                marker = "press Ctrl+C"
            elif transport == "tcp-json":
                argv = [
                    py,
                    str(REPO / "benchmarks" / "tcp_json.py"),
                    "server",
                    "--port",
                    str(server_port),
                    "--tick-rate",
                    str(TICK_RATE),
                    "--seed",
                    str(opts.seed),
                    "--input-trace",
                    str(trace),
                ]
                marker = "listening"
            else:
                argv = [
                    py,
                    str(REPO / "benchmarks" / "enet_baseline.py"),
                    "--port",
                    str(server_port),
                ]
                marker = "listening"
            with server_log.open("w") as out:
                server = setup.popen(argv, stdout=out, stderr=subprocess.STDOUT)
            _wait_for_text(server_log, marker, server, 20)
            # TCP mode delays only: TCP loss is the kernel's.
            mode = ["--loss", str(0.0 if in_ns else loss * 100)] if udp else ["--tcp"]
            _start_relay(
                setup,
                work,
                relay_port,
                server_port,
                opts.latency_ms,
                opts.jitter_ms,
                opts.seed,
                mode,
            )
            target_port = relay_port
            cycles = opts.cycles
            argv = [
                py,
                "-m",
                "benchmarks.packet_loss",
                "--worker",
                transport,
                "--worker-port",
                str(target_port),
                "--clients",
                str(opts.clients),
                "--duration",
                str(opts.duration),
                "--cycles",
                str(cycles),
                "--seed",
                str(opts.seed),
                "--worker-trace",
                str(trace),
            ]
            worker_log = work / "worker.log"
            budget = 60.0 + opts.duration + _CYCLE_OVERTIME + 2 * _JOIN_TIMEOUT + _SEEN_TIMEOUT

            def count_drops() -> None:
                result.packets_dropped = setup.dropped()

            payload = run_worker(setup, argv, worker_log, loss, budget, before_restore=count_drops)
            apply_result(result, payload, RunResult.field_names())
    except BaseException as exc:
        # Keep the server, relay and worker logs of a failed trial for a post-mortem.
        if isinstance(exc, RuntimeError):
            exc.add_note(f"logs kept in {work}")
        raise
    shutil.rmtree(work, ignore_errors=True)
    return result


def run_benchmark(opts: BenchOptions, log: Callable[[str], None] = print) -> list[RunResult]:
    """Every transport at every loss rate; notices and progress go to ``log``."""
    netns, why = _mechanisms(opts)
    udp_netns = netns and opts.udp_loss != "relay"
    if not netns:
        log(
            f"notice: no lossy network namespace ({why}): UDP loss comes from the netem "
            "relay and tcp-json runs WITHOUT loss (with the relay's latency)"
        )
    elif not udp_netns:
        log("notice: --udp-loss relay: UDP loss from the netem relay, TCP loss from nftables")
    else:
        log(
            "loss: nftables in a network namespace for every transport (one lossy hop per "
            "direction); latency/jitter from the netem relay (its TCP mode for tcp-json)"
        )
    transports = list(opts.transports)
    if "enet" in transports:
        from benchmarks.enet_baseline import enet_available

        ok, why = enet_available()
        if not ok:
            log(f"notice: skipping enet: {why}")
            transports.remove("enet")
    results: list[RunResult] = []
    for loss in opts.losses:
        for transport in transports:
            t0 = time.monotonic()
            log(
                f"[{transport} @ {loss:.0%}] running ({opts.clients} clients, "
                f"{opts.duration:g} s)..."
            )
            try:
                result = run_trial(transport, loss, opts, netns=netns, udp_netns=udp_netns, log=log)
            except RuntimeError as exc:
                log(f"[{transport} @ {loss:.0%}] FAILED: {exc} {getattr(exc, '__notes__', '')}")
                result = RunResult(
                    transport=transport,
                    loss=loss,
                    loss_mechanism="failed",
                    latency_ms=opts.latency_ms,
                    jitter_ms=opts.jitter_ms,
                    duration_s=opts.duration,
                    clients=opts.clients,
                    joins_ok=0.0,
                    notes=[f"trial failed: {exc} {getattr(exc, '__notes__', '')}"],
                )
            log(
                f"[{transport} @ {loss:.0%}] done in {time.monotonic() - t0:.1f} s: "
                f"{_summary(result)}"
            )
            results.append(result)
    return results


def _summary(r: RunResult) -> str:
    return (
        f"mismatches={r.mismatches} staleness p99={r.staleness_p99_ticks} "
        f"freeze={r.longest_freeze_ms} ms inputs={r.inputs_applied} joins={r.joins_ok}"
    )


# ============================================================================ output


_COLUMNS: tuple[tuple[str, str, str], ...] = (
    # (header, field, format)
    ("transport", "transport", "{}"),
    ("loss", "loss", "{:.0%}"),
    ("mism", "mismatches", "{}"),
    ("resync", "resyncs", "{}"),
    ("stale p50", "staleness_p50_ticks", "{:.1f}"),
    ("p99", "staleness_p99_ticks", "{:.1f}"),
    ("delay", "render_delay_max_ticks", "{:.1f}"),
    ("freeze", "longest_freeze_ms", "{:.0f}"),
    ("inputs", "inputs_applied", "{:.2%}"),
    ("in p50", "input_ms_p50", "{:.0f}"),
    ("in p99", "input_ms_p99", "{:.0f}"),
    ("joins", "joins_ok", "{:.0%}"),
    ("join p50", "join_ms_p50", "{:.0f}"),
    ("p99", "join_ms_p99", "{:.0f}"),
    ("msg p50", "join_msg_ms_p50", "{:.0f}"),
    ("p99", "join_msg_ms_p99", "{:.0f}"),
    ("quits", "quits_ok", "{:.0%}"),
    ("left p50", "quit_seen_ms_p50", "{:.0f}"),
    ("down B/s", "down_bytes_per_client_s", "{:.0f}"),
    ("up B/s", "up_bytes_per_client_s", "{:.0f}"),
    ("dgram p99", "datagram_bytes_p99", "{:.0f}"),
    ("full", "full_share", "{:.1%}"),
)


def format_table(results: Sequence[RunResult]) -> str:
    """The results as an aligned text table, one row per run."""
    legend = (
        "stale = server tick estimate - displayed tick (ticks); delay = max render delay "
        "(ticks); freeze = longest ms the displayed tick stood still; inputs = share of "
        "turns the server received; join = connect->playing, msg = join message->accepted "
        "(ms); left p50 = quit->others see it (ms); bytes are payload per client"
    )
    return aligned_table(_COLUMNS, results) + "\n" + legend


def write_plot(results: Sequence[RunResult], path: Path) -> None:
    """Staleness, freezes and bandwidth against loss, one line per transport."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = (
        ("staleness_p99_ticks", "staleness p99 (ticks)"),
        ("longest_freeze_ms", "longest freeze (ms)"),
        ("down_bytes_per_client_s", "download per client (B/s)"),
    )
    fig, axes = plt.subplots(1, len(panels), figsize=(15, 4.2))
    for ax, (name, label) in zip(axes, panels, strict=True):
        for transport in ("netsnake", "tcp-json"):
            points = [
                (r.loss * 100, getattr(r, name))
                for r in results
                if r.transport == transport and getattr(r, name) is not None
            ]
            if points:
                xs, ys = zip(*sorted(points), strict=True)
                ax.plot(xs, ys, marker="o", label=transport)
        ax.set_xlabel("loss each way (%)")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        ax.legend()
        if name == "down_bytes_per_client_s":
            ax.set_yscale("log")
    fig.suptitle("netsnake vs the tutorial's TCP + JSON under packet loss")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def check_failures(results: Sequence[RunResult]) -> list[str]:
    """Correctness failures of netsnake (never timings): what ``--check`` exits on."""
    failures = []
    for r in results:
        if r.transport != "netsnake":
            continue
        where = f"netsnake @ {r.loss:.0%}"
        if r.mismatches is None or r.mismatches > 0:
            failures.append(f"{where}: {r.mismatches} snapshot mismatches")
        if r.joins_ok is None or r.joins_ok < 1.0:
            failures.append(f"{where}: joins ok {r.joins_ok}")
        if r.clients_lost:
            failures.append(f"{where}: {r.clients_lost} clients lost their connection")
    return failures


# ============================================================================ workers


def _join_summary(
    join_total: list[float | None],
    join_msg: list[float | None],
    quit_seen: list[float | None],
    quits: list[bool],
    attempted: int,
    planned: int,
) -> dict[str, Any]:
    ok_total = [t for t in join_total if t is not None]
    ok_msg = [t for t in join_msg if t is not None]
    seen = [t for t in quit_seen if t is not None]
    out: dict[str, Any] = {
        "join_cycles": attempted,
        "joins_ok": rounded(len(ok_total) / attempted, 4) if attempted else None,
        "join_ms_p50": rounded(percentile(ms(ok_total), 50), 1),
        "join_ms_p99": rounded(percentile(ms(ok_total), 99), 1),
        "join_msg_ms_p50": rounded(percentile(ms(ok_msg), 50), 1),
        "join_msg_ms_p99": rounded(percentile(ms(ok_msg), 99), 1),
        "quits_ok": rounded(sum(quits) / len(quits), 4) if quits else None,
        "quit_seen_ms_p50": rounded(percentile(ms(seen), 50), 1),
        "quit_seen_ms_p99": rounded(percentile(ms(seen), 99), 1),
        "notes": [],
    }
    if attempted < planned:
        out["notes"].append(f"only {attempted} of {planned} join/quit cycles fit the time budget")
    return out


def _display_summary(trackers: Sequence[DisplayTracker]) -> dict[str, Any]:
    lags = [lag for t in trackers for lag in t.lags]
    freezes = [f for t in trackers for f in t.freezes]
    return {
        "staleness_p50_ticks": rounded(percentile(lags, 50)),
        "staleness_p99_ticks": rounded(percentile(lags, 99)),
        "longest_freeze_ms": rounded(max(freezes) * 1000, 1) if freezes else None,
        "freeze_p99_ms": rounded(percentile(ms(freezes), 99), 1),
    }


def _input_summary(ledger: InputLedger, trace: Path, start: float, end: float) -> dict[str, Any]:
    sent, applied, latencies = ledger.match(read_input_trace(trace), start, end)
    return {
        "inputs_sent": sent,
        "inputs_applied": rounded(applied / sent, 5) if sent else None,
        "input_ms_p50": rounded(percentile(ms(latencies), 50), 1),
        "input_ms_p99": rounded(percentile(ms(latencies), 99), 1),
    }


# ---------------------------------------------------------------------------- netsnake


def _traffic(bot: Any) -> tuple[int, int, int, int, int]:
    """A bot's byte, snapshot and datagram counters, to difference over a trial."""
    transport, counters = bot.session.transport, bot.core.counters
    assert transport is not None  # a joined bot has a socket
    return (
        transport.bytes_in,
        transport.bytes_out,
        counters.full,
        counters.delta,
        transport.datagrams_in,
    )


async def _netsnake_worker(args: argparse.Namespace) -> dict[str, Any]:
    from netsnake.client.core import ClientCore
    from netsnake.client.headless import HeadlessBot
    from netsnake.client.session import ClientSession
    from netsnake.client.state import ConnectionState
    from netsnake.game.bots import steer_client
    from netsnake.game.events import PlayerLeft
    from netsnake.game.snapshot import Snapshot
    from protocol import ClientConfig

    loop = asyncio.get_running_loop()
    host, port = "127.0.0.1", args.worker_port
    ledger = InputLedger()
    sizes: list[int] = []
    recording = [False]

    def steer_and_record(core: ClientCore, rng: Any) -> Callable[[Snapshot, float], None]:
        # HeadlessBot's own steering, plus a note of when each turn left.
        def on_snapshot(snapshot: Snapshot, now: float) -> None:
            seq = steer_client(core, snapshot, rng)
            if isinstance(seq, int) and core.name is not None:
                ledger.record(core.name, seq, now)

        return on_snapshot

    def record_sizes(bot: HeadlessBot) -> None:
        transport = bot.session.transport
        assert transport is not None  # a joined bot has a socket
        original = transport.datagram_received

        def datagram_received(data: bytes, addr: Any) -> None:
            if recording[0]:
                sizes.append(len(data))
            original(data, addr)

        # A measuring hook on this one instance; asyncio calls the protocol's attribute.
        setattr(transport, "datagram_received", datagram_received)  # noqa: B010

    bots: list[HeadlessBot] = []
    for i in range(args.clients):
        # Joined before the loss starts; the long handshake timeout only rides out a
        # heavily loaded machine (the default 5 s is meant for people).
        bot = await HeadlessBot.join(
            host,
            port,
            f"b{i}",
            seed=args.seed + i,
            steer=False,
            timeout=20.0,
            config=ClientConfig(connect_timeout=15.0),
        )
        bot.core.snapshot_listeners.append(
            steer_and_record(bot.core, random.Random(args.seed * 1000 + i))
        )
        record_sizes(bot)
        bots.append(bot)
    trackers = [DisplayTracker() for _ in bots]
    render_delays: list[float] = []
    seen: dict[tuple[int, str], float] = {}

    def drain_events(now: float) -> None:
        for i, bot in enumerate(bots):
            for event in bot.core.drain_events():
                if isinstance(event, PlayerLeft):
                    seen.setdefault((i, event.name), now)

    async def display() -> None:
        # What the UI does at 30 fps: sample the interpolated frame.
        while True:
            now = loop.time()
            for bot, tracker in zip(bots, trackers, strict=True):
                frame = bot.core.frame(now)
                buffer = bot.core.buffer
                server = buffer.server_tick(now) if buffer is not None else None
                tracker.sample(now, server, None if frame is None else frame.display_tick)
                if recording[0] and buffer is not None:
                    render_delays.append(buffer.render_delay * TICK_RATE)
            drain_events(now)
            await asyncio.sleep(1 / FPS)

    display_task = asyncio.create_task(display())
    await asyncio.sleep(1.5)  # fill the playback buffers before measuring
    _emit({"event": "ready"})
    await loop.run_in_executor(None, _wait_go)

    start = loop.time()
    recording[0] = True
    for tracker in trackers:
        tracker.start(start)
    before = [_traffic(b) for b in bots]
    join_total: list[float | None] = []
    join_msg: list[float | None] = []
    quit_seen: list[float | None] = []
    quits: list[bool] = []
    joiner_mismatches = [0]
    budget_end = start + args.duration + _CYCLE_OVERTIME

    async def cycles() -> int:
        attempted = 0
        for k in range(args.cycles):
            if loop.time() > budget_end:
                break
            attempted += 1
            name = f"j{k}"
            t0 = loop.time()
            session = await ClientSession.connect(host, port, name=name)
            core = session.core
            join_sent: list[float] = []
            flush = core.on_output

            def on_output(
                core: ClientCore = core,
                flush: Callable[[], None] = flush,
                join_sent: list[float] = join_sent,
            ) -> None:
                if not join_sent and core.state is ConnectionState.JOINING:
                    join_sent.append(loop.time())
                flush()

            core.on_output = on_output
            deadline = t0 + _JOIN_TIMEOUT
            while (
                core.state is not ConnectionState.PLAYING
                and loop.time() < deadline
                and core.state in (ConnectionState.CONNECTING, ConnectionState.JOINING)
            ):
                await asyncio.sleep(0.002)
            if core.state is not ConnectionState.PLAYING:
                join_total.append(None)
                join_msg.append(None)
                await session.close()
                continue
            t_play = loop.time()
            join_total.append(t_play - t0)
            join_msg.append(t_play - join_sent[0] if join_sent else None)
            await asyncio.sleep(0.5)
            core.request_quit()
            t_quit = loop.time()
            deadline = t_quit + _SEEN_TIMEOUT
            while loop.time() < deadline and not all((i, name) in seen for i in range(len(bots))):
                drain_events(loop.time())
                await asyncio.sleep(0.002)
            for i in range(len(bots)):
                t = seen.get((i, name))
                quit_seen.append(None if t is None else t - t_quit)
            await session.wait_for(
                ConnectionState.CLOSED, ConnectionState.LOST, ConnectionState.SHUTDOWN, timeout=1.5
            )
            quits.append(
                all((i, name) in seen for i in range(len(bots)))
                and session.core.state is ConnectionState.CLOSED
            )
            joiner_mismatches[0] += core.counters.mismatches
            await session.close()
            await asyncio.sleep(0.3)
        return attempted

    cycle_task = asyncio.create_task(cycles())
    await asyncio.sleep(args.duration)
    end = loop.time()
    recording[0] = False
    for tracker in trackers:
        tracker.stop(end)
    after = [_traffic(b) for b in bots]
    attempted = await cycle_task
    await asyncio.sleep(max(0.0, end + _INPUT_GRACE - loop.time()))
    display_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await display_task

    span = end - start
    down = sum(a[0] - b[0] for a, b in zip(after, before, strict=True))
    up = sum(a[1] - b[1] for a, b in zip(after, before, strict=True))
    full = sum(a[2] - b[2] for a, b in zip(after, before, strict=True))
    delta = sum(a[3] - b[3] for a, b in zip(after, before, strict=True))
    n = len(bots)
    result: dict[str, Any] = {
        "mismatches": sum(b.core.counters.mismatches for b in bots) + joiner_mismatches[0],
        "resyncs": sum(b.core.counters.resyncs for b in bots),
        "snapshots": sum(b.core.counters.snapshots for b in bots),
        "clients_lost": sum(b.core.state is not ConnectionState.PLAYING for b in bots),
        "render_delay_p50_ticks": rounded(percentile(render_delays, 50)),
        "render_delay_max_ticks": rounded(max(render_delays)) if render_delays else None,
        "down_bytes_per_client_s": rounded(down / n / span, 1),
        "up_bytes_per_client_s": rounded(up / n / span, 1),
        "datagram_bytes_mean": rounded(sum(sizes) / len(sizes), 1) if sizes else None,
        "datagram_bytes_p99": rounded(percentile(sizes, 99), 1),
        "full_share": rounded(full / (full + delta), 4) if full + delta else None,
    }
    result.update(_display_summary(trackers))
    result.update(_input_summary(ledger, Path(args.worker_trace), start, end))
    joins = _join_summary(join_total, join_msg, quit_seen, quits, attempted, args.cycles)
    notes = joins.pop("notes")
    result.update(joins)
    missing = sum(b.core.counters.missing_baseline for b in bots)
    snaps = sum(b.core.buffer.snaps if b.core.buffer else 0 for b in bots)
    notes.append(
        f"datagram sizes are server->client; {missing} missing baselines, {snaps} playback snaps"
    )
    result["notes"] = notes
    await asyncio.gather(*(bot.quit() for bot in bots))
    return result


# ---------------------------------------------------------------------------- tcp-json


def _tcp_worker(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks.tcp_json import TcpJsonClient
    from netsnake.game.snapshot import Snapshot

    host, port = "127.0.0.1", args.worker_port
    ledger = InputLedger()
    lock = threading.Lock()
    watched: dict[str, float] = {}  # name -> quit time
    seen: dict[tuple[int, str], float] = {}

    def watcher(index: int, clock: ServerClock) -> Callable[[Snapshot, float], None]:
        def on_state(snapshot: Snapshot, now: float) -> None:
            clock.observe(snapshot.tick, now)
            with lock:
                if watched:
                    names = {p.name for p in snapshot.players}
                    for name in watched:
                        if name not in names:
                            seen.setdefault((index, name), now)

        return on_state

    def record_turn(name: str, seq: int, now: float) -> None:
        with lock:
            ledger.record(name, seq, now)

    clocks = [ServerClock(TICK_RATE) for _ in range(args.clients)]
    clients = [
        TcpJsonClient(
            host,
            port,
            f"b{i}",
            seed=args.seed + i,
            on_state=watcher(i, clocks[i]),
            on_turn=record_turn,
        )
        for i in range(args.clients)
    ]
    for c in clients:
        c.connect()
    deadline = time.monotonic() + 20
    while not all(c.joined_at for c in clients):
        if time.monotonic() > deadline:
            raise RuntimeError("tcp-json clients did not join")
        time.sleep(0.01)
    trackers = [DisplayTracker() for _ in clients]
    recording = threading.Event()
    stop_display = threading.Event()

    def display() -> None:
        while not stop_display.is_set():
            now = time.monotonic()
            for c, clock, tracker in zip(clients, clocks, trackers, strict=True):
                latest = c.latest
                tracker.sample(
                    now, clock.server_tick(now), None if latest is None else float(latest.tick)
                )
            time.sleep(1 / FPS)

    display_thread = threading.Thread(target=display, daemon=True)
    display_thread.start()
    time.sleep(1.5)
    _emit({"event": "ready"})
    _wait_go()
    start = time.monotonic()
    for tracker in trackers:
        tracker.start(start)
    recording.set()
    for c in clients:
        c.stats.record_sizes = True
    before = [(c.stats.bytes_in, c.stats.bytes_out) for c in clients]
    join_total: list[float | None] = []
    join_msg: list[float | None] = []
    quit_seen: list[float | None] = []
    quits: list[bool] = []
    attempted = [0]
    budget_end = start + args.duration + _CYCLE_OVERTIME

    def cycles() -> None:
        for k in range(args.cycles):
            if time.monotonic() > budget_end:
                break
            attempted[0] += 1
            name = f"j{k}"
            joiner = TcpJsonClient(host, port, name, seed=k)
            t0 = time.monotonic()
            try:
                joiner.connect(timeout=_JOIN_TIMEOUT)
            except OSError:
                join_total.append(None)
                join_msg.append(None)
                continue
            deadline = t0 + _JOIN_TIMEOUT
            while joiner.joined_at is None and time.monotonic() < deadline:
                time.sleep(0.002)
            if joiner.joined_at is None or joiner.connected_at is None:
                join_total.append(None)
                join_msg.append(None)
                joiner.close()
                continue
            join_total.append(joiner.joined_at - t0)
            join_msg.append(joiner.joined_at - joiner.connected_at)
            time.sleep(0.5)
            t_quit = time.monotonic()
            with lock:
                watched[name] = t_quit
            joiner.quit()
            deadline = t_quit + _SEEN_TIMEOUT
            while time.monotonic() < deadline:
                with lock:
                    if all((i, name) in seen for i in range(len(clients))):
                        break
                time.sleep(0.002)
            with lock:
                del watched[name]
                found = [seen.get((i, name)) for i in range(len(clients))]
            quit_seen.extend(None if t is None else t - t_quit for t in found)
            quits.append(all(t is not None for t in found))
            time.sleep(0.3)

    cycle_thread = threading.Thread(target=cycles, daemon=True)
    cycle_thread.start()
    time.sleep(args.duration)
    end = time.monotonic()
    recording.clear()
    for tracker in trackers:
        tracker.stop(end)
    after = [(c.stats.bytes_in, c.stats.bytes_out) for c in clients]
    sizes = [s for c in clients for s in c.stats.line_sizes]
    lines = sum(len(c.stats.line_sizes) for c in clients)
    cycle_thread.join(timeout=_CYCLE_OVERTIME + _JOIN_TIMEOUT + _SEEN_TIMEOUT + 5)
    time.sleep(max(0.0, end + _INPUT_GRACE - time.monotonic()))
    stop_display.set()
    span = end - start
    n = len(clients)
    down = sum(a[0] - b[0] for a, b in zip(after, before, strict=True))
    up = sum(a[1] - b[1] for a, b in zip(after, before, strict=True))
    result: dict[str, Any] = {
        "clients_lost": sum(c.closed.is_set() for c in clients),
        "snapshots": lines,
        "down_bytes_per_client_s": rounded(down / n / span, 1),
        "up_bytes_per_client_s": rounded(up / n / span, 1),
        "datagram_bytes_mean": rounded(sum(sizes) / len(sizes), 1) if sizes else None,
        "datagram_bytes_p99": rounded(percentile(sizes, 99), 1),
    }
    result.update(_display_summary(trackers))
    with lock:
        result.update(_input_summary(ledger, Path(args.worker_trace), start, end))
    joins = _join_summary(join_total, join_msg, quit_seen, quits, attempted[0], args.cycles)
    notes = joins.pop("notes")
    result.update(joins)
    notes.append(
        "mismatches n/a (full state every tick, TCP delivers it intact); staleness from line "
        "arrivals; 'datagram' sizes are JSON line sizes; join msg = username -> first state "
        "with our name"
    )
    result["notes"] = notes
    for c in clients:
        c.quit()
    return result


# ---------------------------------------------------------------------------- enet


def _enet_worker(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks.enet_baseline import connect_observers, join_quit_cycles

    host, port = "127.0.0.1", args.worker_port
    observers = connect_observers(host, port, args.clients)
    _emit({"event": "ready"})
    _wait_go()
    stop_at = time.monotonic() + args.duration + _CYCLE_OVERTIME
    outcome = join_quit_cycles(
        host,
        port,
        observers,
        args.cycles,
        timeout=_JOIN_TIMEOUT,
        seen_timeout=_SEEN_TIMEOUT,
        stop_at=stop_at,
    )
    per_cycle = len(observers)
    quits = [
        all(t is not None for t in outcome.quit_seen[i : i + per_cycle])
        for i in range(0, len(outcome.quit_seen), per_cycle)
    ]
    result = _join_summary(
        outcome.join_total,
        outcome.join_msg,
        outcome.quit_seen,
        quits,
        len(outcome.join_total),
        args.cycles,
    )
    result["notes"].append(
        "only join/quit control messages over ENet's reliable channel; "
        "join = ENet connect + JOIN->ACCEPTED"
    )
    return result


def _worker_main(args: argparse.Namespace) -> int:
    def measure() -> dict[str, Any]:
        if args.worker == "netsnake":
            return asyncio.run(_netsnake_worker(args))
        if args.worker == "tcp-json":
            return _tcp_worker(args)
        return _enet_worker(args)

    return report_worker(measure)


# ============================================================================ command line


def _fractions(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) / 100 for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected percentages like 0,5,20: {text!r}") from None
    if not values or not all(0 <= v <= 1 for v in values):
        raise argparse.ArgumentTypeError("loss percentages must be within 0-100")
    return values


def _transports(text: str) -> tuple[str, ...]:
    values = tuple(v.strip() for v in text.split(",") if v.strip())
    bad = [v for v in values if v not in TRANSPORTS]
    if bad or not values:
        raise argparse.ArgumentTypeError(f"transports are {', '.join(TRANSPORTS)}")
    return values


def build_parser() -> argparse.ArgumentParser:
    """The benchmark's command line."""
    p = argparse.ArgumentParser(
        prog="packet_loss.py",
        description="Measure netsnake, the tutorial's TCP+JSON design and ENet under packet loss.",
    )
    p.add_argument(
        "--quick", action="store_true", help="0%% and 20%% only, short runs (under 90 s): for CI"
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="exit 1 if netsnake had any snapshot mismatch or failed join",
    )
    p.add_argument("--clients", type=int, default=8, help="steady bot clients (default 8)")
    p.add_argument(
        "--duration",
        type=float,
        default=None,
        help="measured seconds per trial (default 20, quick 6)",
    )
    p.add_argument(
        "--cycles", type=int, default=None, help="join/quit cycles per trial (default 8, quick 3)"
    )
    p.add_argument("--latency", type=float, default=50.0, help="one-way ms (default 50)")
    p.add_argument("--jitter", type=float, default=20.0, help="± ms (default 20)")
    p.add_argument(
        "--losses",
        type=_fractions,
        default=None,
        help="loss percentages each way, comma-separated (default 0,1,5,10,20,30,50)",
    )
    p.add_argument(
        "--transports",
        type=_transports,
        default=TRANSPORTS,
        help="comma-separated subset of netsnake,tcp-json,enet",
    )
    p.add_argument(
        "--udp-loss",
        choices=["auto", "nftables", "relay"],
        default="auto",
        help="what drops UDP packets (default auto: nftables when available)",
    )
    p.add_argument("--seed", type=int, default=1, help="world and relay seed (default 1)")
    p.add_argument("--json", type=Path, metavar="PATH", help='write {"runs": [...]} here')
    p.add_argument("--plot", type=Path, metavar="PATH.png", help="write a matplotlib chart")
    # Internal: the measuring client process of one trial.
    p.add_argument("--worker", choices=TRANSPORTS, help=argparse.SUPPRESS)
    p.add_argument("--worker-port", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--worker-trace", default="", help=argparse.SUPPRESS)
    return p


def options_from_args(args: argparse.Namespace) -> BenchOptions:
    """BenchOptions for a parsed command line (``--quick`` changes the defaults)."""
    quick = bool(args.quick)
    return BenchOptions(
        transports=args.transports,
        losses=args.losses or (QUICK_LOSSES if quick else FULL_LOSSES),
        clients=args.clients,
        duration=args.duration or (6.0 if quick else 20.0),
        cycles=args.cycles if args.cycles is not None else (3 if quick else 8),
        latency_ms=args.latency,
        jitter_ms=args.jitter,
        seed=args.seed,
        udp_loss=args.udp_loss,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark (or, with ``--worker``, one trial's measuring clients)."""
    args = build_parser().parse_args(argv)
    if args.worker:
        args.duration = args.duration or 20.0
        args.cycles = 8 if args.cycles is None else args.cycles
        return _worker_main(args)
    opts = options_from_args(args)
    if opts.clients < 1 or opts.duration <= 0:
        raise SystemExit("packet_loss: --clients and --duration must be positive")
    t0 = time.monotonic()

    def log(line: str) -> None:
        print(line, flush=True)

    log(
        f"packet-loss benchmark: {', '.join(opts.transports)} at "
        f"{', '.join(f'{v:.0%}' for v in opts.losses)} loss each way; {opts.clients} clients, "
        f"{opts.duration:g} s per trial, {opts.cycles} join/quit cycles, UDP latency "
        f"{opts.latency_ms:g} ± {opts.jitter_ms:g} ms, seed {opts.seed}, pid {os.getpid()}"
    )
    results = run_benchmark(opts, log)
    print()
    print(format_table(results))
    mechanisms = sorted({f"{r.transport}: {r.loss_mechanism}" for r in results})
    print("loss applied by: " + "; ".join(mechanisms))
    for r in results:
        for note in r.notes:
            print(f"note [{r.transport} @ {r.loss:.0%}]: {note}")
    if args.json:
        args.json.write_text(json.dumps({"runs": [r.to_json() for r in results]}, indent=2))
        print(f"wrote {args.json}")
    if args.plot:
        write_plot(results, args.plot)
        print(f"wrote {args.plot}")
    print(f"total {time.monotonic() - t0:.0f} s")
    if args.check:
        failures = check_failures(results)
        for failure in failures:
            print(f"CHECK FAILED: {failure}")
        if failures:
            return 1
        print("check passed: no netsnake mismatches, every join succeeded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
