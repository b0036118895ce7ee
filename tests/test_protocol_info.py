"""INFO: golden vectors, the server's rules (size, check, any version, rate limits,
counters), no amplification for any request size, and the sans-IO query client."""

from __future__ import annotations

import contextlib
import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from protocol_spec import reference_crc, spec_examples

from protocol import (
    INFO_REQUEST_SIZE,
    MAX_INFO_PAYLOAD,
    ClientEndpoint,
    InfoAnswered,
    InfoConfig,
    InfoQuery,
    InfoUnanswered,
    ServerConfig,
    ServerEndpoint,
)
from protocol._info import (
    InfoReply,
    decode_info_reply,
    decode_info_request,
    encode_info_reply,
    encode_info_request,
)
from protocol._wire import PROTOCOL_VERSION, PacketKind, WireError, packet_kind, seal_crc

NONCE = bytes(range(1, 9))
PAYLOAD = bytes.fromhex("81a46e616d65a5616c706861")  # msgpack {"name": "alpha"}
CLIENT = ("192.0.2.7", 40000)
SERVER = ("192.0.2.1", 7777)

#: The one table: name, bytes, and the request or reply they encode (version 1).
GOLDEN = {
    "info-request": bytes.fromhex("4e18705a" + NONCE.hex()) + bytes(244),
    "info-reply": bytes.fromhex("4e19bad5" + NONCE.hex()) + PAYLOAD,
    "info-reply-empty": bytes.fromhex("4e19c6ed" + NONCE.hex()),
}
REPLIES = {"info-reply": PAYLOAD, "info-reply-empty": b""}


def _as_version(data: bytes, version: int) -> bytes:
    return seal_crc(data[:1] + bytes(((version << 4) | (data[1] & 0x0F),)) + data[2:])


def test_spec_shows_exactly_the_golden_table() -> None:
    assert {k: v for k, v in spec_examples().items() if k.startswith("info-")} == GOLDEN


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_check_bytes_follow_the_spec(name: str) -> None:
    data = GOLDEN[name]
    assert data[2:4] == reference_crc(data)


def test_encoders_produce_the_golden_bytes() -> None:
    assert encode_info_request(NONCE, version=1) == GOLDEN["info-request"]
    for name, payload in REPLIES.items():
        assert encode_info_reply(NONCE, payload, version=1) == GOLDEN[name]


def test_decoders_read_the_golden_bytes() -> None:
    assert decode_info_request(GOLDEN["info-request"]) == NONCE
    for name, payload in REPLIES.items():
        assert decode_info_reply(GOLDEN[name]) == InfoReply(1, NONCE, payload)


@pytest.mark.parametrize("name", sorted(REPLIES))
def test_the_server_answers_the_golden_request_with_the_golden_reply(name: str) -> None:
    server = ServerEndpoint()
    server.info.payload = REPLIES[name]
    server.receive_datagram(GOLDEN["info-request"], CLIENT, 100.0)
    [(reply, to)] = server.datagrams_to_send(100.0)
    assert to == CLIENT
    # The server puts its own version in the reply; the rest is the vector's.
    assert reply[1] >> 4 == PROTOCOL_VERSION
    assert _as_version(reply, 1) == GOLDEN[name]
    assert server.counters == Counter()


def test_the_query_client_sends_the_golden_request_and_reads_the_golden_reply() -> None:
    q = InfoQuery(nonces=lambda n: NONCE)
    q.query(SERVER, 10.0)
    [(request, to)] = q.datagrams_to_send(10.0)
    assert to == SERVER and _as_version(request, 1) == GOLDEN["info-request"]
    q.receive_datagram(GOLDEN["info-reply"], SERVER, 10.004)
    event = q.next_event()
    assert isinstance(event, InfoAnswered)
    assert (event.peer, event.target, event.version, event.payload) == (SERVER, SERVER, 1, PAYLOAD)
    assert event.rtt == pytest.approx(0.004)
    assert q.done and q.get_timer() is None


@pytest.mark.parametrize("version", range(16))
def test_a_request_of_any_version_is_answered_in_the_servers_version(version: int) -> None:
    server = ServerEndpoint()
    server.info.payload = PAYLOAD
    server.receive_datagram(_as_version(GOLDEN["info-request"], version), CLIENT, 1.0)
    [(reply, _)] = server.datagrams_to_send(1.0)
    assert decode_info_reply(reply) == InfoReply(PROTOCOL_VERSION, NONCE, PAYLOAD)


def _request_of_size(size: int) -> bytes:
    """An INFO_REQUEST cut or padded to ``size`` bytes, with a correct CRC where it fits."""
    raw = (encode_info_request(NONCE) + bytes(max(0, size - INFO_REQUEST_SIZE)))[:size]
    return seal_crc(raw) if size >= 4 else raw


def test_no_reply_is_larger_than_its_request_for_any_request_size() -> None:
    server = ServerEndpoint()
    server.info.payload = bytes(range(MAX_INFO_PAYLOAD))  # the largest the server allows
    answered = []
    for size in range(0, 1501):
        before = server.unverified_bytes_out
        server.receive_datagram(_request_of_size(size), ("192.0.2.9", 1000 + size), 1.0)
        for reply, _ in server.datagrams_to_send(1.0):
            assert len(reply) <= size
            answered.append(size)
        assert server.unverified_bytes_out - before <= size
    assert answered == [INFO_REQUEST_SIZE]  # and that reply is exactly as large
    assert server.unverified_bytes_out == INFO_REQUEST_SIZE
    assert server.unverified_bytes_out <= server.unverified_bytes_in
    # Sizes 4..1200 other than 256 reached the INFO rules and were counted there.
    assert server.counters["info_bad_size"] == 1200 - 4
    assert server.counters["too_short"] == 4 and server.counters["oversized"] == 300


def test_the_payload_cannot_make_a_reply_larger_than_a_request() -> None:
    server = ServerEndpoint()
    server.info.payload = bytes(MAX_INFO_PAYLOAD)
    assert len(encode_info_reply(NONCE, server.info.payload)) == INFO_REQUEST_SIZE
    with pytest.raises(ValueError):
        server.info.payload = bytes(MAX_INFO_PAYLOAD + 1)
    with pytest.raises(ValueError):
        encode_info_reply(NONCE, bytes(MAX_INFO_PAYLOAD + 1))


def test_every_single_bit_flip_of_a_request_goes_unanswered_and_is_counted() -> None:
    server = ServerEndpoint()
    data = GOLDEN["info-request"]
    for bit in range(len(data) * 8):
        flipped = bytearray(data)
        flipped[bit // 8] ^= 1 << (bit % 8)
        before = Counter(server.counters)
        server.receive_datagram(bytes(flipped), CLIENT, 1.0)
        delta = server.counters - before
        assert sum(delta.values()) == 1, (bit, delta)
        assert set(delta) <= {"bad_check", "bad_protocol_id", "bad_version"}, (bit, delta)
        assert server.datagrams_to_send(1.0) == [], bit
    server.receive_datagram(data, CLIENT, 1.0)
    assert len(server.datagrams_to_send(1.0)) == 1


def test_per_address_rate_limit_and_its_counter() -> None:
    server = ServerEndpoint(ServerConfig(info=InfoConfig(rate=10, burst=20, global_rate=1000)))
    request = encode_info_request(NONCE)
    for _ in range(30):
        server.receive_datagram(request, CLIENT, 5.0)
    assert len(server.datagrams_to_send(5.0)) == 20
    assert server.counters == Counter({"info_rate_limited": 10})
    # Another address has its own bucket; one second later this one has 10 more.
    server.receive_datagram(request, ("192.0.2.8", 1), 5.0)
    for _ in range(15):
        server.receive_datagram(request, CLIENT, 6.0)
    assert len(server.datagrams_to_send(6.0)) == 1 + 10
    assert server.counters == Counter({"info_rate_limited": 15})


def test_global_rate_limit_and_its_counter() -> None:
    server = ServerEndpoint(ServerConfig(info=InfoConfig(rate=10, burst=20, global_rate=100)))
    request = encode_info_request(NONCE)
    for i in range(250):
        server.receive_datagram(request, ("198.51.100.1", 1000 + i), 7.0)
    assert len(server.datagrams_to_send(7.0)) == 100
    assert server.counters == Counter({"info_overloaded": 150})
    for i in range(250):
        server.receive_datagram(request, ("198.51.100.1", 1000 + i), 7.5)
    assert len(server.datagrams_to_send(7.5)) == 50  # half a second of the global rate


def test_an_info_flood_does_not_starve_the_handshake() -> None:
    server = ServerEndpoint()
    request = encode_info_request(NONCE)
    for _ in range(500):
        server.receive_datagram(request, CLIENT, 1.0)
    server.datagrams_to_send(1.0)
    assert server.counters["info_rate_limited"] == 480
    client = ClientEndpoint(SERVER)
    client.connect(1.0)
    [(hello, _)] = client.datagrams_to_send(1.0)
    server.receive_datagram(hello, CLIENT, 1.0)
    [(challenge, _)] = server.datagrams_to_send(1.0)
    assert packet_kind(challenge) == PacketKind.CHALLENGE


def test_a_connected_address_may_ask_and_its_connection_is_untouched() -> None:
    server = ServerEndpoint()
    client = ClientEndpoint(SERVER)
    client.connect(0.0)
    for _ in range(10):
        for data, _ in client.datagrams_to_send(0.0):
            server.receive_datagram(data, CLIENT, 0.0)
        for data, _ in server.datagrams_to_send(0.0):
            client.receive_datagram(data, SERVER, 0.0)
    assert server.peers == [CLIENT]
    server.info.payload = PAYLOAD
    server.receive_datagram(encode_info_request(NONCE), CLIENT, 0.1)
    out = server.datagrams_to_send(0.1)
    assert [decode_info_reply(d).payload for d, _ in out if packet_kind(d) == 9] == [PAYLOAD]
    assert server.peers == [CLIENT] and not server.counters


# ------------------------------------------------------------------ the query client


def _nonces(seed: int):  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    return lambda n: rng.randbytes(n)


def _answer(server: ServerEndpoint, q: InfoQuery, addr: object, now: float) -> None:
    for data, to in q.datagrams_to_send(now):
        if to == addr:
            server.receive_datagram(data, ("198.51.100.2", 5000), now)
    for data, _ in server.datagrams_to_send(now):
        q.receive_datagram(data, addr, now + 0.01)


def test_an_unanswered_host_is_resent_to_then_reported() -> None:
    q = InfoQuery(timeout=1.0, resend_interval=0.25, nonces=_nonces(1))
    q.query(SERVER, 0.0)
    sent = [len(q.datagrams_to_send(0.0))]
    while (t := q.get_timer()) is not None:
        q.handle_timer(t)
        sent.append(len(q.datagrams_to_send(t)))
    assert sum(sent) == 4  # at 0, 0.25, 0.5 and 0.75 s
    assert q.next_event() == InfoUnanswered(peer=SERVER)
    assert q.done


def test_a_late_answer_to_an_earlier_request_is_timed_against_that_request() -> None:
    server = ServerEndpoint()
    q = InfoQuery(nonces=_nonces(2))
    q.query(SERVER, 0.0)
    [(first, _)] = q.datagrams_to_send(0.0)
    q.handle_timer(0.25)
    q.datagrams_to_send(0.25)
    server.receive_datagram(first, CLIENT, 0.3)
    [(reply, _)] = server.datagrams_to_send(0.3)
    q.receive_datagram(reply, SERVER, 0.3)
    event = q.next_event()
    assert isinstance(event, InfoAnswered) and event.rtt == pytest.approx(0.3)
    q.receive_datagram(reply, SERVER, 0.31)
    assert q.counters == Counter({"duplicate": 1}) and q.next_event() is None


def test_discovery_reports_every_answering_server_once() -> None:
    servers = {(f"10.0.0.{i}", 5050): ServerEndpoint() for i in range(1, 4)}
    for i, s in enumerate(servers.values()):
        s.info.payload = bytes([i])
    q = InfoQuery(timeout=0.9, nonces=_nonces(3))
    broadcast = ("10.0.0.255", 5050)
    q.query(broadcast, 0.0, discover=True)
    now = 0.0
    while True:
        for data, to in q.datagrams_to_send(now):
            assert to == broadcast
            for addr, s in servers.items():
                s.receive_datagram(data, CLIENT, now)
                for reply, _ in s.datagrams_to_send(now):
                    q.receive_datagram(reply, addr, now + 0.001)
        t = q.get_timer()
        if t is None:
            break
        now = t
        q.handle_timer(now)
    events = []
    while (e := q.next_event()) is not None:
        events.append(e)
    assert all(isinstance(e, InfoAnswered) and e.target == broadcast for e in events)
    assert sorted(e.peer for e in events) == sorted(servers)  # type: ignore[union-attr]
    assert q.counters["duplicate"] == 3 * 3  # the resends at 0.25, 0.5 and 0.75 s


def test_replies_with_unknown_nonces_or_bad_bytes_are_counted() -> None:
    q = InfoQuery(nonces=_nonces(4))
    q.query(SERVER, 0.0)
    q.datagrams_to_send(0.0)
    q.receive_datagram(GOLDEN["info-reply"], SERVER, 0.1)
    q.receive_datagram(b"\x4e\x19", SERVER, 0.1)
    q.receive_datagram(GOLDEN["info-request"], SERVER, 0.1)
    q.receive_datagram(GOLDEN["info-reply"][:-1] + b"\0", SERVER, 0.1)
    assert q.counters == Counter({"bad_nonce": 1, "malformed": 3})
    assert q.next_event() is None


@settings(max_examples=300, derandomize=True)
@given(st.binary(max_size=1300))
def test_decoders_raise_only_wire_error(data: bytes) -> None:
    for decode in (decode_info_request, decode_info_reply):
        # Anything else (IndexError, struct.error...) fails the test.
        with contextlib.suppress(WireError):
            decode(data)
