"""Full and delta encodings of :class:`~netsnake.game.snapshot.Snapshot` (msgpack outside).

Theory of operation
-------------------
The server keeps recent snapshots; each client acknowledges the newest tick
it decoded, and the server sends the current tick as a *delta* against that
acknowledged *baseline* (any older tick the client still holds, not only the
previous one), or as a *full* snapshot when it has none.  Decoding is exact:
``decode_snapshot(encode_delta(t, b), b) == t``.

Both forms are one msgpack array whose first two items are ``age`` and
``tick``; ``age`` 0 marks a full snapshot, otherwise the baseline is tick
``tick - age``.  :func:`peek_header` reads just those two integers.

Full: ``[0, tick, width, height, wrap, players, food]``, where ``food`` is
bytes of ``x, y`` pairs and each player is the record
``[id, name, colour, flags, score, best, kills, respawn_ticks, length, body]``
with ``flags = alive | direction << 1``.  A body is ``b""`` when empty, else
bytes ``x, y`` of the head followed by a *direction chain*: for each further
segment, the 2-bit direction from the previous segment to it, packed least
significant bits first (wrap-around steps included when the board wraps).

Delta: ``[age, tick, moves, changes, added, removed, food_removed,
food_added]``, trailing empty items omitted.  Players are described against
the baseline's and the baseline's width, height and wrap carry over:

- ``moves`` (bytes) covers every *plain mover*: a player alive in the
  baseline, still present, with no entry in ``changes``.  It moved exactly
  ``age`` cells and nothing else changed: same length, direction equal to its
  last step, respawn counter unchanged.  For each, in id order, ``age``
  2-bit directions (from the old head to the new one) are read from one
  least-significant-first bit stream.  A steady game costs 2 bits a snake.
- ``changes`` is flat: ``id, mask, value...`` repeated, ids increasing, the
  values of the mask bits in increasing bit order (``ALIVE`` has no value; it
  flips the flag).  Fields not in the mask keep the baseline value, except
  ``direction`` (defaults to the last step of the new body, if it moved or
  was replaced) and ``respawn_ticks`` (defaults to ``max(0, baseline -
  age)``, so a countdown costs nothing).  A body either moves (``MOVE``: a
  direction chain from the old head, as an int or bytes carrying a leading
  1 bit that marks its length, with ``LENGTH`` if the length changed; the
  tail is what is left of the baseline body) or is replaced (``BODY``: body
  bytes as in the full form, ``b""`` when the snake died).
- ``added`` holds full player records (joins, or an id reused by someone
  new), ``removed`` the ids that left; food is given as cells removed and
  cells added, each as bytes of ``x, y`` pairs.

Decoding checks every type, range and cross-reference and raises only
:class:`protocol.DecodeError`.  Encoding a snapshot that breaks the
:class:`Snapshot` invariants (bodies not contiguous, out-of-range fields) is
caller misuse and raises ValueError.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import replace
from itertools import pairwise
from typing import Any, Final

from netsnake.game.direction import Direction, step, step_direction, walk
from netsnake.game.limits import MAX_BOARD_SIZE, MAX_NAME_LENGTH, MAX_PLAYER_ID, MAX_PLAYERS
from netsnake.game.snapshot import Cell, PlayerState, Snapshot
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
    "DeltaMemo",
    "SnapshotHistory",
    "decode_snapshot",
    "encode_delta",
    "encode_full",
    "peek_header",
]

MAX_TICK: Final = 0xFFFF_FFFF
MAX_COUNTER: Final = 0x7FFF_FFFF  # score, best, kills, respawn: fit snapshot_hash's int32

# Change-mask bits, most frequent first so usual masks stay one byte.
MOVE: Final = 1
LENGTH: Final = 2
SCORE: Final = 4
ALIVE: Final = 8
BODY: Final = 16
RESPAWN: Final = 32
DIRECTION: Final = 64
KILLS: Final = 128
BEST: Final = 256
_ALL_BITS: Final = 511

# Food or a body may in principle cover a 1024x1024 board (4 bytes a cell); a
# real payload is bounded far below by the datagram size.
_MAX_BIN: Final = 4 * MAX_BOARD_SIZE * MAX_BOARD_SIZE
_LIMITS: Final = CodecLimits(
    max_size=_MAX_BIN + 64 * 1024,
    max_array_len=16 * 1024,
    max_map_len=0,
    max_str_len=4 * MAX_NAME_LENGTH,
    max_bin_len=_MAX_BIN,
    max_ext_len=0,
    max_depth=3,
)

_DIRECTIONS: Final = tuple(Direction)
_WIDE_CELL: Final = struct.Struct(">HH")
_packer = Packer()


# -- direction chains ---------------------------------------------------------


def _step_direction(a: Cell, b: Cell, width: int, height: int, wrap: bool) -> int:
    """The direction of the one-cell step ``a -> b``; ValueError if not adjacent."""
    direction = step_direction(a, b, width, height, wrap)
    if direction is None:
        raise ValueError(f"cells {a} and {b} are not adjacent")
    return direction


def _pack_chain(cells: Sequence[Cell], width: int, height: int, wrap: bool) -> int:
    """Directions between consecutive ``cells`` as 2-bit fields, first step lowest."""
    bits = 0
    for i in range(1, len(cells)):
        bits |= _step_direction(cells[i - 1], cells[i], width, height, wrap) << (2 * i - 2)
    return bits


def _walk(start: Cell, bits: int, count: int, width: int, height: int, wrap: bool) -> list[Cell]:
    """The ``count`` cells reached from ``start`` by the chain ``bits`` (start excluded)."""
    if count == 1:  # a plain mover in a delta against the previous tick: the usual case
        cell = step(start, bits & 3, width, height, wrap)
        cells = None if cell is None else [cell]
    else:
        cells = walk(
            start, [(bits >> shift) & 3 for shift in range(0, 2 * count, 2)], width, height, wrap
        )
    if cells is None:
        raise DecodeError("direction chain leaves the board")
    return cells


def _cell_size(width: int, height: int) -> int:
    """Bytes per coordinate: 1 while the board fits a byte's range, else 2 (big-endian)."""
    return 1 if width <= 256 and height <= 256 else 2


def _encode_body(body: Sequence[Cell], width: int, height: int, wrap: bool) -> bytes:
    if not body:
        return b""
    bits = _pack_chain(body, width, height, wrap)
    return _encode_cells(body[:1], width, height) + bits.to_bytes((len(body) + 2) // 4, "little")


def _decode_body(data: bytes, length: int, width: int, height: int, wrap: bool) -> tuple[Cell, ...]:
    if length == 0:
        if data:
            raise DecodeError("empty body with cells")
        return ()
    size = 2 * _cell_size(width, height)
    if len(data) != size + (length + 2) // 4:
        raise DecodeError("body bytes do not match its length")
    half = size // 2
    head = (int.from_bytes(data[:half], "big"), int.from_bytes(data[half:size], "big"))
    if not (head[0] < width and head[1] < height):
        raise DecodeError("head off the board")
    bits = int.from_bytes(data[size:], "little")
    return (head, *_walk(head, bits, length - 1, width, height, wrap))


def _encode_cells(cells: Iterable[Cell], width: int, height: int) -> bytes:
    if _cell_size(width, height) == 1:
        return bytes(v for cell in cells for v in cell)
    return b"".join(_WIDE_CELL.pack(x, y) for x, y in cells)


def _decode_cells(data: bytes, width: int, height: int) -> list[Cell]:
    """Cells from bytes of ``x, y`` pairs; must be in bounds and strictly increasing."""
    if _cell_size(width, height) == 1:
        if len(data) % 2:
            raise DecodeError("odd cell bytes")
        cells = list(zip(data[0::2], data[1::2], strict=True))
    else:
        if len(data) % 4:
            raise DecodeError("cell bytes not a multiple of 4")
        cells = list(_WIDE_CELL.iter_unpack(data))
    previous = (-1, -1)
    for cell in cells:
        if not (cell[0] < width and cell[1] < height) or cell <= previous:
            raise DecodeError("cells off the board or out of order")
        previous = cell
    return cells


def _pack_moves(directions: Sequence[int]) -> int | bytes:
    """A MOVE value: the chain with a leading 1 bit, as an int while it fits in 31 bits."""
    value = 1 << (2 * len(directions))
    for i, d in enumerate(directions):
        value |= d << (2 * i)
    if value < 1 << 31:
        return value
    return value.to_bytes((value.bit_length() + 7) // 8, "little")


def _unpack_moves(value: Any) -> tuple[int, int]:
    """(chain bits, step count) from a MOVE value."""
    if type(value) is int:
        number = expect_int(value, 1, (1 << 31) - 1)
    else:
        number = int.from_bytes(expect_bytes(value, _LIMITS.max_bin_len), "little")
    size = number.bit_length()
    if size % 2 == 0:  # also rejects 0: the marker bit must sit at an even position
        raise DecodeError("bad move chain marker")
    return number ^ (1 << (size - 1)), (size - 1) // 2


# -- validation of what we are asked to encode --------------------------------


def _check_int(what: str, value: int, hi: int) -> None:
    if not isinstance(value, int):
        raise ValueError(f"{what} must be an int")
    if not 0 <= value <= hi:
        raise ValueError(f"{what} {value} out of range [0, {hi}]")


def _check_player(p: PlayerState) -> None:
    _check_int("player id", p.id, MAX_PLAYER_ID)
    if not isinstance(p.name, str) or len(p.name) > MAX_NAME_LENGTH:
        raise ValueError(f"player {p.id}: name must be a str of <= {MAX_NAME_LENGTH} chars")
    _check_int("colour", p.colour, 255)
    _check_int("direction", p.direction, 3)
    for what in ("score", "best", "kills", "respawn_ticks"):
        _check_int(what, getattr(p, what), MAX_COUNTER)


def _check_frame(s: Snapshot) -> None:
    _check_int("tick", s.tick, MAX_TICK)
    _check_int("width", s.width, MAX_BOARD_SIZE)
    _check_int("height", s.height, MAX_BOARD_SIZE)
    if s.width < 1 or s.height < 1:
        raise ValueError("board must be at least 1x1")
    if len(s.players) > MAX_PLAYERS:
        raise ValueError(f"more than {MAX_PLAYERS} players")


def _check_cells(cells: Iterable[Cell], width: int, height: int) -> None:
    for x, y in cells:
        if not (0 <= x < width and 0 <= y < height):
            raise ValueError(f"cell {(x, y)} off the {width}x{height} board")


# -- full snapshots -----------------------------------------------------------


def _player_record(p: PlayerState, width: int, height: int, wrap: bool) -> list[Any]:
    _check_player(p)
    _check_cells(p.body, width, height)
    return [
        p.id,
        p.name,
        p.colour,
        int(p.alive) | int(p.direction) << 1,
        p.score,
        p.best,
        p.kills,
        p.respawn_ticks,
        len(p.body),
        _encode_body(p.body, width, height, wrap),
    ]


def encode_full(s: Snapshot) -> bytes:
    """Encode the whole of ``s``; decodable without a baseline."""
    _check_frame(s)
    _check_cells(s.food, s.width, s.height)
    w, h, wrap = s.width, s.height, s.wrap
    players = [_player_record(p, w, h, wrap) for p in s.players]
    return _packer.pack([0, s.tick, w, h, bool(wrap), players, _encode_cells(s.food, w, h)])


def _decode_record(value: Any, width: int, height: int, wrap: bool) -> PlayerState:
    record = expect_list(value, 10, 10)
    flags = expect_int(record[3], 0, 7)
    length = expect_int(record[8], 0, width * height)
    return PlayerState(
        id=expect_int(record[0], 0, MAX_PLAYER_ID),
        name=expect_str(record[1], MAX_NAME_LENGTH),
        colour=expect_int(record[2], 0, 255),
        alive=bool(flags & 1),
        direction=_DIRECTIONS[flags >> 1],
        score=expect_int(record[4], 0, MAX_COUNTER),
        best=expect_int(record[5], 0, MAX_COUNTER),
        kills=expect_int(record[6], 0, MAX_COUNTER),
        respawn_ticks=expect_int(record[7], 0, MAX_COUNTER),
        body=_decode_body(
            expect_bytes(record[9], _LIMITS.max_bin_len), length, width, height, wrap
        ),
    )


def _check_sorted_ids(players: Sequence[PlayerState]) -> None:
    for a, b in pairwise(players):
        if a.id >= b.id:
            raise DecodeError("player ids not strictly increasing")


def _decode_full(items: list[Any]) -> Snapshot:
    if len(items) != 7:
        raise DecodeError("full snapshot has the wrong number of items")
    tick = expect_int(items[1], 0, MAX_TICK)
    width = expect_int(items[2], 1, MAX_BOARD_SIZE)
    height = expect_int(items[3], 1, MAX_BOARD_SIZE)
    wrap = items[4]
    if type(wrap) is not bool:
        raise DecodeError("wrap must be a bool")
    records = expect_list(items[5], 0, MAX_PLAYERS)
    players = tuple(_decode_record(r, width, height, wrap) for r in records)
    _check_sorted_ids(players)
    food = _decode_cells(expect_bytes(items[6], _LIMITS.max_bin_len), width, height)
    return Snapshot(
        tick=tick, width=width, height=height, wrap=wrap, players=players, food=tuple(food)
    )


# -- deltas ---------------------------------------------------------------------


def _moved_chain(
    b: PlayerState, t: PlayerState, width: int, height: int, wrap: bool
) -> list[int] | None:
    """Directions taking ``b``'s head to ``t``'s, if ``t.body`` is that walk plus old cells.

    Requires at least the old head to survive in the new body; otherwise the
    path taken is not recoverable from the two bodies alone.
    """
    old, new = b.body, t.body
    if not old or not new:
        return None
    old_head = old[0]
    for k in range(len(new)):
        if new[k] != old_head:
            continue
        if new[k:] != old[: len(new) - k]:
            continue
        try:
            return [
                _step_direction(new[i], new[i - 1], width, height, wrap) for i in range(k, 0, -1)
            ]
        except ValueError:
            return None
    return None


def _implied_respawn(b: PlayerState, age: int) -> int:
    return max(0, b.respawn_ticks - age)


#: How one player appears in a delta: a plain move ``(bits, bit count)`` for
#: the moves field, an explicit change ``[id, mask, *values]``, or None (still
#: dead, counting down: nothing to say).
_Change = tuple[int, int] | list[Any] | None


class DeltaMemo:
    """Per-player parts of the deltas of one tick, shared between encodings.

    An area snapshot holds the world's own :class:`PlayerState` objects, so
    a player seen by many clients changes the same way in each of their
    deltas against the same baseline tick.  Pass one memo to every
    :func:`encode_delta` of one tick: a part is reused only when it was worked
    out from the very same two states (identity, not equality) at the same
    age, so a memo can never change the bytes, only save the work.
    """

    __slots__ = ("_changes", "_records")

    def __init__(self) -> None:
        self._changes: dict[int, tuple[PlayerState, PlayerState, _Change]] = {}
        self._records: dict[int, tuple[PlayerState, list[Any]]] = {}

    def change(
        self, b: PlayerState, t: PlayerState, age: int, w: int, h: int, wrap: bool
    ) -> _Change:
        key = age << 16 | t.id
        hit = self._changes.get(key)
        if hit is not None and hit[0] is b and hit[1] is t:
            return hit[2]
        change = _player_change(b, t, age, w, h, wrap)
        self._changes[key] = (b, t, change)
        return change

    def record(self, t: PlayerState, w: int, h: int, wrap: bool) -> list[Any]:
        hit = self._records.get(t.id)
        if hit is not None and hit[0] is t:
            return hit[1]
        record = _player_record(t, w, h, wrap)
        self._records[t.id] = (t, record)
        return record


def _player_change(b: PlayerState, t: PlayerState, age: int, w: int, h: int, wrap: bool) -> _Change:
    """How ``t`` differs from ``b`` (same id, name and colour), ``age`` ticks on."""
    chain = _moved_chain(b, t, w, h, wrap) if t.body != b.body else []
    implied_direction = chain[-1] if chain else b.direction
    if (
        b.alive
        and chain is not None
        and len(chain) == age
        and len(t.body) == len(b.body)
        and t.alive
        and t.direction == implied_direction
        and t.score == b.score
        and t.best == b.best
        and t.kills == b.kills
        and t.respawn_ticks == _implied_respawn(b, age)
    ):
        if age == 1:
            return chain[0], 2  # the usual case: one step since the baseline
        bits = 0
        for i, d in enumerate(chain):
            bits |= d << (2 * i)
        return bits, 2 * age
    mask = 0
    values: list[Any] = []
    if t.body != b.body:
        if chain is not None:
            mask |= MOVE
            values.append(_pack_moves(chain))
        else:
            _check_cells(t.body, w, h)
            mask |= BODY
            body_bytes = _encode_body(t.body, w, h, wrap)
            implied_direction = (
                _step_direction(t.body[1], t.body[0], w, h, wrap)
                if len(t.body) > 1
                else b.direction
            )
        if len(t.body) != len(b.body) and t.body:
            mask |= LENGTH
            values.append(len(t.body))
    if t.score != b.score:
        _check_int("score", t.score, MAX_COUNTER)
        mask |= SCORE
        values.append(t.score)
    if t.alive != b.alive:
        mask |= ALIVE
    if mask & BODY:
        values.append(body_bytes)
    if t.respawn_ticks != _implied_respawn(b, age):
        _check_int("respawn_ticks", t.respawn_ticks, MAX_COUNTER)
        mask |= RESPAWN
        values.append(t.respawn_ticks)
    if t.direction != implied_direction:
        _check_int("direction", t.direction, 3)
        mask |= DIRECTION
        values.append(int(t.direction))
    if t.kills != b.kills:
        _check_int("kills", t.kills, MAX_COUNTER)
        mask |= KILLS
        values.append(t.kills)
    if t.best != b.best:
        _check_int("best", t.best, MAX_COUNTER)
        mask |= BEST
        values.append(t.best)
    if mask == 0 and not b.alive:
        return None  # still dead, just counting down: implied
    return [t.id, mask, *values]


def encode_delta(s: Snapshot, baseline: Snapshot, memo: DeltaMemo | None = None) -> bytes:
    """Encode ``s`` as changes from ``baseline``, an older snapshot of the same board.

    ``memo`` shares per-player work between the deltas of one tick (see
    :class:`DeltaMemo`); the bytes are the same with or without it.

    Raises ValueError if ``baseline`` is not older than ``s`` or the boards
    differ (size or wrap).
    """
    _check_frame(s)
    if baseline.tick >= s.tick:
        raise ValueError(f"baseline tick {baseline.tick} is not older than tick {s.tick}")
    w, h, wrap = s.width, s.height, s.wrap
    if (baseline.width, baseline.height, baseline.wrap) != (w, h, wrap):
        raise ValueError("baseline is of a different board")
    age = s.tick - baseline.tick

    old_by_id = {p.id: p for p in baseline.players}
    move_bits = 0
    move_count = 0
    changes: list[Any] = []
    added: list[list[Any]] = []
    removed_ids: list[int] = []
    previous_id = -1
    for t in s.players:
        if t.id <= previous_id:
            raise ValueError("snapshot players not sorted by id")
        previous_id = t.id
        b = old_by_id.pop(t.id, None)
        if b is None or b.name != t.name or b.colour != t.colour:
            if b is not None:
                removed_ids.append(t.id)
            added.append(
                _player_record(t, w, h, wrap) if memo is None else memo.record(t, w, h, wrap)
            )
            continue
        change = (
            _player_change(b, t, age, w, h, wrap)
            if memo is None
            else memo.change(b, t, age, w, h, wrap)
        )
        if type(change) is tuple:
            move_bits |= change[0] << move_count
            move_count += change[1]
        elif change is not None:
            changes += change
    removed_ids.extend(old_by_id)  # players that left (dict keeps id order)
    removed_ids.sort()

    if s.food == baseline.food:
        food_removed = food_added = b""
    else:
        old_food, new_food = set(baseline.food), set(s.food)
        food_removed = _encode_cells(sorted(old_food - new_food), w, h)
        added_food = sorted(new_food - old_food)
        _check_cells(added_food, w, h)
        food_added = _encode_cells(added_food, w, h)

    moves = move_bits.to_bytes((move_count + 7) // 8, "little")
    message: list[Any] = [age, s.tick, moves, changes, added, removed_ids, food_removed, food_added]
    while len(message) > 2 and not message[-1]:
        message.pop()
    return _packer.pack(message)


class _ChangeReader:
    """Walks the flat ``changes`` list of a delta."""

    __slots__ = ("_items", "_pos")

    def __init__(self, items: list[Any]) -> None:
        self._items = items
        self._pos = 0

    def done(self) -> bool:
        return self._pos >= len(self._items)

    def take(self) -> Any:
        if self._pos >= len(self._items):
            raise DecodeError("changes list cut short")
        value = self._items[self._pos]
        self._pos += 1
        return value


def _apply_change(
    b: PlayerState, mask: int, reader: _ChangeReader, age: int, width: int, height: int, wrap: bool
) -> PlayerState:
    body = b.body
    direction = b.direction
    if mask & MOVE and mask & BODY:
        raise DecodeError("MOVE and BODY together")
    if mask & LENGTH and not mask & (MOVE | BODY):
        raise DecodeError("LENGTH without a body change")
    if mask & MOVE:
        bits, count = _unpack_moves(reader.take())
        if not b.body:
            raise DecodeError("MOVE for a snake with no body")
        length = expect_int(reader.take(), 1, width * height) if mask & LENGTH else len(b.body)
        kept = length - count
        if not 1 <= kept <= len(b.body):
            raise DecodeError("MOVE length out of range")
        walked = _walk(b.body[0], bits, count, width, height, wrap)
        walked.reverse()
        body = (*walked, *b.body[:kept])
        if count:
            direction = _DIRECTIONS[bits >> (2 * count - 2)]
    else:
        length = expect_int(reader.take(), 1, width * height) if mask & LENGTH else len(b.body)
    score = expect_int(reader.take(), 0, MAX_COUNTER) if mask & SCORE else b.score
    alive = b.alive ^ bool(mask & ALIVE)
    if mask & BODY:
        data = expect_bytes(reader.take(), _LIMITS.max_bin_len)
        if not data:
            if mask & LENGTH:
                raise DecodeError("LENGTH with an empty body")
            length = 0
        body = _decode_body(data, length, width, height, wrap)
        if len(body) > 1:
            direction = _DIRECTIONS[_step_direction(body[1], body[0], width, height, wrap)]
    respawn = (
        expect_int(reader.take(), 0, MAX_COUNTER) if mask & RESPAWN else _implied_respawn(b, age)
    )
    if mask & DIRECTION:
        direction = _DIRECTIONS[expect_int(reader.take(), 0, 3)]
    kills = expect_int(reader.take(), 0, MAX_COUNTER) if mask & KILLS else b.kills
    best = expect_int(reader.take(), 0, MAX_COUNTER) if mask & BEST else b.best
    return replace(
        b,
        alive=alive,
        direction=direction,
        body=body,
        score=score,
        best=best,
        kills=kills,
        respawn_ticks=respawn,
    )


# _plain_move and _counted_down run for nearly every snake on every decoded
# tick, so they use PlayerState.moved rather than dataclasses.replace, which
# put some 20% on the median delta decode of benchmarks/snapshot_size.py.
# Rarer paths use replace.


def _counted_down(b: PlayerState, respawn_ticks: int) -> PlayerState:
    """A dead snake further into its respawn countdown."""
    return b.moved(alive=b.alive, direction=b.direction, body=b.body, respawn_ticks=respawn_ticks)


def _plain_move(
    b: PlayerState, bits: int, age: int, width: int, height: int, wrap: bool
) -> PlayerState:
    kept = len(b.body) - age
    if kept < 1:
        raise DecodeError("plain mover moved further than its length")
    walked = _walk(b.body[0], bits, age, width, height, wrap)
    walked.reverse()
    return b.moved(
        alive=True,
        direction=_DIRECTIONS[(bits >> (2 * age - 2)) & 3],
        body=(*walked, *b.body[:kept]),
        respawn_ticks=_implied_respawn(b, age),
    )


def _decode_delta(items: list[Any], baseline: Snapshot | None) -> Snapshot:
    if not 2 <= len(items) <= 8:
        raise DecodeError("delta has the wrong number of items")
    age = expect_int(items[0], 1, MAX_TICK)
    tick = expect_int(items[1], age, MAX_TICK)
    if baseline is None:
        raise DecodeError("delta snapshot without a baseline")
    if baseline.tick != tick - age:
        raise DecodeError(f"delta is against tick {tick - age}, not {baseline.tick}")
    # Trailing empty items are left out by the encoder.
    items = items + [b"", [], [], [], b"", b""][len(items) - 2 :]
    width, height, wrap = baseline.width, baseline.height, baseline.wrap
    moves = expect_bytes(items[2], _LIMITS.max_bin_len)
    changes = _ChangeReader(expect_list(items[3]))
    added = expect_list(items[4], 0, MAX_PLAYERS)
    old_by_id = {p.id: p for p in baseline.players}
    removed_ids: set[int] = set()
    previous = -1
    for value in expect_list(items[5], 0, MAX_PLAYERS):
        pid = expect_int(value, previous + 1, MAX_PLAYER_ID)
        if pid not in old_by_id:
            raise DecodeError(f"removed player {pid} not in the baseline")
        removed_ids.add(pid)
        previous = pid

    # Explicit changes, keyed by id; plain movers are everyone else alive.
    changed: dict[int, PlayerState] = {}
    previous = -1
    while not changes.done():
        pid = expect_int(changes.take(), previous + 1, MAX_PLAYER_ID)
        previous = pid
        b = old_by_id.get(pid)
        if b is None or pid in removed_ids:
            raise DecodeError(f"change for player {pid} not in the baseline")
        mask = expect_int(changes.take(), 0, _ALL_BITS)
        changed[pid] = _apply_change(b, mask, changes, age, width, height, wrap)

    bits = int.from_bytes(moves, "little")
    used = 0
    players: list[PlayerState] = []
    for b in baseline.players:
        if b.id in removed_ids:
            continue
        state = changed.get(b.id)
        if state is None:
            if b.alive:
                state = _plain_move(b, bits >> used, age, width, height, wrap)
                used += 2 * age
            elif b.respawn_ticks:
                state = _counted_down(b, _implied_respawn(b, age))
            else:
                state = b
        players.append(state)
    if len(moves) != (used + 7) // 8 or bits >> used:
        raise DecodeError("moves do not match the plain movers")

    for value in added:
        players.append(_decode_record(value, width, height, wrap))
    if added:
        players.sort(key=lambda p: p.id)
    _check_sorted_ids(players)  # an added id must not still be present
    return Snapshot(
        tick=tick,
        width=width,
        height=height,
        wrap=wrap,
        players=tuple(players),
        food=_apply_food(baseline.food, items[6], items[7], width, height),
    )


def _apply_food(
    food: tuple[Cell, ...], removed_value: Any, added_value: Any, width: int, height: int
) -> tuple[Cell, ...]:
    removed = _decode_cells(expect_bytes(removed_value, _LIMITS.max_bin_len), width, height)
    added = _decode_cells(expect_bytes(added_value, _LIMITS.max_bin_len), width, height)
    if not removed and not added:
        return food
    remaining = set(food)
    for cell in removed:
        if cell not in remaining:
            raise DecodeError("removed food that was not there")
        remaining.remove(cell)
    for cell in added:
        if cell in remaining:
            raise DecodeError("added food that was already there")
        remaining.add(cell)
    return tuple(sorted(remaining))


def decode_snapshot(data: bytes, baseline: Snapshot | None) -> Snapshot:
    """Decode a full or delta snapshot; a delta needs the baseline it names.

    Raises :class:`protocol.DecodeError`, and nothing else, for any bytes that
    are not a well-formed snapshot (or a delta against another baseline).
    """
    items = expect_list(unpack_untrusted(data, _LIMITS), 2, 8)
    if items[0] == 0 and type(items[0]) is int:
        return _decode_full(items)
    return _decode_delta(items, baseline)


def _read_uint(data: bytes, pos: int) -> tuple[int, int]:
    try:
        first = data[pos]
        if first < 0x80:
            return first, pos + 1
        size = {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8}.get(first)
        if size is None or pos + 1 + size > len(data):
            raise DecodeError("expected an unsigned int")
        return int.from_bytes(data[pos + 1 : pos + 1 + size], "big"), pos + 1 + size
    except IndexError:
        raise DecodeError("snapshot header cut short") from None


def peek_header(data: bytes) -> tuple[int, int | None]:
    """``(tick, baseline_tick)`` of an encoded snapshot; ``baseline_tick`` None if full.

    Reads only the first few bytes, so the caller can find the baseline
    before decoding; the rest is checked by :func:`decode_snapshot`.
    """
    if not data or not 0x92 <= data[0] <= 0x98:
        raise DecodeError("not a snapshot")
    age, pos = _read_uint(data, 1)
    tick, _ = _read_uint(data, pos)
    if tick > MAX_TICK or age > tick:
        raise DecodeError("bad snapshot header")
    return tick, (tick - age if age else None)


# -- server-side history ------------------------------------------------------


class SnapshotHistory:
    """The last ``window`` snapshots and their encodings, shared between clients.

    All clients acknowledging the same baseline get the very same bytes, so
    each (tick, baseline) pair is encoded once; :attr:`encodes` and
    :attr:`cache_hits` count how that goes.
    """

    def __init__(self, window: int = 64) -> None:
        if type(window) is not int or window < 32:
            raise ValueError("SnapshotHistory window must be an int >= 32")
        self._window = window
        self._snapshots: dict[int, Snapshot] = {}
        self._encoded: dict[int, dict[int | None, bytes]] = {}
        self.encodes = 0
        self.cache_hits = 0

    @property
    def window(self) -> int:
        """How many snapshots are kept."""
        return self._window

    @property
    def newest_tick(self) -> int | None:
        """Tick of the latest snapshot added, if any."""
        return next(reversed(self._snapshots), None)

    def add(self, s: Snapshot) -> None:
        """Keep ``s``, forgetting the oldest beyond the window; ticks must increase."""
        newest = self.newest_tick
        if newest is not None and s.tick <= newest:
            raise ValueError(f"tick {s.tick} is not after {newest}")
        self._snapshots[s.tick] = s
        while len(self._snapshots) > self._window:
            oldest = next(iter(self._snapshots))
            del self._snapshots[oldest]
            self._encoded.pop(oldest, None)

    def get(self, tick: int) -> Snapshot | None:
        """The snapshot of ``tick`` if still held."""
        return self._snapshots.get(tick)

    def encode_for(self, tick: int, baseline_tick: int | None) -> bytes:
        """``tick`` encoded against ``baseline_tick``, or in full if that is not held.

        Raises KeyError if ``tick`` itself is not held.
        """
        snapshot = self._snapshots[tick]
        if baseline_tick is not None and (
            baseline_tick >= tick or baseline_tick not in self._snapshots
        ):
            baseline_tick = None
        cache = self._encoded.setdefault(tick, {})
        data = cache.get(baseline_tick)
        if data is not None:
            self.cache_hits += 1
            return data
        if baseline_tick is None:
            data = encode_full(snapshot)
        else:
            data = encode_delta(snapshot, self._snapshots[baseline_tick])
        self.encodes += 1
        cache[baseline_tick] = data
        return data
