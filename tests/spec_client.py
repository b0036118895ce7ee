"""A netsnake game client written from ``docs/game-messages.rst`` alone.

It imports nothing of ``netsnake``: only msgpack, the standard library, and
the transport (``protocol``, specified separately by ``protocol/PROTOCOL.rst``).
Its decoder and world hash are deliberately a second implementation, kept as
plain as the spec reads, so that a test running it over a real game finds any
gap between the spec and the reference code.  Section names in the comments
are the spec's.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import msgpack

from protocol import (
    ClientConfig,
    ClientEndpoint,
    ConnectionEstablished,
    ConnectionTerminated,
    Event,
    MessageReceived,
    PayloadReceived,
)

__all__ = ["Player", "SpecClient", "SpecError", "World", "decode_snapshot", "world_hash"]

# Coordinates: x grows to the right, y grows downwards.
STEPS = ((0, -1), (1, 0), (0, 1), (-1, 0))  # up, right, down, left
MOVE, LENGTH, SCORE, ALIVE, BODY, RESPAWN, DIRECTION, KILLS, BEST = (1 << i for i in range(9))

JOIN, QUIT, RESYNC, SWITCH = 1, 2, 3, 4
VIEW = 5
ACCEPTED, REJECTED, SEATED = 10, 11, 12
JOINED, LEFT, DIED, RESPAWNED, SHUTDOWN, SPECTATORS, ROSTER = 20, 21, 22, 23, 24, 25, 26
INPUT, SNAPSHOT, SCORES, OVERVIEW = 30, 40, 41, 42
GAME_VERSION = 6


class SpecError(Exception):
    """Bytes the spec says a decoder must refuse."""


@dataclass
class Player:
    id: int
    name: str
    colour: int
    alive: bool
    direction: int
    body: list[tuple[int, int]]
    score: int
    best: int
    kills: int
    respawn: int


@dataclass
class World:
    tick: int
    width: int
    height: int
    wrap: bool
    players: dict[int, Player]
    food: list[tuple[int, int]]


# -- "Snapshot payload" -----------------------------------------------------------


def _int(v: Any, lo: int, hi: int) -> int:
    if type(v) is not int or not lo <= v <= hi:
        raise SpecError(f"expected an int in [{lo}, {hi}], got {v!r:.30}")
    return v


def _bin(v: Any) -> bytes:
    if type(v) is not bytes:
        raise SpecError("expected bin")
    return v


def _list(v: Any) -> list[Any]:
    if type(v) is not list:
        raise SpecError("expected an array")
    return v


def _step(cell: tuple[int, int], d: int, w: int, h: int, wrap: bool) -> tuple[int, int]:
    x, y = cell[0] + STEPS[d][0], cell[1] + STEPS[d][1]
    if wrap:
        return x % w, y % h
    if not (0 <= x < w and 0 <= y < h):
        raise SpecError("a chain leaves the board")
    return x, y


def _coordinate_size(w: int, h: int) -> int:
    """Bytes per coordinate of a cell: 1 on boards up to 256 x 256, else 2 (big-endian)."""
    return 1 if w <= 256 and h <= 256 else 2


def _body(data: bytes, length: int, w: int, h: int, wrap: bool) -> list[tuple[int, int]]:
    """Body bytes: head x, y, then the chain from the head towards the tail."""
    if length == 0:
        if data:
            raise SpecError("cells for an empty body")
        return []
    n = _coordinate_size(w, h)
    if len(data) != 2 * n + (length + 2) // 4:
        raise SpecError("body size")
    head = (int.from_bytes(data[:n], "big"), int.from_bytes(data[n : 2 * n], "big"))
    if head[0] >= w or head[1] >= h:
        raise SpecError("head off the board")
    chain = int.from_bytes(data[2 * n :], "little")
    cells = [head]
    for i in range(length - 1):
        cells.append(_step(cells[-1], (chain >> (2 * i)) & 3, w, h, wrap))
    return cells


def _heading(a: tuple[int, int], b: tuple[int, int], w: int, h: int, wrap: bool) -> int:
    """The direction of the step a -> b; on a wrap board the step across the edge wins."""
    found = []
    for d, (dx, dy) in enumerate(STEPS):
        x, y = a[0] + dx, a[1] + dy
        across = not (0 <= x < w and 0 <= y < h)
        if (wrap and (x % w, y % h) == b) or (x, y) == b:
            found.append((not across, d))
    if not found:
        raise SpecError("cells not adjacent")
    return min(found)[1]


def _cells(data: bytes, w: int, h: int) -> list[tuple[int, int]]:
    n = _coordinate_size(w, h)
    if len(data) % (2 * n):
        raise SpecError("cell bytes not whole cells")
    cells = [
        (int.from_bytes(data[i : i + n], "big"), int.from_bytes(data[i + n : i + 2 * n], "big"))
        for i in range(0, len(data), 2 * n)
    ]
    if any(x >= w or y >= h for x, y in cells) or cells != sorted(set(cells)):
        raise SpecError("cells off the board or not strictly increasing")
    return cells


def _record(r: Any, w: int, h: int, wrap: bool) -> Player:
    r = _list(r)
    if len(r) != 10 or type(r[1]) is not str:
        raise SpecError("bad player record")
    flags = _int(r[3], 0, 7)
    length = _int(r[8], 0, w * h)
    return Player(
        id=_int(r[0], 0, 255),
        name=r[1],
        colour=_int(r[2], 0, 255),
        alive=bool(flags & 1),
        direction=flags >> 1,
        score=_int(r[4], 0, 2**31 - 1),
        best=_int(r[5], 0, 2**31 - 1),
        kills=_int(r[6], 0, 2**31 - 1),
        respawn=_int(r[7], 0, 2**31 - 1),
        body=_body(_bin(r[9]), length, w, h, wrap),
    )


def _walk_forward(
    start: tuple[int, int], chain: int, count: int, w: int, h: int, wrap: bool
) -> list[tuple[int, int]]:
    """A move chain: ``count`` steps from the old head, first step lowest; new head last."""
    cells = []
    cell = start
    for i in range(count):
        cell = _step(cell, (chain >> (2 * i)) & 3, w, h, wrap)
        cells.append(cell)
    return cells


def _change(
    b: Player, mask: int, values: list[Any], age: int, w: int, h: int, wrap: bool
) -> Player:
    """A changed player: the baseline's, with the masked fields and the implied rest."""
    p = Player(**{**b.__dict__, "body": list(b.body)})
    p.respawn = max(0, b.respawn - age)
    if (mask & MOVE and mask & BODY) or (mask & LENGTH and not mask & (MOVE | BODY)):
        raise SpecError("bad mask")

    def take() -> Any:
        if not values:
            raise SpecError("changes cut short")
        return values.pop(0)

    if mask & MOVE:
        v = take()
        number = _int(v, 1, 2**31 - 1) if type(v) is int else int.from_bytes(_bin(v), "little")
        size = number.bit_length()
        if size % 2 == 0:
            raise SpecError("bad move marker")
        steps = (size - 1) // 2
        chain = number ^ (1 << (size - 1))
        if not b.body:
            raise SpecError("MOVE without a body")
    length = _int(take(), 1, w * h) if mask & LENGTH else len(b.body)
    if mask & MOVE:
        kept = length - steps
        if not 1 <= kept <= len(b.body):
            raise SpecError("MOVE length")
        walked = _walk_forward(b.body[0], chain, steps, w, h, wrap)
        p.body = walked[::-1] + b.body[:kept]
        if steps:
            p.direction = (chain >> (2 * steps - 2)) & 3
    if mask & SCORE:
        p.score = _int(take(), 0, 2**31 - 1)
    if mask & ALIVE:
        p.alive = not b.alive
    if mask & BODY:
        data = _bin(take())
        if not data and mask & LENGTH:
            raise SpecError("LENGTH with an empty body")
        p.body = _body(data, length if data else 0, w, h, wrap)
        if len(p.body) > 1:
            p.direction = _heading(p.body[1], p.body[0], w, h, wrap)
    if mask & RESPAWN:
        p.respawn = _int(take(), 0, 2**31 - 1)
    if mask & DIRECTION:
        p.direction = _int(take(), 0, 3)
    if mask & KILLS:
        p.kills = _int(take(), 0, 2**31 - 1)
    if mask & BEST:
        p.best = _int(take(), 0, 2**31 - 1)
    return p


def decode_snapshot(data: bytes, history: dict[int, World]) -> World:
    """A full snapshot, or a delta against the baseline it names (from ``history``)."""
    try:
        items = msgpack.unpackb(data, raw=False, strict_map_key=True)
    except Exception as exc:
        raise SpecError(f"not msgpack: {exc}") from None
    items = _list(items)
    if not 2 <= len(items) <= 8:
        raise SpecError("item count")
    age = _int(items[0], 0, 2**32 - 1)
    tick = _int(items[1], age, 2**32 - 1)
    if age == 0:
        if len(items) != 7 or type(items[4]) is not bool:
            raise SpecError("bad full snapshot")
        w, h, wrap = _int(items[2], 1, 1024), _int(items[3], 1, 1024), items[4]
        players: dict[int, Player] = {}
        for r in _list(items[5]):
            p = _record(r, w, h, wrap)
            if players and p.id <= max(players):
                raise SpecError("ids not increasing")
            players[p.id] = p
        return World(tick, w, h, wrap, players, _cells(_bin(items[6]), w, h))

    base = history.get(tick - age)
    if base is None:
        raise SpecError(f"no baseline {tick - age}")
    w, h, wrap = base.width, base.height, base.wrap
    items = items + [b"", [], [], [], b"", b""][len(items) - 2 :]
    moves, changes, added, removed = (
        _bin(items[2]),
        list(_list(items[3])),
        _list(items[4]),
        _list(items[5]),
    )
    gone = [_int(pid, 0, 255) for pid in removed]
    if gone != sorted(set(gone)) or any(pid not in base.players for pid in gone):
        raise SpecError("bad removed ids")

    changed: dict[int, Player] = {}
    while changes:
        pid = _int(changes.pop(0), 0, 255)
        if (changed and pid <= max(changed)) or pid not in base.players or pid in gone:
            raise SpecError("bad change id")
        mask = _int(changes.pop(0) if changes else None, 0, 511)
        changed[pid] = _change(base.players[pid], mask, changes, age, w, h, wrap)

    bits = int.from_bytes(moves, "little")
    used = 0
    players = {}
    for pid in sorted(base.players):
        if pid in gone:
            continue
        b = base.players[pid]
        if pid in changed:
            players[pid] = changed[pid]
        elif b.alive:  # a plain mover: ``age`` steps from the moves stream
            if len(b.body) <= age:
                raise SpecError("plain mover moved further than its length")
            walked = _walk_forward(b.body[0], bits >> used, age, w, h, wrap)
            direction = (bits >> (used + 2 * age - 2)) & 3
            used += 2 * age
            players[pid] = Player(
                **{
                    **b.__dict__,
                    "body": walked[::-1] + b.body[: len(b.body) - age],
                    "direction": direction,
                    "respawn": max(0, b.respawn - age),
                }
            )
        else:
            players[pid] = Player(**{**b.__dict__, "respawn": max(0, b.respawn - age)})
    if len(moves) != (used + 7) // 8 or bits >> used:
        raise SpecError("moves do not match the plain movers")
    for r in added:
        p = _record(r, w, h, wrap)
        if p.id in players:
            raise SpecError("added id already present")
        players[p.id] = p
    players = dict(sorted(players.items()))

    food = set(base.food)
    for cell in _cells(_bin(items[6]), w, h):
        if cell not in food:
            raise SpecError("removed food that was not there")
        food.remove(cell)
    for cell in _cells(_bin(items[7]), w, h):
        if cell in food:
            raise SpecError("added food already there")
        food.add(cell)
    return World(tick, w, h, wrap, players, sorted(food))


# -- "World hash" ------------------------------------------------------------------


def digest_input(p: Player) -> bytes:
    """The bytes of one player's digest."""
    fields = struct.pack(
        ">HBBBiiii", p.id, p.colour, int(p.alive), p.direction, p.score, p.best, p.kills, p.respawn
    )
    cells = b"".join(struct.pack(">ii", x, y) for x, y in p.body)
    return p.name.encode("utf-8") + fields + cells


def hash_input(world: World) -> bytes:
    """The bytes the world hash covers, in order."""
    out = [struct.pack(">IHHB", world.tick, world.width, world.height, int(world.wrap))]
    for pid in sorted(world.players):
        out.append(struct.pack(">I", zlib.crc32(digest_input(world.players[pid]))))
    out.extend(struct.pack(">ii", x, y) for x, y in world.food)
    return b"".join(out)


def world_hash(world: World) -> int:
    return zlib.crc32(hash_input(world))


# -- a whole client ("Flow", "Inputs", "Quitting") ---------------------------------


@dataclass
class SpecClient:
    """Handshake, JOIN, snapshots with hash checks, steering, events, QUIT.

    A sans-IO object like the protocol endpoint it drives: feed it the
    endpoint's events with :meth:`handle_event`, call :meth:`poll` once per
    tick.  ``steer`` turns are chosen by the test.
    """

    server: Hashable
    name: str
    nonce: bytes
    endpoint: ClientEndpoint = field(init=False)
    history: dict[int, World] = field(default_factory=dict)
    player_id: int | None = None
    accepted: list[Any] | None = None
    events: list[list[Any]] = field(default_factory=list)
    names: dict[int, str] = field(default_factory=dict)  # from ROSTER, JOINED, LEFT
    scores: list[Any] | None = None  # the newest SCORES
    complete_scores: int = 0
    overviews: int = 0
    view: tuple[int, int] = (40, 20)
    verified: list[tuple[int, int]] = field(default_factory=list)  # (tick, hash)
    fulls: int = 0
    deltas: int = 0
    skipped_baselines: int = 0  # deltas whose baseline was not the tick before
    failures: list[str] = field(default_factory=list)
    resyncs: int = 0
    resync_pending: bool = False
    undecodable: int = 0
    next_seq: int = 0
    unacked: list[tuple[int, int, int]] = field(default_factory=list)  # seq, turn, stamp
    closed_by: ConnectionTerminated | None = None
    quit_at: float | None = None

    def __post_init__(self) -> None:
        self.endpoint = ClientEndpoint(self.server, ClientConfig(), self.nonce)

    def start(self, now: float) -> None:
        self.endpoint.connect(now)

    @property
    def newest(self) -> World | None:
        return self.history[max(self.history)] if self.history else None

    def handle_event(self, event: Event, now: float) -> None:
        if isinstance(event, ConnectionEstablished):
            self.endpoint.send_reliable(msgpack.packb([JOIN, self.name, GAME_VERSION, 0]))
        elif isinstance(event, ConnectionTerminated):
            self.closed_by = event
        elif isinstance(event, MessageReceived):
            self._reliable(msgpack.unpackb(event.data, raw=False))
        elif isinstance(event, PayloadReceived):
            msg = msgpack.unpackb(event.data, raw=False)
            if msg[0] == OVERVIEW:
                self.overviews += 1
            elif msg[0] == SCORES:
                if self.scores is None or msg[1] > self.scores[1]:
                    self.scores = msg  # [41, tick, complete, entries]
                    self.complete_scores += msg[2] is True
            else:
                self._snapshot(msg)

    def _reliable(self, msg: list[Any]) -> None:
        if msg[0] in (ACCEPTED, SEATED):
            if msg[0] == ACCEPTED:
                self.accepted = msg
                self.player_id = None if msg[1] == -1 else msg[1]
            else:
                self.player_id = None if msg[2] == -1 else msg[2]
            # The area of interest: our viewport, following nobody in particular.
            self.endpoint.send_reliable(msgpack.packb([VIEW, *self.view, -1]))
            return
        if msg[0] == ROSTER:
            self.names.update(zip(msg[1], msg[2], strict=True))
        elif msg[0] == JOINED:
            self.names[msg[1]] = msg[2]
        elif msg[0] == LEFT:
            self.names.pop(msg[1], None)
        self.events.append(msg)

    def _snapshot(self, msg: list[Any]) -> None:
        kind, state_hash, input_ack, _pending, payload = msg
        assert kind == SNAPSHOT and type(payload) is bytes
        self.unacked = [t for t in self.unacked if t[0] > input_ack]
        try:
            world = decode_snapshot(payload, self.history)
        except SpecError as exc:
            self.undecodable += 1
            if str(exc).startswith("no baseline"):
                self._resync()
            else:
                self.failures.append(str(exc))
            return
        if world_hash(world) != state_hash:
            self.failures.append(f"tick {world.tick}: hash {world_hash(world):08x}")
            self._resync()
            return
        age = msgpack.unpackb(payload, raw=False)[0]
        if age == 0:
            self.fulls += 1
            self.resync_pending = False
        else:
            self.deltas += 1
            self.skipped_baselines += age > 1
        self.verified.append((world.tick, state_hash))
        self.history[world.tick] = world
        for old in [t for t in self.history if t <= world.tick - 80]:
            del self.history[old]
        if self.unacked:
            self._send_inputs()

    def _resync(self) -> None:
        # One RESYNC is enough (it is reliable); ask again only if no full
        # snapshot has come after 50 more undecodable ones.
        if not self.resync_pending or self.undecodable > 50:
            self.resync_pending = True
            self.undecodable = 0
            self.resyncs += 1
            self.endpoint.send_reliable(msgpack.packb([RESYNC]))

    def forget_baselines(self) -> None:
        """Drop every world held (a test lever: the next delta finds no baseline)."""
        self.history.clear()

    def steer(self, turn: int) -> bool:
        """Turn (0 up .. 3 left) unless the spec's turn rule drops it; stamped 0."""
        world = self.newest
        me = None if world is None or self.player_id is None else world.players.get(self.player_id)
        if me is None or not me.alive:
            return False
        reference = self.unacked[-1][1] if self.unacked else me.direction
        if turn in (reference, (reference + 2) % 4):
            return False
        self.unacked.append((self.next_seq, turn, 0))
        self.next_seq += 1
        self._send_inputs()
        return True

    def _send_inputs(self) -> None:
        first = self.unacked[0][0]
        turns = bytes(t[1] for t in self.unacked)
        stamps = b"".join(t[2].to_bytes(4, "big") for t in self.unacked)
        self.endpoint.send_unreliable(msgpack.packb([INPUT, first, turns, stamps]))

    def quit(self, now: float) -> None:
        self.endpoint.send_reliable(msgpack.packb([QUIT]))
        self.quit_at = now

    def poll(self, now: float) -> None:
        """After QUIT, the server's DISCONNECT ends it; else give up after 1 s."""
        if self.quit_at is not None and self.closed_by is None and now - self.quit_at >= 1.0:
            self.endpoint.disconnect()
