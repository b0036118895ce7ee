"""Soak: hours of simulated play on a hostile link, checking nothing drifts or grows.

Run it from the repository root::

    python benchmarks/soak.py                      # one simulated hour, 8 clients
    python benchmarks/soak.py --minutes 5 --corrupt 0

Theory of operation
-------------------
:class:`netsnake.sim.GameSimulation` runs the real :class:`GameServer` and
real :class:`ClientCore` objects on the seeded :mod:`protocol.simulator`
network in virtual time, so an hour of play takes minutes and is exactly
reproducible from ``--seed``.  Every ``--sample`` simulated seconds the soak
records:

* **State mismatches**: snapshots a client *accepted* (after its own hash
  check) that differ from the server's world at that tick
  (``SimClient.hash_mismatches``).  Must be 0.  Snapshots the client's hash
  check refused (and resynced) are reported separately as ``refused``.
* **Buffer sizes**: every ``Connection.debug_sizes`` entry on both ends, and
  the game's own per-client tables; the report gives the maximum of each.
  Bounded means the maximum does not grow with run length.
* **Reliable delivery**: every reliable message the server queues to a client
  is recorded (bytes, in order); every game event the client surfaces is
  matched against the head of that queue.  At the end, what is neither
  delivered nor still unacknowledged at the server was *lost*: acknowledged
  but never delivered.
* **Sequence wraps**: packets sent per connection direction // 65536.

The protocol carries no checksum of its own (UDP's covers it on a real
network), so with ``--corrupt`` above 0 a flipped bit can land in a sequence
number or an ack field.  The soak does not hide what that does: connections
that end are counted with their reason and replaced by a fresh client (as a
player would reconnect), and stalled clients are listed.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from netsnake.argparsing import view_size
from netsnake.client.state import TERMINAL_STATES, ConnectionState
from netsnake.game.messages import encode_message
from netsnake.game.snapshot import Snapshot
from netsnake.game.world import WorldConfig
from netsnake.server.game import ServerSettings
from netsnake.sim import GameSimulation, SimClient, patient_client_config
from protocol import ClientState
from protocol.simulator import LinkConfig

__all__ = ["SoakConfig", "SoakResult", "format_report", "main", "run_soak"]

_WRAP = 0x10000


@dataclass(frozen=True, slots=True, kw_only=True)
class SoakConfig:
    """What to run: length, players and the link's impairments."""

    minutes: float = 60.0
    clients: int = 8
    tick_rate: float = 40.0
    seed: int = 1
    loss: float = 0.10
    duplicate: float = 0.05
    reorder: float = 0.05
    corrupt: float = 0.01
    latency: float = 0.03
    jitter: float = 0.01
    sample_every: float = 10.0
    replace_ended: bool = True
    """Start a fresh client when one's connection ends, so the game stays full."""
    width: int = WorldConfig().width
    height: int = WorldConfig().height
    bots: int = 0
    view: tuple[int, int] | None = None
    """The VIEW the clients state (None: the default); with a board bigger than
    the area, clients move across each other's areas of interest."""

    @property
    def link(self) -> LinkConfig:
        return LinkConfig(
            loss=self.loss,
            duplicate=self.duplicate,
            reorder=self.reorder,
            corrupt=self.corrupt,
            latency=self.latency,
            jitter=self.jitter,
        )


@dataclass(slots=True)
class _Tracked:
    """One client and the reliable messages the server queued to it."""

    sim: SimClient
    started: float
    expected: deque[bytes] = field(default_factory=deque)
    sent: int = 0
    delivered: int = 0
    wrong_content: int = 0
    skipped: int = 0
    ended: str | None = None
    lost_at_end: int = 0
    last_snapshots: int = 0
    stalled_samples: int = 0
    max_acked_undelivered: int = 0


@dataclass(slots=True)
class SoakResult:
    """Everything the report prints; tests assert on the fields."""

    config: SoakConfig
    wall_seconds: float = 0.0
    simulated_seconds: float = 0.0
    ticks: int = 0
    clients_started: int = 0
    hash_checks: int = 0
    mismatches: int = 0
    refused: int = 0
    resyncs: int = 0
    decode_errors: int = 0
    missing_baseline: int = 0
    reliable_sent: int = 0
    reliable_delivered: int = 0
    reliable_in_flight: int = 0
    reliable_lost: int = 0
    reliable_wrong_content: int = 0
    ended: Counter[str] = field(default_factory=Counter)
    stalled: list[str] = field(default_factory=list)
    wraps_down: int = 0
    wraps_up: int = 0
    max_packets_down: int = 0
    max_packets_up: int = 0
    max_sizes: dict[str, int] = field(default_factory=dict)
    first_sizes: dict[str, int] = field(default_factory=dict)
    network: str = ""
    protocol_counters: Counter[str] = field(default_factory=Counter)
    #: Across consecutive snapshots a client accepted: snakes that came into its
    #: area of interest (sent whole) and that left it, and snapshots holding
    #: fewer players than the world (a partial area).
    area_entered: int = 0
    area_left: int = 0
    partial_snapshots: int = 0


class _Soak:
    def __init__(self, cfg: SoakConfig) -> None:
        self.cfg = cfg
        settings = ServerSettings(
            tick_rate=cfg.tick_rate,
            max_players=max(16, cfg.clients + cfg.bots),
            bots=cfg.bots,
            world=WorldConfig(width=cfg.width, height=cfg.height),
            seed=cfg.seed,
        )
        self.sim = GameSimulation(settings, seed=cfg.seed, link=cfg.link)
        self.tracked: dict[Hashable, _Tracked] = {}
        self.result = SoakResult(cfg)
        self._instrument_server()

    def _instrument_server(self) -> None:
        # Record what the server queues, per peer, on the way into the protocol.
        endpoint = self.sim.endpoint
        original = endpoint.send_reliable

        def recording(peer: Hashable, data: bytes) -> int:
            mid = original(peer, data)
            t = self.tracked.get(peer)
            if t is not None:
                t.sent += 1
                t.expected.append(bytes(data))
            return mid

        endpoint.send_reliable = recording  # type: ignore[method-assign]

    def add_client(self) -> None:
        n = self.result.clients_started
        self.result.clients_started += 1
        sc = self.sim.add_client(f"soak{n}", config=patient_client_config())
        core = sc.core
        if self.cfg.view is not None:
            core.set_view_size(*self.cfg.view)

        # Draw a frame per snapshot, as the UI does (at least): the render buffer
        # only forgets old ticks when frames are sampled.  Count who comes into
        # and leaves the client's area on the way.
        previous: list[frozenset[int]] = []
        result = self.result
        server = self.sim.server

        def draw(snapshot: Snapshot, now: float) -> None:
            core.frame(now)
            ids = frozenset(p.id for p in snapshot.players)
            if previous:
                result.area_entered += len(ids - previous[0])
                result.area_left += len(previous[0] - ids)
            previous[:] = [ids]
            world = server.history.get(snapshot.tick)
            result.partial_snapshots += world is not None and len(ids) < len(world.players)

        core.snapshot_listeners.append(draw)
        self.tracked[sc.addr] = _Tracked(sc, self.sim.now)

    def _drain(self, t: _Tracked) -> None:
        core = t.sim.core
        if t.delivered == 0 and core.player_id is not None:
            self._match(t, None)  # ACCEPTED surfaces as the state change, not as an event
        for event in core.drain_events():
            self._match(t, encode_message(event))

    def _match(self, t: _Tracked, data: bytes | None) -> None:
        t.delivered += 1
        if not t.expected:
            t.wrong_content += 1
            return
        if data is None or t.expected[0] == data:
            t.expected.popleft()
            return
        # Not the next one queued: either messages before it never arrived (skip
        # them, counted as lost) or the bytes were changed in transit.
        try:
            skip = t.expected.index(data)
        except ValueError:
            t.wrong_content += 1
            t.expected.popleft()
            return
        for _ in range(skip + 1):
            t.expected.popleft()
        t.skipped += skip

    def _server_pending(self, peer: Hashable) -> int | None:
        if peer not in self.sim.endpoint.peers:
            return None
        return self.sim.endpoint.pending_reliable(peer)

    def sample(self) -> None:
        sizes: dict[str, int] = {}

        def note(key: str, value: int) -> None:
            sizes[key] = max(sizes.get(key, 0), value)

        server = self.sim.server
        endpoint = self.sim.endpoint
        now = self.sim.now
        for peer, t in self.tracked.items():
            if t.ended is not None:
                continue
            self._drain(t)
            core = t.sim.core
            pending = self._server_pending(peer)
            if pending is not None:
                conn = endpoint.connection(peer)
                for k, v in conn.debug_sizes.items():
                    note(f"server.conn.{k}", v)
                stats = conn.stats(now)
                self.result.max_packets_down = max(self.result.max_packets_down, stats.packets_sent)
                # Queued and acknowledged yet never delivered: only a false ack does that.
                t.max_acked_undelivered = max(t.max_acked_undelivered, len(t.expected) - pending)
            if core.endpoint.state is ClientState.CONNECTED:
                for k, v in core.endpoint.connection.debug_sizes.items():
                    note(f"client.conn.{k}", v)
                cstats = core.endpoint.stats(now)
                if cstats is not None:
                    self.result.max_packets_up = max(
                        self.result.max_packets_up, cstats.packets_sent
                    )
            # Diagnostics only: the cores' private tables are what could leak.
            note("client.history", len(core._history))
            note("client.unacked_inputs", core.unacked_inputs)
            if core.buffer is not None:
                note("client.render_buffer", len(core.buffer._snaps))
            note("client.events_pending", len(t.expected))
            if core.state is ConnectionState.PLAYING:
                if core.counters.snapshots == t.last_snapshots:
                    t.stalled_samples += 1
                t.last_snapshots = core.counters.snapshots
            if core.state in TERMINAL_STATES:
                self._end(t, f"{core.state.value}: {core.status_reason}", pending)
        note("server.clients", len(server._clients))
        note("server.peers", len(endpoint.peers))
        note("server.rate_table", len(endpoint._handshake_limit))
        note("server.history.encoded", sum(len(v) for v in server.history._encoded.values()))
        note(
            "server.in_flight_max",
            max((len(c.in_flight) for c in server._clients.values()), default=0),
        )
        note(
            "server.sent_max",
            max((len(c.sent) for c in server._clients.values()), default=0),
        )
        note("network.in_flight", self.sim.network.in_flight)
        if not self.result.first_sizes:
            self.result.first_sizes = dict(sizes)
        for k, v in sizes.items():
            self.result.max_sizes[k] = max(self.result.max_sizes.get(k, 0), v)
        if self.cfg.replace_ended:
            alive = sum(1 for t in self.tracked.values() if t.ended is None)
            for _ in range(self.cfg.clients - alive):
                self.add_client()

    def _end(self, t: _Tracked, why: str, pending: int | None) -> None:
        t.ended = why
        self.result.ended[why] += 1
        # Still unacknowledged at the server means "in flight", not lost.
        t.lost_at_end = max(0, len(t.expected) - (pending or 0))

    def finish(self) -> SoakResult:
        r = self.result
        for peer, t in self.tracked.items():
            c = t.sim
            r.hash_checks += c.hash_checks
            r.mismatches += c.hash_mismatches
            counters = c.core.counters
            r.refused += counters.mismatches
            r.resyncs += counters.resyncs
            r.decode_errors += counters.decode_errors
            r.missing_baseline += counters.missing_baseline
            if t.ended is None:
                self._drain(t)
                pending = self._server_pending(peer) or 0
                r.reliable_in_flight += min(pending, len(t.expected))
                r.reliable_lost += max(0, len(t.expected) - pending)
            else:
                r.reliable_lost += t.lost_at_end
                r.reliable_in_flight += len(t.expected) - t.lost_at_end
            r.reliable_sent += t.sent
            r.reliable_delivered += t.delivered
            r.reliable_wrong_content += t.wrong_content
            r.reliable_lost += t.skipped
            if t.stalled_samples:
                r.stalled.append(
                    f"{c.core.name} ({t.stalled_samples} samples without a "
                    f"snapshot, missing_baseline={counters.missing_baseline})"
                )
        r.ticks = self.sim.server.counters.ticks
        r.simulated_seconds = self.sim.now
        r.wraps_down = r.max_packets_down // _WRAP
        r.wraps_up = r.max_packets_up // _WRAP
        n = self.sim.network.counters
        r.network = (
            f"sent {n.received} dropped {n.dropped} duplicated {n.duplicated} "
            f"reordered {n.reordered} corrupted {n.corrupted}"
        )
        r.protocol_counters = Counter(self.sim.endpoint.counters)
        for t in self.tracked.values():
            r.protocol_counters.update(t.sim.core.endpoint.counters)
        return r


def run_soak(cfg: SoakConfig, progress: Callable[[str], None] | None = None) -> SoakResult:
    """Run one soak to completion and return its measurements."""
    started = time.monotonic()
    soak = _Soak(cfg)
    for _ in range(cfg.clients):
        soak.add_client()
    total = cfg.minutes * 60.0
    next_report = 600.0
    while soak.sim.now < total - 1e-9:
        soak.sim.run(min(cfg.sample_every, total - soak.sim.now))
        soak.sample()
        if progress is not None and soak.sim.now >= next_report:
            next_report += 600.0
            progress(
                f"  {soak.sim.now / 60:5.1f} min simulated, "
                f"{time.monotonic() - started:6.1f} s wall, "
                f"{sum(soak.result.ended.values())} connections ended"
            )
    result = soak.finish()
    result.wall_seconds = time.monotonic() - started
    return result


def format_report(r: SoakResult) -> str:
    """The human-readable summary printed by ``main``."""
    c = r.config
    lines = [
        f"soak: {r.simulated_seconds / 60:.1f} simulated minutes in {r.wall_seconds:.1f} s wall"
        f", seed {c.seed}, {c.clients} clients, {c.tick_rate:g} Hz ({r.ticks} ticks)",
        f"link: loss {c.loss:.0%} duplicate {c.duplicate:.0%} reorder {c.reorder:.0%} "
        f"corrupt {c.corrupt:.0%} latency {c.latency * 1000:.0f}±{c.jitter * 1000:.0f} ms",
        f"network: {r.network}",
        f"clients started: {r.clients_started}",
        f"snapshots checked against the server: {r.hash_checks}",
        f"areas of interest: {r.partial_snapshots} snapshots partial; snakes entered "
        f"{r.area_entered} times (sent whole), left {r.area_left} times",
        f"STATE MISMATCHES (accepted snapshot != server world): {r.mismatches}",
        f"refused by the client's hash check / decode errors / missing baseline / resyncs: "
        f"{r.refused} / {r.decode_errors} / {r.missing_baseline} / {r.resyncs}",
        f"reliable server->client: sent {r.reliable_sent}, delivered {r.reliable_delivered}, "
        f"in flight at end {r.reliable_in_flight}, LOST {r.reliable_lost}, "
        f"delivered with wrong content {r.reliable_wrong_content}",
        f"sequence wraps: server->client {r.wraps_down} (max {r.max_packets_down} packets on "
        f"one connection), client->server {r.wraps_up} (max {r.max_packets_up})",
        "connections ended: "
        + (", ".join(f"{why} x{n}" for why, n in r.ended.most_common()) or "none"),
        "stalled clients: " + ("; ".join(r.stalled) or "none"),
        "protocol drop counters: "
        + ", ".join(f"{k}={v}" for k, v in sorted(r.protocol_counters.items())),
        "buffer sizes (first sample -> max over the run):",
    ]
    for key in sorted(r.max_sizes):
        lines.append(f"  {key:34s} {r.first_sizes.get(key, 0):6d} -> {r.max_sizes[key]:6d}")
    return "\n".join(lines)


def _parse(argv: list[str] | None) -> SoakConfig:
    d = SoakConfig()
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    p.add_argument("--minutes", type=float, default=d.minutes, help="simulated minutes")
    p.add_argument("--clients", type=int, default=d.clients)
    p.add_argument(
        "--tick-rate",
        type=float,
        default=d.tick_rate,
        help="server Hz (40 Hz crosses the 16-bit wrap twice an hour)",
    )
    p.add_argument("--seed", type=int, default=d.seed)
    for name in ("loss", "duplicate", "reorder", "corrupt"):
        p.add_argument(f"--{name}", type=float, default=getattr(d, name), help="fraction 0..1")
    p.add_argument("--latency", type=float, default=d.latency, help="one-way seconds")
    p.add_argument("--jitter", type=float, default=d.jitter, help="seconds")
    p.add_argument(
        "--sample", type=float, default=d.sample_every, help="simulated seconds between samples"
    )
    p.add_argument(
        "--no-replace", action="store_true", help="do not start a new client when a connection ends"
    )
    p.add_argument("--width", type=int, default=d.width, help="board width")
    p.add_argument("--height", type=int, default=d.height, help="board height")
    p.add_argument("--bots", type=int, default=d.bots, help="server bots")
    p.add_argument("--view", type=view_size, default=None, help="VIEW the clients state, COLSxROWS")
    a = p.parse_args(argv)
    view = a.view
    return SoakConfig(
        minutes=a.minutes,
        clients=a.clients,
        tick_rate=a.tick_rate,
        seed=a.seed,
        loss=a.loss,
        duplicate=a.duplicate,
        reorder=a.reorder,
        corrupt=a.corrupt,
        latency=a.latency,
        jitter=a.jitter,
        sample_every=a.sample,
        replace_ended=not a.no_replace,
        width=a.width,
        height=a.height,
        bots=a.bots,
        view=None if view is None else (view[0], view[1]),
    )


def main(argv: list[str] | None = None) -> int:
    """Run the soak and print the report; exit 1 if any accepted snapshot was wrong."""
    cfg = _parse(argv)
    result = run_soak(cfg, progress=lambda s: print(s, flush=True))
    print(format_report(result))
    return 1 if result.mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
