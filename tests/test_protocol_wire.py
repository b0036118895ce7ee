"""Golden wire vectors: one table drives the encoder tests, the decoder tests, and
the check that ``protocol/PROTOCOL.rst`` shows exactly the same bytes.

DATA packets are checked against the pure encode/decode functions of
``protocol._wire`` sealed by ``protocol._crypto.CryptoPair`` (and a real
connection accepts them).  Handshake and DISCONNECT packets have no standalone
encoder, so the "encoder" is the real endpoint producing them in a fixed
scenario (fixed secret, nonce, static and ephemeral keys), and the "decoder" is
the real endpoint reacting to them.  Independently of ``protocol``, this file
recomputes from the spec's definitions the CRC-16 of every handshake vector,
the whole Noise NX exchange (ACCEPT and both packet keys), and the AES-GCM
sealing of every DATA and DISCONNECT vector.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st
from protocol_spec import SPEC, reference_crc, spec_examples

import protocol
from protocol import (
    ClientEndpoint,
    ClientState,
    ConnectionEstablished,
    ConnectionTerminated,
    CryptoPair,
    DisconnectCode,
    Event,
    ServerConfig,
    ServerEndpoint,
    key_fingerprint,
)
from protocol._connection import Connection
from protocol._wire import (
    DATA_HEADER_SIZE,
    DataHeader,
    Frame,
    FrameType,
    PacketKind,
    WireError,
    check_crc,
    decode_data_header,
    decode_frames,
    encode_ack_delay_frame,
    encode_data_header,
    encode_fragment_frame,
    encode_reason,
    encode_reliable_frame,
    encode_unreliable_frame,
    keyed_prefix,
    packet_kind,
    packet_version,
    seal_crc,
)
from tests.sealing import PeerView

SECRET = bytes(range(32))
NONCE = bytes.fromhex("0102030405060708")
CLIENT = ("192.0.2.7", 40000)
SERVER = ("192.0.2.1", 7777)
NOW = 100.0
TOKEN = bytes.fromhex("0000000a0f7415fde70526f353af51d43b58b000")
CLIENT_EPHEMERAL = bytes(range(0x40, 0x60))
SERVER_STATIC = bytes(range(0x60, 0x80))
SERVER_EPHEMERAL = bytes(range(0x80, 0xA0))

#: Derived from the keys above (and listed in PROTOCOL.rst); recomputed below.
CLIENT_EPHEMERAL_PUBLIC = bytes.fromhex(
    "79a631eede1bf9c98f12032cdeadd0e7a079398fc786b88cc846ec89af85a51a"
)
SERVER_STATIC_PUBLIC = bytes.fromhex(
    "675dd574ed7789310b3d2e7681f3790b466c773b1521fecf36577958371ea52f"
)
SERVER_FINGERPRINT = "SHA256:FnhtTl73RBEvGsRcl33/5U1nzJ3mRe+M/tPep5jwwE4"
NOISE_MESSAGE2 = bytes.fromhex(
    "493e82fc74464a59268817623d2053c5eb8e2cc4a988b4fee179ec6b010d531d"  # server e
    "f5a4ee89deb527103d898d0a016283ea098d58b73187909eada85e53bc3c6f77"  # sealed s ...
    "ded2afc904d60a295d2f947c12283dd7"  # ... and its tag
    "3d334442291cbdfe7257f4bd558b41cc"  # tag of the empty payload
)
K_C2S = bytes.fromhex("d84be0bd826d9aca30e68da9e31c538ac414d9381af6ee7ef5ebef0a109c364f")
K_S2C = bytes.fromhex("d8f338e8408e15c6544f1aece6998e7290ff3a782ec1380fd4d6f942c3775f10")

KEYS = {
    "key-client-ephemeral-public": CLIENT_EPHEMERAL_PUBLIC,
    "key-server-static-public": SERVER_STATIC_PUBLIC,
    "key-client-to-server": K_C2S,
    "key-server-to-client": K_S2C,
}


@dataclass(frozen=True)
class Control:
    """A handshake or DISCONNECT packet, by field."""

    kind: PacketKind
    nonce: bytes = b""
    token: bytes = b""
    code: DisconnectCode = DisconnectCode.NORMAL
    reason: str = ""
    counter: int = 0
    """DISCONNECT: the packet counter it was sealed under."""


@dataclass(frozen=True)
class Data:
    """A DATA packet, by field; sealed client to server under ``counter``."""

    header: DataHeader
    frames: tuple[Frame, ...]
    counter: int | None = None
    """None: the same as the sequence (the first lap of the 16-bit sequence)."""

    @property
    def packet_counter(self) -> int:
        return self.header.sequence if self.counter is None else self.counter


@dataclass(frozen=True)
class Vector:
    name: str
    packet: Control | Data
    hex: str

    @property
    def data(self) -> bytes:
        return bytes.fromhex(self.hex)

    @property
    def packet_kind(self) -> PacketKind:
        return self.packet.kind if isinstance(self.packet, Control) else PacketKind.DATA

    @property
    def sealed(self) -> bool:
        return self.packet_kind in (PacketKind.DATA, PacketKind.DISCONNECT)

    @property
    def counter(self) -> int:
        p = self.packet
        return p.counter if isinstance(p, Control) else p.packet_counter

    @property
    def opened(self) -> bytes:
        """A sealed vector's cleartext image (prefix and plaintext, no tag)."""
        p = self.packet
        if isinstance(p, Data):
            return encode_opened(p)
        return keyed_prefix(p.kind, p.counter & 0xFFFF) + encode_reason(p.code, p.reason)


def _pad(hexstr: str) -> str:
    return hexstr + "00" * (256 - len(hexstr.replace(" ", "")) // 2)


def _reason(code: int, text: str) -> str:
    raw = text.encode()
    return f"{code:02x}{len(raw):02x}{raw.hex()}"


def encode_opened(packet: Data) -> bytes:
    """The cleartext image of a DATA packet: header and frames."""
    out = encode_data_header(packet.header)
    for f in packet.frames:
        if f.type is FrameType.RELIABLE:
            out += encode_reliable_frame(f.message_id, f.data)
        elif f.type is FrameType.UNRELIABLE:
            out += encode_unreliable_frame(f.data)
        elif f.type is FrameType.ACK_DELAY:
            out += encode_ack_delay_frame(f.ack_delay_ms)
        else:
            out += encode_fragment_frame(f.group, f.index, f.count, f.data)
    return out


def seal_c2s(opened: bytes, counter: int) -> bytes:
    """Seal a cleartext image as the golden client does (to the server)."""
    return CryptoPair(K_C2S, K_S2C).seal(opened[:4], opened[4:], counter)


VERSION_REASON = "version mismatch: server speaks protocol v2"

#: The one table.  Every entry also appears, byte for byte, in PROTOCOL.rst.
VECTORS = [
    Vector(
        "connect-request",
        Control(PacketKind.CONNECT_REQUEST, nonce=NONCE),
        _pad("4e21 41b6" + NONCE.hex()),
    ),
    Vector(
        "challenge",
        Control(PacketKind.CHALLENGE, nonce=NONCE, token=TOKEN),
        "4e22 2ca1" + NONCE.hex() + TOKEN.hex(),
    ),
    Vector(
        "connect-response",
        Control(PacketKind.CONNECT_RESPONSE, nonce=NONCE, token=TOKEN),
        _pad("4e23 0c9a" + NONCE.hex() + TOKEN.hex() + CLIENT_EPHEMERAL_PUBLIC.hex()),
    ),
    Vector(
        "accept",
        Control(PacketKind.ACCEPT, nonce=NONCE),
        "4e24 046d" + NONCE.hex() + NOISE_MESSAGE2.hex(),
    ),
    Vector(
        "denied-version-mismatch",
        Control(
            PacketKind.DENIED,
            nonce=NONCE,
            code=DisconnectCode.VERSION_MISMATCH,
            reason=VERSION_REASON,
        ),
        "4e25 40fb" + NONCE.hex() + _reason(2, VERSION_REASON),
    ),
    Vector(
        "denied-server-full",
        Control(
            PacketKind.DENIED, nonce=NONCE, code=DisconnectCode.SERVER_FULL, reason="server full"
        ),
        "4e25 26b7" + NONCE.hex() + "030b" + b"server full".hex(),
    ),
    Vector(
        "disconnect",
        Control(PacketKind.DISCONNECT, code=DisconnectCode.NORMAL, reason="client quit", counter=7),
        "4e27 0007"
        "d0209d4cf0add1f86e28a10e6f"  # sealed
        "ba9c7f7af5e9fc31dac1339173ef02c2",  # tag,
    ),
    Vector(
        "data-empty",
        Data(DataHeader(0, 0xFFFF, 0), ()),
        "4e26 0000"
        "e0dc8eaabe00"  # sealed
        "08cca6b795d10fc5087123b0aae6076c",  # tag,
    ),
    Vector(
        "data-reliable",
        Data(
            DataHeader(5, 3, 0b101),
            (
                Frame(FrameType.ACK_DELAY, b"", ack_delay_ms=20),
                Frame(FrameType.RELIABLE, b"hello", message_id=7),
            ),
        ),
        "4e26 0005"
        "272c7c6614ad27c00353ac4b0342f7993ad2"  # sealed
        "0eb7506f2360d49f560a6fc06dd3fb91",  # tag,
    ),
    Vector(
        "data-wrap",
        Data(
            DataHeader(1, 0xFFFE, 0x80000003),
            (
                Frame(FrameType.ACK_DELAY, b"", ack_delay_ms=255),
                Frame(FrameType.UNRELIABLE, b"\x01\x02"),
                Frame(FrameType.RELIABLE, b"", message_id=0xFFFF),
            ),
        ),
        "4e26 0001"
        "30093620c6bb73b90ad943c263bcfbdc7556"  # sealed
        "0410ff63e355dfd47eee693e752d31ae",  # tag,
    ),
    Vector(
        "data-fragment",
        Data(
            DataHeader(0x1234, 0x1233, 0xFFFFFFFF),
            (Frame(FrameType.FRAGMENT, b"abc", group=0xBEEF, index=2, count=3),),
        ),
        "4e26 1234"
        "b6d919c8128f26f0222c1b5437407620"  # sealed
        "a6137198e0baf6a8e21a564123c81363",  # tag,
    ),
    Vector(
        "data-second-lap",
        Data(
            DataHeader(5, 0x0102, 1),
            (Frame(FrameType.UNRELIABLE, b"lap"),),
            counter=0x10005,
        ),
        "4e26 0005"
        "6321f943bba01ddaf31c1985"  # sealed
        "9ed73321f5fc6e63d9bed25d926ac42a",  # tag,
    ),
]
BY_NAME = {v.name: v for v in VECTORS}

#: INFO's golden examples are the table of tests/test_protocol_info.py.
INFO_EXAMPLES = ("info-request", "info-reply", "info-reply-empty")


def test_spec_shows_exactly_the_table() -> None:
    examples = {k: v for k, v in spec_examples().items() if k not in INFO_EXAMPLES}
    assert sorted(examples) == sorted([*BY_NAME, *KEYS])
    for name, data in examples.items():
        assert data == (KEYS[name] if name in KEYS else BY_NAME[name].data), name
    assert SERVER_FINGERPRINT in SPEC.read_text(encoding="utf-8")


# ------------------------------------------ independent reference computations


def reference_seal(key: bytes, counter: int, opened: bytes) -> bytes:
    """A DATA/DISCONNECT packet as PROTOCOL.rst seals it: AES-256-GCM, nonce = 4 zero
    bytes and the counter (u64), the 4-byte prefix as associated data."""
    nonce = bytes(4) + counter.to_bytes(8, "big")
    return opened[:4] + AESGCM(key).encrypt(nonce, opened[4:], opened[:4])


def reference_noise_nx() -> tuple[bytes, bytes, bytes]:
    """Noise_NX_25519_AESGCM_SHA256 for the golden keys, step by step as the spec (and
    the Noise specification, revision 34) gives it: (message 2, k_c2s, k_s2c)."""

    def hkdf2(ck: bytes, ikm: bytes) -> tuple[bytes, bytes]:
        temp = hmac.digest(ck, ikm, "sha256")
        out1 = hmac.digest(temp, b"\x01", "sha256")
        return out1, hmac.digest(temp, out1 + b"\x02", "sha256")

    def dh(private: bytes, public: bytes) -> bytes:
        key = X25519PrivateKey.from_private_bytes(private)
        return key.exchange(X25519PublicKey.from_public_bytes(public))

    def pub(private: bytes) -> bytes:
        return X25519PrivateKey.from_private_bytes(private).public_key().public_bytes_raw()

    def sha(data: bytes) -> bytes:
        return hashlib.sha256(data).digest()

    h = b"Noise_NX_25519_AESGCM_SHA256".ljust(32, b"\0")
    ck = h
    h = sha(h + b"netsnake v2" + NONCE + TOKEN)  # prologue
    e = pub(CLIENT_EPHEMERAL)
    assert e == CLIENT_EPHEMERAL_PUBLIC
    h = sha(sha(h + e))  # -> e, then the empty payload (no key yet: mixed in clear)
    re_ = pub(SERVER_EPHEMERAL)
    h = sha(h + re_)  # <- e
    ck, k = hkdf2(ck, dh(SERVER_EPHEMERAL, e))  # ee
    s = pub(SERVER_STATIC)
    assert s == SERVER_STATIC_PUBLIC
    sealed_s = AESGCM(k).encrypt(bytes(12), s, h)  # s, under k with n = 0
    h = sha(h + sealed_s)
    ck, k = hkdf2(ck, dh(SERVER_STATIC, e))  # es
    tag = AESGCM(k).encrypt(bytes(12), b"", h)  # the empty payload
    k_c2s, k_s2c = hkdf2(ck, b"")  # Split()
    return re_ + sealed_s + tag, k_c2s, k_s2c


def test_noise_exchange_follows_the_spec() -> None:
    message2, k_c2s, k_s2c = reference_noise_nx()
    assert message2 == NOISE_MESSAGE2 == BY_NAME["accept"].data[12:]
    assert (k_c2s, k_s2c) == (K_C2S, K_S2C)
    assert key_fingerprint(SERVER_STATIC_PUBLIC) == SERVER_FINGERPRINT
    assert protocol.public_key(SERVER_STATIC) == SERVER_STATIC_PUBLIC


def test_crc_reference_value_in_the_spec() -> None:
    assert "``0x1E7C``" in SPEC.read_text(encoding="utf-8")
    assert binascii.crc_hqx(b"123456789", 0x4E53) == 0x1E7C


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v.name)
def test_check_bytes_follow_the_spec(vector: Vector) -> None:
    data = vector.data
    assert data[0] == 0x4E and data[1] >> 4 == 2 and data[1] & 0x0F == vector.packet_kind
    if vector.sealed:
        assert data == reference_seal(K_C2S, vector.counter, vector.opened)
        assert data[2:4] == (vector.counter & 0xFFFF).to_bytes(2, "big")
        return
    assert data[2:4] == reference_crc(data)
    # ... and mean something: another value in bytes 2-3 is refused.
    for wrong in (bytes((data[2] ^ 0x80, data[3])), bytes((data[2], data[3] ^ 0x01))):
        forged = data[:2] + wrong + data[4:]
        assert check_crc(data) and not check_crc(forged)


# ------------------------------------------------------------------ scenario


def _drain(endpoint: ServerEndpoint | ClientEndpoint) -> list[Event]:
    events = []
    while (e := endpoint.next_event()) is not None:
        events.append(e)
    return events


def _only(out: list[tuple[bytes, object]]) -> bytes:
    assert len(out) == 1, out
    return out[0][0]


def golden_server(config: ServerConfig | None = None) -> ServerEndpoint:
    cfg = config or ServerConfig(static_key=SERVER_STATIC)
    return ServerEndpoint(cfg, secret=SECRET, ephemeral_keys=lambda: SERVER_EPHEMERAL)


def _requesting_client() -> ClientEndpoint:
    client = ClientEndpoint(SERVER, nonce=NONCE, ephemeral_key=CLIENT_EPHEMERAL)
    client.connect(NOW)
    return client


def _responding_client() -> ClientEndpoint:
    client = _requesting_client()
    client.datagrams_to_send(NOW)
    client.receive_datagram(BY_NAME["challenge"].data, SERVER, NOW)
    assert client.state is ClientState.RESPONDING
    client.datagrams_to_send(NOW)
    return client


def produce(name: str) -> bytes:
    """Make the real endpoints emit the packet called ``name`` in the golden scenario."""
    client = _requesting_client()
    request = _only(client.datagrams_to_send(NOW))
    if name == "connect-request":
        return request
    if name == "denied-version-mismatch":
        server = golden_server()
        # A version-3 client's request, sealed by that client.
        server.receive_datagram(seal_crc(request[:1] + b"\x31" + request[2:]), CLIENT, NOW)
        return _only(server.datagrams_to_send(NOW))
    server = golden_server()
    server.receive_datagram(request, CLIENT, NOW)
    challenge = _only(server.datagrams_to_send(NOW))
    if name == "challenge":
        return challenge
    client.receive_datagram(challenge, SERVER, NOW)
    response = _only(client.datagrams_to_send(NOW))
    if name == "connect-response":
        return response
    if name == "denied-server-full":
        full = golden_server(ServerConfig(max_connections=0, static_key=SERVER_STATIC))
        full.receive_datagram(response, CLIENT, NOW)
        return _only(full.datagrams_to_send(NOW))
    server.receive_datagram(response, CLIENT, NOW)
    accept = _only(server.datagrams_to_send(NOW))
    if name == "accept":
        return accept
    client.receive_datagram(accept, SERVER, NOW)
    assert name == "disconnect"
    for i in range(7):  # seven keep-alives use counters 0 .. 6
        client.datagrams_to_send(NOW + 0.3 * (i + 1))
    client.disconnect()
    copies = [d for d, _ in client.datagrams_to_send(NOW + 3)]
    assert len(copies) == 3 and len(set(copies)) == 1
    return copies[0]


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v.name)
def test_encoder(vector: Vector) -> None:
    if isinstance(vector.packet, Data):
        assert seal_c2s(encode_opened(vector.packet), vector.counter) == vector.data
    else:
        assert produce(vector.name) == vector.data


def golden_connected() -> tuple[ServerEndpoint, ClientEndpoint]:
    """The golden scenario's server and client, connected with keys K_C2S and K_S2C."""
    client = _requesting_client()
    server = golden_server()
    for _ in range(2):  # request -> challenge, response -> accept
        server.receive_datagram(_only(client.datagrams_to_send(NOW)), CLIENT, NOW)
        client.receive_datagram(_only(server.datagrams_to_send(NOW)), SERVER, NOW)
    assert client.state is ClientState.CONNECTED
    _drain(server)
    _drain(client)
    return server, client


def _advance_to_second_lap(server: ServerEndpoint) -> None:
    """The client's packets 0x8000 and 0x10000 arrive (the ones between were lost)."""
    as_client = PeerView(server.connection(CLIENT))
    for counter in (0x8000, 0x10000):
        header = encode_data_header(DataHeader(counter & 0xFFFF, 0xFFFF, 0))
        server.receive_datagram(as_client.seal(header, counter), CLIENT, NOW)


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v.name)
def test_decoder(vector: Vector) -> None:
    packet, data = vector.packet, vector.data
    if isinstance(packet, Data):
        view = PeerView(CryptoPair(K_C2S, K_S2C))  # the client's peer: the server
        for counter in (0x8000, 0x10000) if packet.counter is not None else ():
            view.open(seal_c2s(encode_data_header(DataHeader(counter & 0xFFFF, 0, 0)), counter))
        opened = view.open(data)
        assert decode_data_header(opened) == packet.header
        assert tuple(decode_frames(opened)) == packet.frames
        # The golden server's connection accepts it as a received packet.
        server = golden_connected()[0]
        if packet.counter is not None:
            # A fresh connection rebuilds counter 5, not 0x10005: the packet does not open.
            server.receive_datagram(data, CLIENT, NOW)
            assert server.counters["bad_check"] == 1
            _advance_to_second_lap(server)
        before = server.stats(CLIENT, NOW).packets_received
        server.receive_datagram(data, CLIENT, NOW)
        assert server.stats(CLIENT, NOW).packets_received == before + 1
        assert server.counters["malformed"] == 0
        return
    kind = packet.kind
    if kind is PacketKind.CONNECT_REQUEST:
        server = golden_server()
        server.receive_datagram(data, CLIENT, NOW)
        reply = _only(server.datagrams_to_send(NOW))
        assert packet_kind(reply) == PacketKind.CHALLENGE and reply[4:12] == packet.nonce
        assert packet_version(reply) == 2 and check_crc(reply)
    elif kind is PacketKind.CHALLENGE:
        client = _requesting_client()
        client.datagrams_to_send(NOW)
        client.receive_datagram(data, SERVER, NOW)
        assert client.state is ClientState.RESPONDING
        reply = _only(client.datagrams_to_send(NOW))
        assert packet_kind(reply) == PacketKind.CONNECT_RESPONSE and check_crc(reply)
        assert reply[4:12] == packet.nonce and reply[12:32] == packet.token
        assert reply[32:64] == CLIENT_EPHEMERAL_PUBLIC
    elif kind is PacketKind.CONNECT_RESPONSE:
        server = golden_server()
        server.receive_datagram(data, CLIENT, NOW)
        assert _drain(server) == [ConnectionEstablished(peer=CLIENT, server_key=b"")]
        assert _only(server.datagrams_to_send(NOW)) == BY_NAME["accept"].data
        assert server.public_key == SERVER_STATIC_PUBLIC
    elif kind is PacketKind.ACCEPT:
        client = _responding_client()
        client.receive_datagram(data, SERVER, NOW)
        assert client.state is ClientState.CONNECTED
        assert client.server_key == SERVER_STATIC_PUBLIC
        assert _drain(client) == [
            ConnectionEstablished(peer=SERVER, server_key=SERVER_STATIC_PUBLIC)
        ]
        # The packet keys are the golden ones: the client seals with K_C2S.
        client.send_unreliable(b"x")
        (sent,) = client.datagrams_to_send(NOW)
        assert PeerView(CryptoPair(K_C2S, K_S2C)).open(sent[0])[10:] == b"\x11\x00\x01x"
    elif kind is PacketKind.DENIED:
        client = _requesting_client()
        client.receive_datagram(data, SERVER, NOW)
        assert client.state is ClientState.CLOSED
        assert _drain(client) == [
            ConnectionTerminated(peer=SERVER, code=packet.code, reason=packet.reason, by_peer=True)
        ]
    else:
        assert kind is PacketKind.DISCONNECT
        server = golden_connected()[0]
        server.receive_datagram(data, CLIENT, NOW)
        assert server.peers == []
        assert _drain(server) == [
            ConnectionTerminated(peer=CLIENT, code=packet.code, reason=packet.reason, by_peer=True)
        ]


# ------------------------------------------------------- malformed DATA packets

_HEADER = "4e26 0001 0000 00000000"

MALFORMED = {
    "unknown frame type": _HEADER + "14 0000",
    "truncated ack delay": _HEADER + "13",
    "ack delay then truncated": _HEADER + "13 05 13",
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


def _server_connection(counters: Counter[str], events: deque[Event] | None = None) -> Connection:
    """The golden server's end of the connection, on its own."""
    return Connection(CLIENT, CryptoPair(K_S2C, K_C2S), NOW, events or deque(), counters)


@pytest.mark.parametrize("hexstr", MALFORMED.values(), ids=list(MALFORMED))
def test_malformed_frames_are_refused(hexstr: str) -> None:
    with pytest.raises(WireError):
        decode_frames(bytes.fromhex(hexstr))
    # Correctly sealed, a real connection drops it as malformed, unacknowledged.
    counters: Counter[str] = Counter()
    conn = _server_connection(counters)
    conn.receive_packet(seal_c2s(bytes.fromhex(hexstr), 1), NOW)
    assert counters == Counter(malformed=1)
    assert conn.stats(NOW).packets_received == 0 and conn.datagrams_to_send(NOW) == []


def test_ack_delay_frame() -> None:
    assert encode_ack_delay_frame(0) == b"\x13\x00"
    assert encode_ack_delay_frame(20) == b"\x13\x14"
    assert encode_ack_delay_frame(255) == b"\x13\xff"
    assert encode_ack_delay_frame(256) == b"\x13\xff"  # saturates
    assert encode_ack_delay_frame(100_000) == b"\x13\xff"
    assert encode_ack_delay_frame(-3) == b"\x13\x00"
    header = encode_data_header(DataHeader(9, 8, 1))
    assert decode_frames(header + b"\x13\x07") == [Frame(FrameType.ACK_DELAY, b"", ack_delay_ms=7)]
    # It sits among other frames like any frame.
    packet = header + b"\x13\xc8" + encode_unreliable_frame(b"x")
    assert decode_frames(packet) == [
        Frame(FrameType.ACK_DELAY, b"", ack_delay_ms=200),
        Frame(FrameType.UNRELIABLE, b"x"),
    ]


def test_truncated_header_is_refused() -> None:
    opened = BY_NAME["data-empty"].opened
    assert len(opened) == DATA_HEADER_SIZE
    for n in range(len(opened)):
        with pytest.raises(WireError):
            decode_data_header(opened[:n])


@pytest.mark.parametrize(
    "vector", [v for v in VECTORS if isinstance(v.packet, Data)], ids=lambda v: v.name
)
def test_every_truncation_of_a_data_packet_is_refused_or_a_prefix(vector: Vector) -> None:
    opened = vector.opened
    assert isinstance(vector.packet, Data)
    for n in range(DATA_HEADER_SIZE, len(opened)):
        try:
            frames = decode_frames(opened[:n])
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
    st.builds(lambda ms: Frame(FrameType.ACK_DELAY, b"", ack_delay_ms=ms), st.integers(0, 255)),
)


@settings(derandomize=True, max_examples=200, deadline=None)
@given(
    header=st.builds(
        DataHeader,
        st.integers(0, 0xFFFF),
        st.integers(0, 0xFFFF),
        st.integers(0, 0xFFFFFFFF),
    ),
    frames=st.lists(_frames, max_size=8),
    keys=st.tuples(st.binary(min_size=32, max_size=32), st.binary(min_size=32, max_size=32)),
)
def test_round_trip(header: DataHeader, frames: list[Frame], keys: tuple[bytes, bytes]) -> None:
    opened = encode_opened(Data(header, tuple(frames)))
    sender = CryptoPair(*keys)
    data = sender.seal(opened[:4], opened[4:], header.sequence)
    assert len(data) == len(opened) + 16 and data[:4] == opened[:4]
    assert PeerView(sender).open(data) == opened
    assert decode_data_header(opened) == header
    assert decode_frames(opened) == frames


# ------------------------------------------------ integrity: flips, cuts, forgery


@dataclass
class Receiver:
    """An endpoint in the state where one golden packet is accepted, and how to tell
    (from its state and the replies it sent right after the packet)."""

    endpoint: ServerEndpoint | ClientEndpoint
    source: tuple[str, int]
    accepted: Callable[[list[bytes]], bool]
    connected: bool


def _challenging_server() -> Receiver:
    def challenged(replies: list[bytes]) -> bool:
        return any(packet_kind(r) == PacketKind.CHALLENGE for r in replies)

    return Receiver(golden_server(), CLIENT, challenged, False)


def _fresh_server() -> Receiver:
    server = golden_server()
    return Receiver(server, CLIENT, lambda _: server.peers == [CLIENT], False)


def _requesting() -> Receiver:
    client = _requesting_client()
    client.datagrams_to_send(NOW)
    return Receiver(client, SERVER, lambda _: client.state is not ClientState.REQUESTING, False)


def _responding() -> Receiver:
    client = _responding_client()
    return Receiver(client, SERVER, lambda _: client.state is not ClientState.RESPONDING, False)


def _connected_server(second_lap: bool = False) -> Receiver:
    server = golden_connected()[0]
    if second_lap:
        _advance_to_second_lap(server)
    conn = server.connection(CLIENT)
    before = conn.stats(NOW).packets_received
    return Receiver(
        server,
        CLIENT,
        lambda _: server.peers == [] or conn.stats(NOW).packets_received > before,
        True,
    )


def _second_lap_server() -> Receiver:
    return _connected_server(second_lap=True)


RECEIVERS: dict[str, list[Callable[[], Receiver]]] = {
    "connect-request": [_challenging_server],
    "challenge": [_requesting],
    "connect-response": [_fresh_server],
    "accept": [_responding],
    "denied-version-mismatch": [_requesting],
    "denied-server-full": [_requesting],
    "data-second-lap": [_second_lap_server],
}
CASES = [
    pytest.param(v, make, id=f"{v.name}-{make.__name__.strip('_')}")
    for v in VECTORS
    for make in RECEIVERS.get(v.name, [_connected_server])
]


_SEALED = (PacketKind.DATA, PacketKind.DISCONNECT)


def _expected_drop(receiver: Receiver, kind: int, bit: int) -> str:
    """The counter a single flipped bit must land in (PROTOCOL.rst, order of checks)."""
    byte, mask = bit // 8, 1 << (bit % 8)
    server = isinstance(receiver.endpoint, ServerEndpoint)
    if byte == 0:
        return "bad_protocol_id"
    if byte == 1 and mask & 0xF0 and kind in _SEALED:
        return "bad_version"  # the version is looked at before the check
    # A handshake packet whose CRC verifies once the version is set back to ours
    # is corruption of our own version, not a foreign client: bad_check.
    if byte == 1 and mask & 0x0F and kind ^ mask in _SEALED and not receiver.connected:
        # Turned into DATA/DISCONNECT where there are no keys to open it with.
        return "unknown_source" if server else "unexpected_kind"
    # Anything else fails the CRC-16 of a handshake kind or the AEAD tag of a sealed one.
    return "bad_check"


@pytest.mark.parametrize(("vector", "make"), CASES)
def test_every_single_bit_flip_is_caught(vector: Vector, make: Callable[[], Receiver]) -> None:
    receiver = make()
    ep, data = receiver.endpoint, vector.data
    for bit in range(len(data) * 8):
        flipped = bytearray(data)
        flipped[bit // 8] ^= 1 << (bit % 8)
        before = Counter(ep.counters)
        ep.receive_datagram(bytes(flipped), receiver.source, NOW)
        expected = _expected_drop(receiver, vector.packet_kind, bit)
        assert ep.counters - before == Counter({expected: 1}), (bit, ep.counters - before)
        assert _drain(ep) == [], bit
        replies = [d for d, _ in ep.datagrams_to_send(NOW)]
        assert replies == [], bit
        assert not receiver.accepted(replies), bit
    # The unflipped packet is accepted by the same receiver: the drops were not vacuous.
    ep.receive_datagram(data, receiver.source, NOW)
    assert receiver.accepted([d for d, _ in ep.datagrams_to_send(NOW)])


@pytest.mark.parametrize(("vector", "make"), CASES)
def test_every_cut_or_extension_is_caught(vector: Vector, make: Callable[[], Receiver]) -> None:
    receiver = make()
    ep, data = receiver.endpoint, vector.data
    variants = [data[:n] for n in range(len(data))] + [data + b"\0", data + b"\x13\x00"]
    for variant in variants:
        before = Counter(ep.counters)
        ep.receive_datagram(variant, receiver.source, NOW)
        delta = ep.counters - before
        assert sum(delta.values()) == 1 and set(delta) <= {"too_short", "bad_size", "bad_check"}
        assert len(variant) < 4 or delta["bad_check"] == 1, (len(variant), delta)
        assert _drain(ep) == [] and ep.datagrams_to_send(NOW) == []
        assert not receiver.accepted([])
    ep.receive_datagram(data, receiver.source, NOW)
    assert receiver.accepted([d for d, _ in ep.datagrams_to_send(NOW)])


@pytest.mark.parametrize("name", ["data-reliable", "disconnect"])
def test_any_change_to_any_byte_of_a_sealed_packet_is_dropped_and_counted(name: str) -> None:
    """Every byte, three ways (low bit, high bit, all bits): the first two bytes land in
    their own counters, every other change fails the tag (``bad_check``)."""
    vector = BY_NAME[name]
    receiver = _connected_server()
    server, data = receiver.endpoint, vector.data
    for i in range(len(data)):
        for mask in (0x01, 0x80, 0xFF):
            tampered = data[:i] + bytes((data[i] ^ mask,)) + data[i + 1 :]
            before = Counter(server.counters)
            server.receive_datagram(tampered, CLIENT, NOW)
            delta = server.counters - before
            expected = "bad_protocol_id" if i == 0 else "bad_check"
            if i == 1 and mask & 0xF0:
                expected = "bad_version"
            if i == 1 and (data[1] ^ mask) & 0x0F == PacketKind.INFO_REQUEST:
                expected = "info_bad_size"  # INFO of any version: size is its first rule
            assert delta == Counter({expected: 1}), (i, mask, delta)
            assert _drain(server) == [] and not receiver.accepted([]), (i, mask)
    server.receive_datagram(data, CLIENT, NOW)
    assert receiver.accepted([])


def test_accept_tampered_behind_a_recomputed_crc_is_refused() -> None:
    """An on-path attacker can recompute the CRC; the Noise tag still catches any change
    to the server's ephemeral key, its sealed static key or the final tag."""
    accept = BY_NAME["accept"].data
    client = _responding_client()
    for i in range(12, len(accept)):
        tampered = seal_crc(accept[:i] + bytes((accept[i] ^ 0x01,)) + accept[i + 1 :])
        client.receive_datagram(tampered, SERVER, NOW)
        assert client.state is ClientState.RESPONDING and client.server_key is None, i
        assert _drain(client) == []
    assert client.counters == Counter(bad_handshake=len(accept) - 12)
    client.receive_datagram(accept, SERVER, NOW)
    assert client.state is ClientState.CONNECTED


def test_blind_data_injection_never_succeeds() -> None:
    """Every one of the 65,536 sequences, each with a random body and tag: none opens."""
    server = golden_connected()[0]
    conn = server.connection(CLIENT)
    rng = __import__("random").Random(14)
    for seq in range(0x10000):
        forged = bytes((0x4E, 0x26)) + seq.to_bytes(2, "big") + rng.randbytes(16 + 12)
        server.receive_datagram(forged, CLIENT, NOW)
    assert server.counters == Counter(bad_check=0x10000)
    assert conn.stats(NOW).packets_received == 0 and _drain(server) == []


def test_data_sealed_with_guessed_keys_is_dropped() -> None:
    server, client = golden_connected()
    opened = encode_data_header(DataHeader(0, 0xFFFF, 0)) + encode_reliable_frame(0, b"forged")
    flipped = bytes((K_C2S[0] ^ 1,)) + K_C2S[1:]
    guesses = [bytes(32), b"\xff" * 32, K_C2S[::-1], flipped]
    for guess in guesses:
        forged = CryptoPair(guess, guess).seal(opened[:4], opened[4:], 0)
        assert forged != seal_c2s(opened, 0) and forged[:4] == opened[:4]
        server.receive_datagram(forged, CLIENT, NOW)
        client.receive_datagram(forged, SERVER, NOW)
        # The key of the other direction: the server's own packet reflected back to it.
        reflected = CryptoPair(K_S2C, K_C2S).seal(opened[:4], opened[4:], 0)
    server.receive_datagram(reflected, CLIENT, NOW)
    assert client.counters["bad_check"] == len(guesses)
    assert server.counters["bad_check"] == len(guesses) + 1
    assert _drain(server) == _drain(client) == []
    assert server.connection(CLIENT).stats(NOW).packets_received == 0
    # Sealed with the real key, the same packet is delivered.
    server.receive_datagram(seal_c2s(opened, 0), CLIENT, NOW)
    assert _drain(server) == [protocol.MessageReceived(peer=CLIENT, data=b"forged")]
