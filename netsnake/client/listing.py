"""``netsnake-client --list``: ask servers what they are, or find them on the LAN.

The protocol's :class:`~protocol.InfoQuery` does the work (requests, resends,
nonces, round-trip times); this module is its blocking adapter, and returns
one :class:`ListedServer` row per server (``netsnake.ui.server_list`` prints
them).  With hosts given, each is queried by unicast and an unreachable
one shows as such.  With none, the query goes to the default port by IPv4
broadcast (the limited broadcast address and every interface's directed
broadcast address) and by IPv6 link-local multicast to ff02::1 (all nodes)
on every multicast-capable interface, and every server that answers within
``DISCOVERY_WINDOW`` is listed.  A server reached by several addresses (IPv4
and IPv6, say) is listed once, by its random instance id.

Nothing here leaves the link: broadcasts are not routed and the IPv6
multicast hop limit stays at its default of 1.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import selectors
import socket
import struct
import time
from collections.abc import Callable, Collection, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from netsnake.addresses import format_address
from netsnake.game.server_info import ServerInfo, decode_server_info
from protocol import DecodeError, InfoAnswered, InfoQuery, InfoUnanswered

__all__ = [
    "DISCOVERY_WINDOW",
    "IPV6_DISCOVERY_GROUP",
    "ListedServer",
    "discovery_targets",
    "list_servers",
]

#: How long discovery listens for answers; the issue asks for servers within 1 s.
DISCOVERY_WINDOW = 0.9
#: How long a named host has to answer.
QUERY_TIMEOUT = 1.0
RESEND_INTERVAL = 0.25
IPV6_DISCOVERY_GROUP = "ff02::1"  # all nodes: every IPv6 host is a member, no join needed

_SIOCGIFFLAGS = 0x8913
_SIOCGIFBRDADDR = 0x8919
_IFF_UP = 0x1
_IFF_BROADCAST = 0x2
_IFF_MULTICAST = 0x1000


@dataclass(frozen=True, slots=True)
class ListedServer:
    """One row of the table: a server that answered, or a host that did not."""

    address: str
    ping: float | None = None
    info: ServerInfo | None = None
    protocol_version: int | None = None
    problem: str | None = None
    """Why there is no info: ``no answer``, ``unknown host``, ``bad reply``."""


# --------------------------------------------------------------------- targets


def _interfaces() -> list[tuple[int, str, int]]:
    """(index, name, flags) of every interface, best effort (Linux ioctls)."""
    found: list[tuple[int, str, int]] = []
    try:
        names = socket.if_nameindex()
    except OSError:
        return found
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for index, name in names:
            try:
                req = struct.pack("256s", name.encode()[:15])
                flags = struct.unpack_from("H", fcntl.ioctl(s.fileno(), _SIOCGIFFLAGS, req), 16)[0]
            except OSError:
                continue
            found.append((index, name, flags))
    return found


def _broadcast_address(name: str) -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            req = struct.pack("256s", name.encode()[:15])
            res = fcntl.ioctl(s.fileno(), _SIOCGIFBRDADDR, req)
        except OSError:
            return None  # no IPv4 address on this interface
    addr = socket.inet_ntoa(res[20:24])
    return None if addr == "0.0.0.0" else addr


def discovery_targets(port: int) -> list[tuple[int, tuple[str, int] | tuple[str, int, int, int]]]:
    """(family, socket address) of every broadcast and multicast destination on this host."""
    targets: list[tuple[int, tuple[str, int] | tuple[str, int, int, int]]] = [
        (socket.AF_INET, ("255.255.255.255", port))
    ]
    for index, name, flags in _interfaces():
        if not flags & _IFF_UP:
            continue
        if flags & _IFF_BROADCAST:
            brd = _broadcast_address(name)
            if brd is not None and brd != "255.255.255.255":
                targets.append((socket.AF_INET, (brd, port)))
        if flags & _IFF_MULTICAST:
            targets.append((socket.AF_INET6, (IPV6_DISCOVERY_GROUP, port, 0, index)))
    return targets


def _resolve(host: str, port: int) -> tuple[int, tuple[str, int] | tuple[str, int, int, int]]:
    """The first address of ``host``; raises OSError (socket.gaierror) if there is none."""
    family, _, _, _, sockaddr = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
    return family, sockaddr  # type: ignore[return-value]


# --------------------------------------------------------------------- the query


def _open_socket(family: int) -> socket.socket | None:
    try:
        sock = socket.socket(family, socket.SOCK_DGRAM)
    except OSError:
        return None  # e.g. no IPv6 on this host
    try:
        if family == socket.AF_INET:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            sock.bind(("0.0.0.0", 0))
        else:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(("::", 0))
        sock.setblocking(False)
    except OSError:
        sock.close()
        return None
    return sock


def _peer_text(peer: Hashable) -> str:
    assert isinstance(peer, tuple)
    host = str(peer[0])
    if host.startswith("::ffff:") and "." in host:
        host = host[7:]  # a dual-stack server answering from its IPv4 address
    return format_address(host, int(peer[1]))


def _run(
    query: InfoQuery,
    socks: dict[int, socket.socket],
    families: dict[Hashable, int],
    clock: Callable[[], float],
) -> list[InfoAnswered | InfoUnanswered]:
    events: list[InfoAnswered | InfoUnanswered] = []
    with selectors.DefaultSelector() as sel:
        for sock in socks.values():
            sel.register(sock, selectors.EVENT_READ)
        while True:
            now = clock()
            for data, addr in query.datagrams_to_send(now):
                out = socks.get(families[addr])
                if out is None:
                    continue
                # An interface without a route for broadcast, or no IPv6: skip it.
                with contextlib.suppress(OSError):
                    out.sendto(data, cast(tuple[Any, ...], addr))
            while (event := query.next_event()) is not None:
                if isinstance(event, InfoAnswered | InfoUnanswered):
                    events.append(event)
            timer = query.get_timer()
            if timer is None:
                return events
            for key, _ in sel.select(max(0.0, timer - clock())):
                sock = cast(socket.socket, key.fileobj)
                while True:
                    try:
                        data, addr = sock.recvfrom(2048)
                    except BlockingIOError:
                        break
                    except OSError as exc:
                        # ICMP port unreachable from an earlier send: that host will time out.
                        if exc.errno in (errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH):
                            continue
                        break
                    query.receive_datagram(data, addr, clock())
            query.handle_timer(clock())


def _row(event: InfoAnswered, address: str) -> tuple[ListedServer, int | None]:
    try:
        info = decode_server_info(event.payload)
    except DecodeError:
        return ListedServer(address, event.rtt, None, event.version, "bad reply"), None
    return ListedServer(address, event.rtt, info, event.version), info.instance


def list_servers(
    hosts: Sequence[tuple[str, int]],
    discovery_port: int,
    *,
    families: Collection[int] = (socket.AF_INET, socket.AF_INET6),
    clock: Callable[[], float] = time.monotonic,
) -> list[ListedServer]:
    """Query ``hosts`` (or, if empty, discover servers on ``discovery_port``): one row each.

    Rows for ``hosts`` come in their order, with the address as given; a host
    given twice (or two names of one address) is asked once and listed twice.
    Discovered servers are sorted by name.  ``families`` limits discovery to
    IPv4 broadcast or IPv6 multicast (tests use it).
    """
    discover = not hosts
    targets: dict[Hashable, int] = {}  # socket address -> family
    rows: list[ListedServer] = []
    wanted: dict[Hashable, list[int]] = {}  # socket address -> its rows
    if discover:
        for family, sockaddr in discovery_targets(discovery_port):
            if family in families:
                targets[sockaddr] = family
    for host, port in hosts:
        typed = format_address(host, port)
        try:
            family, sockaddr = _resolve(host, port)
        except OSError:
            rows.append(ListedServer(typed, problem="unknown host"))
            continue
        targets[sockaddr] = family
        wanted.setdefault(sockaddr, []).append(len(rows))
        rows.append(ListedServer(typed, problem="no answer"))
    events = _query(targets, discover, clock)
    if not discover:
        for event in events:
            for i in wanted[event.target]:
                rows[i] = _row(event, rows[i].address)[0]  # as typed: a name stays a name
        return rows
    instances: set[int] = set()
    for event in events:
        row, instance = _row(event, _peer_text(event.peer))
        if instance is not None:
            if instance in instances:
                continue  # the same server by another address or family
            instances.add(instance)
        rows.append(row)
    rows.sort(key=lambda r: (r.info.name if r.info else "\uffff", r.address))
    return rows


def _query(
    targets: dict[Hashable, int], discover: bool, clock: Callable[[], float]
) -> list[InfoAnswered]:
    query = InfoQuery(
        timeout=DISCOVERY_WINDOW if discover else QUERY_TIMEOUT, resend_interval=RESEND_INTERVAL
    )
    socks = {f: s for f in set(targets.values()) if (s := _open_socket(f)) is not None}
    try:
        now = clock()
        for target in targets:
            query.query(target, now, discover=discover)
        events = _run(query, socks, targets, clock)
    finally:
        for sock in socks.values():
            sock.close()
    return [e for e in events if isinstance(e, InfoAnswered)]
