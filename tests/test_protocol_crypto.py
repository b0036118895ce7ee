"""Packet protection on its own: keys and fingerprints, the packet counter rebuilt
from the 16-bit sequence (across the wrap), key epochs, the end of the counter,
and a client that has pinned the server's key."""

from __future__ import annotations

import base64
import hashlib
from collections import Counter, deque

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import (
    ClientConfig,
    ClientEndpoint,
    ClientState,
    ConnectionEstablished,
    ConnectionTerminated,
    CryptoPair,
    DisconnectCode,
    Event,
    ServerConfig,
    ServerEndpoint,
    generate_static_key,
    key_fingerprint,
    public_key,
)
from protocol._connection import _COUNTER_END, Connection
from protocol._crypto import MAX_PACKET_COUNTER
from protocol._sequence import expand_sequence
from protocol._wire import DataHeader, PacketKind, encode_data_header, keyed_prefix, seal_crc
from tests.sealing import PeerView

SERVER = ("203.0.113.1", 7777)
CLIENT = ("198.51.100.2", 5000)

# ------------------------------------------------------------------- keys


def test_static_keys_and_their_fingerprints() -> None:
    private = generate_static_key()
    assert len(private) == 32 and private != generate_static_key()
    public = public_key(private)
    assert len(public) == 32 and public == public_key(private)
    fingerprint = key_fingerprint(public)
    # OpenSSH's form: SHA256:, then base64 of the digest without the "=" padding.
    digest = hashlib.sha256(public).digest()
    assert fingerprint == "SHA256:" + base64.b64encode(digest).decode().rstrip("=")
    assert len(fingerprint) == 7 + 43 and "=" not in fingerprint
    with pytest.raises(ValueError):
        public_key(bytes(31))


def test_a_server_proves_its_configured_key_and_a_fresh_one_otherwise() -> None:
    static = bytes(range(0x60, 0x80))
    assert ServerEndpoint(ServerConfig(static_key=static)).public_key == public_key(static)
    a, b = ServerEndpoint(), ServerEndpoint()
    assert a.public_key != b.public_key  # None: a fresh key per endpoint


# ------------------------------------------------------- counter reconstruction


def test_counter_reconstruction_follows_rfc_9000() -> None:
    # RFC 9000 appendix A.3's example, truncated to 16 bits as ours is.
    assert expand_sequence(0xA82F30EA + 1, 0x9B32) == 0xA82F9B32
    assert expand_sequence(0, 0) == 0
    assert expand_sequence(0, 5) == 5
    assert expand_sequence(0, 0xFFFF) == 0xFFFF  # never below 0
    assert expand_sequence(0xFFFF, 0) == 0x10000  # across the wrap
    assert expand_sequence(0x10000 - 10, 3) == 0x10003
    assert expand_sequence(0x10003, 0xFFF0) == 0xFFF0  # late, from before the wrap
    assert expand_sequence(2**64 - 1, 0xFFFF) == 2**64 - 1  # never above 2**64 - 1


@settings(derandomize=True, max_examples=500)
@given(st.integers(-1, 2**40), st.integers(-0x7FFF, 0x8000))
def test_every_counter_within_half_the_sequence_space_is_rebuilt(largest: int, offset: int) -> None:
    counter = largest + 1 + offset
    if counter < 0:
        return
    assert expand_sequence(largest + 1, counter & 0xFFFF) == counter


def test_nonces_follow_the_counter_across_the_sequence_wrap() -> None:
    """A sender's packets 0 .. 200,000 (three laps of the sequence), received with
    some lost and some reordered: each opens under its own counter, and each one,
    replayed a lap later, does not."""
    sender = CryptoPair(bytes(32), bytes(range(32)))
    receiver = PeerView(sender).crypto
    kept: dict[int, bytes] = {}
    counter = 0
    largest = -1
    while counter < 200_000:
        header = keyed_prefix(PacketKind.DATA, counter & 0xFFFF)
        packet = sender.seal(header, counter.to_bytes(8, "big"), counter)
        if counter % 7 != 3:  # some are lost
            rebuilt = expand_sequence(largest + 1, counter & 0xFFFF)
            assert rebuilt == counter
            assert receiver.open_(packet, 4, rebuilt) == counter.to_bytes(8, "big")
            largest = counter
        if counter % 10_000 == 0:
            kept[counter] = packet
        counter += 1 if counter % 1000 else 3000  # now and then a long gap
    for sent_at, packet in kept.items():
        rebuilt = expand_sequence(largest + 1, sent_at & 0xFFFF)
        if rebuilt != sent_at:  # a lap or more later: the nonce is another one
            assert receiver.open_(packet, 4, rebuilt) is None, sent_at


def test_keys_change_every_epoch_and_the_receiver_follows() -> None:
    sender = CryptoPair(bytes(32), bytes(range(32)), epoch_bits=16)
    receiver = PeerView(sender).crypto
    fixed = CryptoPair(bytes(range(32)), bytes(32), epoch_bits=62)  # never rekeys
    for counter in (0, 0xFFFF, 0x10000, 0x1FFFF, 0x20000, 0x28000):
        header = keyed_prefix(PacketKind.DATA, counter & 0xFFFF)
        packet = sender.seal(header, b"body", counter)
        assert receiver.open_(packet, 4, counter) == b"body", hex(counter)
        # Only epoch 0 is under the key from the exchange.
        assert (fixed.open_(packet, 4, counter) is not None) == (counter < 0x10000)
    # A packet of the epoch before the current one still opens (it was late).
    late = CryptoPair(bytes(32), bytes(range(32)), epoch_bits=16)
    late_packet = late.seal(keyed_prefix(PacketKind.DATA, 0xFFF0), b"x", 0x1FFF0)
    assert receiver.open_(late_packet, 4, 0x1FFF0) == b"x"
    with pytest.raises(ValueError):
        CryptoPair(bytes(32), bytes(32), epoch_bits=15)  # shorter than the sequence's reach


def test_no_counter_reaches_the_reserved_nonce() -> None:
    pair = CryptoPair(bytes(32), bytes(32), epoch_bits=62)
    header = keyed_prefix(PacketKind.DATA, 0xFFFE)
    pair.seal(header, b"", MAX_PACKET_COUNTER)  # the last usable counter
    with pytest.raises(ValueError):
        pair.seal(header, b"", MAX_PACKET_COUNTER + 1)  # 2**64 - 1 is Rekey's


def test_a_connection_ends_before_its_counter_runs_out() -> None:
    events: deque[Event] = deque()
    conn = Connection(CLIENT, CryptoPair(bytes(32), bytes(range(32)), 62), 0.0, events, Counter())
    conn._send_counter = _COUNTER_END - 1  # jump to the end of the counter
    conn.send_unreliable(b"last")
    (last,) = conn.datagrams_to_send(0.0)
    conn.send_unreliable(b"one too many")
    out = conn.datagrams_to_send(0.1)
    assert conn.closed and len(out) == 3  # the DISCONNECT copies, nothing else
    assert len(set(out)) == 1 and out[0][:2] == keyed_prefix(PacketKind.DISCONNECT, 0)[:2]
    (event,) = events
    assert isinstance(event, ConnectionTerminated)
    assert event.code is DisconnectCode.PROTOCOL_ERROR and not event.by_peer
    assert last != out[0]


# ----------------------------------------------------------------- pinning


def _handshake(server: ServerEndpoint, client: ClientEndpoint, now: float = 1.0) -> None:
    client.connect(now)
    for _ in range(3):
        for data, _ in client.datagrams_to_send(now):
            server.receive_datagram(data, CLIENT, now)
        for data, _ in server.datagrams_to_send(now):
            client.receive_datagram(data, SERVER, now)


def _events(endpoint: ServerEndpoint | ClientEndpoint) -> list[Event]:
    out = []
    while (e := endpoint.next_event()) is not None:
        out.append(e)
    return out


def test_a_pinned_key_that_matches_connects() -> None:
    server = ServerEndpoint(ServerConfig(static_key=bytes(range(32))))
    client = ClientEndpoint(SERVER, ClientConfig(server_key=server.public_key))
    _handshake(server, client)
    assert client.state is ClientState.CONNECTED and client.server_key == server.public_key
    assert _events(client) == [ConnectionEstablished(peer=SERVER, server_key=server.public_key)]
    assert _events(server) == [ConnectionEstablished(peer=CLIENT, server_key=b"")]


def test_a_pinned_key_that_does_not_match_refuses_the_server() -> None:
    """Another server (a changed key, or someone in the middle) answers: the client
    does not connect, says why, and tells which key was proved."""
    expected = public_key(bytes(range(32)))
    impostor = ServerEndpoint(ServerConfig(static_key=bytes(range(1, 33))))
    client = ClientEndpoint(SERVER, ClientConfig(server_key=expected))
    _handshake(impostor, client)
    assert client.state is ClientState.CLOSED
    assert client.server_key == impostor.public_key != expected
    (event,) = _events(client)
    assert isinstance(event, ConnectionTerminated)
    assert event.code is DisconnectCode.SERVER_KEY_MISMATCH and not event.by_peer
    assert key_fingerprint(impostor.public_key) in event.reason
    assert key_fingerprint(expected) in event.reason
    # Nothing was sealed for, or sent to, the impostor after its ACCEPT.
    assert client.datagrams_to_send(2.0) == []
    # Without a pin, the same server is trusted on first use and its key reported.
    tofu = ClientEndpoint(SERVER)
    fresh = ServerEndpoint(ServerConfig(static_key=bytes(range(1, 33))))
    _handshake(fresh, tofu)
    assert tofu.state is ClientState.CONNECTED and tofu.server_key == impostor.public_key
    assert _events(tofu) == [ConnectionEstablished(peer=SERVER, server_key=impostor.public_key)]


def test_a_low_order_ephemeral_key_is_refused_without_a_connection() -> None:
    server = ServerEndpoint()
    client = ClientEndpoint(SERVER, nonce=b"lowkey!!")
    client.connect(0.0)
    ((request, _),) = client.datagrams_to_send(0.0)
    server.receive_datagram(request, CLIENT, 0.0)
    ((challenge, _),) = server.datagrams_to_send(0.0)
    client.receive_datagram(challenge, SERVER, 0.0)
    ((response, _),) = client.datagrams_to_send(0.0)
    zero_key = seal_crc(response[:32] + bytes(32) + response[64:])  # the all-zero point
    server.receive_datagram(zero_key, CLIENT, 0.0)
    assert server.counters["bad_handshake"] == 1 and server.peers == []
    assert server.datagrams_to_send(0.0) == []
    # The real one still works.
    server.receive_datagram(response, CLIENT, 0.0)
    assert server.peers == [CLIENT]


def test_data_header_is_the_associated_data() -> None:
    """The sequence travels in clear but is authenticated: moving a packet to another
    sequence makes it fail, though the nonce would then still be fresh."""
    sender = CryptoPair(bytes(32), bytes(range(32)))
    receiver = PeerView(sender).crypto
    opened = encode_data_header(DataHeader(7, 0xFFFF, 0))
    packet = sender.seal(opened[:4], opened[4:], 7)
    moved = keyed_prefix(PacketKind.DATA, 8) + packet[4:]
    assert receiver.open_(moved, 4, 8) is None and receiver.open_(moved, 4, 7) is None
    assert receiver.open_(packet, 4, 7) == opened[4:]
