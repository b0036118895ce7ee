"""A lossy-link UDP relay: put a bad network between netsnake clients and a server.

Run it as ``python -m netsnake.netem LISTEN_PORT SERVER_HOST:PORT [options]``
(see ``--help`` and README.rst, "Playing on a bad network on purpose"), or from Python with
:func:`start_relay`.

Theory of operation
-------------------
The relay is a dumb pipe with a NAT-like shape.  It listens on one UDP socket;
each distinct client source address gets its own *upstream* socket, connected
to the server, so the server sees one address per client and its replies come
back on the socket that knows which client they belong to.  A mapping that has
heard nothing from its client for ``idle_timeout`` seconds is closed.

Every datagram, either way, is handed to that direction's
:class:`~protocol.simulator.LinkImpairment` (the same link model the in-memory
simulator uses), which answers with the copies that arrive and when (none =
lost).  Those copies wait in one heap ordered by arrival time, served by a
single re-armed ``loop.call_at`` timer.  All the randomness and bookkeeping
lives in the pure link model; this module only moves bytes and keeps time.

The payload is never parsed, so malformed traffic is relayed like any other.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import heapq
import itertools
import logging
import random
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from netsnake.addresses import format_peer, parse_hostport
from netsnake.argparsing import OneLineErrorParser, int_range
from netsnake.netem._base import Address, RelayBase, resolve_server
from netsnake.netem.tcp_relay import TcpRelay, check_tcp_config, start_tcp_relay
from protocol.simulator import MAX_DATAGRAM, Jitter, LinkConfig, LinkImpairment, LinkStats

__all__ = [
    "MAX_DATAGRAM",
    "Jitter",
    "LinkConfig",
    "LinkStats",
    "Relay",
    "RelayStats",
    "main",
    "parse_hostport",
    "relay_link",
    "start_relay",
]

log = logging.getLogger("netsnake.netem")

_Send = Callable[[bytes], None]


@dataclass(frozen=True, slots=True)
class RelayStats:
    """A snapshot of a relay's counters."""

    up: LinkStats  #: client → server
    down: LinkStats  #: server → client
    clients: int  #: client mappings open now
    refused_clients: int  #: datagrams from new clients refused because ``max_clients`` was reached

    def summary(self) -> str:
        """Everything on one line, for logs and the exit message."""
        return (
            f"up: {self.up.summary()} | down: {self.down.summary()} | "
            f"clients={self.clients} refused_clients={self.refused_clients}"
        )


class Relay(RelayBase):
    """A running relay.  Made by :func:`start_relay`; closed by :meth:`close`.

    Can be used as ``async with await start_relay(...) as relay:``.
    """

    def __init__(
        self,
        *,
        server: Address,
        server_family: int,
        up: LinkImpairment,
        down: LinkImpairment,
        idle_timeout: float,
        max_clients: int,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._server = server
        self._server_family = server_family
        self._up = up
        self._down = down
        self._idle_timeout = idle_timeout
        self._max_clients = max_clients
        self._refused_clients = 0
        self._listener: asyncio.DatagramTransport | None = None
        self._listener_sock: socket.socket | None = None
        self._clients: dict[Address, _Upstream] = {}
        self._connecting: set[asyncio.Task[Any]] = set()
        self._closed = False
        # Copies in flight: (arrival time, tie-breaker keeping FIFO, send, payload).
        self._in_flight: list[tuple[float, int, _Send, bytes]] = []
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._sweeper = self._loop.call_later(self._sweep_interval(), self._sweep_idle)

    # -- public API -------------------------------------------------------------------------

    @property
    def address(self) -> Address:
        """The address the relay listens on (with the real port when 0 was asked for)."""
        if self._listener is None:
            raise RuntimeError("relay is not listening")
        addr: Address = self._listener.get_extra_info("sockname")
        return addr

    @property
    def server(self) -> Address:
        """The resolved server address datagrams are relayed to."""
        return self._server

    @property
    def blackhole(self) -> bool:
        """While true, every new datagram in both directions is dropped (a network outage).

        Copies already in flight still arrive, as they would on a real link.
        """
        return self._up.blackhole

    @blackhole.setter
    def blackhole(self, value: bool) -> None:
        if value != self._up.blackhole:
            log.info("blackhole %s", "on" if value else "off")
        self._up.blackhole = self._down.blackhole = bool(value)

    @property
    def stats(self) -> RelayStats:
        """A snapshot of the counters."""
        return RelayStats(
            up=self._up.stats.copy(),
            down=self._down.stats.copy(),
            clients=len(self._clients),
            refused_clients=self._refused_clients,
        )

    def _shutdown(self) -> None:
        """Close every socket and forget the copies in flight."""
        self._sweeper.cancel()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._in_flight.clear()
        for task in self._connecting:
            task.cancel()
        for upstream in list(self._clients.values()):
            upstream.close()
        self._clients.clear()
        if self._listener is not None:
            self._listener.close()

    def _summary(self) -> str:
        return self.stats.summary()

    # -- client side ------------------------------------------------------------------------

    def _attach(self, listener: asyncio.DatagramTransport, sock: socket.socket) -> None:
        self._listener = listener
        self._listener_sock = sock

    def _from_client(self, data: bytes, client: Address) -> None:
        if self._closed:
            return
        now = self._loop.time()
        upstream = self._clients.get(client)
        if upstream is None:
            upstream = self._open_upstream(client)
            if upstream is None:
                return
        upstream.last_heard = now
        for arrival, payload in self._up.transmit(now, data):
            self._schedule(arrival, upstream.send, payload)

    def _send_to_client(self, client: Address, data: bytes) -> None:
        listener, sock = self._listener, self._listener_sock
        stats = self._down.stats
        if listener is None or sock is None or listener.is_closing():
            stats.send_errors += 1
        elif _send_datagram(listener, sock, data, client):
            stats.forwarded += 1
        else:
            stats.send_errors += 1

    # -- server side ------------------------------------------------------------------------

    def _open_upstream(self, client: Address) -> _Upstream | None:
        if len(self._clients) >= self._max_clients:
            # A flood of source addresses must not exhaust our file descriptors.
            self._refused_clients += 1
            log.warning("refusing client %s: %d clients already", client, self._max_clients)
            return None
        sock = socket.socket(self._server_family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            # Connected, so the kernel only lets the server's replies in (like a NAT).
            sock.connect(self._server)
        except OSError as exc:
            sock.close()
            self._refused_clients += 1
            log.warning("cannot open a socket to the server for %s: %s", client, exc)
            return None
        upstream = _Upstream(self, client, sock)
        self._clients[client] = upstream
        task = self._loop.create_task(self._connect(upstream))
        self._connecting.add(task)
        task.add_done_callback(self._connecting.discard)
        log.info("new client %s (%d open)", format_peer(client), len(self._clients))
        return upstream

    async def _connect(self, upstream: _Upstream) -> None:
        try:
            await self._loop.create_datagram_endpoint(lambda: upstream, sock=upstream.sock)
        except OSError as exc:
            log.warning("cannot open a socket to the server for %s: %s", upstream.client, exc)
            self._forget(upstream)
            upstream.close()

    def _from_server(self, data: bytes, client: Address) -> None:
        if self._closed:
            return
        now = self._loop.time()
        for arrival, payload in self._down.transmit(now, data):
            self._schedule(arrival, functools.partial(self._send_to_client, client), payload)

    def _forget(self, upstream: _Upstream) -> None:
        if self._clients.get(upstream.client) is upstream:
            del self._clients[upstream.client]

    def _sweep_interval(self) -> float:
        return min(1.0, max(0.05, self._idle_timeout / 4))

    def _sweep_idle(self) -> None:
        now = self._loop.time()
        for upstream in list(self._clients.values()):
            if now - upstream.last_heard > self._idle_timeout:
                log.info("client %s idle, mapping closed", format_peer(upstream.client))
                self._forget(upstream)
                upstream.close()
        self._sweeper = self._loop.call_later(self._sweep_interval(), self._sweep_idle)

    # -- delivery queue ---------------------------------------------------------------------

    def _schedule(self, arrival: float, send: _Send, data: bytes) -> None:
        heapq.heappush(self._in_flight, (arrival, next(self._seq), send, data))
        if self._timer is None or arrival < self._timer.when():
            self._arm(arrival)

    def _arm(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_at(when, self._deliver_due, when)

    def _deliver_due(self, fired_for: float) -> None:
        self._timer = None
        # The loop may fire a timer slightly early (clock resolution): honour its own deadline.
        due = max(self._loop.time(), fired_for)
        queue = self._in_flight
        while queue and queue[0][0] <= due:
            _, _, send, data = heapq.heappop(queue)
            send(data)
        if queue:
            self._arm(queue[0][0])


class _ClientSide(asyncio.DatagramProtocol):
    """The listening socket: everything clients send."""

    def __init__(self, relay: Relay) -> None:
        self._relay = relay

    def datagram_received(self, data: bytes, addr: Address) -> None:
        self._relay._from_client(data, addr)

    def error_received(self, exc: Exception) -> None:
        # e.g. ICMP unreachable from a client that went away: normal on a dumb pipe.
        log.debug("client-side socket error: %s", exc)


class _Upstream(asyncio.DatagramProtocol):
    """One client's connected socket to the server."""

    def __init__(self, relay: Relay, client: Address, sock: socket.socket) -> None:
        self._relay = relay
        self.client = client
        self.sock = sock
        self.last_heard = relay._loop.time()
        self.transport: asyncio.DatagramTransport | None = None
        # Copies that arrive before the socket exists wait here, in order.
        self._pending: list[bytes] = []
        self._closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Not an isinstance check: 3.11's selector datagram transport does not subclass
        # DatagramTransport even though it implements it.
        datagram = cast(asyncio.DatagramTransport, transport)
        if self._closed:
            datagram.close()
            return
        self.transport = datagram
        pending, self._pending = self._pending, []
        for data in pending:
            self.send(data)

    def send(self, data: bytes) -> None:
        stats = self._relay._up.stats
        if self._closed:
            stats.send_errors += 1
        elif self.transport is None:
            self._pending.append(data)
        elif _send_datagram(self.transport, self.sock, data):
            stats.forwarded += 1
        else:
            stats.send_errors += 1

    def datagram_received(self, data: bytes, addr: Address) -> None:
        self._relay._from_server(data, self.client)

    def error_received(self, exc: Exception) -> None:
        # A connected UDP socket reports ICMP port-unreachable when the server is down.
        log.debug("upstream socket for %s: %s", self.client, exc)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._relay._up.stats.send_errors += len(self._pending)
        self._pending.clear()
        if self.transport is not None:
            self.transport.close()
        else:
            self.sock.close()


def _send_datagram(
    transport: asyncio.DatagramTransport,
    sock: socket.socket,
    data: bytes,
    addr: Address | None = None,
) -> bool:
    """Send one datagram; False if it could not be handed to the kernel."""
    if data:
        transport.sendto(data, addr)
        return True
    # asyncio's sendto silently skips empty payloads, but a zero-length UDP datagram
    # is legal and a dumb pipe must pass it on.
    try:
        if addr is None:
            sock.send(b"")
        else:
            sock.sendto(b"", addr)
    except OSError as exc:
        log.debug("empty datagram not sent: %s", exc)
        return False
    return True


async def start_relay(
    listen: tuple[str, int],
    server: tuple[str, int],
    up: LinkConfig | None = None,
    down: LinkConfig | None = None,
    seed: int = 0,
    *,
    idle_timeout: float = 30.0,
    max_clients: int = 1024,
) -> Relay:
    r"""Start relaying datagrams sent to ``listen`` to ``server`` and back.

    ``up`` impairs client → server traffic, ``down`` server → client; ``None``
    means a perfect link; the command line's links are :func:`relay_link`\ s
    (jitter keeps order, reordering holds back by a fixed delay).  ``listen``
    may use port 0: read the real one from
    :attr:`Relay.address`.  Hosts are plain (``"::1"``, not ``"[::1]"``); a
    server name that resolves to both IPv4 and IPv6 uses its IPv4 address.
    Equal seeds give equal impairment decisions for equal traffic.
    Raises :class:`OSError` if the server cannot be resolved or ``listen``
    cannot be bound.
    """
    if idle_timeout <= 0:
        raise ValueError(f"idle_timeout must be > 0, not {idle_timeout!r}")
    if max_clients < 1:
        raise ValueError(f"max_clients must be >= 1, not {max_clients!r}")
    loop = asyncio.get_running_loop()
    family, server_addr = await resolve_server(server, socket.SOCK_DGRAM)
    relay = Relay(
        server=server_addr,
        server_family=family,
        up=LinkImpairment(up or LinkConfig(), random.Random(f"netem-up-{seed}")),
        down=LinkImpairment(down or LinkConfig(), random.Random(f"netem-down-{seed}")),
        idle_timeout=idle_timeout,
        max_clients=max_clients,
    )
    try:
        infos = await loop.getaddrinfo(
            listen[0], listen[1], type=socket.SOCK_DGRAM, flags=socket.AI_PASSIVE
        )
        listen_family, _, _, _, listen_addr = infos[0]
        sock = socket.socket(listen_family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.bind(listen_addr)
            listener, _ = await loop.create_datagram_endpoint(lambda: _ClientSide(relay), sock=sock)
        except BaseException:
            sock.close()
            raise
    except BaseException:
        relay.close()
        raise
    relay._attach(listener, sock)
    log.info("listening on %s, relaying to %s", format_peer(relay.address), format_peer(server))
    return relay


#: How long the command line's reordering holds a datagram back unless told otherwise.
DEFAULT_REORDER_DELAY = 0.030


def relay_link(**impairments: Any) -> LinkConfig:
    """A link as the relay's command line builds it: ``keep_order`` (jitter alone
    never reorders, as through a queue on a real link) and a fixed
    ``reorder_delay`` of :data:`DEFAULT_REORDER_DELAY`; ``impairments`` override."""
    settings: dict[str, Any] = {"keep_order": True, "reorder_delay": DEFAULT_REORDER_DELAY}
    settings.update(impairments)
    return LinkConfig(**settings)


# -- command line ---------------------------------------------------------------------------
# The link model counts in fractions and seconds; the command line takes percent and
# milliseconds, converted here, at the edge.


def _percent(text: str) -> float:
    """PCT (0-100) as a fraction."""
    value = _number(text)
    if not 0.0 <= value <= 100.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 100, got {text!r}")
    return value / 100.0


def _millis(text: str) -> float:
    """MS (>= 0) as seconds."""
    value = _number(text)
    if value < 0.0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text!r}")
    return value / 1000.0


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"must be finite, got {text!r}")
    return value


def _server(text: str) -> tuple[str, int]:
    try:
        return parse_hostport(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _jitter(text: str) -> Jitter:
    try:
        return Jitter(text)
    except ValueError:
        choices = ", ".join(j.value for j in Jitter)
        raise argparse.ArgumentTypeError(f"must be one of {choices}, got {text!r}") from None


def _positive(text: str) -> float:
    value = _number(text)
    if value <= 0.0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
    return value


# (option stem, LinkConfig field, argparse type, metavar, help)
_LINK_OPTIONS: tuple[tuple[str, str, Callable[[str], Any], str, str], ...] = (
    ("loss", "loss", _percent, "PCT", "drop this share of datagrams"),
    ("latency", "latency", _millis, "MS", "one-way delay"),
    ("jitter", "jitter", _millis, "MS", "random delay spread around --latency"),
    (
        "jitter-dist",
        "jitter_dist",
        _jitter,
        "{uniform,normal}",
        "uniform: ±jitter; normal: standard deviation jitter (default uniform)",
    ),
    ("duplicate", "duplicate", _percent, "PCT", "send this share of datagrams twice"),
    ("reorder", "reorder", _percent, "PCT", "hold back this share so later ones overtake"),
    (
        "reorder-delay",
        "reorder_delay",
        _millis,
        "MS",
        f"how long to hold back (default {DEFAULT_REORDER_DELAY * 1000:g})",
    ),
)


def _build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="python -m netsnake.netem",
        description=(
            "Relay UDP between clients and a server through a simulated bad network. "
            "SIGUSR1 toggles a blackhole (drop everything); SIGUSR2 prints the counters."
        ),
    )
    parser.add_argument(
        "listen_port", type=int_range(0, 65535), help="UDP port to listen on (0 = any free)"
    )
    parser.add_argument("server", type=_server, help="where to relay to: HOST:PORT or [IPV6]:PORT")
    parser.add_argument(
        "--listen-host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument(
        "--tcp",
        action="store_true",
        help=(
            "relay TCP instead of UDP: delay the byte stream each way by --latency/--jitter, "
            "keeping its order (loss, duplicates and reordering are refused)"
        ),
    )
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    parser.add_argument(
        "--idle-timeout",
        type=_positive,
        default=30.0,
        metavar="S",
        help="forget a client after this many seconds of silence (default 30)",
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log more (-v info, -vv debug)"
    )
    groups = (
        ("", "link impairments, both directions", ""),
        ("up-", "client → server only (overrides the option above)", ", client → server"),
        ("down-", "server → client only (overrides the option above)", ", server → client"),
    )
    for prefix, title, suffix in groups:
        group = parser.add_argument_group(title)
        for stem, field_name, kind, metavar, help_text in _LINK_OPTIONS:
            group.add_argument(
                f"--{prefix}{stem}",
                dest=f"{prefix.replace('-', '_')}{field_name}",
                type=kind,
                default=None,
                metavar=metavar,
                help=help_text if not prefix else f"like --{stem}{suffix}",
            )
    return parser


def _link_config(args: argparse.Namespace, prefix: str) -> LinkConfig:
    values: dict[str, Any] = {}
    for _, field_name, _, _, _ in _LINK_OPTIONS:
        value = getattr(args, prefix + field_name)
        if value is None:
            value = getattr(args, field_name)
        if value is not None:
            values[field_name] = value
    return relay_link(**values)


async def _serve(relay: Relay | TcpRelay, out: Callable[[str], None]) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def toggle_blackhole() -> None:
        if not isinstance(relay, Relay):
            out("netem: blackhole is for UDP only (a TCP stream cannot lose bytes)")
            return
        relay.blackhole = not relay.blackhole
        out(f"netem: blackhole {'on' if relay.blackhole else 'off'}")

    def print_stats() -> None:
        out(f"netem: stats {relay.stats.summary()}")

    handlers: list[tuple[str, Callable[[], None]]] = [
        ("SIGINT", stop.set),
        ("SIGTERM", stop.set),
        ("SIGUSR1", toggle_blackhole),
        ("SIGUSR2", print_stats),
    ]
    for name, handler in handlers:
        signum = getattr(signal, name, None)
        if signum is None:
            continue
        # Loops without signal support (Windows) just lose these controls.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, handler)
    try:
        await stop.wait()
    finally:
        relay.close()
        print_stats()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the relay from the command line; returns the process exit code."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        up = _link_config(args, "up_")
        down = _link_config(args, "down_")
        if args.tcp:
            check_tcp_config(up)
            check_tcp_config(down)
    except ValueError as exc:
        parser.error(str(exc))
    logging.basicConfig(
        level=(logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)],
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    listen_host = args.listen_host.strip("[]")

    def out(line: str) -> None:
        print(line, flush=True)
        log.info("%s", line)

    async def run() -> int:
        relay: Relay | TcpRelay
        try:
            if args.tcp:
                relay = await start_tcp_relay(
                    (listen_host, args.listen_port), args.server, up, down, seed
                )
            else:
                relay = await start_relay(
                    (listen_host, args.listen_port),
                    args.server,
                    up,
                    down,
                    seed,
                    idle_timeout=args.idle_timeout,
                )
        except OSError as exc:
            print(f"netem: error: cannot start relay: {exc}", file=sys.stderr)
            return 1
        kind = " (TCP)" if args.tcp else ""
        out(
            f"netem: listening on {format_peer(relay.address)}{kind}, relaying to "
            f"{format_peer(args.server)} (seed {seed})"
        )
        out(f"netem: up   {up.summary()}")
        out(f"netem: down {down.summary()}")
        await _serve(relay, out)
        return 0

    try:
        return asyncio.run(run())
    except KeyboardInterrupt:
        # Ctrl+C before our SIGINT handler is installed, or on loops without signal support.
        return 0
