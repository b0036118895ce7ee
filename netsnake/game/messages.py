"""The game's messages on top of the protocol: msgpack arrays ``[type, fields...]``.

Reliable (control): JOIN, QUIT, RESYNC and SWITCH from clients;
ACCEPTED, REJECTED, SEATED, SPECTATORS and the game events from the
server.  Unreliable: INPUT from clients every time they steer or receive a
snapshot, SNAPSHOT from the server every tick.  The message table, with
each type's channel and meaning, is ``docs/game-messages.rst``.

One table drives both directions: :data:`MESSAGE_TYPES` lists, for each
message class, its type id and its field layout (each field's attribute,
how it is written and how it is checked when read), as h11's reader and
writer dispatch tables do.  Adding a message is one entry there.

:func:`decode_message` is for untrusted bytes: it raises
:class:`protocol.DecodeError` for anything that is not exactly one of these.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Protocol

from netsnake.game.direction import Direction
from netsnake.game.events import (
    GameEvent,
    PlayerDied,
    PlayerJoined,
    PlayerLeft,
    PlayerRespawned,
    ServerShuttingDown,
)
from netsnake.game.limits import (
    MAX_BOARD_SIZE,
    MAX_NAME_LENGTH,
    MAX_PLAYER_ID,
    MAX_PLAYERS,
    MAX_TEXT_LENGTH,
    MAX_VIEW_SIZE,
)
from netsnake.game.snapshot import Rankable
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
    "MESSAGE_TYPES",
    "OVERVIEW_LEADERS",
    "OVERVIEW_MAX_COLUMNS",
    "OVERVIEW_MAX_ROWS",
    "Accepted",
    "Field",
    "Input",
    "Join",
    "Message",
    "MessageType",
    "Overview",
    "Quit",
    "Rejected",
    "RejectionCode",
    "Resync",
    "Roster",
    "ScoreEntry",
    "Scores",
    "Seat",
    "Seated",
    "SnapshotMessage",
    "Spectators",
    "SwitchSeat",
    "View",
    "decode_message",
    "encode_message",
    "join_version",
    "overview_shape",
    "pack_levels",
]

MAX_INPUT_TURNS = 32
#: How many ticks ahead of the server a turn's stamp may be; further ones are refused.
MAX_INPUT_LEAD = 64
_MAX_SEQ = 2**31 - 1
_MAX_PAYLOAD = 19_000  # a snapshot payload; the datagram limit keeps it far smaller
_LIMITS = CodecLimits(
    max_size=20_000,
    max_array_len=5 * MAX_PLAYERS,  # a SCORES message: five integers a player
    max_map_len=0,
    max_str_len=MAX_TEXT_LENGTH,
    max_bin_len=_MAX_PAYLOAD,
    max_depth=3,
)


class RejectionCode(enum.StrEnum):
    """Why the server refused a JOIN; the value is the string sent on the wire."""

    FULL = "full"
    """No seat left (the server is full of humans)."""
    BAD_NAME = "bad-name"
    """The name breaks the name rules; the client may JOIN again with another."""
    VERSION = "version"
    """The client speaks another game version."""
    SPECTATORS_FULL = "spectators-full"
    """Every spectator seat is taken (``--max-spectators``)."""


class Seat(enum.IntEnum):
    """How an admitted connection takes part; the value is the integer sent on the wire.

    Being admitted and having a snake are separate: every admitted seat gets
    the snapshots and the game events, only a ``PLAYER`` seat has a snake.
    """

    PLAYER = 0
    """A snake of its own, steered with INPUT."""
    SPECTATOR = 1
    """No snake: watches the game (counted against ``--max-spectators``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Join:
    name: str
    version: int
    seat: Seat = Seat.PLAYER
    """The seat asked for."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Quit:
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class Resync:
    """The client lost its baselines (it could not decode a delta): send a full snapshot."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SwitchSeat:
    """An admitted client asks to play (take a snake) or to watch (give it up)."""

    seat: Seat


@dataclass(frozen=True, slots=True, kw_only=True)
class View:
    """The client's viewport in board cells, and whom a spectator follows.

    The server sends the client the world within its area of interest: this
    viewport (capped by the server) plus a margin, around the client's own
    snake, or for a spectator around ``follow`` (None: the server's choice,
    the leader).  Sent after ACCEPTED and SEATED and whenever it changes.
    """

    columns: int
    rows: int
    follow: int | None = None

    def __post_init__(self) -> None:
        if not (1 <= self.columns <= MAX_VIEW_SIZE and 1 <= self.rows <= MAX_VIEW_SIZE):
            raise ValueError(f"a view is 1-{MAX_VIEW_SIZE} cells each way")


@dataclass(frozen=True, slots=True, kw_only=True)
class Roster:
    """Every player's name, sent once to a newly admitted client (JOINED and
    LEFT keep it current); ``ids`` and ``names`` pair up."""

    ids: tuple[int, ...]
    names: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.ids) != len(self.names):
            raise ValueError("ROSTER needs one name per id")


@dataclass(frozen=True, slots=True)
class ScoreEntry:
    """One scoreboard line: ``length`` 0 means dead."""

    id: int
    colour: int
    length: int
    score: int
    kills: int

    @classmethod
    def of(cls, line: _ScoreFields) -> ScoreEntry:
        """The line of a player (a PlayerState) or of a client's scoreboard row."""
        return cls(
            id=line.id, colour=line.colour, length=line.length, score=line.score, kills=line.kills
        )


class _ScoreFields(Rankable, Protocol):
    """A rankable line with its snake's colour: what a SCORES entry carries."""

    @property
    def colour(self) -> int: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Scores:
    """Scoreboard lines by id: every player when ``complete``, else the leaders
    (the client keeps the other lines from the last complete one)."""

    tick: int
    complete: bool
    entries: tuple[ScoreEntry, ...]


#: The overview's food grid is at most this many cells across and down (fewer on a
#: smaller board): 32x24 cells of 2 bits are 192 bytes, every 2 s.
OVERVIEW_MAX_COLUMNS = 32
OVERVIEW_MAX_ROWS = 24
#: How many leaders' heads an OVERVIEW carries (the minimap marks three).
OVERVIEW_LEADERS = 3


def overview_shape(width: int, height: int) -> tuple[int, int]:
    """(columns, rows) of the OVERVIEW food grid for a ``width`` x ``height`` board.

    Grid cell ``(i, j)`` covers the board cells with ``x * columns // width == i``
    and ``y * rows // height == j``.
    """
    return min(OVERVIEW_MAX_COLUMNS, max(1, width)), min(OVERVIEW_MAX_ROWS, max(1, height))


def pack_levels(levels: Sequence[int]) -> bytes:
    """2-bit levels (0..3), four a byte, the first in the high bits; zero padded."""
    out = bytearray(-(-len(levels) // 4))
    for i, level in enumerate(levels):
        out[i >> 2] |= (level & 3) << (6 - 2 * (i & 3))
    return bytes(out)


@dataclass(frozen=True, slots=True, kw_only=True)
class Overview:
    """The whole arena, coarsely, for the minimap of a client that is sent only its area.

    ``food`` is a ``columns`` x ``rows`` grid (:func:`overview_shape` of the
    board) of 2-bit levels, row-major, packed by :func:`pack_levels`: how much
    food lies in each grid cell (0, 1, 2, 3 or more).  ``leaders`` are the
    best living players' heads, ``(id, x, y)``, best first.
    """

    tick: int
    columns: int
    rows: int
    food: bytes
    leaders: tuple[tuple[int, int, int], ...]

    def __post_init__(self) -> None:
        if not (1 <= self.columns <= OVERVIEW_MAX_COLUMNS and 1 <= self.rows <= OVERVIEW_MAX_ROWS):
            raise ValueError("OVERVIEW grid size out of range")
        if len(self.food) != -(-self.columns * self.rows // 4):
            raise ValueError("OVERVIEW food grid has the wrong length")
        if len(self.leaders) > OVERVIEW_LEADERS:
            raise ValueError("too many OVERVIEW leaders")
        if len({pid for pid, _x, _y in self.leaders}) != len(self.leaders):
            raise ValueError("OVERVIEW leader ids repeat")

    def level(self, column: int, row: int) -> int:
        """The food level (0..3) of grid cell (``column``, ``row``)."""
        i = row * self.columns + column
        return (self.food[i >> 2] >> (6 - 2 * (i & 3))) & 3

    def fits(self, width: int, height: int) -> bool:
        """Whether it describes a ``width`` x ``height`` board: the grid's shape is
        :func:`overview_shape` of it and every leader's head lies on it."""
        return (self.columns, self.rows) == overview_shape(width, height) and all(
            x < width and y < height for _pid, x, y in self.leaders
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Accepted:
    player_id: int | None
    """The snake's id; None for a spectator."""
    name: str
    width: int
    height: int
    wrap: bool
    tick_rate: float
    colour: int
    seat: Seat = Seat.PLAYER
    """The seat the connection was admitted with."""
    max_view: tuple[int, int] = (MAX_VIEW_SIZE, MAX_VIEW_SIZE)
    """The server's cap on a VIEW (cells across, down): the area it sends is sized
    by the stated viewport capped to this, each way."""

    def __post_init__(self) -> None:
        if len(self.max_view) != 2 or not all(
            type(v) is int and 1 <= v <= MAX_VIEW_SIZE for v in self.max_view
        ):
            raise ValueError(f"a view cap is 2 sizes (across, down) of 1-{MAX_VIEW_SIZE} cells")


@dataclass(frozen=True, slots=True, kw_only=True)
class Seated:
    """The answer to SWITCH: the connection's seat from now on.

    A refused switch leaves the seat as it was and says why in ``refusal``
    (empty when the switch was made).
    """

    seat: Seat
    player_id: int | None
    """The snake's id in a PLAYER seat; None for a spectator."""
    colour: int
    refusal: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Spectators:
    """How many spectators are watching; sent to every seat when it changes."""

    count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Rejected:
    code: RejectionCode
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Input:
    """Turns ``first_seq``, ``first_seq + 1``, ... that the server has not acknowledged.

    ``stamps[i]`` is the tick whose step should apply ``turns[i]`` (the step
    that produces snapshot ``stamps[i]``; 0 for "on arrival"); see
    docs/game-messages.rst, "Stamped turns".
    """

    first_seq: int
    turns: tuple[Direction, ...]
    stamps: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.stamps) != len(self.turns):
            raise ValueError("INPUT needs one stamp per turn")


@dataclass(frozen=True, slots=True, kw_only=True)
class SnapshotMessage:
    state_hash: int
    """:func:`netsnake.game.snapshot.snapshot_hash` of the world this payload rebuilds."""
    input_ack: int
    """The newest input sequence received from this client (-1 before any)."""
    inputs_pending: int
    """How many of the inputs up to ``input_ack`` the world had not yet consumed
    as of this snapshot's tick (held for their stamp or queued); see
    :attr:`input_applied`.  Sent as a count, so it stays one byte."""
    payload: bytes
    """A full or delta snapshot from :mod:`netsnake.game.snapshot_codec`."""

    def __post_init__(self) -> None:
        if not 0 <= self.inputs_pending <= self.input_ack + 1:
            raise ValueError("more inputs pending than received")

    @property
    def input_applied(self) -> int:
        """Every input up to this sequence has been consumed by the world as of this
        snapshot's tick: it turned the snake or was refused (-1 before any)."""
        return self.input_ack - self.inputs_pending


Message = (
    Join
    | Quit
    | Resync
    | SwitchSeat
    | View
    | Roster
    | Scores
    | Overview
    | Accepted
    | Rejected
    | Seated
    | Spectators
    | Input
    | SnapshotMessage
    | GameEvent
)


_MAX_SCORE = 2**31 - 1


def _read_view_size(v: Any) -> int:
    # Out-of-range sizes are the client's business; the server caps them anyway.
    return expect_int(v, 1, MAX_VIEW_SIZE)


def _read_view_cap(v: Any) -> tuple[int, int]:
    columns, rows = expect_list(v, 2, 2)
    return _read_view_size(columns), _read_view_size(rows)


def _read_roster_ids(v: Any) -> tuple[int, ...]:
    raw = expect_bytes(v, MAX_PLAYERS)
    if any(a >= b for a, b in pairwise(raw)):
        raise DecodeError("roster ids not increasing")
    return tuple(raw)


def _read_names(v: Any) -> tuple[str, ...]:
    return tuple(expect_str(n, MAX_NAME_LENGTH) for n in expect_list(v, 0, MAX_PLAYERS))


def _read_entries(v: Any) -> tuple[ScoreEntry, ...]:
    flat = expect_list(v, 0, 5 * MAX_PLAYERS)
    if len(flat) % 5:
        raise DecodeError("scores not in fives")
    entries = []
    previous = -1
    for i in range(0, len(flat), 5):
        pid = expect_int(flat[i], previous + 1, MAX_PLAYER_ID)
        previous = pid
        entries.append(
            ScoreEntry(
                id=pid,
                colour=expect_int(flat[i + 1], 0, 255),
                length=expect_int(flat[i + 2], 0, MAX_BOARD_SIZE * MAX_BOARD_SIZE),
                score=expect_int(flat[i + 3], 0, _MAX_SCORE),
                kills=expect_int(flat[i + 4], 0, _MAX_SCORE),
            )
        )
    return tuple(entries)


def _write_entries(entries: tuple[ScoreEntry, ...]) -> list[int]:
    return [v for e in entries for v in (e.id, e.colour, e.length, e.score, e.kills)]


def _read_leaders(v: Any) -> tuple[tuple[int, int, int], ...]:
    flat = expect_list(v, 0, 3 * OVERVIEW_LEADERS)
    if len(flat) % 3:
        raise DecodeError("overview leaders not in threes")
    return tuple(
        (
            expect_int(flat[i], 0, MAX_PLAYER_ID),
            expect_int(flat[i + 1], 0, MAX_BOARD_SIZE - 1),
            expect_int(flat[i + 2], 0, MAX_BOARD_SIZE - 1),
        )
        for i in range(0, len(flat), 3)
    )


def _write_leaders(leaders: tuple[tuple[int, int, int], ...]) -> list[int]:
    return [v for leader in leaders for v in leader]


# ------------------------------------------------------------ field layouts
#
# A field is one item of the msgpack array after the type id: the attribute
# it fills, how the value is written, and how the untrusted item is checked
# and turned back into the value.  Readers raise only DecodeError.


def _pid(v: Any) -> int:
    return expect_int(v, 0, MAX_PLAYER_ID)


def _text(v: Any) -> str:
    return expect_str(v, MAX_TEXT_LENGTH)


def _as_is(value: Any) -> Any:
    return value


@dataclass(frozen=True, slots=True)
class Field:
    """One item of a message's array: attribute name, writer and checking reader."""

    attr: str
    read: Callable[[Any], Any]
    write: Callable[[Any], Any] = _as_is


def _int_field(attr: str, lo: int, hi: int) -> Field:
    return Field(attr, lambda v: expect_int(v, lo, hi))


def _pid_field(attr: str) -> Field:
    return Field(attr, _pid)


def _text_field(attr: str) -> Field:
    return Field(attr, _text)


def _read_bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise DecodeError("expected a bool")
    return v


def _read_millihertz(v: Any) -> float:
    return expect_int(v, 1, 1_000_000) / 1000


def _read_turns(v: Any) -> tuple[Direction, ...]:
    raw = expect_bytes(v, MAX_INPUT_TURNS)
    if any(b > 3 for b in raw):
        raise DecodeError("bad direction")
    return tuple(Direction(b) for b in raw)


def _read_stamps(v: Any) -> tuple[int, ...]:
    raw = expect_bytes(v, 4 * MAX_INPUT_TURNS)
    if len(raw) % 4:
        raise DecodeError("stamps must be whole 4-byte ticks")
    return tuple(int.from_bytes(raw[i : i + 4], "big") for i in range(0, len(raw), 4))


def _write_stamps(stamps: tuple[int, ...]) -> bytes:
    return b"".join(s.to_bytes(4, "big") for s in stamps)


def _read_optional_pid(v: Any) -> int | None:
    killer = expect_int(v, -1, MAX_PLAYER_ID)
    return None if killer < 0 else killer


def _write_optional_pid(pid: int | None) -> int:
    return -1 if pid is None else pid


def _read_seat(v: Any) -> Seat:
    return Seat(expect_int(v, 0, len(Seat) - 1))


def _seat_field(attr: str) -> Field:
    return Field(attr, _read_seat, int)


def _read_optional_text(v: Any) -> str | None:
    return _text(v) or None


def _read_rejection_code(v: Any) -> RejectionCode:
    try:
        return RejectionCode(_text(v))
    except ValueError:
        raise DecodeError(f"unknown rejection code {v!r:.20}") from None


@dataclass(frozen=True, slots=True)
class MessageType:
    """One row of the message table: a class, its type id and its field layout."""

    type_id: int
    cls: type[Any]
    fields: tuple[Field, ...]


#: The one table of game messages (``docs/game-messages.rst`` documents it).
MESSAGE_TYPES: tuple[MessageType, ...] = (
    MessageType(
        1, Join, (_text_field("name"), _int_field("version", 0, 0xFFFF), _seat_field("seat"))
    ),
    MessageType(2, Quit, ()),
    MessageType(3, Resync, ()),
    MessageType(4, SwitchSeat, (_seat_field("seat"),)),
    MessageType(
        5,
        View,
        (
            Field("columns", _read_view_size),
            Field("rows", _read_view_size),
            Field("follow", _read_optional_pid, _write_optional_pid),
        ),
    ),
    MessageType(
        10,
        Accepted,
        (
            Field("player_id", _read_optional_pid, _write_optional_pid),
            _text_field("name"),
            _int_field("width", 1, MAX_BOARD_SIZE),
            _int_field("height", 1, MAX_BOARD_SIZE),
            Field("wrap", _read_bool),
            # Sent as an integer number of millihertz: floats stay off the wire.
            Field("tick_rate", _read_millihertz, lambda hz: round(hz * 1000)),
            _int_field("colour", 0, 255),
            _seat_field("seat"),
            Field("max_view", _read_view_cap, list),
        ),
    ),
    MessageType(
        11,
        Rejected,
        (Field("code", _read_rejection_code, str), _text_field("reason")),
    ),
    MessageType(
        12,
        Seated,
        (
            _seat_field("seat"),
            Field("player_id", _read_optional_pid, _write_optional_pid),
            _int_field("colour", 0, 255),
            _text_field("refusal"),
        ),
    ),
    MessageType(20, PlayerJoined, (_pid_field("player_id"), _text_field("name"))),
    MessageType(
        21, PlayerLeft, (_pid_field("player_id"), _text_field("name"), _text_field("reason"))
    ),
    MessageType(
        22,
        PlayerDied,
        (
            _pid_field("player_id"),
            _text_field("name"),
            Field("killer_id", _read_optional_pid, _write_optional_pid),
            Field("killer_name", _read_optional_text, lambda n: n or ""),
            _text_field("cause"),
        ),
    ),
    MessageType(23, PlayerRespawned, (_pid_field("player_id"), _text_field("name"))),
    MessageType(24, ServerShuttingDown, (_text_field("reason"),)),
    MessageType(25, Spectators, (_int_field("count", 0, 0xFFFF),)),
    MessageType(
        26,
        Roster,
        (Field("ids", _read_roster_ids, bytes), Field("names", _read_names, list)),
    ),
    MessageType(
        30,
        Input,
        (
            _int_field("first_seq", 0, _MAX_SEQ),
            Field("turns", _read_turns, lambda turns: bytes(int(t) for t in turns)),
            Field("stamps", _read_stamps, _write_stamps),
        ),
    ),
    MessageType(
        40,
        SnapshotMessage,
        (
            _int_field("state_hash", 0, 0xFFFFFFFF),
            _int_field("input_ack", -1, _MAX_SEQ),
            _int_field("inputs_pending", 0, _MAX_SEQ),
            Field("payload", lambda v: expect_bytes(v, _MAX_PAYLOAD)),
        ),
    ),
    MessageType(
        41,
        Scores,
        (
            _int_field("tick", 0, 0xFFFF_FFFF),
            Field("complete", _read_bool),
            Field("entries", _read_entries, _write_entries),
        ),
    ),
    MessageType(
        42,
        Overview,
        (
            _int_field("tick", 0, 0xFFFF_FFFF),
            _int_field("columns", 1, OVERVIEW_MAX_COLUMNS),
            _int_field("rows", 1, OVERVIEW_MAX_ROWS),
            Field(
                "food",
                lambda v: expect_bytes(v, -(-OVERVIEW_MAX_COLUMNS * OVERVIEW_MAX_ROWS // 4)),
            ),
            Field("leaders", _read_leaders, _write_leaders),
        ),
    ),
)

_BY_CLASS = {row.cls: row for row in MESSAGE_TYPES}
_BY_ID = {row.type_id: row for row in MESSAGE_TYPES}
assert len(_BY_CLASS) == len(_BY_ID) == len(MESSAGE_TYPES), "type ids and classes must be unique"

_packer = Packer()


def encode_message(msg: Message) -> bytes:
    """Encode one message (caller-side values are trusted)."""
    row = _BY_CLASS.get(type(msg))
    if row is None:
        raise TypeError(f"not a message: {msg!r}")
    return _packer.pack([row.type_id, *(f.write(getattr(msg, f.attr)) for f in row.fields)])


def decode_message(data: bytes) -> Message:
    """Decode one untrusted message or raise DecodeError."""
    items = expect_list(unpack_untrusted(data, _LIMITS), 1, 16)
    kind = items[0]
    # An int (not a bool or float that compares equal to one), so the lookup
    # below can neither match by accident nor fail on an unhashable item.
    row = _BY_ID.get(kind) if type(kind) is int else None
    if row is None:
        raise DecodeError(f"unknown message type {kind!r:.20}")
    if len(items) != 1 + len(row.fields):
        raise DecodeError(
            f"message type {kind} needs {1 + len(row.fields)} fields, got {len(items)}"
        )
    values = {f.attr: f.read(item) for f, item in zip(row.fields, items[1:], strict=True)}
    try:
        message: Message = row.cls(**values)
    except ValueError as exc:  # fields that disagree with each other
        raise DecodeError(str(exc)) from None
    return message


def join_version(data: bytes) -> int | None:
    """The game version in what looks like a JOIN that failed to decode, else None.

    A client of another game version may lay out its JOIN differently; the
    server still reads the version from it so the answer is "version
    mismatch" rather than a complaint about the name.
    """
    try:
        items = expect_list(unpack_untrusted(data, _LIMITS), 3, 16)
    except DecodeError:
        return None
    if type(items[0]) is not int or items[0] != _BY_CLASS[Join].type_id:
        return None
    version = items[2]
    return version if type(version) is int and 0 <= version <= 0xFFFF else None
