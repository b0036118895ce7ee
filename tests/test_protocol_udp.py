"""The asyncio adapter over real UDP sockets on loopback, IPv4 and IPv6."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import pytest
from netcheck import ipv6_loopback_works

from netsnake.transport import bind_udp_socket, open_udp
from protocol import (
    ClientConfig,
    ClientEndpoint,
    ClientState,
    ConnectionEstablished,
    ConnectionTerminated,
    DisconnectCode,
    Event,
    MessageReceived,
    PayloadAcked,
    PayloadReceived,
    ServerEndpoint,
)

STEP_TIMEOUT = 5.0


HOSTS = [
    pytest.param("127.0.0.1", id="ipv4"),
    pytest.param(
        "::1",
        id="ipv6",
        marks=pytest.mark.skipif(not ipv6_loopback_works(), reason="no IPv6 loopback"),
    ),
]


class Inbox:
    """Events from one endpoint, awaitable by predicate."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._changed = asyncio.Event()

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        self._changed.set()

    async def wait_for(self, predicate: Callable[[Event], bool]) -> Event:
        async def scan() -> Event:
            seen = 0
            while True:
                for event in self.events[seen:]:
                    if predicate(event):
                        return event
                seen = len(self.events)
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(scan(), STEP_TIMEOUT)


async def _session(host: str) -> None:
    loop = asyncio.get_running_loop()
    server = ServerEndpoint()
    server_inbox = Inbox()
    server_transport = await open_udp(server, server_inbox, sock=bind_udp_socket(host, 0))
    server_addr = server_transport.local_address
    assert server_addr[0] == host and server_addr[1] > 0

    client = ClientEndpoint(server_addr)
    client_inbox = Inbox()
    client.connect(loop.time())
    client_transport = await open_udp(client, client_inbox, remote=server_addr)
    try:
        # Handshake.
        await client_inbox.wait_for(lambda e: isinstance(e, ConnectionEstablished))
        established = await server_inbox.wait_for(lambda e: isinstance(e, ConnectionEstablished))
        peer = established.peer
        assert client.state is ClientState.CONNECTED
        assert peer == (host, client_transport.local_address[1])

        # Reliable messages both ways, in order.
        for i in range(20):
            client.send_reliable(b"up %d" % i)
            server.send_reliable(peer, b"down %d" % i)
        client_transport.flush()
        server_transport.flush()
        await server_inbox.wait_for(lambda e: isinstance(e, MessageReceived) and e.data == b"up 19")
        await client_inbox.wait_for(
            lambda e: isinstance(e, MessageReceived) and e.data == b"down 19"
        )
        up = [e.data for e in server_inbox.events if isinstance(e, MessageReceived)]
        down = [e.data for e in client_inbox.events if isinstance(e, MessageReceived)]
        assert up == [b"up %d" % i for i in range(20)]
        assert down == [b"down %d" % i for i in range(20)]

        # An unreliable payload, and a fragmented one (5 fragments), acked back.
        small = client.send_unreliable(b"input")
        big_payload = bytes(range(256)) * 20
        big = server.send_unreliable(peer, big_payload)
        client_transport.flush()
        server_transport.flush()
        await server_inbox.wait_for(lambda e: isinstance(e, PayloadReceived) and e.data == b"input")
        await client_inbox.wait_for(
            lambda e: isinstance(e, PayloadReceived) and e.data == big_payload
        )
        await client_inbox.wait_for(lambda e: isinstance(e, PayloadAcked) and e.handle == small)
        await server_inbox.wait_for(lambda e: isinstance(e, PayloadAcked) and e.handle == big)

        stats = client.stats(loop.time())
        assert stats is not None and 0 < stats.rtt < 1.0

        # Disconnect reaches the server.
        client.disconnect(DisconnectCode.NORMAL, "done testing")
        client_transport.flush()
        ended = await server_inbox.wait_for(lambda e: isinstance(e, ConnectionTerminated))
        assert isinstance(ended, ConnectionTerminated)
        assert ended.by_peer and ended.code is DisconnectCode.NORMAL
        assert ended.reason == "done testing"
        assert server.peers == []
        assert client_transport.handler_errors == server_transport.handler_errors == 0
        assert client_transport.send_errors == server_transport.send_errors == 0
    finally:
        client_transport.close()
        server_transport.close()
    await asyncio.wait_for(client_transport.closed.wait(), STEP_TIMEOUT)
    await asyncio.wait_for(server_transport.closed.wait(), STEP_TIMEOUT)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("host", HOSTS)
def test_session_over_loopback(host: str) -> None:
    asyncio.run(_session(host))


async def _unreachable() -> None:
    # Nobody listens on this port: the client gives up with UNREACHABLE, no exception.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        addr = s.getsockname()
    loop = asyncio.get_running_loop()
    client = ClientEndpoint(addr, config=ClientConfig(connect_timeout=0.5))
    inbox = Inbox()
    client.connect(loop.time())
    transport = await open_udp(client, inbox, remote=addr)
    try:
        ended = await inbox.wait_for(lambda e: isinstance(e, ConnectionTerminated))
        assert isinstance(ended, ConnectionTerminated)
        assert ended.code is DisconnectCode.UNREACHABLE
        assert transport.handler_errors == 0
    finally:
        transport.close()


@pytest.mark.timeout(30)
def test_unreachable_server_over_loopback() -> None:
    asyncio.run(_unreachable())
