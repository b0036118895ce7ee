"""The game's messages on top of the protocol: msgpack arrays ``[type, fields...]``.

Reliable (control): JOIN, QUIT, RESYNC from clients; ACCEPTED, REJECTED and
the game events from the server.  Unreliable: INPUT from clients every time
they steer or receive a snapshot, SNAPSHOT from the server every tick.  The
layouts are tabled in ``protocol/PROTOCOL.rst`` under "Game messages".

:func:`decode_message` is for untrusted bytes: it raises
:class:`protocol.DecodeError` for anything that is not exactly one of these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from netsnake.game.direction import Direction
from netsnake.game.events import (
    GameEvent,
    PlayerDied,
    PlayerJoined,
    PlayerLeft,
    PlayerRespawned,
    ServerShuttingDown,
)
from protocol import (
    CodecLimits,
    DecodeError,
    Packer,
    expect_bytes,
    expect_int,
    expect_list,
    expect_str,
    unpack_untrusted,
)

__all__ = [
    "MAX_INPUT_LEAD",
    "MAX_INPUT_TURNS",
    "Accepted",
    "Input",
    "Join",
    "Message",
    "Quit",
    "Rejected",
    "Resync",
    "SnapshotMessage",
    "decode_message",
    "encode_message",
]

MAX_INPUT_TURNS = 32
#: Ticks ahead of the server's a turn's stamp may be; further ones are refused.
MAX_INPUT_LEAD = 64
_MAX_SEQ = 2**31 - 1
_MAX_NAME = 1024  # refused later with a reason if longer than the name rules allow
_LIMITS = CodecLimits(
    max_size=20_000,
    max_array_len=64,
    max_map_len=0,
    max_str_len=_MAX_NAME,
    max_bin_len=19_000,
    max_depth=3,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Join:
    name: str
    version: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Quit:
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class Resync:
    """The client lost its baselines (it could not decode a delta): send a full snapshot."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Accepted:
    player_id: int
    name: str
    width: int
    height: int
    wrap: bool
    tick_rate: float
    colour: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Rejected:
    code: str
    """``full``, ``bad-name`` or ``version``."""
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Input:
    """Turns ``first_seq``, ``first_seq + 1``, ... that the server has not acknowledged.

    ``stamps[i]`` is the tick whose step should apply ``turns[i]`` (the step
    that produces snapshot ``stamps[i]``); see docs/game-messages.rst.
    """

    first_seq: int
    turns: tuple[Direction, ...]
    stamps: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.stamps) != len(self.turns):
            raise ValueError("Input needs one stamp per turn")


@dataclass(frozen=True, slots=True, kw_only=True)
class SnapshotMessage:
    state_hash: int
    """:func:`netsnake.game.snapshot.snapshot_hash` of the world this payload rebuilds."""
    input_ack: int
    """The newest input sequence received from this client (-1 before any)."""
    input_applied: int
    """Every input up to this sequence has been consumed by the world as of this
    snapshot's tick: turned the snake, or was refused (-1 before any)."""
    payload: bytes
    """A full or delta snapshot from :mod:`netsnake.game.snapshot_codec`."""


Message = Join | Quit | Resync | Accepted | Rejected | Input | SnapshotMessage | GameEvent

_JOIN, _QUIT, _RESYNC, _ACCEPTED, _REJECTED = 1, 2, 3, 10, 11
_JOINED, _LEFT, _DIED, _RESPAWNED, _SHUTDOWN = 20, 21, 22, 23, 24
_INPUT, _SNAPSHOT = 30, 40

_packer = Packer()


def _opt_id(value: int | None) -> int:
    return -1 if value is None else value


def encode_message(msg: Message) -> bytes:
    """Encode one message (caller-side values are trusted)."""
    fields: list[Any]
    match msg:
        case Join():
            fields = [_JOIN, msg.name, msg.version]
        case Quit():
            fields = [_QUIT]
        case Resync():
            fields = [_RESYNC]
        case Accepted():
            fields = [
                _ACCEPTED,
                msg.player_id,
                msg.name,
                msg.width,
                msg.height,
                msg.wrap,
                round(msg.tick_rate * 1000),
                msg.colour,
            ]
        case Rejected():
            fields = [_REJECTED, msg.code, msg.reason]
        case Input():
            fields = [
                _INPUT,
                msg.first_seq,
                bytes(int(t) for t in msg.turns),
                b"".join(s.to_bytes(4, "big") for s in msg.stamps),
            ]
        case SnapshotMessage():
            fields = [_SNAPSHOT, msg.state_hash, msg.input_ack, msg.input_applied, msg.payload]
        case PlayerJoined():
            fields = [_JOINED, msg.player_id, msg.name]
        case PlayerLeft():
            fields = [_LEFT, msg.player_id, msg.name, msg.reason]
        case PlayerDied():
            fields = [
                _DIED,
                msg.player_id,
                msg.name,
                _opt_id(msg.killer_id),
                msg.killer_name or "",
                msg.cause,
            ]
        case PlayerRespawned():
            fields = [_RESPAWNED, msg.player_id, msg.name]
        case ServerShuttingDown():
            fields = [_SHUTDOWN, msg.reason]
        case _:
            raise TypeError(f"not a message: {msg!r}")
    return _packer.pack(fields)


def _pid(v: Any) -> int:
    return expect_int(v, 0, 255)


def _text(v: Any) -> str:
    return expect_str(v, _MAX_NAME)


def decode_message(data: bytes) -> Message:
    """Decode one untrusted message or raise DecodeError."""
    items = expect_list(unpack_untrusted(data, _LIMITS), 1, 16)
    kind = items[0]
    n = len(items)

    def need(count: int) -> None:
        if n != count:
            raise DecodeError(f"message type {kind} needs {count} fields, got {n}")

    if kind == _SNAPSHOT:
        need(5)
        input_ack = expect_int(items[2], -1, _MAX_SEQ)
        return SnapshotMessage(
            state_hash=expect_int(items[1], 0, 0xFFFFFFFF),
            input_ack=input_ack,
            input_applied=expect_int(items[3], -1, input_ack),
            payload=expect_bytes(items[4], 19_000),
        )
    if kind == _INPUT:
        need(4)
        raw = expect_bytes(items[2], MAX_INPUT_TURNS)
        if any(b > 3 for b in raw):
            raise DecodeError("bad direction")
        raw_stamps = expect_bytes(items[3], 4 * MAX_INPUT_TURNS)
        if len(raw_stamps) != 4 * len(raw):
            raise DecodeError("INPUT needs one 4-byte stamp per turn")
        return Input(
            first_seq=expect_int(items[1], 0, _MAX_SEQ),
            turns=tuple(Direction(b) for b in raw),
            stamps=tuple(
                int.from_bytes(raw_stamps[i : i + 4], "big") for i in range(0, len(raw_stamps), 4)
            ),
        )
    if kind == _JOIN:
        need(3)
        return Join(name=_text(items[1]), version=expect_int(items[2], 0, 0xFFFF))
    if kind == _QUIT:
        need(1)
        return Quit()
    if kind == _RESYNC:
        need(1)
        return Resync()
    if kind == _ACCEPTED:
        need(8)
        if not isinstance(items[5], bool):
            raise DecodeError("wrap must be a bool")
        return Accepted(
            player_id=_pid(items[1]),
            name=_text(items[2]),
            width=expect_int(items[3], 1, 255),
            height=expect_int(items[4], 1, 255),
            wrap=items[5],
            tick_rate=expect_int(items[6], 1, 1_000_000) / 1000,
            colour=expect_int(items[7], 0, 255),
        )
    if kind == _REJECTED:
        need(3)
        return Rejected(code=_text(items[1]), reason=_text(items[2]))
    if kind == _JOINED:
        need(3)
        return PlayerJoined(player_id=_pid(items[1]), name=_text(items[2]))
    if kind == _LEFT:
        need(4)
        return PlayerLeft(player_id=_pid(items[1]), name=_text(items[2]), reason=_text(items[3]))
    if kind == _DIED:
        need(6)
        killer = expect_int(items[3], -1, 255)
        return PlayerDied(
            player_id=_pid(items[1]),
            name=_text(items[2]),
            killer_id=None if killer < 0 else killer,
            killer_name=_text(items[4]) or None,
            cause=_text(items[5]),
        )
    if kind == _RESPAWNED:
        need(3)
        return PlayerRespawned(player_id=_pid(items[1]), name=_text(items[2]))
    if kind == _SHUTDOWN:
        need(2)
        return ServerShuttingDown(reason=_text(items[1]))
    raise DecodeError(f"unknown message type {kind!r:.20}")
