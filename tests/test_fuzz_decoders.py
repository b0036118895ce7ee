"""Fuzzing every decoder that sees network bytes (hypothesis, derandomized).

One parametrised test gives every decoder the same untrusted inputs: random
bytes, mutations (bit flips, truncations, insertions, splices) of real
encodings of every kind, mutated msgpack values and plausible snapshot
headers with junk.  The contract under test: the decoder returns or raises
its documented error — :class:`WireError` for the
wire layer, :class:`DecodeError` for msgpack, game messages and snapshots —
and the endpoints' ``receive_datagram`` never raises at all.  Longer,
coverage-guided runs: ``fuzz/atheris_decoders.py``.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Hashable

import pytest
from corpora import msgpack_values, snapshot_corpus
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netsnake.game.direction import Direction
from netsnake.game.events import PlayerDied, PlayerJoined
from netsnake.game.messages import (
    Accepted,
    Input,
    Join,
    Rejected,
    RejectionCode,
    SnapshotMessage,
    decode_message,
    encode_message,
)
from netsnake.game.snapshot import Snapshot
from netsnake.game.snapshot_codec import decode_snapshot, encode_delta, encode_full, peek_header
from netsnake.game.world import World, WorldConfig
from protocol import (
    ClientEndpoint,
    ClientState,
    DecodeError,
    Packer,
    ServerConfig,
    ServerEndpoint,
    unpack_untrusted,
)
from protocol._wire import WireError, decode_data_header, decode_frames

FUZZ = settings(
    derandomize=True, max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

SERVER: Hashable = ("10.0.0.1", 5050)
CLIENT: Hashable = ("10.0.0.2", 40000)


# -- seed corpora: real encodings to mutate -----------------------------------------------------


def _world_snapshots(seed: int = 5, ticks: int = 12) -> list[Snapshot]:
    world = World(WorldConfig(width=20, height=14, wrap=seed % 2 == 0), seed)
    for pid in range(4):
        world.add_player(pid, f"p{pid}", pid)
    snaps = [world.snapshot()]
    rng = random.Random(seed)
    for _ in range(ticks):
        for pid in world.player_ids:
            world.queue_turn(pid, rng.choice(list(Direction)))
        world.step()
        snaps.append(world.snapshot())
    return snaps


SNAPSHOTS = _world_snapshots()
BASELINE = SNAPSHOTS[3]
SNAPSHOT_CORPUS = [encode_full(s) for s in SNAPSHOTS[:4]] + [
    encode_delta(s, BASELINE) for s in SNAPSHOTS[4:]
]
MESSAGE_CORPUS = [
    encode_message(m)
    for m in (
        Join(name="alice", version=1),
        Accepted(
            player_id=3, name="alice", width=26, height=20, wrap=False, tick_rate=10.0, colour=2
        ),
        Rejected(code=RejectionCode.BAD_NAME, reason="the name is empty"),
        Input(first_seq=7, turns=(Direction.UP, Direction.LEFT), stamps=(40, 41)),
        SnapshotMessage(
            state_hash=12345, input_ack=6, inputs_pending=1, payload=SNAPSHOT_CORPUS[-1]
        ),
        PlayerJoined(player_id=1, name="bob"),
        PlayerDied(player_id=1, name="bob", killer_id=2, killer_name="eve", cause="snake"),
    )
]


def _packet_corpus() -> list[bytes]:
    """Every packet of a real handshake and a little traffic, both directions."""
    server = ServerEndpoint(ServerConfig(), secret=bytes(32))
    client = ClientEndpoint(SERVER, nonce=bytes(range(8)))
    packets: list[bytes] = []
    now = 0.0
    client.connect(now)
    for step in range(40):
        now = step * 0.05
        if client.state is ClientState.CONNECTED and step % 3 == 0:
            client.send_reliable(MESSAGE_CORPUS[0])
            client.send_unreliable(MESSAGE_CORPUS[3])
            client.send_unreliable(bytes(3000))  # fragmented
        for data, _ in client.datagrams_to_send(now):
            packets.append(data)
            server.receive_datagram(data, CLIENT, now)
        while (event := server.next_event()) is not None:
            if type(event).__name__ == "ConnectionEstablished":
                server.send_reliable(CLIENT, MESSAGE_CORPUS[1])
        if CLIENT in server.peers:
            server.send_unreliable(CLIENT, MESSAGE_CORPUS[4])
        for data, _ in server.datagrams_to_send(now):
            packets.append(data)
            client.receive_datagram(data, SERVER, now)
    client.disconnect()
    packets.extend(d for d, _ in client.datagrams_to_send(now + 1))
    assert client.state is ClientState.CLOSED and len(packets) > 20
    return packets


PACKET_CORPUS = _packet_corpus()


@st.composite
def mutated(draw: st.DrawFn, corpus: list[bytes]) -> bytes:
    """A corpus entry after a few random edits, or plain random bytes."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=1500))
    data = bytearray(draw(st.sampled_from(corpus)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.integers(0, 4))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if op == 0 and data:  # bit flip
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == 1:  # truncation
            del data[pos:]
        elif op == 2:  # insertion
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == 3 and data:  # byte set to an edge value
            data[pos] = draw(st.sampled_from([0x00, 0x7F, 0x80, 0xC1, 0xDC, 0xDD, 0xDF, 0xFF]))
        else:  # splice with another entry
            other = draw(st.sampled_from(corpus))
            data[pos:] = other[pos:]
    return bytes(data)


@FUZZ
@given(st.lists(mutated(PACKET_CORPUS), min_size=1, max_size=8))
def test_server_endpoint_never_raises(datagrams: list[bytes]) -> None:
    server = ServerEndpoint(ServerConfig(), secret=bytes(32))
    # Half the time the sender is a connected client, so DATA reaches a Connection.
    client = ClientEndpoint(SERVER, nonce=bytes(range(8)))
    client.connect(0.0)
    for t in range(6):
        for data, _ in client.datagrams_to_send(t * 0.3):
            server.receive_datagram(data, CLIENT, t * 0.3)
        for data, _ in server.datagrams_to_send(t * 0.3):
            client.receive_datagram(data, SERVER, t * 0.3)
    assert CLIENT in server.peers
    for i, data in enumerate(datagrams):
        server.receive_datagram(data, CLIENT if i % 2 else ("10.9.9.9", i), 2.0 + i * 0.01)
        server.handle_timer(2.0 + i * 0.01)
        server.datagrams_to_send(2.0 + i * 0.01)
        while server.next_event() is not None:
            pass
    assert server.unverified_bytes_out <= server.unverified_bytes_in


@FUZZ
@given(st.lists(mutated(PACKET_CORPUS), min_size=1, max_size=8))
def test_client_endpoint_never_raises(datagrams: list[bytes]) -> None:
    for connected in (False, True):
        server = ServerEndpoint(ServerConfig(), secret=bytes(32))
        client = ClientEndpoint(SERVER, nonce=bytes(range(8)))
        client.connect(0.0)
        if connected:
            for t in range(6):
                for data, _ in client.datagrams_to_send(t * 0.3):
                    server.receive_datagram(data, CLIENT, t * 0.3)
                for data, _ in server.datagrams_to_send(t * 0.3):
                    client.receive_datagram(data, SERVER, t * 0.3)
            assert client.state is ClientState.CONNECTED
        for i, data in enumerate(datagrams):
            client.receive_datagram(data, SERVER, 2.0 + i * 0.01)
            client.handle_timer(2.0 + i * 0.01)
            client.datagrams_to_send(2.0 + i * 0.01)
            while client.next_event() is not None:
                pass


# -- every decoder: returns or raises its one error ----------------------------------------------

#: Every decoder that sees network bytes, with the one error it may raise.
#: Each is called as ``decode(data, baseline)``; only snapshots need a baseline.
DECODERS: dict[str, tuple[Callable[[bytes, Snapshot | None], object], type[Exception]]] = {
    "decode_data_header": (lambda data, _: decode_data_header(data), WireError),
    "decode_frames": (lambda data, _: decode_frames(data), WireError),
    "unpack_untrusted": (lambda data, _: unpack_untrusted(data), DecodeError),
    "decode_message": (lambda data, _: decode_message(data), DecodeError),
    "peek_header": (lambda data, _: peek_header(data), DecodeError),
    "decode_snapshot": (decode_snapshot, DecodeError),
}

#: Valid encodings of every kind, each with the baseline it decodes against:
#: deltas against the previous tick and six ticks back, joins and leaves.
SEEDS: list[tuple[bytes, Snapshot | None]] = [
    *((data, None) for data in PACKET_CORPUS + MESSAGE_CORPUS),
    *((data, BASELINE) for data in SNAPSHOT_CORPUS),
    *snapshot_corpus(seed=8),
]


@st.composite
def flipped(draw: st.DrawFn) -> tuple[bytes, Snapshot | None]:
    """A seed with one to three bits flipped: close enough to valid to get deep."""
    encoded, baseline = draw(st.sampled_from(SEEDS))
    data = bytearray(encoded)
    for bit in draw(st.lists(st.integers(0, len(data) * 8 - 1), min_size=1, max_size=3)):
        data[bit // 8] ^= 1 << (bit % 8)
    return bytes(data), baseline


@st.composite
def mutated_value(draw: st.DrawFn) -> bytes:
    """Any msgpack value with one to three bytes overwritten, then cut anywhere."""
    raw = bytearray(Packer().pack(draw(msgpack_values)))
    for _ in range(draw(st.integers(1, 3))):
        raw[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0, 255))
    return bytes(raw[: draw(st.integers(0, len(raw)))])


#: Bytes that start like a snapshot (array of 2, 3, 7 or 8; full or age 1), then junk.
plausible_snapshot = st.builds(
    bytes.__add__,
    st.sampled_from([b"\x92", b"\x93", b"\x97", b"\x98", b"\x93\x01", b"\x97\x00"]),
    st.binary(max_size=60),
)

untrusted = st.one_of(
    flipped(),
    st.tuples(mutated([data for data, _ in SEEDS]), st.sampled_from([None, BASELINE])),
    st.tuples(
        st.binary(max_size=1500) | mutated_value() | plausible_snapshot,
        st.sampled_from([None, BASELINE, *(baseline for _, baseline in SEEDS[-4:])]),
    ),
)


@settings(
    derandomize=True, max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@pytest.mark.parametrize("name", list(DECODERS))
@given(sample=untrusted)
def test_decoders_raise_only_their_documented_error(
    name: str, sample: tuple[bytes, Snapshot | None]
) -> None:
    decode, error = DECODERS[name]
    data, baseline = sample
    with contextlib.suppress(error):
        decode(data, baseline)


@pytest.mark.parametrize(
    "bomb",
    [
        b"\xdd\xff\xff\xff\xff",
        b"\xdf\xff\xff\xff\xff",
        b"\xdb\xff\xff\xff\xff",
        b"\xc6\xff\xff\xff\xff",
        b"\xc9\xff\xff\xff\xff\x01",
        b"\x91" * 5000 + b"\x00",
        b"\x81\x00" * 3000 + b"\x00",
        b"\xd4\x01\x00",
        b"\xc1",
        b"",
    ],
)
def test_msgpack_bombs_are_refused_cheaply(bomb: bytes) -> None:
    for decode in (unpack_untrusted, decode_message, lambda d: decode_snapshot(d, BASELINE)):
        with pytest.raises(DecodeError):
            decode(bomb)


def test_corpus_decodes_unmutated() -> None:
    # The fuzz tests only mean something if the seeds are valid to begin with.
    for data in MESSAGE_CORPUS:
        decode_message(data)
    assert decode_snapshot(SNAPSHOT_CORPUS[-1], BASELINE) == SNAPSHOTS[-1]
    assert peek_header(SNAPSHOT_CORPUS[-1]) == (SNAPSHOTS[-1].tick, BASELINE.tick)
