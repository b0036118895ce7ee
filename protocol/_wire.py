"""Byte-level encoding of every packet and frame (big-endian throughout).

This module is the code twin of ``protocol/PROTOCOL.rst``; the golden vectors
in ``tests/test_protocol_wire.py`` keep the two in agreement.  Every decoder
raises :class:`WireError` on malformed input and never anything else.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

__all__ = [
    "CHALLENGE_TOKEN_SIZE",
    "DATA_HEADER_SIZE",
    "HANDSHAKE_SIZE",
    "MAX_DATAGRAM",
    "MAX_FRAGMENTS",
    "MAX_FRAGMENT_DATA",
    "MAX_RELIABLE_MESSAGE",
    "MAX_UNRELIABLE_PAYLOAD",
    "NONCE_SIZE",
    "PROTOCOL_ID",
    "PROTOCOL_VERSION",
    "SESSION_SIZE",
    "DataHeader",
    "Frame",
    "FrameType",
    "PacketKind",
    "WireError",
    "decode_data_header",
    "decode_frames",
    "encode_data_header",
    "encode_fragment_frame",
    "encode_reliable_frame",
    "encode_unreliable_frame",
]

PROTOCOL_ID = 0x4E  # "N"
PROTOCOL_VERSION = 1
PREFIX_SIZE = 3  # protocol id, version, kind

MAX_DATAGRAM = 1200
NONCE_SIZE = 8
SESSION_SIZE = 8
CHALLENGE_TOKEN_SIZE = 20  # u32 time bucket + 16-byte BLAKE2s MAC
#: CONNECT_REQUEST and CONNECT_RESPONSE are padded to exactly this size, which
#: is larger than any reply the server sends before the address is verified.
HANDSHAKE_SIZE = 256
MAX_REASON_BYTES = 200

DATA_HEADER_SIZE = 12  # prefix(3) + seq(2) + ack(2) + ack_bits(4) + ack_delay(1)
RELIABLE_FRAME_OVERHEAD = 5  # type(1) + message id(2) + length(2)
UNRELIABLE_FRAME_OVERHEAD = 3  # type(1) + length(2)
FRAGMENT_FRAME_OVERHEAD = 7  # type(1) + group(2) + index(1) + count(1) + length(2)

MAX_RELIABLE_MESSAGE = 1024
MAX_UNRELIABLE_PAYLOAD = MAX_DATAGRAM - DATA_HEADER_SIZE - UNRELIABLE_FRAME_OVERHEAD  # 1185
MAX_FRAGMENT_DATA = MAX_DATAGRAM - DATA_HEADER_SIZE - FRAGMENT_FRAME_OVERHEAD  # 1181
MAX_FRAGMENTS = 16


class WireError(ValueError):
    """Bytes from the network do not form a valid packet or frame."""


class PacketKind(enum.IntEnum):
    """The third byte of every packet. Values are fixed across versions."""

    CONNECT_REQUEST = 1
    CHALLENGE = 2
    CONNECT_RESPONSE = 3
    ACCEPT = 4
    DENIED = 5
    DATA = 6
    DISCONNECT = 7


class FrameType(enum.IntEnum):
    """The first byte of each frame inside a DATA packet."""

    RELIABLE = 0x10
    UNRELIABLE = 0x11
    FRAGMENT = 0x12


def prefix(kind: PacketKind, version: int = PROTOCOL_VERSION) -> bytes:
    """The three bytes that open every packet."""
    return bytes((PROTOCOL_ID, version, kind))


def pad(packet: bytes, size: int = HANDSHAKE_SIZE) -> bytes:
    """Zero-pad a handshake packet to its fixed size."""
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
    ack_delay_ms: int


_DATA_HEADER = struct.Struct(">BBBHHIB")


def encode_data_header(h: DataHeader) -> bytes:
    return _DATA_HEADER.pack(
        PROTOCOL_ID, PROTOCOL_VERSION, PacketKind.DATA, h.sequence, h.ack, h.ack_bits,
        h.ack_delay_ms,
    )


def decode_data_header(data: bytes) -> DataHeader:
    if len(data) < DATA_HEADER_SIZE:
        raise WireError("truncated data header")
    _, _, _, seq, ack, bits, delay = _DATA_HEADER.unpack_from(data)
    return DataHeader(seq, ack, bits, delay)


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame. Fields a frame type does not use are 0."""

    type: FrameType
    data: bytes
    message_id: int = 0
    group: int = 0
    index: int = 0
    count: int = 0


_REL = struct.Struct(">BHH")
_UNREL = struct.Struct(">BH")
_FRAG = struct.Struct(">BHBBH")


def encode_reliable_frame(message_id: int, data: bytes) -> bytes:
    return _REL.pack(FrameType.RELIABLE, message_id, len(data)) + data


def encode_unreliable_frame(data: bytes) -> bytes:
    return _UNREL.pack(FrameType.UNRELIABLE, len(data)) + data


def encode_fragment_frame(group: int, index: int, count: int, data: bytes) -> bytes:
    return _FRAG.pack(FrameType.FRAGMENT, group, index, count, len(data)) + data


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
                Frame(FrameType.FRAGMENT, packet[pos : pos + length], group=group,
                      index=index, count=count)
            )
        else:
            raise WireError(f"unknown frame type {ftype:#x}")
        pos += length
    return frames
