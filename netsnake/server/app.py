"""The asyncio shell around :class:`~netsnake.server.game.GameServer`.

One event loop: the UDP adapter feeds datagrams to the protocol endpoint, and
a tick loop with absolute deadlines (``start + n / tick_rate``, so there is no
drift) steps the game.  A stats line is logged every ``stats_interval``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from netsnake.addresses import format_host
from netsnake.server.collector import IdleCollector
from netsnake.server.game import AppliedTurn, GameServer, ServerSettings
from netsnake.server.key_file import ServerKey
from netsnake.server.recorder import ServerRecorder
from netsnake.transport import UdpTransport, bind_udp_socket, open_udp
from protocol import ServerConfig, ServerEndpoint, key_fingerprint

__all__ = ["RunningServer", "lan_addresses", "serve", "start_server"]

log = logging.getLogger("server")
stats_log = logging.getLogger("stats")


def lan_addresses() -> list[str]:
    """Addresses of this machine that other players could use (best effort)."""
    found: list[str] = []
    try:
        # Connecting a UDP socket sends nothing; it only picks the outgoing interface.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.254.254.254", 1))
            found.append(s.getsockname()[0])
    except OSError:
        pass
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            addr = str(info[4][0])
            if addr not in found and not addr.startswith("127."):
                found.append(addr)
    except OSError:
        pass
    return found


@dataclass
class _TickStats:
    durations: list[float]
    overruns: int = 0
    last_in: tuple[int, int] = (0, 0)
    last_out: tuple[int, int] = (0, 0)
    last_time: float = 0.0


class RunningServer:
    """A started server: its address, and how to stop it."""

    def __init__(
        self,
        game: GameServer,
        transport: UdpTransport,
        settings: ServerSettings,
        stats_interval: float,
    ) -> None:
        self.game = game
        self.transport = transport
        self.settings = settings
        self.address = transport.local_address
        self._stop = asyncio.Event()
        self._stats_interval = stats_interval
        self._ticks = _TickStats([])
        #: Writes every tick to a file when the server records (``--record``).
        self.recorder: ServerRecorder | None = None
        #: Runs the full garbage collections between ticks, about once a second.
        self.collector = IdleCollector(max(1, round(settings.tick_rate)))

    @property
    def fingerprint(self) -> str:
        """The ``SHA256:`` fingerprint of the key clients see (and remember)."""
        return key_fingerprint(self.game.endpoint.public_key)

    def stop(self) -> None:
        """Ask the tick loop to shut down (safe from signal handlers)."""
        self._stop.set()

    async def run(self) -> None:
        """Tick until stopped, then shut down cleanly (within about a second)."""
        loop = asyncio.get_running_loop()
        period = 1.0 / self.settings.tick_rate
        start = loop.time()
        n = 0
        next_stats = start + self._stats_interval
        self._ticks.last_time = start
        collector = self.collector
        collector.start()
        try:
            while not self._stop.is_set():
                n += 1
                deadline = start + n * period
                delay = deadline - loop.time()
                if delay > 0:
                    try:
                        await asyncio.wait_for(self._stop.wait(), delay)
                        break
                    except TimeoutError:
                        pass
                elif delay < -period:
                    # More than a whole tick late: count it and re-anchor rather than burst.
                    self._ticks.overruns += 1
                    log.warning("tick %d overran by %.1f ms", n, -delay * 1000)
                    start, n = loop.time(), 0
                t0 = time.perf_counter()
                self.game.tick(loop.time())
                self.transport.flush()
                if self.recorder is not None:
                    self.recorder.record(loop.time())
                self._ticks.durations.append(time.perf_counter() - t0)
                # Full collections go in the time left before the next tick.
                collector.after_tick(start + (n + 1) * period - loop.time())
                if loop.time() >= next_stats:
                    self._log_stats(loop.time())
                    next_stats += self._stats_interval
        finally:
            collector.stop()
        await self._shutdown()

    def _log_stats(self, now: float) -> None:
        t = self._ticks
        tr = self.transport
        span = max(1e-9, now - t.last_time)
        d = sorted(t.durations) or [0.0]
        p50 = statistics.median(d) * 1000
        p99 = d[min(len(d) - 1, int(len(d) * 0.99))] * 1000
        dropped = self.game.endpoint.counters + self.game.counters.dropped
        drops = ", ".join(f"{k}={v}" for k, v in sorted(dropped.items()) if v) or "none"
        collections, longest = self.collector.take_interval()
        stats_log.info(
            "players %d (humans %d) spectators %d | tick p50 %.2f ms p99 %.2f ms overruns %d | "
            "gc %d longest %.1f ms | "
            "in %.0f dgram/s %.1f KB/s | out %.0f dgram/s %.1f KB/s | dropped: %s",
            self.game.players,
            self.game.humans,
            self.game.spectators,
            p50,
            p99,
            t.overruns,
            collections,
            longest * 1000,
            (tr.datagrams_in - t.last_in[0]) / span,
            (tr.bytes_in - t.last_in[1]) / span / 1000,
            (tr.datagrams_out - t.last_out[0]) / span,
            (tr.bytes_out - t.last_out[1]) / span / 1000,
            drops,
        )
        t.durations.clear()
        t.last_in = (tr.datagrams_in, tr.bytes_in)
        t.last_out = (tr.datagrams_out, tr.bytes_out)
        t.last_time = now

    async def _shutdown(self) -> None:
        loop = asyncio.get_running_loop()
        self.game.shutdown()
        self.transport.flush()
        if self.recorder is not None:
            self.recorder.close(loop.time())
        # Give the shutdown notice a chance to be acknowledged, but never stall exit.
        deadline = loop.time() + 0.6
        while self.game.unacked and loop.time() < deadline:
            await asyncio.sleep(0.02)
        self.game.endpoint.close()
        self.transport.close()
        log.info("server stopped (%d ticks played)", self.game.counters.ticks)


async def start_server(
    settings: ServerSettings,
    host: str,
    port: int,
    *,
    stats_interval: float = 30.0,
    input_trace: IO[str] | None = None,
    record_dir: Path | None = None,
    static_key: bytes | None = None,
) -> RunningServer:
    """Bind and start serving; raises OSError if the address cannot be used
    (or, with ``record_dir``, the recording cannot be created).

    ``static_key`` is the server's long-term X25519 private key (None: a fresh
    one, as the local game uses).
    """
    sock = bind_udp_socket(host, port)
    endpoint = ServerEndpoint(
        ServerConfig(max_connections=settings.max_connections, static_key=static_key),
        secret=os.urandom(32),
    )
    tracer: Callable[[str, int, float], None] | None = None
    turn_tracer: Callable[[AppliedTurn], None] | None = None
    if input_trace is not None:
        trace_file = input_trace

        def tracer(name: str, seq: int, now: float) -> None:
            trace_file.write(json.dumps({"name": name, "seq": seq, "t": now}) + "\n")

        def turn_tracer(turn: AppliedTurn) -> None:
            # "applied" rather than "name", so a line per received turn stays countable.
            line = {"applied": turn.name, "seq": turn.seq, "stamp": turn.stamp}
            line |= {"tick": turn.tick, "cell": list(turn.cell)}
            trace_file.write(json.dumps(line) + "\n")

    game = GameServer(
        settings, endpoint, tracer, turn_tracer, instance=int.from_bytes(os.urandom(4))
    )
    loop = asyncio.get_running_loop()
    transport = await open_udp(endpoint, lambda e: game.handle_event(e, loop.time()), sock=sock)
    running = RunningServer(game, transport, settings, stats_interval)
    if record_dir is not None:
        try:
            port = running.address[1]
            running.recorder = ServerRecorder(
                game, record_dir, server_name=f"{socket.gethostname()} port {port}", now=loop.time()
            )
        except OSError:
            transport.close()
            raise
        log.info("recording the game to %s", running.recorder.path)
    return running


async def serve(
    settings: ServerSettings,
    host: str,
    port: int,
    *,
    stats_interval: float = 30.0,
    input_trace: IO[str] | None = None,
    record_dir: Path | None = None,
    key: ServerKey | None = None,
) -> None:
    """Run a server until SIGINT or SIGTERM (the command-line entry point's body)."""
    server = await start_server(
        settings,
        host,
        port,
        stats_interval=stats_interval,
        input_trace=input_trace,
        record_dir=record_dir,
        static_key=key.private if key is not None else None,
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, server.stop)
    bound_host, bound_port = server.address
    cfg = settings.world
    log.info(
        "netsnake server %r listening on %s port %d (%d Hz, board %dx%d%s, %d bots)",
        settings.server_name,
        bound_host,
        bound_port,
        settings.tick_rate,
        cfg.width,
        cfg.height,
        ", wrapping" if cfg.wrap else "",
        settings.bots,
    )
    if bound_host in ("0.0.0.0", "::"):
        for addr in lan_addresses():
            log.info(
                "players can join with: netsnake-client %s%s",
                addr,
                "" if bound_port == 5050 else f" --port {bound_port}",
            )
    else:
        log.info(
            "players can join with: netsnake-client %s%s",
            format_host(bound_host),
            "" if bound_port == 5050 else f" --port {bound_port}",
        )
    if bound_host in ("0.0.0.0", "::"):
        found_by = "IPv4 broadcast" + (" and IPv6 multicast" if bound_host == "::" else "")
        log.info(
            "'netsnake-client --list%s' on the LAN finds this server (%s)",
            "" if bound_port == 5050 else f" --port {bound_port}",
            found_by,
        )
    else:
        log.info("bound to one address: 'netsnake-client --list' needs this address to find it")
    if key is not None:
        log.info(
            "server key %s (%s %s)",
            server.fingerprint,
            "new, saved in" if key.created else "from",
            key.path,
        )
    else:
        log.info("server key %s (new for this run only)", server.fingerprint)
    log.info("press Ctrl+C to stop")
    await server.run()
