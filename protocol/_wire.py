"""Byte-level encoding of every packet and frame (big-endian throughout).

This module is the code twin of ``protocol/PROTOCOL.rst``; the golden vectors
in ``tests/test_protocol_wire.py`` keep the two in agreement.  Every decoder
raises :class:`WireError` on malformed input and never anything else.

Every packet opens with a 4-byte prefix: the protocol id, a byte holding the
version (high nibble) and the packet kind (low nibble), and two more bytes.
Handshake packets carry a CRC-16 there (integrity: bit flips are caught).
DATA and DISCONNECT packets carry their 16-bit packet sequence there, and are
sealed: everything after the prefix is encrypted and authenticated with
AES-256-GCM, the prefix being the associated data, and a 16-byte tag ends the
packet.  Sealing is not done here but by ``protocol._crypto.CryptoPair``; the
functions below build and read the *opened* image of a packet (prefix and
plaintext, without the tag).
"""

from __future__ import annotations

import binascii
import enum
import struct
from dataclasses import dataclass

__all__ = [
    "ACCEPT_SIZE",
    "CHALLENGE_TOKEN_SIZE",
    "DATA_HEADER_SIZE",
    "EPHEMERAL_KEY_SIZE",
    "FRAME_BUDGET",
    "HANDSHAKE_SIZE",
    "MAX_DATAGRAM",
    "MAX_FRAGMENTS",
    "MAX_FRAGMENT_DATA",
    "MAX_RELIABLE_MESSAGE",
    "MAX_UNRELIABLE_PAYLOAD",
    "NONCE_SIZE",
    "PREFIX_SIZE",
    "PROTOCOL_ID",
    "PROTOCOL_VERSION",
    "SEALED_HEADER_SIZE",
    "TAG_SIZE",
    "DataHeader",
    "Frame",
    "FrameType",
    "PacketKind",
    "WireError",
    "check_crc",
    "decode_data_header",
    "decode_frames",
    "encode_ack_delay_frame",
    "encode_ack_fields",
    "encode_data_header",
    "encode_fragment_frame",
    "encode_reliable_frame",
    "encode_unreliable_frame",
    "handshake_prologue",
    "keyed_prefix",
    "packet_kind",
    "packet_sequence",
    "packet_version",
    "seal_crc",
]

PROTOCOL_ID = 0x4E  # "N"
#: 2 since packets are sealed (issue 14); version 1 had a 16-bit keyed tag and no encryption.
PROTOCOL_VERSION = 2
PREFIX_SIZE = 4  # protocol id, version|kind, CRC-16 or packet sequence
CRC_INIT = 0x4E53  # "NS": handshake CRC-16/CCITT initial value

MAX_DATAGRAM = 1200
NONCE_SIZE = 8
CHALLENGE_TOKEN_SIZE = 20  # u32 time bucket + 16-byte BLAKE2s MAC
#: CONNECT_REQUEST and CONNECT_RESPONSE are padded to exactly this size, which
#: is larger than any reply the server sends before the address is verified.
HANDSHAKE_SIZE = 256
MAX_REASON_BYTES = 200
EPHEMERAL_KEY_SIZE = 32  # X25519 public key, Noise message 1 in CONNECT_RESPONSE
#: prefix(4) + nonce(8) + Noise message 2: ephemeral key(32), sealed static key(32 + 16), tag(16)
ACCEPT_SIZE = PREFIX_SIZE + NONCE_SIZE + 32 + 48 + 16

#: DATA and DISCONNECT: the cleartext prefix holding the sequence; the associated data.
SEALED_HEADER_SIZE = PREFIX_SIZE
TAG_SIZE = 16  # AES-GCM tag at the end of every sealed packet
DATA_HEADER_SIZE = 10  # prefix with seq(4) + ack(2) + ack_bits(4), as opened
ACK_DELAY_FRAME_SIZE = 2  # type(1) + milliseconds(1); space is always reserved for it
RELIABLE_FRAME_OVERHEAD = 5  # type(1) + message id(2) + length(2)
UNRELIABLE_FRAME_OVERHEAD = 3  # type(1) + length(2)
FRAGMENT_FRAME_OVERHEAD = 7  # type(1) + group(2) + index(1) + count(1) + length(2)

MAX_RELIABLE_MESSAGE = 1024
#: Room for frames in one DATA packet (the ACK_DELAY frame's space is kept free).
FRAME_BUDGET = MAX_DATAGRAM - DATA_HEADER_SIZE - TAG_SIZE - ACK_DELAY_FRAME_SIZE  # 1172
MAX_UNRELIABLE_PAYLOAD = FRAME_BUDGET - UNRELIABLE_FRAME_OVERHEAD  # 1169
MAX_FRAGMENT_DATA = FRAME_BUDGET - FRAGMENT_FRAME_OVERHEAD  # 1165
MAX_FRAGMENTS = 16


class WireError(ValueError):
    """Bytes from the network do not form a valid packet or frame."""


class PacketKind(enum.IntEnum):
    """The low nibble of the second byte of every packet. Fixed across versions."""

    CONNECT_REQUEST = 1
    CHALLENGE = 2
    CONNECT_RESPONSE = 3
    ACCEPT = 4
    DENIED = 5
    DATA = 6
    DISCONNECT = 7
    INFO_REQUEST = 8
    INFO_REPLY = 9


class FrameType(enum.IntEnum):
    """The first byte of each frame inside a DATA packet."""

    RELIABLE = 0x10
    UNRELIABLE = 0x11
    FRAGMENT = 0x12
    ACK_DELAY = 0x13


def prefix(kind: PacketKind, version: int = PROTOCOL_VERSION) -> bytes:
    """The four bytes that open every packet, with the check still zero."""
    return bytes((PROTOCOL_ID, (version << 4) | kind, 0, 0))


def packet_version(data: bytes) -> int:
    return data[1] >> 4


def packet_kind(data: bytes) -> int:
    return data[1] & 0x0F


def _crc(data: bytes) -> int:
    return binascii.crc_hqx(memoryview(data)[4:], binascii.crc_hqx(data[:2], CRC_INIT))


def seal_crc(packet: bytes) -> bytes:
    """Fill in a handshake packet's CRC-16 (bytes 2-3)."""
    return packet[:2] + _crc(packet).to_bytes(2, "big") + packet[4:]


def check_crc(data: bytes) -> bool:
    return len(data) >= PREFIX_SIZE and int.from_bytes(data[2:4], "big") == _crc(data)


def keyed_prefix(kind: PacketKind, sequence: int) -> bytes:
    """The four cleartext bytes of a DATA or DISCONNECT packet: id, version/kind, sequence."""
    return bytes((PROTOCOL_ID, (PROTOCOL_VERSION << 4) | kind, sequence >> 8, sequence & 0xFF))


def packet_sequence(data: bytes) -> int:
    """The 16-bit sequence of a DATA or DISCONNECT packet (bytes 2-3)."""
    return (data[2] << 8) | data[3]


def handshake_prologue(nonce: bytes, token: bytes) -> bytes:
    """The Noise prologue: binds the key exchange to this attempt and its challenge."""
    return b"netsnake v%d" % PROTOCOL_VERSION + nonce + token


def pad(packet: bytes, size: int = HANDSHAKE_SIZE) -> bytes:
    """Zero-pad a handshake packet to its fixed size (seal it afterwards)."""
    return packet + bytes(size - len(packet))


def encode_reason(code: int, reason: str) -> bytes:
    """Code byte, length byte and UTF-8 text, cut to MAX_REASON_BYTES on a char boundary."""
    raw = reason.encode("utf-8")[:MAX_REASON_BYTES].decode("utf-8", "ignore").encode("utf-8")
    return bytes((code, len(raw))) + raw


def decode_reason(data: bytes, offset: int) -> tuple[int, str]:
    """Inverse of :func:`encode_reason`; undecodable text is replaced, not refused."""
    if len(data) < offset + 2:
        raise WireError("truncated reason")
    code, length = data[offset], data[offset + 1]
    if length > MAX_REASON_BYTES or len(data) < offset + 2 + length:
        raise WireError("bad reason length")
    return code, data[offset + 2 : offset + 2 + length].decode("utf-8", "replace")


@dataclass(frozen=True, slots=True)
class DataHeader:
    """The fixed part of a DATA packet after the prefix."""

    sequence: int
    ack: int
    ack_bits: int


_DATA_HEADER = struct.Struct(">BBHHI")
_ACK_FIELDS = struct.Struct(">HI")


def encode_data_header(h: DataHeader) -> bytes:
    """The 10-byte DATA header as opened (the first 4 bytes stay clear when sealed)."""
    return keyed_prefix(PacketKind.DATA, h.sequence) + encode_ack_fields(h.ack, h.ack_bits)


def encode_ack_fields(ack: int, ack_bits: int) -> bytes:
    """The 6 bytes after a DATA packet's prefix, sealed with its body: ack, ack bits."""
    return _ACK_FIELDS.pack(ack, ack_bits)


def decode_data_header(data: bytes) -> DataHeader:
    """The header of an opened DATA packet."""
    if len(data) < DATA_HEADER_SIZE:
        raise WireError("truncated data header")
    _, _, seq, ack, bits = _DATA_HEADER.unpack_from(data)
    return DataHeader(seq, ack, bits)


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame. Fields a frame type does not use are 0."""

    type: FrameType
    data: bytes
    message_id: int = 0
    group: int = 0
    index: int = 0
    count: int = 0
    ack_delay_ms: int = 0


_REL = struct.Struct(">BHH")
_UNREL = struct.Struct(">BH")
_FRAG = struct.Struct(">BHBBH")


def encode_reliable_frame(message_id: int, data: bytes) -> bytes:
    return _REL.pack(FrameType.RELIABLE, message_id, len(data)) + data


def encode_unreliable_frame(data: bytes) -> bytes:
    return _UNREL.pack(FrameType.UNRELIABLE, len(data)) + data


def encode_fragment_frame(group: int, index: int, count: int, data: bytes) -> bytes:
    return _FRAG.pack(FrameType.FRAGMENT, group, index, count, len(data)) + data


def encode_ack_delay_frame(delay_ms: int) -> bytes:
    """How long the newest acknowledged packet waited here (ms, saturating at 255)."""
    return bytes((FrameType.ACK_DELAY, min(255, max(0, delay_ms))))


def decode_frames(packet: bytes) -> list[Frame]:
    """Decode every frame after the header of an opened DATA packet, or raise WireError."""
    frames: list[Frame] = []
    pos, end = DATA_HEADER_SIZE, len(packet)
    while pos < end:
        ftype = packet[pos]
        if ftype == FrameType.RELIABLE:
            if end - pos < _REL.size:
                raise WireError("truncated reliable frame")
            _, mid, length = _REL.unpack_from(packet, pos)
            pos += _REL.size
            if length > MAX_RELIABLE_MESSAGE or end - pos < length:
                raise WireError("bad reliable frame length")
            frames.append(Frame(FrameType.RELIABLE, packet[pos : pos + length], message_id=mid))
        elif ftype == FrameType.UNRELIABLE:
            if end - pos < _UNREL.size:
                raise WireError("truncated unreliable frame")
            _, length = _UNREL.unpack_from(packet, pos)
            pos += _UNREL.size
            if end - pos < length:
                raise WireError("bad unreliable frame length")
            frames.append(Frame(FrameType.UNRELIABLE, packet[pos : pos + length]))
        elif ftype == FrameType.FRAGMENT:
            if end - pos < _FRAG.size:
                raise WireError("truncated fragment frame")
            _, group, index, count, length = _FRAG.unpack_from(packet, pos)
            pos += _FRAG.size
            if not 2 <= count <= MAX_FRAGMENTS or index >= count:
                raise WireError("fragment index out of range")
            if length == 0 or length > MAX_FRAGMENT_DATA or end - pos < length:
                raise WireError("bad fragment length")
            frames.append(
                Frame(
                    FrameType.FRAGMENT,
                    packet[pos : pos + length],
                    group=group,
                    index=index,
                    count=count,
                )
            )
        elif ftype == FrameType.ACK_DELAY:
            if end - pos < ACK_DELAY_FRAME_SIZE:
                raise WireError("truncated ack delay frame")
            frames.append(Frame(FrameType.ACK_DELAY, b"", ack_delay_ms=packet[pos + 1]))
            pos += ACK_DELAY_FRAME_SIZE
            continue
        else:
            raise WireError(f"unknown frame type {ftype:#x}")
        pos += length
    return frames
