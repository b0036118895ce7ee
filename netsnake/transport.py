"""The thin asyncio adapter between a sans-IO protocol endpoint and a UDP socket.

Receive -> let the endpoint process -> hand events to the application ->
transmit what the endpoint wants sent -> re-arm one ``call_at`` timer.  No
game logic lives here.  Exceptions from the endpoint or the application's
event handler are logged and counted, never allowed to kill the loop.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Hashable
from typing import Any, Protocol, cast

from protocol import Event

__all__ = ["SansIOEndpoint", "UdpTransport", "bind_udp_socket", "open_udp"]

log = logging.getLogger("netsnake.transport")


class SansIOEndpoint(Protocol):
    def receive_datagram(self, data: bytes, addr: Hashable, now: float) -> None: ...
    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Hashable]]: ...
    def get_timer(self) -> float | None: ...
    def handle_timer(self, now: float) -> None: ...
    def next_event(self) -> Event | None: ...


def normalize_addr(addr: Any) -> tuple[str, int]:
    """IPv6 sockets report (host, port, flowinfo, scope); peers are keyed by (host, port)."""
    return (addr[0], addr[1])


def bind_udp_socket(host: str, port: int) -> socket.socket:
    """A bound, non-blocking UDP socket.  ``::`` also accepts IPv4 (dual stack).

    Raises OSError with a readable message for bad addresses or ports in use.
    """
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_DGRAM, flags=socket.AI_PASSIVE)
    family, _, _, _, sockaddr = infos[0]
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        if family == socket.AF_INET6 and host in ("::", ""):
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(sockaddr)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class UdpTransport(asyncio.DatagramProtocol):
    """Drives a sans-IO endpoint on an asyncio datagram transport."""

    def __init__(
        self,
        endpoint: SansIOEndpoint,
        on_event: Callable[[Event], None],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.endpoint = endpoint
        self._on_event = on_event
        self._loop = loop
        self._transport: asyncio.DatagramTransport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self.closed = asyncio.Event()
        self.datagrams_in = 0
        self.datagrams_out = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.handler_errors = 0
        self.send_errors = 0

    # asyncio callbacks --------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.datagrams_in += 1
        self.bytes_in += len(data)
        try:
            self.endpoint.receive_datagram(data, normalize_addr(addr), self._loop.time())
        except Exception:
            self.handler_errors += 1
            log.exception("endpoint raised on a datagram from %s", addr)
        self.flush()

    def error_received(self, exc: Exception) -> None:
        # ICMP errors (port unreachable) say nothing the timeouts won't.
        log.debug("socket error: %s", exc)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.closed.set()

    # API ---------------------------------------------------------------------

    @property
    def local_address(self) -> tuple[str, int]:
        assert self._transport is not None
        return normalize_addr(self._transport.get_extra_info("sockname"))

    def flush(self) -> None:
        """Deliver pending events, send pending datagrams and re-arm the timer."""
        now = self._loop.time()
        while (event := self.endpoint.next_event()) is not None:
            try:
                self._on_event(event)
            except Exception:
                self.handler_errors += 1
                log.exception("event handler raised on %s", type(event).__name__)
        try:
            out = self.endpoint.datagrams_to_send(now)
        except Exception:
            self.handler_errors += 1
            log.exception("endpoint raised while sending")
            out = []
        transport = self._transport
        if transport is not None and not transport.is_closing():
            for data, addr in out:
                try:
                    transport.sendto(data, addr)  # type: ignore[arg-type]
                    self.datagrams_out += 1
                    self.bytes_out += len(data)
                except OSError as exc:
                    self.send_errors += 1
                    log.debug("sendto %s failed: %s", addr, exc)
        self._arm()

    def _arm(self) -> None:
        at = self.endpoint.get_timer()
        if at == self._timer_at and self._timer is not None:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = at
        if at is not None and self._transport is not None:
            self._timer = self._loop.call_at(max(at, self._loop.time()), self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._timer_at = None
        try:
            self.endpoint.handle_timer(self._loop.time())
        except Exception:
            self.handler_errors += 1
            log.exception("endpoint raised in handle_timer")
        self.flush()

    def close(self) -> None:
        """Send what is pending, then close the socket."""
        self.flush()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._transport is not None:
            self._transport.close()


async def open_udp(
    endpoint: SansIOEndpoint,
    on_event: Callable[[Event], None],
    *,
    sock: socket.socket | None = None,
    remote: tuple[str, int] | None = None,
) -> UdpTransport:
    """Wrap ``endpoint`` around a UDP socket: a bound ``sock`` (servers) or a
    new socket aimed at ``remote`` (clients; any address family)."""
    loop = asyncio.get_running_loop()
    if sock is None:
        if remote is None:
            raise ValueError("give a bound socket or a remote address")
        infos = await loop.getaddrinfo(remote[0], remote[1], type=socket.SOCK_DGRAM)
        family = infos[0][0]
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.setblocking(False)
        sock.bind(("::", 0) if family == socket.AF_INET6 else ("0.0.0.0", 0))
    _, protocol = await loop.create_datagram_endpoint(
        lambda: UdpTransport(endpoint, on_event, loop), sock=sock
    )
    protocol.flush()
    return protocol
