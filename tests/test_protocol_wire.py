"""Golden wire vectors: one table drives the encoder tests, the decoder tests, and
the check that ``protocol/PROTOCOL.rst`` shows exactly the same bytes.

DATA packets are checked against the pure encode/decode functions of
``protocol._wire``.  Handshake and DISCONNECT packets have no standalone
encoder, so the "encoder" is the real endpoint producing them in a fixed
scenario, and the "decoder" is the real endpoint reacting to them.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import protocol
from protocol import (
    ClientEndpoint,
    ClientState,
    ConnectionEstablished,
    ConnectionTerminated,
    DisconnectCode,
    Event,
    ServerConfig,
    ServerEndpoint,
)
from protocol._connection import Connection
from protocol._wire import (
    DataHeader,
    Frame,
    FrameType,
    PacketKind,
    WireError,
    decode_data_header,
    decode_frames,
    encode_data_header,
    encode_fragment_frame,
    encode_reliable_frame,
    encode_unreliable_frame,
)

SPEC = Path(protocol.__file__).with_name("PROTOCOL.rst")

SECRET = bytes(range(32))
NONCE = bytes.fromhex("0102030405060708")
CLIENT = ("192.0.2.7", 40000)
SERVER = ("192.0.2.1", 7777)
NOW = 100.0
TOKEN = bytes.fromhex("0000000a0f7415fde70526f353af51d43b58b000")
SESSION = bytes.fromhex("e42b208936ccb428")


@dataclass(frozen=True)
class Control:
    """A handshake or DISCONNECT packet, by field."""

    kind: PacketKind
    nonce: bytes = b""
    token: bytes = b""
    session: bytes = b""
    code: DisconnectCode = DisconnectCode.NORMAL
    reason: str = ""


@dataclass(frozen=True)
class Data:
    """A DATA packet, by field."""

    header: DataHeader
    frames: tuple[Frame, ...]


@dataclass(frozen=True)
class Vector:
    name: str
    packet: Control | Data
    hex: str

    @property
    def data(self) -> bytes:
        return bytes.fromhex(self.hex)


def _pad(hexstr: str) -> str:
    return hexstr + "00" * (256 - len(hexstr) // 2)


def _reason(code: int, text: str) -> str:
    raw = text.encode()
    return f"{code:02x}{len(raw):02x}{raw.hex()}"


VERSION_REASON = "version mismatch: server speaks protocol v1"

#: The one table.  Every entry also appears, byte for byte, in PROTOCOL.rst.
VECTORS = [
    Vector(
        "connect-request",
        Control(PacketKind.CONNECT_REQUEST, nonce=NONCE),
        _pad("4e0101" + NONCE.hex()),
    ),
    Vector(
        "challenge",
        Control(PacketKind.CHALLENGE, nonce=NONCE, token=TOKEN),
        "4e0102" + NONCE.hex() + TOKEN.hex(),
    ),
    Vector(
        "connect-response",
        Control(PacketKind.CONNECT_RESPONSE, nonce=NONCE, token=TOKEN),
        _pad("4e0103" + NONCE.hex() + TOKEN.hex()),
    ),
    Vector(
        "accept",
        Control(PacketKind.ACCEPT, nonce=NONCE, session=SESSION),
        "4e0104" + NONCE.hex() + SESSION.hex(),
    ),
    Vector(
        "denied-version-mismatch",
        Control(
            PacketKind.DENIED,
            nonce=NONCE,
            code=DisconnectCode.VERSION_MISMATCH,
            reason=VERSION_REASON,
        ),
        "4e0105" + NONCE.hex() + _reason(2, VERSION_REASON),
    ),
    Vector(
        "denied-server-full",
        Control(
            PacketKind.DENIED, nonce=NONCE, code=DisconnectCode.SERVER_FULL, reason="server full"
        ),
        "4e0105" + NONCE.hex() + "030b" + b"server full".hex(),
    ),
    Vector(
        "disconnect",
        Control(
            PacketKind.DISCONNECT, session=SESSION, code=DisconnectCode.NORMAL, reason="client quit"
        ),
        "4e0107" + SESSION.hex() + "000b" + b"client quit".hex(),
    ),
    Vector(
        "data-empty",
        Data(DataHeader(0, 0xFFFF, 0, 0), ()),
        "4e0106 0000 ffff 00000000 00",
    ),
    Vector(
        "data-reliable",
        Data(
            DataHeader(5, 3, 0b101, 20),
            (Frame(FrameType.RELIABLE, b"hello", message_id=7),),
        ),
        "4e0106 0005 0003 00000005 14  10 0007 0005 68656c6c6f",
    ),
    Vector(
        "data-wrap",
        Data(
            DataHeader(1, 0xFFFE, 0x80000003, 255),
            (
                Frame(FrameType.UNRELIABLE, b"\x01\x02"),
                Frame(FrameType.RELIABLE, b"", message_id=0xFFFF),
            ),
        ),
        "4e0106 0001 fffe 80000003 ff  11 0002 0102  10 ffff 0000",
    ),
    Vector(
        "data-fragment",
        Data(
            DataHeader(0x1234, 0x1233, 0xFFFFFFFF, 0),
            (Frame(FrameType.FRAGMENT, b"abc", group=0xBEEF, index=2, count=3),),
        ),
        "4e0106 1234 1233 ffffffff 00  12 beef 02 03 0003 616263",
    ),
]
BY_NAME = {v.name: v for v in VECTORS}

_EXAMPLE = re.compile(
    r"^``(?P<name>[a-z0-9-]+)`` \((?P<size>\d+) bytes(?P<padded>, zero-padded)?\)::\n\n"
    r"(?P<hex>(?:    [0-9a-f ]+\n)+)",
    re.MULTILINE,
)


def spec_examples() -> dict[str, bytes]:
    """The golden examples as written in PROTOCOL.rst."""
    examples: dict[str, bytes] = {}
    for m in _EXAMPLE.finditer(SPEC.read_text(encoding="utf-8")):
        data = bytes.fromhex(m["hex"])
        size = int(m["size"])
        if m["padded"]:
            data += bytes(size - len(data))
        assert len(data) == size, f"{m['name']}: {len(data)} bytes, spec says {size}"
        assert m["name"] not in examples, f"duplicate example {m['name']}"
        examples[m["name"]] = data
    return examples


def test_spec_shows_exactly_the_table() -> None:
    examples = spec_examples()
    assert sorted(examples) == sorted(BY_NAME)
    for name, data in examples.items():
        assert data == BY_NAME[name].data, name


# ------------------------------------------------------------------ scenario


def _drain(endpoint: ServerEndpoint | ClientEndpoint) -> list[Event]:
    events = []
    while (e := endpoint.next_event()) is not None:
        events.append(e)
    return events


def _only(out: list[tuple[bytes, object]]) -> bytes:
    assert len(out) == 1, out
    return out[0][0]


def _requesting_client() -> ClientEndpoint:
    client = ClientEndpoint(SERVER, nonce=NONCE)
    client.connect(NOW)
    return client


def produce(name: str) -> bytes:
    """Make the real endpoints emit the packet called ``name`` in the golden scenario."""
    client = _requesting_client()
    request = _only(client.datagrams_to_send(NOW))
    if name == "connect-request":
        return request
    if name == "denied-version-mismatch":
        server = ServerEndpoint(secret=SECRET)
        server.receive_datagram(request[:1] + b"\x02" + request[2:], CLIENT, NOW)
        return _only(server.datagrams_to_send(NOW))
    server = ServerEndpoint(secret=SECRET)
    server.receive_datagram(request, CLIENT, NOW)
    challenge = _only(server.datagrams_to_send(NOW))
    if name == "challenge":
        return challenge
    client.receive_datagram(challenge, SERVER, NOW)
    response = _only(client.datagrams_to_send(NOW))
    if name == "connect-response":
        return response
    if name == "denied-server-full":
        full = ServerEndpoint(ServerConfig(max_connections=0), secret=SECRET)
        full.receive_datagram(response, CLIENT, NOW)
        return _only(full.datagrams_to_send(NOW))
    server.receive_datagram(response, CLIENT, NOW)
    accept = _only(server.datagrams_to_send(NOW))
    if name == "accept":
        return accept
    client.receive_datagram(accept, SERVER, NOW)
    assert name == "disconnect"
    client.disconnect()
    copies = [d for d, _ in client.datagrams_to_send(NOW + 1)]
    assert len(copies) == 3 and len(set(copies)) == 1
    return copies[0]


def encode(packet: Data) -> bytes:
    out = encode_data_header(packet.header)
    for f in packet.frames:
        if f.type is FrameType.RELIABLE:
            out += encode_reliable_frame(f.message_id, f.data)
        elif f.type is FrameType.UNRELIABLE:
            out += encode_unreliable_frame(f.data)
        else:
            out += encode_fragment_frame(f.group, f.index, f.count, f.data)
    return out


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v.name)
def test_encoder(vector: Vector) -> None:
    if isinstance(vector.packet, Data):
        assert encode(vector.packet) == vector.data
    else:
        assert produce(vector.name) == vector.data


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v.name)
def test_decoder(vector: Vector) -> None:
    packet, data = vector.packet, vector.data
    if isinstance(packet, Data):
        assert decode_data_header(data) == packet.header
        assert tuple(decode_frames(data)) == packet.frames
        return
    kind = packet.kind
    if kind is PacketKind.CONNECT_REQUEST:
        server = ServerEndpoint(secret=SECRET)
        server.receive_datagram(data, CLIENT, NOW)
        reply = _only(server.datagrams_to_send(NOW))
        assert reply[2] == PacketKind.CHALLENGE and reply[3:11] == packet.nonce
    elif kind is PacketKind.CHALLENGE:
        client = _requesting_client()
        client.datagrams_to_send(NOW)
        client.receive_datagram(data, SERVER, NOW)
        assert client.state is ClientState.RESPONDING
        reply = _only(client.datagrams_to_send(NOW))
        assert reply[2] == PacketKind.CONNECT_RESPONSE
        assert reply[3:11] == packet.nonce and reply[11:31] == packet.token
    elif kind is PacketKind.CONNECT_RESPONSE:
        server = ServerEndpoint(secret=SECRET)
        server.receive_datagram(data, CLIENT, NOW)
        assert _drain(server) == [ConnectionEstablished(peer=CLIENT)]
        assert server.connection(CLIENT).session == SESSION
        assert _only(server.datagrams_to_send(NOW)) == BY_NAME["accept"].data
    elif kind is PacketKind.ACCEPT:
        client = _requesting_client()
        client.receive_datagram(data, SERVER, NOW)
        assert client.state is ClientState.CONNECTED
        assert client.connection.session == packet.session
        assert _drain(client) == [ConnectionEstablished(peer=SERVER)]
    elif kind is PacketKind.DENIED:
        client = _requesting_client()
        client.receive_datagram(data, SERVER, NOW)
        assert client.state is ClientState.CLOSED
        assert _drain(client) == [
            ConnectionTerminated(peer=SERVER, code=packet.code, reason=packet.reason, by_peer=True)
        ]
    else:
        assert kind is PacketKind.DISCONNECT
        events: deque[Event] = deque()
        conn = Connection(CLIENT, packet.session, NOW, events, Counter())
        conn.receive_packet(data, NOW)
        assert conn.closed
        assert list(events) == [
            ConnectionTerminated(peer=CLIENT, code=packet.code, reason=packet.reason, by_peer=True)
        ]


# ------------------------------------------------------- malformed DATA packets

_HEADER = "4e0106 0001 0000 00000000 00"

MALFORMED = {
    "unknown frame type": _HEADER + "13 0000",
    "truncated reliable header": _HEADER + "10 0001 00",
    "reliable longer than the packet": _HEADER + "10 0001 0005 6869",
    "reliable over 1024 bytes": _HEADER + "10 0001 0401" + "00" * 1025,
    "truncated unreliable header": _HEADER + "11 00",
    "unreliable longer than the packet": _HEADER + "11 0003 6869",
    "truncated fragment header": _HEADER + "12 0001 00 02 00",
    "fragment count 1": _HEADER + "12 0001 00 01 0001 61",
    "fragment count 17": _HEADER + "12 0001 00 11 0001 61",
    "fragment index == count": _HEADER + "12 0001 02 02 0001 61",
    "empty fragment": _HEADER + "12 0001 00 02 0000",
    "fragment longer than the packet": _HEADER + "12 0001 00 02 0002 61",
    "good frame then garbage": _HEADER + "11 0001 61 ff",
}


@pytest.mark.parametrize("hexstr", MALFORMED.values(), ids=list(MALFORMED))
def test_malformed_frames_are_refused(hexstr: str) -> None:
    with pytest.raises(WireError):
        decode_frames(bytes.fromhex(hexstr))


def test_truncated_header_is_refused() -> None:
    data = BY_NAME["data-empty"].data
    for n in range(len(data)):
        with pytest.raises(WireError):
            decode_data_header(data[:n])


@pytest.mark.parametrize(
    "vector", [v for v in VECTORS if isinstance(v.packet, Data)], ids=lambda v: v.name
)
def test_every_truncation_of_a_data_packet_is_refused_or_a_prefix(vector: Vector) -> None:
    data = vector.data
    assert isinstance(vector.packet, Data)
    for n in range(12, len(data)):
        try:
            frames = decode_frames(data[:n])
        except WireError:
            continue
        # Only a cut exactly between frames can decode, to a prefix of the frames.
        assert tuple(frames) == vector.packet.frames[: len(frames)]


_frames = st.one_of(
    st.builds(
        lambda mid, data: Frame(FrameType.RELIABLE, data, message_id=mid),
        st.integers(0, 0xFFFF),
        st.binary(max_size=64),
    ),
    st.builds(lambda data: Frame(FrameType.UNRELIABLE, data), st.binary(max_size=64)),
    st.integers(2, 16).flatmap(
        lambda count: st.builds(
            lambda group, index, data: Frame(
                FrameType.FRAGMENT, data, group=group, index=index, count=count
            ),
            st.integers(0, 0xFFFF),
            st.integers(0, count - 1),
            st.binary(min_size=1, max_size=64),
        )
    ),
)


@settings(derandomize=True, max_examples=200, deadline=None)
@given(
    header=st.builds(
        DataHeader,
        st.integers(0, 0xFFFF),
        st.integers(0, 0xFFFF),
        st.integers(0, 0xFFFFFFFF),
        st.integers(0, 255),
    ),
    frames=st.lists(_frames, max_size=8),
)
def test_round_trip(header: DataHeader, frames: list[Frame]) -> None:
    data = encode(Data(header, tuple(frames)))
    assert decode_data_header(data) == header
    assert decode_frames(data) == frames
