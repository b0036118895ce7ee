"""Garbage in, counters up: nothing the network sends makes an endpoint raise.

Random datagrams and mutations (truncation, bit flips, overwritten bytes,
changed kind and version nibbles) of valid packets of every kind are fed to
the server and the client in every state.  Most mutations fail the packet's
check; so that the decoders behind the check are fuzzed too, some mutated and
random packets get a valid CRC, or are sealed under the fuzzed connection's
keys (in either direction), before being sent.  Hypothesis runs derandomized
so CI sees the same examples every time.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol import ClientEndpoint, ClientState, ServerEndpoint
from protocol._info import encode_info_reply, encode_info_request
from protocol._wire import (
    PREFIX_SIZE,
    PacketKind,
    encode_reason,
    keyed_prefix,
    packet_kind,
    prefix,
    seal_crc,
)
from protocol.simulator import LinkConfig, SimulatedNetwork, run_network
from tests.sealing import PeerView

SERVER = ("203.0.113.1", 7777)
CLIENT = ("198.51.100.2", 5000)
STRANGER = ("192.0.2.66", 6666)
SECRET = bytes(range(32))
NONCE = b"fuzznonc"
T0 = 1000.0
CLIENT_EPHEMERAL = bytes(range(64, 96))
SERVER_EPHEMERAL = bytes(range(96, 128))

Endpoint = ServerEndpoint | ClientEndpoint


def _exchange(src: Endpoint, src_addr: Hashable, dst: Endpoint, now: float) -> list[bytes]:
    sent = [d for d, _ in src.datagrams_to_send(now)]
    for d in sent:
        dst.receive_datagram(d, src_addr, now)
    return sent


def make_server() -> ServerEndpoint:
    return ServerEndpoint(secret=SECRET, ephemeral_keys=lambda: SERVER_EPHEMERAL)


def make_client() -> ClientEndpoint:
    return ClientEndpoint(SERVER, nonce=NONCE, ephemeral_key=CLIENT_EPHEMERAL)


def connected_pair() -> tuple[ServerEndpoint, ClientEndpoint]:
    """A deterministic handshake, so the same keys and tokens come out every time."""
    server = make_server()
    client = make_client()
    client.connect(T0)
    _exchange(client, CLIENT, server, T0)  # request
    _exchange(server, SERVER, client, T0)  # challenge
    _exchange(client, CLIENT, server, T0)  # response
    _exchange(server, SERVER, client, T0)  # accept
    assert client.state is ClientState.CONNECTED
    return server, client


def _templates() -> tuple[list[bytes], PeerView, PeerView]:
    """One or more valid packets of every kind, both directions; and views that seal
    as the client (to the server) and as the server (to the client)."""
    server = make_server()
    client = make_client()
    client.connect(T0)
    packets = _exchange(client, CLIENT, server, T0)
    packets += _exchange(server, SERVER, client, T0)
    packets += _exchange(client, CLIENT, server, T0)
    packets += _exchange(server, SERVER, client, T0)
    as_client, as_server = PeerView(server.connection(CLIENT)), PeerView(client.connection)
    t = T0 + 0.01
    client.send_reliable(b"hello")
    client.send_unreliable(b"input" * 10)
    client.send_unreliable(bytes(range(256)) * 12)  # fragmented
    server.send_reliable(CLIENT, b"welcome")
    server.send_unreliable(CLIENT, b"snapshot" * 5)
    packets += _exchange(client, CLIENT, server, t)
    packets += _exchange(server, SERVER, client, t)
    packets += _exchange(client, CLIENT, server, t + 0.05)
    packets += [
        seal_crc(prefix(PacketKind.DENIED) + NONCE + encode_reason(3, "server full")),
        as_client.seal(keyed_prefix(PacketKind.DISCONNECT, 9) + encode_reason(0, "bye")),
        encode_info_request(NONCE),
        encode_info_reply(NONCE, b"\x81\xa4name\xa5alpha"),
    ]
    kinds = {packet_kind(p) for p in packets}
    assert kinds == set(PacketKind), kinds
    return packets, as_client, as_server


TEMPLATES, AS_CLIENT, AS_SERVER = _templates()


def reseal(data: bytes, to_client: bool = False) -> bytes:
    """Give ``data`` the check its kind calls for, so it gets past the check: a CRC,
    or sealing (``data`` taken as the opened image) under the connection's keys."""
    if len(data) < PREFIX_SIZE:
        return data
    if packet_kind(data) in (PacketKind.DATA, PacketKind.DISCONNECT):
        return (AS_SERVER if to_client else AS_CLIENT).seal(data)
    return seal_crc(data)


@dataclass
class Target:
    endpoint: Endpoint
    source: Hashable


def _server_fresh() -> Target:
    return Target(make_server(), CLIENT)


def _server_connected() -> Target:
    return Target(connected_pair()[0], CLIENT)


def _server_stranger() -> Target:
    return Target(connected_pair()[0], STRANGER)


def _client(state: ClientState) -> Callable[[], Target]:
    def make() -> Target:
        if state is ClientState.CONNECTED:
            return Target(connected_pair()[1], SERVER)
        if state is ClientState.CLOSED:
            client = connected_pair()[1]
            client.disconnect()
            return Target(client, SERVER)
        client = make_client()
        if state is not ClientState.IDLE:
            client.connect(T0)
            server = make_server()
            _exchange(client, CLIENT, server, T0)
            if state is ClientState.RESPONDING:
                _exchange(server, SERVER, client, T0)
        assert client.state is state
        return Target(client, SERVER)

    return make


TARGETS: dict[str, Callable[[], Target]] = {
    "server-fresh": _server_fresh,
    "server-connected": _server_connected,
    "server-stranger": _server_stranger,
    **{f"client-{s.value}": _client(s) for s in ClientState},
}


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(TEMPLATES)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["truncate", "flip", "poke", "append", "kind", "version"]))
        if op == "truncate" and data:
            del data[draw(st.integers(0, len(data) - 1)) :]
        elif op == "flip" and data:
            bit = draw(st.integers(0, len(data) * 8 - 1))
            data[bit // 8] ^= 1 << (bit % 8)
        elif op == "poke" and data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        elif op == "append":
            data += draw(st.binary(min_size=1, max_size=64))
        elif op == "kind" and len(data) > 1:
            data[1] = (data[1] & 0xF0) | draw(st.integers(0, 15))
        elif op == "version" and len(data) > 1:
            data[1] = (draw(st.sampled_from([0, 2, 15])) << 4) | (data[1] & 0x0F)
    out = bytes(data)
    return reseal(out, draw(st.booleans())) if draw(st.booleans()) else out


datagrams = st.one_of(
    st.binary(max_size=1300),
    st.builds(
        lambda kind, body, sealed, to_client: (
            reseal(bytes((0x4E, 0x10 | kind)) + body, to_client)
            if sealed
            else bytes((0x4E, 0x10 | kind)) + body
        ),
        st.integers(0, 15),
        st.binary(max_size=40),
        st.booleans(),
        st.booleans(),
    ),
    mutated(),
)


def observable(target: Target) -> tuple[object, ...]:
    """Everything a dropped datagram is allowed to change: counters and link counts."""
    ep = target.endpoint
    if isinstance(ep, ServerEndpoint):
        received = sum(ep.stats(p, T0).packets_received for p in ep.peers)
        return (sum(ep.counters.values()), received, tuple(ep.peers), ep.unverified_bytes_in)
    stats = ep.stats(T0)
    return (sum(ep.counters.values()), stats.packets_received if stats else 0, ep.state)


@settings(
    derandomize=True, max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@pytest.mark.parametrize("name", list(TARGETS))
@given(packets=st.lists(datagrams, min_size=1, max_size=6))
def test_garbage_never_raises_and_is_counted(name: str, packets: list[bytes]) -> None:
    target = TARGETS[name]()
    ep = target.endpoint
    now = T0 + 0.1
    for data in packets:
        before = observable(target)
        ep.receive_datagram(data, target.source, now)
        events = []
        while (e := ep.next_event()) is not None:
            events.append(e)
        out = ep.datagrams_to_send(now)
        # Every datagram left a trace: a counter, a received packet, a state change,
        # an event, or a reply.
        assert observable(target) != before or events or out, data.hex()
        timer = ep.get_timer()
        if timer is not None:
            ep.handle_timer(max(timer, now))
        now += 0.01


def test_bit_flipping_link_soak() -> None:
    """A real pair over a link that corrupts a fifth of all datagrams never raises,
    and every corrupted datagram is caught before it is used."""
    net = SimulatedNetwork(
        42, LinkConfig(latency=0.02, jitter=0.01, corrupt=0.2, loss=0.05, duplicate=0.05)
    )
    server, client = make_server(), make_client()
    client.connect(0.0)

    def tick(now: float) -> None:
        while server.next_event() is not None:
            pass
        while client.next_event() is not None:
            pass
        if client.state is ClientState.CONNECTED:
            if client.pending_reliable < 50:
                client.send_reliable(b"control message")
            client.send_unreliable(b"input")
            for peer in server.peers:
                server.send_unreliable(peer, bytes(2000))  # fragmented

    endpoints = {SERVER: server, CLIENT: client}
    now = run_network(net, endpoints, 0.0, 2.0, step=0.05, on_step=tick)
    assert client.state is ClientState.CONNECTED
    # Let the handshake's datagrams land, so the counts below cover the same datagrams.
    net.blackholed.update((SERVER, CLIENT))
    now = run_network(net, endpoints, now, now + 1.0, step=0.05, on_step=tick)
    assert net.in_flight == 0
    net.blackholed.clear()
    corrupted_before = net.counters.corrupted
    dropped_before = server.counters + client.counters
    now = run_network(net, endpoints, now, 20.0, step=0.05, on_step=tick)
    net.blackholed.update((SERVER, CLIENT))  # let what is in flight arrive
    run_network(net, endpoints, now, now + 1.0, step=0.05, on_step=tick)
    assert net.in_flight == 0
    corrupted = net.counters.corrupted - corrupted_before
    assert corrupted > 100
    # Once connected, every corrupted datagram is caught before it is decoded.
    dropped = server.counters + client.counters - dropped_before
    caught = dropped["bad_check"] + dropped["bad_protocol_id"] + dropped["bad_version"]
    assert caught == corrupted and dropped["malformed"] == 0
    assert client.state is ClientState.CONNECTED and server.peers == [CLIENT]
