"""The authoritative game server's logic, with no sockets and no clock.

:class:`GameServer` owns the :class:`~netsnake.game.world.World` and a
:class:`protocol.ServerEndpoint`.  The asyncio shell (``netsnake.server.app``)
feeds it protocol events and calls :meth:`GameServer.tick` at the tick rate;
everything the server decides happens here, so tests can drive it on the
simulated network with a virtual clock.

Per tick: bots choose turns (through the same turn queue as humans), the
world steps, the snapshot joins the history, world events go out reliably,
and every admitted client gets the snapshot as a delta against the newest
tick it acknowledged (a full snapshot when it has none in the window).
Clients with the same baseline share the same encoded bytes.

Seats.  Being admitted and having a snake are separate.  A connection is
admitted (ACCEPTED) with a seat: a PLAYER seat has a snake in the world and
counts against ``max_players`` (bots included, a bot gives way to a human);
a SPECTATOR seat has none and counts against ``max_spectators``.  Both get
the snapshots and the game events; SWITCH moves an admitted connection
between them, answered by SEATED.  Every seat hears SPECTATORS whenever the
number watching changes.
"""

from __future__ import annotations

import contextlib
import logging
import random
from collections import Counter, deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field, replace
from typing import Final

from netsnake import GAME_VERSION, __version__
from netsnake.addresses import format_peer
from netsnake.game.bots import steer_bots
from netsnake.game.direction import Direction
from netsnake.game.events import (
    GameEvent,
    PlayerDied,
    PlayerJoined,
    PlayerLeft,
    PlayerRespawned,
    ServerShuttingDown,
)
from netsnake.game.interest import DEFAULT_VIEW, WHOLE, Area, BlockIndex, area_centre, area_for
from netsnake.game.limits import MAX_NAME_LENGTH, MAX_PLAYERS, MAX_VIEW_SIZE
from netsnake.game.messages import (
    MAX_INPUT_LEAD,
    MAX_INPUT_TURNS,
    OVERVIEW_LEADERS,
    Accepted,
    Input,
    Join,
    Message,
    Overview,
    Quit,
    Rejected,
    RejectionCode,
    Resync,
    Roster,
    ScoreEntry,
    Scores,
    Seat,
    Seated,
    SnapshotMessage,
    Spectators,
    SwitchSeat,
    View,
    decode_message,
    encode_message,
    join_version,
    overview_shape,
    pack_levels,
)
from netsnake.game.names import NameError_, unique_name, validate_name
from netsnake.game.server_info import ServerInfo, encode_server_info
from netsnake.game.snapshot import PlayerState, Snapshot, ranked, snapshot_hash
from netsnake.game.snapshot_codec import DeltaMemo, SnapshotHistory, encode_delta, encode_full
from netsnake.game.world import PlayerDied as WorldDied
from netsnake.game.world import PlayerRespawned as WorldRespawned
from netsnake.game.world import World, WorldConfig
from protocol import (
    ConnectionEstablished,
    ConnectionTerminated,
    DecodeError,
    DisconnectCode,
    Event,
    LocalProtocolError,
    MessageReceived,
    NotConnected,
    PayloadAcked,
    PayloadLost,
    PayloadReceived,
    ServerEndpoint,
)

__all__ = ["BOT_NAMES", "AppliedTurn", "GameServer", "ServerSettings", "world_overview"]

log = logging.getLogger("game")

BOT_NAMES = (
    "Kaa",
    "Nagini",
    "Sir Hiss",
    "Jake",
    "Ekans",
    "Orochi",
    "Jormungandr",
    "Apophis",
    "Quetzal",
    "Slinky",
    "Monty",
    "Noodle",
    "Basil",
    "Sid",
    "Medusa",
    "Ouroboros",
)
_COLOURS = 12  # colour indices handed out; the UI maps them to palette entries

#: Protocol connections accepted beyond the seats.  A client arriving at a
#: full server must still complete the handshake to be told "server full"; with
#: no spare connection it would hear nothing and time out instead.
SPARE_CONNECTIONS = 4


#: The largest viewport a client's area is built around, unless ``--max-view`` says.
DEFAULT_MAX_VIEW: tuple[int, int] = (128, 96)
#: The smallest view cap: what a client shows of the board in its smallest view
#: (8 cells, the reference UI's MIN_VIEW) states with its camera's margins.  A
#: smaller cap would leave part of that view out of the area the client is sent.
MIN_MAX_VIEW: Final = 12


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerSettings:
    """What ``netsnake-server``'s command line sets."""

    tick_rate: float = 10.0
    world: WorldConfig = field(default_factory=WorldConfig)
    max_players: int = 16
    max_spectators: int = 16
    """Spectators at once; they do not count against ``max_players``."""
    bots: int = 0
    seed: int = 0
    join_timeout: float = 120.0
    """A connection that has not joined after this long is closed."""
    max_view: tuple[int, int] = DEFAULT_MAX_VIEW
    """The largest viewport (cells across, down) a client's area of interest is
    built around, whatever its VIEW says."""
    scores_interval: float = 2.0
    """Seconds between SCORES messages (the scoreboard of every player)."""
    server_name: str = "netsnake"
    """What INFO queries (``netsnake-client --list``) show; cut to fit the reply."""

    def __post_init__(self) -> None:
        if not 1 <= self.tick_rate <= 60:
            raise ValueError("tick rate must be between 1 and 60 Hz")
        if not 1 <= self.max_players <= MAX_PLAYERS:
            raise ValueError(f"max players must be between 1 and {MAX_PLAYERS}")
        if not 0 <= self.max_spectators <= 256:
            raise ValueError("max spectators must be between 0 and 256")
        if not 0 <= self.bots <= self.max_players:
            raise ValueError("bots must be between 0 and max players")
        if not all(MIN_MAX_VIEW <= v <= MAX_VIEW_SIZE for v in self.max_view):
            raise ValueError(f"--max-view must be {MIN_MAX_VIEW}-{MAX_VIEW_SIZE} cells each way")
        if not 0.1 <= self.scores_interval <= 60:
            raise ValueError("scores interval must be between 0.1 and 60 s")

    @property
    def max_connections(self) -> int:
        """How many protocol connections the server endpoint accepts: every seat,
        players and spectators, plus SPARE_CONNECTIONS."""
        return self.max_players + self.max_spectators + SPARE_CONNECTIONS


#: A SCORES that is not complete lists this many leaders.
SCORES_LEADERS = 16
#: Every this many SCORES one lists every player (10 s at the default 2 s).
SCORES_COMPLETE_EVERY = 5

#: Bytes of names (plus id and msgpack header) per ROSTER message: far enough
#: under the protocol's 1024-byte reliable message with the array headers.
_ROSTER_BUDGET = 900

#: (area, focus player) of an area snapshot; None for the whole world.
_AreaKey = tuple[Area, int | None] | None


@dataclass(slots=True)
class _Client:
    peer: Hashable
    connected_at: float
    seat: Seat | None = None
    """None until admitted."""
    player_id: int | None = None
    """The snake's id, in a PLAYER seat only."""
    colour: int = 0
    name: str = ""
    last_input_seq: int = -1
    # Stamped turns received but not yet due (seq, turn, stamp), in seq order, and
    # the seqs of turns handed to the world's queue that it has not popped yet.
    held: deque[tuple[int, Direction, int]] = field(default_factory=deque)
    queued: deque[tuple[int, int]] = field(default_factory=deque)  # (seq, stamp)
    baseline_tick: int | None = None
    resync_floor: int = 0
    in_flight: dict[int, int] = field(default_factory=dict)  # payload handle -> tick
    view: tuple[int, int] = DEFAULT_VIEW
    """The viewport (cells), as the client's VIEW said and capped by max_view."""
    follow: int | None = None
    """Whom a spectator asked to follow (None: the leader)."""
    centre: tuple[int, int] | None = None
    """Where the area was last centred (kept while the focus is dead)."""
    respawn_due: int = 0
    """The tick a snake given up while dead would have respawned at: a new one
    waits until then (so ``p`` twice is no way round the respawn time)."""
    greeted: bool = False
    """Whether its seat has had the whole scoreboard (and the minimap) once."""
    sent: dict[int, tuple[_AreaKey, Snapshot]] = field(default_factory=dict)
    """tick -> (area key, the area snapshot sent), from its baseline on (every
    tick of the window with ``keep_sent``): what it may be sent deltas against."""


@dataclass(slots=True)
class GameCounters:
    """What the stats line and the benchmarks report."""

    ticks: int = 0
    full_snapshots: int = 0
    delta_snapshots: int = 0
    turns_received: int = 0
    turns_duplicate: int = 0
    turns_on_time: int = 0
    """Stamped turns handed to the world at their stamp's step."""
    turns_late: int = 0
    """Stamped turns that arrived after their step had run: applied at once."""
    turns_unstamped: int = 0
    """Turns stamped 0 (a client that does not predict): applied on arrival."""
    turns_refused: int = 0
    """Turns stamped more than MAX_INPUT_LEAD ticks ahead, or beyond the hold buffer."""
    bad_messages: int = 0
    handler_errors: int = 0
    joins: int = 0
    rejections: int = 0
    seat_switches: int = 0
    dropped: Counter[str] = field(default_factory=Counter)


InputTracer = Callable[[str, int, float], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class AppliedTurn:
    """A player's turn the world applied: where and when, against where it was meant."""

    name: str
    seq: int
    stamp: int
    """The tick the client meant (0: on arrival)."""
    tick: int
    """The step that applied it: the snake turned between snapshots ``tick - 1`` and ``tick``."""
    cell: tuple[int, int]
    """The head in snapshot ``tick - 1``: the cell the turn took effect at."""


TurnTracer = Callable[[AppliedTurn], None]


def world_scores(
    world: Snapshot, complete: bool, ranking: Sequence[PlayerState] | None = None
) -> Scores:
    """The SCORES of ``world``: every player when ``complete``, else only the
    :data:`SCORES_LEADERS` best (``ranking``: the world's players already
    :func:`ranked`), in id order either way."""
    players: Sequence[PlayerState] = world.players
    if not complete:
        if ranking is None:
            ranking = ranked(world.players)
        players = sorted(ranking[:SCORES_LEADERS], key=lambda p: p.id)
    return Scores(
        tick=world.tick,
        complete=complete,
        entries=tuple(ScoreEntry.of(p) for p in players),
    )


def world_overview(world: Snapshot, ranking: Sequence[PlayerState] | None = None) -> Overview:
    """The OVERVIEW of ``world``: food per grid cell (capped at 3) and the top
    :data:`OVERVIEW_LEADERS` living players' heads (``ranking``: the world's
    players already :func:`ranked`)."""
    columns, rows = overview_shape(world.width, world.height)
    width, height = max(1, world.width), max(1, world.height)
    counts = [0] * (columns * rows)
    for x, y in world.food:
        counts[(y * rows // height) * columns + x * columns // width] += 1
    if ranking is None:
        ranking = ranked(world.players)
    leaders = [p for p in ranking if p.alive and p.body][:OVERVIEW_LEADERS]
    return Overview(
        tick=world.tick,
        columns=columns,
        rows=rows,
        food=pack_levels([min(3, n) for n in counts]),
        leaders=tuple((p.id, p.body[0][0], p.body[0][1]) for p in leaders),
    )


class GameServer:
    """Sans-IO game server: call :meth:`handle_event` and :meth:`tick`."""

    def __init__(
        self,
        settings: ServerSettings,
        endpoint: ServerEndpoint,
        input_tracer: InputTracer | None = None,
        turn_tracer: TurnTracer | None = None,
        *,
        instance: int = 0,
        keep_sent: bool = False,
    ) -> None:
        """``instance`` is a random number per server process, sent in INFO replies.

        ``keep_sent`` keeps every snapshot sent to a client for the history
        window, for :meth:`sent_snapshot` (the simulation checks each one a
        client decodes); by default only those that may still become its
        baseline are kept.
        """
        self.settings = settings
        self._keep_sent = keep_sent
        self.endpoint = endpoint
        cfg = settings.world
        # The world's own cap must leave room for bots that leave for humans.
        self.world = World(replace(cfg, max_players=MAX_PLAYERS), settings.seed)
        self.history = SnapshotHistory(64)
        self.counters = GameCounters()
        self._clients: dict[Hashable, _Client] = {}
        self._names: dict[int, str] = {}
        self._bots: list[int] = []
        self._bot_rng = random.Random(settings.seed ^ 0xB07)
        self._snapshot: Snapshot = self.world.snapshot()
        self._ranked: list[PlayerState] = []
        self._ranked_for: Snapshot | None = None
        self._trace = input_tracer
        self._turn_trace = turn_tracer
        self._closing = False
        self._scores_sent = 0
        self._instance = instance
        self._started: float | None = None
        self._info_key: tuple[int, int, int] | None = None
        #: Every event announced, in order, while a recorder keeps it a list (it drains it).
        self.event_log: list[GameEvent] | None = None
        self._fill_bots()
        # Answer INFO queries from the start, before the first tick sets the clock.
        self.endpoint.info.payload = encode_server_info(self.server_info(0.0))

    # ------------------------------------------------------------------ queries

    @property
    def humans(self) -> int:
        """Connections in a PLAYER seat."""
        return sum(1 for c in self._clients.values() if c.seat is Seat.PLAYER)

    @property
    def spectators(self) -> int:
        """Connections in a SPECTATOR seat."""
        return sum(1 for c in self._clients.values() if c.seat is Seat.SPECTATOR)

    @property
    def players(self) -> int:
        return len(self._names)

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    def _ranking(self) -> list[PlayerState]:
        """This tick's players in scoreboard order, sorted once for all who need it."""
        snap = self._snapshot
        if self._ranked_for is not snap:
            self._ranked = ranked(snap.players)
            self._ranked_for = snap
        return self._ranked

    def sent_snapshot(self, peer: Hashable, tick: int) -> Snapshot | None:
        """The (area) snapshot of ``tick`` sent to ``peer``, while still held.

        Held while it may still become the client's baseline, or for the
        whole history window with ``keep_sent``.
        """
        client = self._clients.get(peer)
        entry = client.sent.get(tick) if client is not None else None
        return None if entry is None else entry[1]

    def name_of(self, player_id: int | None) -> str | None:
        return None if player_id is None else self._names.get(player_id)

    # ------------------------------------------------------------------- events

    def handle_event(self, event: Event, now: float) -> None:
        """Apply one protocol event; a bad client never takes the server down."""
        try:
            self._handle_event(event, now)
        except Exception:
            self.counters.handler_errors += 1
            log.exception(
                "error handling %s from %s; dropping that client", type(event).__name__, event.peer
            )
            self._drop_client(event.peer, "server error")

    def _handle_event(self, event: Event, now: float) -> None:
        if isinstance(event, PayloadAcked):
            client = self._clients.get(event.peer)
            if client is not None:
                tick = client.in_flight.pop(event.handle, None)
                # The protocol acks what arrived, decoded or not.  Ticks up to
                # the RESYNC's floor were sent before it arrived (deltas the
                # client could not use), so only later ones (fulls) qualify.
                if (
                    tick is not None
                    and tick > client.resync_floor
                    and (client.baseline_tick is None or tick > client.baseline_tick)
                ):
                    client.baseline_tick = tick
                    if not self._keep_sent:
                        # Baselines only move forward: what came before is no
                        # use any more.  (Keeping a window of area snapshots per
                        # client made the collector's full passes the tick's
                        # worst stalls at 256 players.)
                        sent = client.sent
                        while sent and next(iter(sent)) < tick:
                            del sent[next(iter(sent))]
        elif isinstance(event, PayloadLost):
            client = self._clients.get(event.peer)
            if client is not None:
                client.in_flight.pop(event.handle, None)
        elif isinstance(event, PayloadReceived | MessageReceived):
            client = self._clients.get(event.peer)
            if client is None:
                return
            try:
                msg = decode_message(event.data)
            except DecodeError as exc:
                self.counters.bad_messages += 1
                self.counters.dropped["bad_message"] += 1
                log.debug("bad message from %s: %s", event.peer, exc)
                if isinstance(event, MessageReceived):
                    self._reply_bad_join(client, join_version(event.data))
                return
            self._handle_message(client, msg, reliable=isinstance(event, MessageReceived), now=now)
        elif isinstance(event, ConnectionEstablished):
            view = self._capped_view(*DEFAULT_VIEW)
            self._clients[event.peer] = _Client(event.peer, now, view=view)
            log.debug("connection from %s", format_peer(event.peer))
        elif isinstance(event, ConnectionTerminated):
            reason = "timeout" if event.code == DisconnectCode.TIMEOUT else self._quit_reason()
            self._remove_client(event.peer, reason)

    def _quit_reason(self) -> str:
        """Why a client that ends its connection left: it quit, or the server is going."""
        return "server shutting down" if self._closing else "quit"

    def _handle_message(self, client: _Client, msg: Message, *, reliable: bool, now: float) -> None:
        if isinstance(msg, Input):
            if client.player_id is not None:
                self._apply_input(client, msg, now)
            else:
                # Normal for a moment after giving up a snake; never applied.
                self.counters.dropped["input_without_snake"] += 1
        elif not reliable:
            self.counters.dropped["unexpected_unreliable"] += 1
        elif isinstance(msg, Join):
            self._join(client, msg)
        elif isinstance(msg, SwitchSeat):
            self._switch_seat(client, msg.seat)
        elif isinstance(msg, Quit):
            self._remove_client(client.peer, self._quit_reason())
            self.endpoint.disconnect(client.peer, DisconnectCode.NORMAL, "goodbye")
        elif isinstance(msg, View):
            if client.seat is None:
                self.counters.dropped["view_before_join"] += 1
                return
            client.view = self._capped_view(msg.columns, msg.rows)
            client.follow = msg.follow
        elif isinstance(msg, Resync):
            client.baseline_tick = None
            client.resync_floor = self.world.tick
        else:
            self.counters.dropped["unexpected_message"] += 1

    def _capped_view(self, columns: int, rows: int) -> tuple[int, int]:
        """A viewport (the assumed one or a VIEW's) capped by ``max_view``."""
        cap_x, cap_y = self.settings.max_view
        return min(columns, cap_x), min(rows, cap_y)

    def _apply_input(self, client: _Client, msg: Input, now: float) -> None:
        assert client.player_id is not None
        horizon = self.world.tick + MAX_INPUT_LEAD
        for i, (turn, stamp) in enumerate(zip(msg.turns, msg.stamps, strict=True)):
            seq = msg.first_seq + i
            if seq <= client.last_input_seq:
                self.counters.turns_duplicate += 1
                continue
            client.last_input_seq = seq
            self.counters.turns_received += 1
            if self._trace is not None:
                self._trace(client.name, seq, now)
            if stamp > horizon or len(client.held) >= MAX_INPUT_TURNS:
                # Refused, but consumed: input_applied moves past it and the
                # client's prediction drops it.
                self.counters.turns_refused += 1
                self.counters.dropped["input_refused"] += 1
                log.debug(
                    "refused turn %d from %s stamped %d at tick %d",
                    seq,
                    client.name,
                    stamp,
                    self.world.tick,
                )
                continue
            client.held.append((seq, turn, stamp))
        self._release_inputs(client)

    def _release_inputs(self, client: _Client) -> None:
        """Hand the world every held turn due by the coming step (late ones at once)."""
        assert client.player_id is not None
        coming = self.world.tick + 1  # the step that produces this tick runs next
        held = client.held
        while held and held[0][2] <= coming:
            seq, turn, stamp = held.popleft()
            if stamp == 0:
                self.counters.turns_unstamped += 1
            elif stamp < coming:
                self.counters.turns_late += 1
            else:
                self.counters.turns_on_time += 1
            if self.world.queue_turn(client.player_id, turn):
                client.queued.append((seq, stamp))

    @staticmethod
    def input_applied(client: _Client) -> int:
        """The newest seq such that every input up to it has been consumed by the world."""
        if client.queued:
            return client.queued[0][0] - 1
        if client.held:
            return client.held[0][0] - 1
        return client.last_input_seq

    def _reply_bad_join(self, client: _Client, version: int | None) -> None:
        if client.seat is not None:
            return
        if version is not None and version != GAME_VERSION:
            self._reject_version(client, version)
        else:
            self._reject(
                client,
                RejectionCode.BAD_NAME,
                f"the name must be 1-{MAX_NAME_LENGTH} printable characters",
            )

    def _reject(self, client: _Client, code: RejectionCode, reason: str) -> None:
        self.counters.rejections += 1
        log.info("rejected %s: %s", format_peer(client.peer), reason)
        self._send(client, Rejected(code=code, reason=reason))

    def _reject_version(self, client: _Client, version: int) -> None:
        self._reject(
            client,
            RejectionCode.VERSION,
            f"version mismatch: server runs game version {GAME_VERSION}, client {version}",
        )

    def _join(self, client: _Client, msg: Join) -> None:
        if client.seat is not None:
            self.counters.dropped["duplicate_join"] += 1
            return
        if msg.version != GAME_VERSION:
            self._reject_version(client, msg.version)
            return
        try:
            name = validate_name(msg.name)
        except NameError_ as exc:
            self._reject(client, RejectionCode.BAD_NAME, f"bad name: {exc}")
            return
        refusal = self._seat_refusal(msg.seat)
        if refusal is not None:
            code = RejectionCode.FULL if msg.seat is Seat.PLAYER else RejectionCode.SPECTATORS_FULL
            if code is RejectionCode.FULL and self._seat_refusal(Seat.SPECTATOR) is None:
                refusal += "; you can watch with --spectate"
            self._reject(client, code, refusal)
            return
        client.name = name
        self.counters.joins += 1
        pid = self._take_snake(client) if msg.seat is Seat.PLAYER else None
        if pid is None:
            client.seat = Seat.SPECTATOR
        cfg = self.settings.world
        self._send(
            client,
            Accepted(
                player_id=client.player_id,
                name=client.name,
                width=cfg.width,
                height=cfg.height,
                wrap=cfg.wrap,
                tick_rate=self.settings.tick_rate,
                colour=client.colour,
                seat=msg.seat,
                max_view=self.settings.max_view,
            ),
        )
        self._send_roster(client)
        if pid is not None:
            log.info("%s joined from %s as player %d", client.name, format_peer(client.peer), pid)
            self._broadcast(PlayerJoined(player_id=pid, name=client.name), exclude=client.peer)
            if self.spectators:  # a client starts from 0 watching
                self._send(client, Spectators(count=self.spectators))
        else:
            log.info("%s is spectating, from %s", name, format_peer(client.peer))
            self._announce_spectators()

    def _send_roster(self, client: _Client) -> None:
        """Every player's name, in ROSTER messages small enough for the reliable
        channel (a reliable message is at most 1024 bytes)."""
        ids: list[int] = []
        names: list[str] = []
        size = 0
        for pid, name in sorted(self._names.items()):
            cost = 2 + len(name.encode("utf-8", "surrogatepass"))
            if ids and size + cost > _ROSTER_BUDGET:
                self._send(client, Roster(ids=tuple(ids), names=tuple(names)))
                ids, names, size = [], [], 0
            ids.append(pid)
            names.append(name)
            size += cost
        if ids:
            self._send(client, Roster(ids=tuple(ids), names=tuple(names)))

    # -------------------------------------------------------------------- seats

    def _seat_refusal(self, seat: Seat) -> str | None:
        """Why a new ``seat`` cannot be had now, or None if it can."""
        if seat is Seat.PLAYER:
            if self.players >= self.settings.max_players and not self._bots:
                n = self.settings.max_players
                return f"server full ({n} player{'' if n == 1 else 's'})"
        elif self.spectators >= self.settings.max_spectators:
            return f"no spectator seat left ({self.settings.max_spectators} watching)"
        return None

    def _take_snake(self, client: _Client) -> int:
        """Give ``client`` a snake (a bot makes room if need be); its name becomes unique."""
        if self.players >= self.settings.max_players:
            self._remove_bot(self._bots[-1], "making room")
        name = unique_name(client.name, set(self._names.values()))
        pid = self._free_id()
        client.colour = self._free_colour()
        wait = client.respawn_due - self.world.tick
        self.world.add_player(pid, name, client.colour, respawn_in=max(0, wait))
        self._names[pid] = name
        client.seat, client.player_id, client.name = Seat.PLAYER, pid, name
        return pid

    def _switch_seat(self, client: _Client, seat: Seat) -> None:
        """Move an admitted client to ``seat`` and tell it (SEATED), or say why not."""
        if client.seat is None:
            self.counters.dropped["switch_before_join"] += 1
            return
        refusal = None if seat is client.seat else self._seat_refusal(seat)
        if refusal is None and seat is not client.seat:
            self.counters.seat_switches += 1
            if seat is Seat.PLAYER:
                pid = self._take_snake(client)
                log.info("%s stopped spectating: player %d", client.name, pid)
                self._broadcast(PlayerJoined(player_id=pid, name=client.name), exclude=client.peer)
            else:
                assert client.player_id is not None
                snake = self.world.snapshot().player(client.player_id)
                if snake is not None and not snake.alive:
                    client.respawn_due = self.world.tick + snake.respawn_ticks
                self._remove_player(client.player_id, "spectating")
                client.seat, client.player_id = Seat.SPECTATOR, None
                # Its held and queued turns went with the snake: consumed.
                client.held.clear()
                client.queued.clear()
                log.info("%s is spectating", client.name)
                self._fill_bots()
            self._announce_spectators()
        self._send(
            client,
            Seated(
                seat=client.seat,
                player_id=client.player_id,
                colour=client.colour,
                refusal=refusal or "",
            ),
        )

    def _announce_spectators(self) -> None:
        self._broadcast(Spectators(count=self.spectators))

    # ------------------------------------------------------------------ players

    def _free_id(self) -> int:
        return next(i for i in range(256) if i not in self._names)

    def _free_colour(self) -> int:
        used = Counter(p.colour for p in self.world.snapshot().players)
        return min(range(_COLOURS), key=lambda c: (used[c], c))

    def _fill_bots(self) -> None:
        while len(self._bots) < self.settings.bots and self.players < self.settings.max_players:
            pid = self._free_id()
            taken = set(self._names.values())
            base = next((n for n in BOT_NAMES if n not in taken), "Bot")
            name = unique_name(base, taken)
            self.world.add_player(pid, name, self._free_colour())
            self._names[pid] = name
            self._bots.append(pid)
            log.info("bot %s joined as player %d", name, pid)
            self._broadcast(PlayerJoined(player_id=pid, name=name))

    def _remove_bot(self, pid: int, reason: str) -> None:
        self._bots.remove(pid)
        self._remove_player(pid, reason)

    def _remove_player(self, pid: int, reason: str) -> None:
        name = self._names.pop(pid, "?")
        self.world.remove_player(pid)
        log.info("%s left (%s)", name, reason)
        self._broadcast(PlayerLeft(player_id=pid, name=name, reason=reason))

    def _remove_client(self, peer: Hashable, reason: str) -> None:
        client = self._clients.pop(peer, None)
        if client is None:
            return
        if client.player_id is not None:
            self._remove_player(client.player_id, reason)
            self._fill_bots()
        elif client.seat is Seat.SPECTATOR:
            log.info("spectator %s left (%s)", client.name, reason)
            self._announce_spectators()

    def _drop_client(self, peer: Hashable, reason: str) -> None:
        self._remove_client(peer, reason)
        self.endpoint.disconnect(peer, DisconnectCode.PROTOCOL_ERROR, reason)

    # ------------------------------------------------------------------ sending

    def _send(self, client: _Client, msg: Message) -> None:
        try:
            self.endpoint.send_reliable(client.peer, encode_message(msg))
        except NotConnected:
            self._clients.pop(client.peer, None)  # already gone; its leave is being handled
        except LocalProtocolError as exc:
            # A full queue means the peer stopped acknowledging: it is gone.
            log.warning("dropping %s: %s", format_peer(client.peer), exc)
            self._drop_client(client.peer, "not acknowledging")

    def _send_unreliable(self, client: _Client, data: bytes, what: str) -> int | None:
        """Send ``data`` unreliably; its delivery handle, or None (logged) if it could not go."""
        try:
            return self.endpoint.send_unreliable(client.peer, data)
        except LocalProtocolError as exc:
            log.warning("cannot send %s to %s: %s", what, format_peer(client.peer), exc)
            return None

    def _broadcast(self, event: GameEvent | Spectators, exclude: Hashable | None = None) -> None:
        if self._closing:
            return
        if self.event_log is not None and isinstance(event, GameEvent):
            self.event_log.append(event)
        for client in list(self._clients.values()):
            if client.seat is not None and client.peer != exclude:
                self._send(client, event)

    # --------------------------------------------------------------------- tick

    def tick(self, now: float) -> None:
        """Advance the game one tick and queue every client's snapshot."""
        playing = [c for c in self._clients.values() if c.player_id is not None]
        for client in playing:
            self._release_inputs(client)
        steer_bots(self.world, self._bot_rng, self._bots)
        before = self._snapshot
        events = self.world.step()
        snap = self.world.snapshot()
        # DIED and RESPAWNED go only to the clients whose area they concern.
        local: list[tuple[int, int | None, GameEvent]] = []
        for client in playing:
            assert client.player_id is not None
            left = self.world.pending_turns(client.player_id)
            while len(client.queued) > left:  # popped by this step (or cleared by a death)
                seq, stamp = client.queued.popleft()
                if self._turn_trace is not None:
                    self._trace_applied(client, seq, stamp, before, snap)
        for ev in events:
            if isinstance(ev, WorldDied):
                name = self._names.get(ev.player_id, "?")
                killer = self.name_of(ev.killer_id)
                log.info("%s died (%s%s)", name, ev.cause, f" by {killer}" if killer else "")
                died = PlayerDied(
                    player_id=ev.player_id,
                    name=name,
                    killer_id=ev.killer_id,
                    killer_name=killer,
                    cause=ev.cause,
                )
                local.append((ev.player_id, ev.killer_id, died))
            elif isinstance(ev, WorldRespawned):
                name = self._names.get(ev.player_id, "?")
                local.append(
                    (ev.player_id, None, PlayerRespawned(player_id=ev.player_id, name=name))
                )
        if self.event_log is not None and not self._closing:
            # Recorded whole, as announced: each client hears those in its area.
            self.event_log.extend(event for _, _, event in local)
        self._snapshot = snap
        self.history.add(snap)
        self.counters.ticks += 1
        self._send_snapshots(snap.tick, now, local)
        self._refresh_info(now)

    # --------------------------------------------------------------------- info

    def server_info(self, now: float) -> ServerInfo:
        """What this server answers to INFO queries at ``now``."""
        started = now if self._started is None else self._started
        cfg = self.settings.world
        return ServerInfo(
            name=self.settings.server_name,
            version=__version__,
            game_version=GAME_VERSION,
            players=self.players,
            max_players=self.settings.max_players,
            spectators=self.spectators,
            tick_rate=self.settings.tick_rate,
            width=cfg.width,
            height=cfg.height,
            uptime=int(now - started),
            instance=self._instance,
        )

    def _refresh_info(self, now: float) -> None:
        # The endpoint answers INFO queries with bytes set here; re-encode only on change.
        if self._started is None:
            self._started = now
        key = (self.players, self.spectators, int(now - self._started))
        if key != self._info_key:
            self._info_key = key
            self.endpoint.info.payload = encode_server_info(self.server_info(now))

    def _send_snapshots(
        self, tick: int, now: float, local: list[tuple[int, int | None, GameEvent]]
    ) -> None:
        oldest = tick - self.history.window
        areas = _TickAreas(self)
        partial: list[_Client] = []  # clients sent only an area: they get OVERVIEW
        newcomers: list[_Client] = []  # seats not yet sent the whole scoreboard
        new_partial: list[_Client] = []  # those of them sent only an area
        for client in list(self._clients.values()):
            if client.seat is None:
                if now - client.connected_at > self.settings.join_timeout:
                    self._drop_client(client.peer, "did not join in time")
                continue
            key, area_snapshot = areas.snapshot_for(client)
            baseline = client.baseline_tick
            sent = client.sent.get(baseline) if baseline is not None else None
            if baseline is not None and baseline <= oldest:
                sent = None
            payload = areas.payload(tick, key, area_snapshot, baseline, sent)
            if sent is None:
                self.counters.full_snapshots += 1
            else:
                self.counters.delta_snapshots += 1
            msg = SnapshotMessage(
                state_hash=areas.hash(key, area_snapshot),
                input_ack=client.last_input_seq,
                inputs_pending=client.last_input_seq - self.input_applied(client),
                payload=payload,
            )
            handle = self._send_unreliable(client, encode_message(msg), "snapshot")
            if handle is None:
                continue
            if local and not self._closing:
                self._send_local_events(client, key, area_snapshot, local)
            client.sent[tick] = (key, area_snapshot)
            while client.sent and next(iter(client.sent)) <= oldest:
                del client.sent[next(iter(client.sent))]
            client.in_flight[handle] = tick
            if len(client.in_flight) > 2 * self.history.window:
                stale = [h for h, t in client.in_flight.items() if t <= oldest]
                for h in stale:
                    del client.in_flight[h]
            if key is not None:
                partial.append(client)
            if not client.greeted:
                newcomers.append(client)
                if key is not None:
                    new_partial.append(client)
        if newcomers:
            self._greet(tick, newcomers, new_partial)
        every = max(1, round(self.settings.tick_rate * self.settings.scores_interval))
        if tick % every == 0:
            self._send_scores(tick)
            if partial:
                self._send_overview(tick, partial)

    def _send_local_events(
        self,
        client: _Client,
        key: _AreaKey,
        area_snapshot: Snapshot,
        local: list[tuple[int, int | None, GameEvent]],
    ) -> None:
        """Send ``client`` the DIED/RESPAWNED events about players in its area now or at
        the last tick it was sent, or that concern its own snake (victim or killer)."""
        if key is None:
            for _, _, event in local:
                self._send(client, event)
            return
        ids = {p.id for p in area_snapshot.players}
        if client.sent:
            ids.update(p.id for p in client.sent[next(reversed(client.sent))][1].players)
        own = client.player_id
        for pid, killer, event in local:
            if pid in ids or (own is not None and own in (pid, killer)):
                self._send(client, event)

    def _send_scores(self, tick: int) -> None:
        """Scoreboard lines to every seat, unreliably (a lost one is replaced by the
        next): every SCORES_COMPLETE_EVERY-th lists every player, the others only
        the SCORES_LEADERS best (the lines a terminal shows; the client keeps
        the rest from the last complete one, and has those in its area exactly)."""
        complete = self._scores_sent % SCORES_COMPLETE_EVERY == 0
        self._scores_sent += 1
        data = encode_message(world_scores(self._snapshot, complete, self._ranking()))
        for client in list(self._clients.values()):
            if client.seat is None:
                continue
            self._send_unreliable(client, data, "scores")

    def _greet(self, tick: int, newcomers: list[_Client], partial: list[_Client]) -> None:
        """The whole scoreboard to seats that have just had their first snapshot, and
        the minimap to the ``partial`` ones (sent only an area): not the leaders
        after up to 2 s and everyone after up to 10 s.  Unreliable as ever: a lost
        one is replaced by the next regular one."""
        scores = encode_message(world_scores(self._snapshot, True, self._ranking()))
        for client in newcomers:
            client.greeted = True
            self._send_unreliable(client, scores, "scores")
        if partial:
            self._send_overview(tick, partial)

    def _send_overview(self, tick: int, clients: list[_Client]) -> None:
        """The arena's food density and the leaders' heads to ``clients`` (those sent
        only an area), unreliably with SCORES: ~200 bytes every 2 s, about 5 % on
        top of an area snapshot stream, and a lost one is simply replaced by the
        next (the minimap is a coarse, slow view: nothing to retransmit)."""
        data = encode_message(world_overview(self._snapshot, self._ranking()))
        for client in clients:
            self._send_unreliable(client, data, "overview")

    def _trace_applied(
        self, client: _Client, seq: int, stamp: int, before: Snapshot, after: Snapshot
    ) -> None:
        assert self._turn_trace is not None and client.player_id is not None
        was = before.player(client.player_id)
        now = after.player(client.player_id)
        if was is None or not was.body or now is None or not now.alive:
            return  # cleared by a death, not applied
        self._turn_trace(
            AppliedTurn(
                name=client.name, seq=seq, stamp=stamp, tick=self.world.tick, cell=was.body[0]
            )
        )

    def shutdown(self, reason: str = "stopped by its operator") -> None:
        """Tell every admitted client the server is going away (reliably)."""
        self._broadcast(ServerShuttingDown(reason=reason))
        self._closing = True
        log.info(
            "shutting down: telling %d client(s)",
            sum(c.seat is not None for c in self._clients.values()),
        )

    @property
    def unacked(self) -> int:
        """Reliable messages not yet acknowledged, over all clients."""
        total = 0
        for peer in self._clients:
            with contextlib.suppress(LocalProtocolError):
                total += self.endpoint.pending_reliable(peer)
        return total


class _TickAreas:
    """One tick's area snapshots, hashes and encodings, shared between clients.

    Clients with the same area hold the same snapshot (when the focus player
    is alive it lies in its own area; only a dead or absent focus makes the
    key ``(area, focus)``); those that also acknowledged the same baseline
    (same tick, same area key) get the same bytes, encoded once.  Clients that
    see the whole board use the server's :class:`SnapshotHistory` as before.
    """

    def __init__(self, server: GameServer) -> None:
        self._server = server
        self._world = server.snapshot
        self._index: BlockIndex | None = None
        self._snapshots: dict[_AreaKey, Snapshot] = {}
        self._hashes: dict[_AreaKey, int] = {}
        self._digests: dict[int, int] = {}
        self._payloads: dict[tuple[_AreaKey, int | None, _AreaKey], bytes] = {}
        self._memos: dict[int, DeltaMemo] = {}  # baseline tick -> shared per-player parts
        # Player lookups by id for every client: one dict a tick, not a scan each
        # (reversed so the first of a duplicated id wins, as Snapshot.player).
        self._by_id = {p.id: p for p in reversed(self._world.players)}

    def _focus(self, client: _Client) -> int | None:
        if client.player_id is not None:
            return client.player_id
        if client.follow is not None and client.follow in self._by_id:
            return client.follow
        ranking = self._server._ranking()  # sorted once a tick, however many ask
        return ranking[0].id if ranking else None

    def snapshot_for(self, client: _Client) -> tuple[_AreaKey, Snapshot]:
        world = self._world
        focus = self._focus(client)
        player = self._by_id.get(focus) if focus is not None else None
        client.centre = area_centre(player, client.centre, (world.width, world.height))
        board = (world.width, world.height, world.wrap)
        area = area_for(board, client.view, client.centre)
        if area is WHOLE:
            return None, world
        # A live focus lies in its own area (it is centred on its head; a
        # property test in test_interest.py holds area_for to that), so the
        # snapshot is the area's alone, the same for every client there: they
        # share it, its hash and, on the same baseline, its bytes.
        alive = player is not None and player.alive and bool(player.body)
        forced = None if alive else focus
        key = (area, forced)
        snapshot = self._snapshots.get(key)
        if snapshot is None:
            if self._index is None:
                self._index = BlockIndex(world, self._by_id)
            snapshot = self._snapshots[key] = self._index.snapshot_for(area, forced)
        return key, snapshot

    def hash(self, key: _AreaKey, snapshot: Snapshot) -> int:
        # The whole world's hash too, only when someone sees the whole board,
        # and from the same per-player digests as the areas'.
        value = self._hashes.get(key)
        if value is None:
            value = self._hashes[key] = snapshot_hash(snapshot, self._digests)
        return value

    def payload(
        self,
        tick: int,
        key: _AreaKey,
        snapshot: Snapshot,
        baseline: int | None,
        sent: tuple[_AreaKey, Snapshot] | None,
    ) -> bytes:
        history = self._server.history
        if sent is None:
            if key is None:
                return history.encode_for(tick, None)
            cache_key: tuple[_AreaKey, int | None, _AreaKey] = (key, None, None)
        else:
            if key is None and sent[0] is None:
                return history.encode_for(tick, baseline)
            cache_key = (key, baseline, sent[0])
        data = self._payloads.get(cache_key)
        if data is None:
            if sent is None:
                data = encode_full(snapshot)
            else:
                assert baseline is not None
                memo = self._memos.get(baseline)
                if memo is None:
                    memo = self._memos[baseline] = DeltaMemo()
                data = encode_delta(snapshot, sent[1], memo)
            self._payloads[cache_key] = data
            history.encodes += 1
        else:
            history.cache_hits += 1
        return data
