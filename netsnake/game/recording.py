"""Game recordings: the snapshot encoding written to a msgpack stream, and read back with seeking.

The format is specified in ``docs/recording.rst`` (with a worked example
that ``tests/test_recording_spec.py`` checks against this module).

Theory of operation
-------------------
A recording is a sequence of msgpack values, one per *record*, written one
after the other with nothing in between.  msgpack values delimit themselves,
so a reader needs no framing and an append-only writer needs no index: a
file is valid after every whole record, and a record cut short (a server
killed in the middle of a write) is an incomplete msgpack value at the very
end, which the reader ignores.  This module only turns records into bytes
and bytes into records; the thin file layer that appends them, writing
them out twice a second, is :mod:`netsnake.recording_file`.

Records are msgpack arrays (ints big-endian, as msgpack writes them)::

    header   ["netsnake recording", format_version, {field: value, ...}]
    frame    [age, tick, ...]   # a snapshot encoding, verbatim (snapshot_codec)
    event    [-1, message]      # message: messages.encode_message of a GameEvent
    check    [-2, hash]         # snapshot_hash of the next frame (before keyframes)
    area     [-3, focus, columns, rows]   # client recordings: the area of interest
    scores   [-4, message, names]         # client recordings: SCORES lines, named
    overview [-5, message]                # client recordings: the OVERVIEW held

A frame record *is* a full or delta snapshot encoding as the network carries
it (``age`` 0: a full snapshot, a *keyframe*; otherwise a delta), so frames
cost no bytes beyond the snapshot encoding.  Other records start with a
negative int, which no snapshot encoding does.

The header comes first, exactly once, so a recording starts with the bytes
``93 b2 "netsnake recording" 01``.  Its map holds ``game_version`` (int),
``width``, ``height`` (1-1024), ``wrap`` (bool), ``tick_rate`` (Hz, float),
``server`` (the server's name or address, str), ``started`` (Unix time in
seconds, float), ``source`` (``"server"``: every tick of the game;
``"client"``: the snapshots one client decoded, so ticks may be missing) and
``keyframe_interval`` (ticks).  Unknown header fields are ignored, so fields
can be added without a new format version.

Frames are keyframes and deltas; their ticks strictly increase.  The first
frame is a keyframe, later keyframes come at least every
``keyframe_interval`` ticks, and each delta is encoded against the frame
just before it (its age says how many ticks back that was, so a client
recording with lost ticks is fine).  A check record before each keyframe
lets the reader verify that a seek landed on the world that was recorded.

An event belongs to the first frame written after it (the first tick that
shows its effect); events after the last frame belong to the last frame.
Event records whose message this version cannot decode, and records of
other negative kinds, are skipped and counted (:attr:`Recording.skipped`),
so newer event types and record kinds do not make old readers refuse a file.

Seeking.  Opening a recording scans every record once (msgpack parsing only,
no snapshot decoding) into arrays of frame ticks and byte ranges.  A seek
finds the nearest keyframe at or before the target by bisection, decodes it
and applies at most ``keyframe_interval`` deltas.  Frames decoded last are
kept, so playing forward decodes each delta once.

Errors.  Everything read is untrusted.  :class:`Recording` raises only
:class:`RecordingError`: for a file that is not a recording, a format version
it does not know, or a record that is not well formed (at opening), and for
a snapshot that does not decode or a keyframe whose hash does not match
(when that frame is first needed).
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

import msgpack

from netsnake.game.events import GameEvent
from netsnake.game.limits import MAX_BOARD_SIZE
from netsnake.game.messages import Overview, ScoreEntry, Scores, decode_message, encode_message
from netsnake.game.names import NameError_, validate_name
from netsnake.game.scoreboard import ScoreLine
from netsnake.game.snapshot import Snapshot, snapshot_hash
from netsnake.game.snapshot_codec import decode_snapshot, encode_delta, encode_full, peek_header
from protocol import DecodeError, Packer

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "AreaRecord",
    "Recording",
    "RecordingError",
    "RecordingHeader",
    "RecordingWriter",
    "default_keyframe_interval",
]

#: First item of the header record; a file starts with its msgpack bytes.
MAGIC: Final = "netsnake recording"
#: Bumped whenever records (or the snapshot encoding inside them) change incompatibly.
FORMAT_VERSION: Final = 1
#: Seconds between keyframes by default: seeks decode at most this much play.
KEYFRAME_SECONDS: Final = 10.0

EVENT: Final = -1
CHECK: Final = -2
#: A client recording's area of interest from the next frame on: whom it is
#: centred on and the viewport (capped by the server) it is sized by.
AREA: Final = -3
#: A client recording's scoreboard lines from the next frame on (players outside
#: the area are listed only here): a complete SCORES message and the names.
SCORES: Final = -4
#: A client recording's OVERVIEW of the arena (the minimap) from the next frame on.
OVERVIEW: Final = -5

#: What an AREA record says: the focus player (None: the server's choice, the
#: leader) and the viewport (cells across, down) the area is sized by.
AreaRecord = tuple[int | None, tuple[int, int]]

SOURCES: Final = frozenset({"server", "client"})

_MAX_HEADER_TEXT = 256
_MAX_RECORD = 1024 * 1024  # one full snapshot of a crowded 1024x1024 board fits
_DECODED_KEPT = 8  # decoded frames cached for playback and nearby seeks


class RecordingError(Exception):
    """The bytes are not a (readable) recording; the message says why, in one line."""


def default_keyframe_interval(tick_rate: float) -> int:
    """Ticks between keyframes for ``tick_rate``: :data:`KEYFRAME_SECONDS` of play."""
    return max(1, round(KEYFRAME_SECONDS * tick_rate))


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingHeader:
    """What the header record says about a recording (see the module docstring)."""

    game_version: int
    width: int
    height: int
    wrap: bool
    tick_rate: float
    server: str
    started: float
    source: str
    keyframe_interval: int
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        for name, lo, hi in (
            ("game_version", 0, 0xFFFF),
            ("width", 1, MAX_BOARD_SIZE),
            ("height", 1, MAX_BOARD_SIZE),
            ("keyframe_interval", 1, 1_000_000),
        ):
            value = getattr(self, name)
            if type(value) is not int or not lo <= value <= hi:
                raise ValueError(f"{name} must be an int in [{lo}, {hi}], got {value!r}")
        if type(self.wrap) is not bool:
            raise ValueError("wrap must be a bool")
        for name in ("tick_rate", "started"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if not 0 < self.tick_rate <= 1000:
            raise ValueError(f"tick_rate must be in (0, 1000], got {self.tick_rate!r}")
        if not isinstance(self.server, str) or len(self.server) > _MAX_HEADER_TEXT:
            raise ValueError(f"server must be a str of at most {_MAX_HEADER_TEXT} characters")
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {sorted(SOURCES)}, got {self.source!r}")

    def to_record(self) -> list[Any]:
        """The header record (the first value of a recording)."""
        return [
            MAGIC,
            self.format_version,
            {
                "game_version": self.game_version,
                "width": self.width,
                "height": self.height,
                "wrap": self.wrap,
                "tick_rate": float(self.tick_rate),
                "server": self.server,
                "started": float(self.started),
                "source": self.source,
                "keyframe_interval": self.keyframe_interval,
            },
        ]

    @classmethod
    def from_record(cls, value: Any) -> RecordingHeader:
        """The header from the first value of a file; RecordingError if it is not one."""
        if not (isinstance(value, list) and len(value) == 3 and value[0] == MAGIC):
            raise RecordingError("not a netsnake recording")
        version, fields = value[1], value[2]
        if type(version) is not int:
            raise RecordingError("recording header has no format version")
        if version != FORMAT_VERSION:
            raise RecordingError(
                f"recording format version {version} is not supported (this netsnake reads "
                f"version {FORMAT_VERSION})"
            )
        if not isinstance(fields, dict):
            raise RecordingError("recording header is damaged")
        try:
            return cls(
                game_version=fields["game_version"],
                width=fields["width"],
                height=fields["height"],
                wrap=fields["wrap"],
                tick_rate=fields["tick_rate"],
                server=fields["server"],
                started=fields["started"],
                source=fields["source"],
                keyframe_interval=fields["keyframe_interval"],
                format_version=version,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RecordingError(f"recording header is damaged ({exc})") from None


class RecordingWriter:
    """Turns a game, frame by frame, into recording bytes (pure; no file).

    Call :meth:`add_event` and :meth:`add_frame` as the game goes; take the
    bytes to append with :meth:`take` whenever convenient (the file layer
    does so twice a second).  What :meth:`take` returns always ends
    on a record boundary.
    """

    def __init__(self, header: RecordingHeader) -> None:
        self.header = header
        self._packer = Packer()
        self._pending = bytearray(self._packer.pack(header.to_record()))
        self._last: Snapshot | None = None
        self._last_keyframe = -1
        self.frames = 0
        self.keyframes = 0
        self.events = 0
        self.bytes_written = len(self._pending)

    @property
    def last_tick(self) -> int | None:
        """Tick of the newest frame added, if any."""
        return None if self._last is None else self._last.tick

    def add_event(self, event: GameEvent) -> None:
        """Record ``event``; it belongs to the next frame added."""
        self._append([EVENT, encode_message(event)])
        self.events += 1

    def add_area(self, area: AreaRecord) -> None:
        """Record the client's area of interest from the next frame added on."""
        focus, (columns, rows) = area
        self._append([AREA, -1 if focus is None else focus, columns, rows])

    def add_scores(self, tick: int, lines: Iterable[ScoreLine]) -> None:
        """Record the scoreboard lines a client holds (for players outside its
        area) from the next frame added on; ``tick`` is when they were current."""
        ordered = sorted(lines, key=lambda line: line.id)
        entries = tuple(ScoreEntry.of(line) for line in ordered)
        message = encode_message(Scores(tick=tick, complete=True, entries=entries))
        self._append([SCORES, message, [s.name for s in ordered]])

    def add_overview(self, overview: Overview) -> None:
        """Record the OVERVIEW a client holds from the next frame added on."""
        self._append([OVERVIEW, encode_message(overview)])

    def add_frame(self, snapshot: Snapshot) -> None:
        """Record the world ``snapshot``: a keyframe when due, else a delta on the previous frame.

        Raises ValueError if the tick does not follow the previous frame's or
        the board differs from the header's.
        """
        h = self.header
        if (snapshot.width, snapshot.height, snapshot.wrap) != (h.width, h.height, h.wrap):
            raise ValueError("snapshot board does not match the recording header")
        last = self._last
        if last is not None and snapshot.tick <= last.tick:
            raise ValueError(f"tick {snapshot.tick} is not after {last.tick}")
        if last is None or snapshot.tick - self._last_keyframe >= h.keyframe_interval:
            self._append([CHECK, snapshot_hash(snapshot)])
            self._append_bytes(encode_full(snapshot))
            self._last_keyframe = snapshot.tick
            self.keyframes += 1
        else:
            self._append_bytes(encode_delta(snapshot, last))
        self._last = snapshot
        self.frames += 1

    def _append(self, record: list[Any]) -> None:
        self._append_bytes(self._packer.pack(record))

    def _append_bytes(self, data: bytes) -> None:
        self._pending += data
        self.bytes_written += len(data)

    def take(self) -> bytes:
        """The bytes produced since the last call (whole records), to append to the file."""
        data = bytes(self._pending)
        self._pending.clear()
        return data


# -- reading ------------------------------------------------------------------


def _unpacker(data: bytes) -> msgpack.Unpacker:
    unpacker = msgpack.Unpacker(
        raw=False,
        use_list=True,
        strict_map_key=True,
        max_buffer_size=max(len(data), 1),
        max_str_len=_MAX_HEADER_TEXT,
        max_bin_len=_MAX_RECORD,
        max_array_len=16 * 1024,
        max_map_len=32,
        max_ext_len=0,
    )
    unpacker.feed(data)
    return unpacker


_M = TypeVar("_M")


def _message(value: Any, kind: type[_M]) -> _M | None:
    """The game-layer message of ``kind`` a record holds as a bin, or None if it
    holds anything else (not a bin, not a message, another type)."""
    if not isinstance(value, bytes):
        return None
    try:
        message = decode_message(value)
    except DecodeError:
        return None
    return message if isinstance(message, kind) else None


def _scores_record(record: list[Any]) -> tuple[ScoreLine, ...] | None:
    """A SCORES record's lines, or None if it is malformed (then skipped)."""
    if len(record) != 3 or not isinstance(record[2], list):
        return None
    message, names = _message(record[1], Scores), record[2]
    if message is None or not message.complete or len(names) != len(message.entries):
        return None
    for name in names:
        try:
            if not isinstance(name, str) or validate_name(name) != name:
                return None
        except NameError_:
            return None
    return tuple(
        ScoreLine(e.id, name, e.colour, e.score, e.length, e.kills)
        for e, name in zip(message.entries, names, strict=True)
    )


def _overview_record(record: list[Any], header: RecordingHeader) -> Overview | None:
    """An OVERVIEW record's message, or None if it is malformed or not of this board."""
    message = _message(record[1], Overview) if len(record) == 2 else None
    if message is None or not message.fits(header.width, header.height):
        return None
    return message


def _area_record(record: list[Any]) -> AreaRecord | None:
    """An AREA record's meaning, or None if it is malformed (then skipped)."""
    if len(record) != 4 or not all(type(v) is int for v in record[1:]):
        return None
    focus, columns, rows = record[1], record[2], record[3]
    if not (-1 <= focus <= 255 and 1 <= columns <= MAX_BOARD_SIZE and 1 <= rows <= MAX_BOARD_SIZE):
        return None
    return (None if focus == -1 else focus), (columns, rows)


_T = TypeVar("_T")


class _Timeline(Generic[_T]):
    """Values that hold from a frame index on (AREA, SCORES and OVERVIEW records)."""

    def __init__(self) -> None:
        self._from = array("q")  # frame index each value holds from, increasing
        self._values: list[_T] = []
        self.pending: _T | None = None  # read, waiting for the next frame

    def place(self, index: int) -> None:
        """The next frame, ``index``, was read: a pending value holds from it."""
        if self.pending is not None:
            self._from.append(index)
            self._values.append(self.pending)
            self.pending = None

    def at(self, index: int) -> _T | None:
        """The value at frame ``index`` (None: no record before it)."""
        at = bisect_right(self._from, index) - 1
        return self._values[at] if at >= 0 else None


class Recording:
    """A recording opened from bytes: its header, frame index and events, with seeking.

    ``frame(i)`` and ``frame_at(tick)`` decode frames on demand.  Bytes after
    the last whole record (a cut-off write) are ignored and counted in
    :attr:`ignored_tail`.
    """

    def __init__(self, data: bytes) -> None:
        """Index ``data``; raises RecordingError if it is not a well-formed recording."""
        self._data = data
        self.ignored_tail = 0
        #: Records skipped: events this version cannot decode, unknown record kinds.
        self.skipped = 0
        self.ticks = array("q")  # tick of each frame
        self._starts = array("q")  # byte range of each frame's record
        self._ends = array("q")
        self._keyframes = array("q")  # frame indices of the keyframes, increasing
        self._checks: dict[int, int] = {}  # frame index -> expected snapshot_hash
        self._events: dict[int, list[GameEvent]] = {}
        self._areas: _Timeline[AreaRecord] = _Timeline()
        self._scores: _Timeline[tuple[ScoreLine, ...]] = _Timeline()
        self._overviews: _Timeline[Overview] = _Timeline()
        self._decoded: OrderedDict[int, Snapshot] = OrderedDict()
        self.header = self._scan(data)

    # -- indexing

    def _scan(self, data: bytes) -> RecordingHeader:
        unpacker = _unpacker(data)
        try:
            first = unpacker.unpack()
        except msgpack.OutOfData:
            raise RecordingError("not a netsnake recording (empty or cut short)") from None
        except (ValueError, TypeError, msgpack.UnpackException):
            raise RecordingError("not a netsnake recording") from None
        header = RecordingHeader.from_record(first)
        pending_events: list[GameEvent] = []
        check: int | None = None
        previous_tick: int | None = None
        start = unpacker.tell()
        while True:
            try:
                record = unpacker.unpack()
            except msgpack.OutOfData:
                break
            except (ValueError, TypeError, msgpack.UnpackException) as exc:
                raise RecordingError(f"damaged record at byte {start}: {exc}") from None
            end = unpacker.tell()
            kind = record[0] if isinstance(record, list) and record else None
            if type(kind) is not int:
                raise RecordingError(f"damaged record at byte {start}: unknown record")
            if kind == EVENT and len(record) == 2:
                self._read_event(record[1], pending_events)
            elif kind == CHECK and len(record) == 2 and type(record[1]) is int:
                check = record[1]
            elif kind == AREA and (area := _area_record(record)) is not None:
                self._areas.pending = area
            elif kind == SCORES and (lines := _scores_record(record)) is not None:
                self._scores.pending = lines
            elif kind == OVERVIEW and (overview := _overview_record(record, header)) is not None:
                self._overviews.pending = overview
            elif kind < 0:
                self.skipped += 1  # a kind from a newer version, or a malformed one
            else:
                try:
                    tick, baseline = peek_header(data[start:end])
                except DecodeError:
                    raise RecordingError(f"damaged frame record at byte {start}") from None
                if previous_tick is None and baseline is not None:
                    raise RecordingError(
                        f"damaged recording: first frame at byte {start} is a delta"
                    )
                if previous_tick is not None and tick <= previous_tick:
                    raise RecordingError(f"damaged recording: tick {tick} at byte {start} repeats")
                if baseline is not None and baseline != previous_tick:
                    raise RecordingError(
                        f"damaged recording: delta at byte {start} is not against the frame before"
                    )
                index = len(self.ticks)
                if baseline is None:
                    self._keyframes.append(index)
                    if check is not None:
                        self._checks[index] = check
                check = None
                self.ticks.append(tick)
                self._starts.append(start)
                self._ends.append(end)
                if pending_events:
                    self._events[index] = pending_events
                    pending_events = []
                for timeline in (self._areas, self._scores, self._overviews):
                    timeline.place(index)
                previous_tick = tick
            start = end
        self.ignored_tail = len(data) - start
        if pending_events and self.ticks:
            self._events.setdefault(len(self.ticks) - 1, []).extend(pending_events)
        return header

    def _read_event(self, value: Any, pending: list[GameEvent]) -> None:
        event = _message(value, GameEvent)
        if event is None:
            self.skipped += 1
        else:
            pending.append(event)

    # -- queries

    @property
    def frame_count(self) -> int:
        """How many frames (keyframes and deltas) the recording holds."""
        return len(self.ticks)

    @property
    def keyframe_count(self) -> int:
        return len(self._keyframes)

    @property
    def first_tick(self) -> int:
        """Tick of the first frame; RecordingError if there are no frames."""
        self._need_frames()
        return self.ticks[0]

    @property
    def last_tick(self) -> int:
        """Tick of the last whole frame; RecordingError if there are no frames."""
        self._need_frames()
        return self.ticks[-1]

    @property
    def duration(self) -> float:
        """Seconds from the first frame to the last."""
        return (self.last_tick - self.first_tick) / self.header.tick_rate

    def _need_frames(self) -> None:
        if not self.ticks:
            raise RecordingError("the recording holds no frames")

    def index_at(self, tick: int) -> int:
        """Index of the last frame at or before ``tick`` (the first frame if before it)."""
        self._need_frames()
        return max(0, bisect_right(self.ticks, tick) - 1)

    def events(self, index: int) -> list[GameEvent]:
        """The events that belong to frame ``index``."""
        return list(self._events.get(index, ()))

    def area(self, index: int) -> AreaRecord | None:
        """The client's area of interest at frame ``index`` (None: no AREA record
        before it, as in a server recording, which holds the whole world)."""
        return self._areas.at(index)

    def scores(self, index: int) -> tuple[ScoreLine, ...]:
        """The scoreboard lines a client recording held at frame ``index``, for
        players outside its area (empty: none recorded, as in a server recording,
        whose frames hold every player)."""
        return self._scores.at(index) or ()

    def overview(self, index: int) -> Overview | None:
        """The OVERVIEW a client recording held at frame ``index``, if any."""
        return self._overviews.at(index)

    def frame_at(self, tick: int) -> Snapshot:
        """The world shown at ``tick``: the last frame at or before it."""
        return self.frame(self.index_at(tick))

    def frame(self, index: int) -> Snapshot:
        """Frame ``index`` decoded (IndexError if out of range; RecordingError if damaged)."""
        if not 0 <= index < len(self.ticks):
            raise IndexError(f"frame {index} out of range")
        cached = self._decoded.get(index)
        if cached is not None:
            self._decoded.move_to_end(index)
            return cached
        # Start from the nearest decoded frame before it in this keyframe's run, else the keyframe.
        keyframe = self._keyframes[bisect_right(self._keyframes, index) - 1]
        start, snapshot = keyframe, None
        for known, decoded in self._decoded.items():
            if start <= known < index:
                start, snapshot = known, decoded
        if snapshot is None:
            snapshot = self._decode(keyframe, None)
        for i in range(start + 1, index + 1):
            snapshot = self._decode(i, snapshot)
        return snapshot

    def _decode(self, index: int, baseline: Snapshot | None) -> Snapshot:
        tick = self.ticks[index]
        try:
            snapshot = decode_snapshot(
                self._data[self._starts[index] : self._ends[index]], baseline
            )
        except DecodeError as exc:
            raise RecordingError(f"damaged frame at tick {tick}: {exc}") from None
        h = self.header
        if (snapshot.width, snapshot.height, snapshot.wrap) != (h.width, h.height, h.wrap):
            raise RecordingError(f"damaged frame at tick {tick}: board differs from the header")
        check = self._checks.get(index)
        if check is not None and snapshot_hash(snapshot) != check:
            raise RecordingError(f"damaged frame at tick {tick}: world hash does not match")
        self._decoded[index] = snapshot
        self._decoded.move_to_end(index)
        while len(self._decoded) > _DECODED_KEPT:
            self._decoded.popitem(last=False)
        return snapshot
