"""The relay's TCP mode: delay a byte stream each way, as a long link would.

Run it as ``python -m netsnake.netem LISTEN_PORT SERVER_HOST:PORT --tcp --latency MS``, or from
Python with :func:`start_tcp_relay`.  It exists so that a TCP game (the tutorial's design, which
the benchmarks compare netsnake against) can be measured at the same latency as netsnake's UDP.

Theory of operation
-------------------
Each accepted client connection gets its own connection to the server.  Everything one side
sends is cut into segments of at most :data:`~protocol.simulator.MAX_DATAGRAM` bytes, and each
segment is handed to that direction's :class:`~protocol.simulator.LinkImpairment` for its
arrival time, exactly as a datagram would be.  The relay always sets ``keep_order``, so
jitter never reorders the stream, as with TCP; and because it accepts only latency and jitter
(no loss, duplicates, reordering or corruption), every segment arrives intact.  Loss on a
TCP path belongs to the kernel, where retransmission handles it: the benchmarks put the relay
in a network namespace whose nftables rules drop packets.

Segments wait in a per-direction queue, served by one re-armed ``call_at`` timer.  A half-close
(EOF) travels behind the data like a segment; once both directions are finished, or one side
is gone and the other has had everything delivered, both sockets close.  A side that sends
faster than the link delivers is paused while more than :data:`_HIGH_WATER` bytes wait, so a
flood cannot grow the relay's memory without bound.

Connection set-up is not delayed: the relay connects to the server as soon as a client
connects, and bytes the client sends meanwhile wait in the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import socket
from collections import deque
from dataclasses import dataclass, replace
from typing import cast

from netsnake.netem._base import Address, RelayBase, resolve_server
from protocol.simulator import MAX_DATAGRAM, LinkConfig, LinkImpairment, LinkStats

__all__ = ["TcpRelay", "TcpRelayStats", "check_tcp_config", "start_tcp_relay"]

log = logging.getLogger("netsnake.netem")

#: Bytes waiting in one direction of one connection before its sender is paused.
_HIGH_WATER = 4 * 1024 * 1024
_LOW_WATER = _HIGH_WATER // 4


def check_tcp_config(config: LinkConfig) -> None:
    """Raise ``ValueError`` if ``config`` asks for more than a TCP stream can be given.

    A byte stream can only be delayed: loss, duplicates, reordering and corruption are the
    kernel's business on a TCP path (retransmission and checksums hide them as delay).
    """
    refused = [
        name
        for name, value in (
            ("loss", config.loss),
            ("duplicate", config.duplicate),
            ("reorder", config.reorder),
            ("corrupt", config.corrupt),
        )
        if value
    ]
    if refused:
        raise ValueError(
            f"TCP mode only delays the stream; {', '.join(refused)} must be 0 "
            "(drop TCP packets in the kernel instead, e.g. with nftables)"
        )


@dataclass(frozen=True, slots=True)
class TcpRelayStats:
    """A snapshot of a TCP relay's counters.

    ``up``/``down`` count segments (``received`` when read, ``forwarded`` when written on);
    ``bytes_up``/``bytes_down`` count payload bytes written on.
    """

    up: LinkStats  #: client → server
    down: LinkStats  #: server → client
    bytes_up: int
    bytes_down: int
    connections: int  #: client connections open now
    accepted: int  #: client connections accepted in all
    connect_failures: int  #: client connections closed because the server could not be reached

    def summary(self) -> str:
        """Everything on one line, for logs and the exit message."""
        return (
            f"up: {self.up.summary()} bytes={self.bytes_up} | "
            f"down: {self.down.summary()} bytes={self.bytes_down} | "
            f"connections={self.connections} accepted={self.accepted} "
            f"connect_failures={self.connect_failures}"
        )


class _Pipe:
    """One direction of one connection: segments queued until their arrival time."""

    def __init__(self, conn: _Connection, link: LinkImpairment, upward: bool) -> None:
        self.conn = conn
        self._relay = conn.relay
        self._link = link
        self._upward = upward
        self.source: asyncio.Transport | None = None
        self.sink: asyncio.Transport | None = None
        # (arrival time, segment); None is the end of the stream.
        self._queue: deque[tuple[float, bytes | None]] = deque()
        self._queued_bytes = 0
        self._timer: asyncio.TimerHandle | None = None
        self._paused = False
        self.eof_queued = False
        self.done = False

    def feed(self, data: bytes, now: float) -> None:
        if self.eof_queued or self.done or self.conn.closed:
            return
        for start in range(0, len(data), MAX_DATAGRAM):
            # check_tcp_config allows no loss, duplicates or corruption, and no segment is
            # oversize: exactly one intact copy arrives.
            ((arrival, segment),) = self._link.transmit(now, data[start : start + MAX_DATAGRAM])
            self._queue.append((arrival, segment))
            self._queued_bytes += len(segment)
        if self._queued_bytes > _HIGH_WATER and not self._paused and self.source is not None:
            self._paused = True
            self.source.pause_reading()
        self._arm()

    def feed_eof(self, now: float) -> None:
        if self.eof_queued or self.done or self.conn.closed:
            return
        self.eof_queued = True
        # The FIN is a segment too: delayed like data, never before it.
        ((arrival, _),) = self._link.transmit(now, b"")
        self._queue.append((arrival, None))
        self._arm()

    def sink_ready(self) -> None:
        """The sink exists now (the server connection was made): deliver what is due."""
        self._arm()

    def discard(self) -> None:
        """The sink is gone: forget everything queued."""
        self._queue.clear()
        self._queued_bytes = 0
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.done = True

    def _arm(self) -> None:
        if self._timer is not None or not self._queue or self.sink is None or self.done:
            return
        self._timer = self._relay._loop.call_at(self._queue[0][0], self._deliver_due)

    def _deliver_due(self) -> None:
        self._timer = None
        now = self._relay._loop.time()
        sink = self.sink
        assert sink is not None
        stats = self._link.stats
        while self._queue and self._queue[0][0] <= now:
            _, segment = self._queue.popleft()
            if segment is None:
                self.done = True
                if not sink.is_closing() and sink.can_write_eof():
                    with contextlib.suppress(OSError, RuntimeError):
                        sink.write_eof()
                    stats.forwarded += 1
                self.conn.pipe_done()
                return
            self._queued_bytes -= len(segment)
            if sink.is_closing():
                stats.send_errors += 1
                continue
            sink.write(segment)
            stats.forwarded += 1
            self._relay._count_bytes(self._upward, len(segment))
        if self._paused and self._queued_bytes < _LOW_WATER and self.source is not None:
            self._paused = False
            with contextlib.suppress(RuntimeError):
                self.source.resume_reading()
        self._arm()


class _Connection:
    """A client connection, its server connection and the two pipes between them."""

    def __init__(self, relay: TcpRelay, index: int, seed: int) -> None:
        self.relay = relay
        self.up = _Pipe(
            self,
            LinkImpairment(
                relay._up_config,
                random.Random(f"netem-tcp-up-{seed}-{index}"),
                stats=relay._up_stats,
            ),
            upward=True,
        )
        self.down = _Pipe(
            self,
            LinkImpairment(
                relay._down_config,
                random.Random(f"netem-tcp-down-{seed}-{index}"),
                stats=relay._down_stats,
            ),
            upward=False,
        )
        self.client: asyncio.Transport | None = None
        self.server: asyncio.Transport | None = None
        self.closed = False

    def pipe_done(self) -> None:
        """A pipe delivered its end of stream or lost its sink: close once both have."""
        if self.up.done and self.down.done:
            self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.up.discard()
        self.down.discard()
        for transport in (self.client, self.server):
            if transport is not None:
                transport.close()
        self.relay._forget(self)


class _Side(asyncio.Protocol):
    """One socket of a connection; ``upward`` is True for the client's side (it feeds ``up``)."""

    def __init__(self, conn: _Connection, upward: bool) -> None:
        self._conn = conn
        self._upward = upward
        self._out = conn.up if upward else conn.down  # the pipe this side feeds
        self._in = conn.down if upward else conn.up  # the pipe that writes to this side

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        stream = cast(asyncio.Transport, transport)
        self._out.source = stream
        self._in.sink = stream
        if self._upward:
            self._conn.client = stream
        else:
            self._conn.server = stream
        if self._conn.closed:
            stream.close()
            return
        self._in.sink_ready()

    def data_received(self, data: bytes) -> None:
        self._out.feed(data, self._conn.relay._loop.time())

    def eof_received(self) -> bool:
        self._out.feed_eof(self._conn.relay._loop.time())
        return True  # keep the socket open for the other direction (half-close)

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            log.debug("tcp %s side lost: %s", "client" if self._upward else "server", exc)
        self._in.discard()
        self._out.feed_eof(self._conn.relay._loop.time())
        self._conn.pipe_done()


class TcpRelay(RelayBase):
    """A running TCP relay.  Made by :func:`start_tcp_relay`; closed by :meth:`close`."""

    def __init__(
        self,
        *,
        server: Address,
        up: LinkConfig,
        down: LinkConfig,
        seed: int,
        max_clients: int,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._server = server
        self._up_config, self._down_config = up, down
        self._up_stats, self._down_stats = LinkStats(), LinkStats()
        self._seed = seed
        self._max_clients = max_clients
        self._index = itertools.count()
        self._connections: set[_Connection] = set()
        self._connecting: set[asyncio.Task[None]] = set()
        self._listener: asyncio.Server | None = None
        self._bytes = [0, 0]  # down, up
        self._accepted = 0
        self._connect_failures = 0
        self._closed = False

    @property
    def address(self) -> Address:
        """The address the relay listens on (with the real port when 0 was asked for)."""
        if self._listener is None or not self._listener.sockets:
            raise RuntimeError("relay is not listening")
        addr: Address = self._listener.sockets[0].getsockname()
        return addr

    @property
    def server(self) -> Address:
        """The resolved server address connections are relayed to."""
        return self._server

    @property
    def stats(self) -> TcpRelayStats:
        """A snapshot of the counters."""
        return TcpRelayStats(
            up=self._up_stats.copy(),
            down=self._down_stats.copy(),
            bytes_up=self._bytes[1],
            bytes_down=self._bytes[0],
            connections=len(self._connections),
            accepted=self._accepted,
            connect_failures=self._connect_failures,
        )

    def _shutdown(self) -> None:
        """Stop listening and close every connection at once."""
        if self._listener is not None:
            self._listener.close()
        for task in self._connecting:
            task.cancel()
        for conn in list(self._connections):
            conn.close()

    def _summary(self) -> str:
        return self.stats.summary()

    # -- connections

    def _accept(self) -> asyncio.Protocol:
        """The listener's protocol factory: one client connection."""
        conn = _Connection(self, next(self._index), self._seed)
        side = _Side(conn, upward=True)
        if self._closed or len(self._connections) >= self._max_clients:
            conn.closed = True  # connection_made closes it
            return side
        self._accepted += 1
        self._connections.add(conn)
        task = self._loop.create_task(self._connect_upstream(conn))
        self._connecting.add(task)
        task.add_done_callback(self._connecting.discard)
        return side

    async def _connect_upstream(self, conn: _Connection) -> None:
        try:
            await self._loop.create_connection(
                lambda: _Side(conn, upward=False), self._server[0], self._server[1]
            )
        except OSError as exc:
            self._connect_failures += 1
            log.info("cannot reach server %s: %s", self._server, exc)
            conn.close()

    def _forget(self, conn: _Connection) -> None:
        self._connections.discard(conn)

    def _count_bytes(self, upward: bool, n: int) -> None:
        self._bytes[1 if upward else 0] += n


async def start_tcp_relay(
    listen: tuple[str, int],
    server: tuple[str, int],
    up: LinkConfig | None = None,
    down: LinkConfig | None = None,
    seed: int = 0,
    *,
    max_clients: int = 1024,
) -> TcpRelay:
    """Start relaying TCP connections made to ``listen`` to ``server``, delaying each direction.

    ``up`` delays client → server bytes, ``down`` server → client (times in seconds);
    ``None`` means no delay.  Only latency and jitter are allowed
    (:func:`check_tcp_config` raises ``ValueError`` otherwise).  ``listen`` may use port 0:
    read the real one from :attr:`TcpRelay.address`.  Equal seeds give equal delays for equal
    traffic.  Raises :class:`OSError` if the server cannot be resolved or ``listen`` cannot
    be bound.
    """
    up, down = up or LinkConfig(), down or LinkConfig()
    check_tcp_config(up)
    check_tcp_config(down)
    # A stream never reorders, whatever the jitter.
    up, down = replace(up, keep_order=True), replace(down, keep_order=True)
    if max_clients < 1:
        raise ValueError(f"max_clients must be >= 1, not {max_clients!r}")
    loop = asyncio.get_running_loop()
    _, server_addr = await resolve_server(server, socket.SOCK_STREAM)
    relay = TcpRelay(server=server_addr, up=up, down=down, seed=seed, max_clients=max_clients)
    try:
        relay._listener = await loop.create_server(relay._accept, listen[0], listen[1])
    except BaseException:
        relay.close()
        raise
    # (asyncio sets TCP_NODELAY on every stream it makes: nothing waits to fill a segment.)
    log.info("tcp: listening on %s, relaying to %s", relay.address, server)
    return relay
