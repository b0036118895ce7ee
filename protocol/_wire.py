"""Byte-level encoding of every packet and frame (big-endian throughout).

This module is the code twin of ``protocol/PROTOCOL.rst``; the golden vectors
in ``tests/test_protocol_wire.py`` keep the two in agreement.  Every decoder
raises :class:`WireError` on malformed input and never anything else.

Every packet opens with a 4-byte prefix: the protocol id, a byte holding the
version (high nibble) and the packet kind (low nibble), and a 16-bit check
over the rest of the packet.  Handshake packets carry a CRC-16 (integrity:
bit flips are caught).  DATA and DISCONNECT packets carry a 16-bit keyed
BLAKE2s tag under the 8-byte session id from ACCEPT, so they also resist blind
injection by anyone who never saw the ACCEPT (one forgery in 65,536 passes).
"""

from __future__ import annotations

import binascii
import enum
import hashlib
import struct
from dataclasses import dataclass

__all__ = [
    "CHALLENGE_TOKEN_SIZE",
    "DATA_HEADER_SIZE",
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
    "SESSION_SIZE",
    "DataHeader",
    "Frame",
    "FrameType",
    "PacketKind",
    "WireError",
    "check_crc",
    "check_keyed",
    "decode_data_header",
    "decode_frames",
    "encode_ack_delay_frame",
    "encode_data_header",
    "encode_fragment_frame",
    "encode_reliable_frame",
    "encode_unreliable_frame",
    "packet_kind",
    "packet_version",
    "seal_crc",
    "seal_keyed",
]

PROTOCOL_ID = 0x4E  # "N"
PROTOCOL_VERSION = 1
PREFIX_SIZE = 4  # protocol id, version|kind, 16-bit check
CRC_INIT = 0x4E53  # "NS": handshake CRC-16/CCITT initial value

MAX_DATAGRAM = 1200
NONCE_SIZE = 8
SESSION_SIZE = 8
CHALLENGE_TOKEN_SIZE = 20  # u32 time bucket + 16-byte BLAKE2s MAC
#: CONNECT_REQUEST and CONNECT_RESPONSE are padded to exactly this size, which
#: is larger than any reply the server sends before the address is verified.
HANDSHAKE_SIZE = 256
MAX_REASON_BYTES = 200

DATA_HEADER_SIZE = 12  # prefix(4) + seq(2) + ack(2) + ack_bits(4)
ACK_DELAY_FRAME_SIZE = 2  # type(1) + milliseconds(1); space is always reserved for it
RELIABLE_FRAME_OVERHEAD = 5  # type(1) + message id(2) + length(2)
UNRELIABLE_FRAME_OVERHEAD = 3  # type(1) + length(2)
FRAGMENT_FRAME_OVERHEAD = 7  # type(1) + group(2) + index(1) + count(1) + length(2)

MAX_RELIABLE_MESSAGE = 1024
#: Room for frames in one DATA packet (the ACK_DELAY frame's space is kept free).
FRAME_BUDGET = MAX_DATAGRAM - DATA_HEADER_SIZE - ACK_DELAY_FRAME_SIZE  # 1186
MAX_UNRELIABLE_PAYLOAD = FRAME_BUDGET - UNRELIABLE_FRAME_OVERHEAD  # 1183
MAX_FRAGMENT_DATA = FRAME_BUDGET - FRAGMENT_FRAME_OVERHEAD  # 1179
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


def _tag(data: bytes, key: bytes) -> bytes:
    h = hashlib.blake2s(data[:2], key=key, digest_size=2)
    h.update(memoryview(data)[4:])
    return h.digest()


def seal_crc(packet: bytes) -> bytes:
    """Fill in a handshake packet's CRC-16 (bytes 2-3)."""
    return packet[:2] + _crc(packet).to_bytes(2, "big") + packet[4:]


def check_crc(data: bytes) -> bool:
    return len(data) >= PREFIX_SIZE and int.from_bytes(data[2:4], "big") == _crc(data)


def seal_keyed(packet: bytes, key: bytes) -> bytes:
    """Fill in a DATA/DISCONNECT packet's keyed tag (bytes 2-3) under the session id."""
    return packet[:2] + _tag(packet, key) + packet[4:]


def check_keyed(data: bytes, key: bytes) -> bool:
    return len(data) >= PREFIX_SIZE and data[2:4] == _tag(data, key)


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


_DATA_HEADER = struct.Struct(">BBHHHI")


def encode_data_header(h: DataHeader) -> bytes:
    """The 12-byte DATA header with a zero check (seal the whole packet afterwards)."""
    return _DATA_HEADER.pack(
        PROTOCOL_ID,
        (PROTOCOL_VERSION << 4) | PacketKind.DATA,
        0,
        h.sequence,
        h.ack,
        h.ack_bits,
    )


def decode_data_header(data: bytes) -> DataHeader:
    if len(data) < DATA_HEADER_SIZE:
        raise WireError("truncated data header")
    _, _, _, seq, ack, bits = _DATA_HEADER.unpack_from(data)
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
    """Decode every frame after the DATA header, or raise WireError for the whole packet."""
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
