"""The headless client: connection state, snapshots, inputs.  No sockets, no clock.

The same :class:`ClientCore` runs under the urwid UI, in the tests and in the
benchmarks' bot clients.  The asyncio session (``netsnake.client.session``)
feeds it protocol events and calls :meth:`ClientCore.poll` a few times a
second; the UI reads :meth:`frame`, :meth:`hud` and :meth:`drain_events` and
calls :meth:`steer`, :meth:`submit_name` and :meth:`request_quit`.

Snapshots.  Every decoded snapshot is kept (by tick, for the server's delta
window) because the protocol acknowledges every packet that arrives and the
server may pick any acknowledged tick as the next baseline.  Each snapshot is
checked against the server's state hash; a mismatch or a missing baseline is
counted, the snapshot is discarded and a RESYNC asks for a full snapshot.

Seats.  The client asks for a seat in its JOIN (``spectate``) and may switch
once admitted (:meth:`ClientCore.switch_seat`); ``state`` is PLAYING with a
snake and SPECTATING without one, and snapshots arrive either way.  A
spectator follows one player (:meth:`ClientCore.follow_next`); the id the
view centres on, its own snake or the followed one, is ``view_id``.

Inputs.  Each turn gets a sequence number and stays in ``_unacked`` until a
snapshot's ``input_ack`` covers it; every INPUT datagram repeats all of them,
so a lost datagram costs no key press.  Each turn is also stamped with the
tick it is meant for.  With prediction on (the default) that is one past the
tick the player's own snake is drawn at, and :mod:`netsnake.client.prediction`
draws the own snake ahead of the others; with it off the stamp is 0 ("apply
on arrival") and the own snake is interpolated like everyone else's.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field, replace

from netsnake import GAME_VERSION
from netsnake.client.hud import HudInfo
from netsnake.client.interpolation import RenderFrame, SnapshotBuffer
from netsnake.client.leader import Contender, LeaderHold
from netsnake.client.netstats import NetStats
from netsnake.client.prediction import OwnSnake, OwnSnakePredictor, StampedTurn
from netsnake.client.state import (
    ADMITTED_STATES,
    TRANSITIONS,
    ConnectionState,
    IllegalTransition,
)
from netsnake.game.direction import Direction
from netsnake.game.events import (
    GameEvent,
    PlayerDied,
    PlayerJoined,
    PlayerLeft,
    ServerShuttingDown,
)
from netsnake.game.interest import DEFAULT_VIEW, Area, area_centre, area_for
from netsnake.game.limits import MAX_VIEW_SIZE
from netsnake.game.messages import (
    MAX_INPUT_TURNS,
    Accepted,
    Input,
    Join,
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
)
from netsnake.game.names import NameError_, validate_name
from netsnake.game.scoreboard import ScoreLine, scoreboard
from netsnake.game.snapshot import Cell, PlayerState, Snapshot, rank_key, ranked, snapshot_hash
from netsnake.game.snapshot_codec import decode_snapshot, peek_header
from netsnake.game.world import accepts_turn
from protocol import (
    ClientConfig,
    ClientEndpoint,
    ConnectionConfig,
    ConnectionEstablished,
    ConnectionTerminated,
    DecodeError,
    DisconnectCode,
    Event,
    LocalProtocolError,
    MessageReceived,
    PayloadReceived,
    key_fingerprint,
)

__all__ = [
    "CLIENT_TIMEOUT",
    "ClientCore",
    "ClientCounters",
    "default_client_config",
]


_HISTORY = 80  # snapshots kept as possible baselines (the server's window is 64)
_QUIT_WAIT = 1.0  # seconds to wait for the server's DISCONNECT answering QUIT
log = logging.getLogger("client")

_LOSSY_UPLINK = 0.02  # lost share of our packets above which a new turn is sent twice
_FRAME_STALE = 0.1  # s without a frame before a turn's stamp reads the clock itself
_RESYNC_RETRY = 50  # undecodable snapshots after a resync before asking again
#: A player should hear "Connection lost" within 5 s of the server going quiet;
#: the server sends at its tick rate and keep-alives every 0.25 s, so 4 s of
#: silence is unmistakable.
CLIENT_TIMEOUT = 4.0


def default_client_config() -> ClientConfig:
    """The client's protocol settings: a 4 s silence timeout, otherwise the defaults."""
    return ClientConfig(connection=ConnectionConfig(timeout=CLIENT_TIMEOUT))


@dataclass(slots=True)
class ClientCounters:
    """What the client saw, for the HUD's diagnostics and the benchmarks."""

    snapshots: int = 0
    full: int = 0
    delta: int = 0
    duplicates: int = 0
    mismatches: int = 0
    missing_baseline: int = 0
    decode_errors: int = 0
    resyncs: int = 0
    bad_messages: int = 0
    turns_sent: int = 0
    input_datagrams: int = 0
    corrections: int = 0
    """Times a snapshot moved the predicted own snake away from where it was drawn."""
    late_turns: int = 0
    """Own turns that reached the server after the step they were stamped for."""
    dropped: dict[str, int] = field(default_factory=dict)
    bad_overviews: int = 0
    """OVERVIEW messages dropped: a grid that does not fit the board, leaders off it."""


SnapshotListener = Callable[[Snapshot, float], None]
EventListener = Callable[[GameEvent], None]

#: What :meth:`ClientCore.drain_events` hands out: every reliable message from
#: the server but the answer to JOIN (which shows as the state), in order:
#: the game events, SEATED (a refused one says why in ``refusal``) and
#: SPECTATORS (also kept in :attr:`ClientCore.spectators`).
ClientEvent = GameEvent | Seated | Spectators | Roster


class ClientCore:
    """One player's client, driven by protocol events and ``poll(now)``."""

    def __init__(
        self,
        server: Hashable,
        *,
        server_label: str,
        name: str | None = None,
        render_delay: float | None = None,
        config: ClientConfig | None = None,
        nonce: bytes | None = None,
        spectate: bool = False,
        predict: bool = True,
        others_now: bool = True,
    ) -> None:
        """``spectate`` asks for a seat without a snake (see :meth:`switch_seat`);
        ``predict`` draws the player's own snake ahead (``--predict``) and
        ``others_now`` marks where the others' heads probably are now."""
        config = config or default_client_config()
        self.endpoint = ClientEndpoint(server, config, nonce)
        #: The key the server proved in the handshake (also when it was not the pinned one).
        self.server_key: bytes | None = None
        self._pinned_key = config.server_key
        self.server_label = server_label
        self._state = ConnectionState.CONNECTING
        self.status_reason = ""
        self.rejection_code: RejectionCode | None = None
        self.name: str | None = name
        #: The name asked for, when the server admitted us under another (taken).
        self.renamed_from: str | None = None
        self.player_id: int | None = None
        self.requested_seat = Seat.SPECTATOR if spectate else Seat.PLAYER
        #: How many are watching, as the server last said (SPECTATORS).
        self.spectators = 0
        self._followed: int | None = None
        # Whom a spectator follows while nobody is chosen: the leader, held steady
        # (the server is told, in VIEW's follow, so its area goes with the camera).
        self._leader = LeaderHold()
        self._held_leader: int | None = None
        self.colour = 0
        self.tick_rate = 10.0
        self.board: tuple[int, int, bool] | None = None
        self.latest_snapshot: Snapshot | None = None
        self.counters = ClientCounters()
        self.snapshot_listeners: list[SnapshotListener] = []
        #: Called with each game event as it arrives (a recorder keeps them).
        self.event_listeners: list[EventListener] = []
        #: What happened to each snapshot tick, for the net graph.
        self.netstats = NetStats()
        #: Called after the core queued datagrams (the session flushes the socket).
        self.on_output: Callable[[], None] = lambda: None
        self._render_delay = render_delay
        #: Draw the own snake ahead, predicted (``--predict on``); fixed at construction.
        self.predict = predict
        #: With prediction, mark where the other snakes' heads probably are now.
        self.show_others_now = others_now
        self._predictor: OwnSnakePredictor | None = None
        self._frame_at: float | None = None
        self._frame_gap = 0.0  # smoothed time between frames (s)
        self._buffer: SnapshotBuffer | None = None
        self._history: OrderedDict[int, Snapshot] = OrderedDict()
        self._events: list[ClientEvent] = []
        self._unacked: list[StampedTurn] = []
        self._next_input_seq = 0
        self._resync_pending = False
        self._undecodable_since_resync = 0
        self._quit_deadline: float | None = None
        self._now = 0.0
        self._view = DEFAULT_VIEW
        self._view_sent: View | None = None
        #: The server's cap on the view (ACCEPTED's ``max_view``): it sizes the area.
        self.max_view: tuple[int, int] = (MAX_VIEW_SIZE, MAX_VIEW_SIZE)
        # Where the area was last centred: the server keeps it while the focus is dead.
        self._centre: Cell | None = None
        #: Every player's name (ROSTER, then JOINED and LEFT).
        self.names: dict[int, str] = {}
        #: Scoreboard lines by id from SCORES (every player, also outside the area).
        self.scores: dict[int, ScoreEntry] = {}
        self._scores_tick: dict[int, int] = {}
        self._scores_complete_tick = -1
        #: Counts what changes the lines beyond the snapshot (SCORES, DIED, LEFT,
        #: JOINED): a recorder writes them when it moves, not every tick.
        self.scores_serial = 0
        #: The newest OVERVIEW (the whole arena, coarsely); None on a board that fits the area.
        self.overview: Overview | None = None

    # -------------------------------------------------------------------- state

    @property
    def state(self) -> ConnectionState:
        """Where the connection stands (see :mod:`netsnake.client.state`)."""
        return self._state

    def _may_enter(self, state: ConnectionState) -> bool:
        return state in TRANSITIONS[self._state]

    def _enter(self, state: ConnectionState, reason: str | None = None) -> None:
        """The one place the state changes: to ``state``, if the table allows it.

        ``reason``, if given, becomes the status line shown to the player.
        Raises IllegalTransition otherwise (a bug in the caller, not the peer:
        what the server sends is checked with :meth:`_may_enter` first).
        """
        if not self._may_enter(state):
            raise IllegalTransition(f"cannot go from {self._state.value} to {state.value}")
        self._state = state
        if reason is not None:
            self.status_reason = reason

    def _close(self) -> None:
        if self._state is not ConnectionState.CLOSED:
            self._enter(ConnectionState.CLOSED)

    def mark_unreachable(self, detail: str) -> None:
        """End a session that could not begin (e.g. the host does not resolve)."""
        self._enter(ConnectionState.UNREACHABLE, f"Could not reach {self.server_label}: {detail}")

    # ------------------------------------------------------------------ driving

    def start(self, now: float) -> None:
        """Begin the handshake."""
        self._now = now
        self.endpoint.connect(now)

    @property
    def connect_attempts(self) -> int:
        return self.endpoint.handshake_attempts

    @property
    def server_fingerprint(self) -> str | None:
        """The ``SHA256:`` fingerprint of the key the server proved, once it has."""
        return key_fingerprint(self.server_key) if self.server_key is not None else None

    def poll(self, now: float) -> None:
        """Time-based upkeep: the quit deadline and the render delay's inputs."""
        self._now = now
        if self._quit_deadline is not None and now >= self._quit_deadline:
            # No DISCONNECT answered the QUIT (all lost, or the server is
            # gone): close from this side.  The server never acks the QUIT.
            self._quit_deadline = None
            self.endpoint.disconnect(DisconnectCode.NORMAL, "player quit")
            self._close()
            self.on_output()
        stats = self.endpoint.stats(now)
        if stats is not None and self._buffer is not None:
            self._buffer.update_network(stats.jitter, stats.loss_in)

    def handle_event(self, event: Event, now: float) -> None:
        """Apply one protocol event."""
        self._now = now
        if isinstance(event, PayloadReceived):
            self._on_payload(event.data, now)
        elif isinstance(event, MessageReceived):
            self._on_message(event.data)
        elif isinstance(event, ConnectionEstablished):
            self.server_key = event.server_key
            self._enter(ConnectionState.JOINING)
            if self.name is not None:
                self._send_join()
        elif isinstance(event, ConnectionTerminated):
            self._on_terminated(event)

    # ----------------------------------------------------------------- messages

    def _send_join(self) -> None:
        assert self.name is not None
        join = Join(name=self.name, version=GAME_VERSION, seat=self.requested_seat)
        self._send_reliable(encode_message(join))

    def _send_reliable(self, data: bytes) -> None:
        try:
            self.endpoint.send_reliable(data)
        except LocalProtocolError as exc:
            self.counters.dropped[type(exc).__name__] = (
                self.counters.dropped.get(type(exc).__name__, 0) + 1
            )
            return
        self.on_output()

    def _on_message(self, data: bytes) -> None:
        try:
            msg = decode_message(data)
        except DecodeError:
            self.counters.bad_messages += 1
            return
        if isinstance(msg, Accepted | Rejected) and not self._may_enter(
            _seat_state(msg.seat) if isinstance(msg, Accepted) else ConnectionState.REJECTED
        ):
            # Only an answer to our JOIN makes sense; a server that sends one
            # out of turn is treated as sending garbage.
            self.counters.bad_messages += 1
        elif isinstance(msg, Accepted | Seated) and (msg.player_id is None) != (
            msg.seat is Seat.SPECTATOR
        ):
            self.counters.bad_messages += 1  # a snake for a spectator, or none for a player
        elif isinstance(msg, Accepted):
            if msg.name != self.name:  # taken: the server made it unique ("Kaa-2")
                self.renamed_from = self.name
            self.player_id, self.name, self.colour = msg.player_id, msg.name, msg.colour
            self.tick_rate = msg.tick_rate
            self.board = (msg.width, msg.height, msg.wrap)
            self.max_view = msg.max_view
            self._centre = None
            self.overview = None
            self._buffer = SnapshotBuffer(msg.tick_rate, self._render_delay)
            self._seat_predictor()
            if self.latest_snapshot is not None:
                self._buffer.push(self.latest_snapshot, self._now)
            self._enter(_seat_state(msg.seat), "")
            self._send_view(force=True)
        elif isinstance(msg, Seated):
            self._on_seated(msg)
            self._send_view(force=True)
        elif isinstance(msg, Roster):
            self.names.update(zip(msg.ids, msg.names, strict=True))
            self._events.append(msg)
        elif isinstance(msg, Spectators):
            self.spectators = msg.count
            self._events.append(msg)
        elif isinstance(msg, Rejected):
            self.rejection_code = msg.code
            self._enter(ConnectionState.REJECTED, msg.reason)
            if msg.code is RejectionCode.BAD_NAME:
                self.name = None
        elif isinstance(msg, ServerShuttingDown):
            self._post_event(msg)
            if self._may_enter(ConnectionState.SHUTDOWN):
                self._enter(ConnectionState.SHUTDOWN, msg.reason)
        elif isinstance(msg, GameEvent):
            if isinstance(msg, PlayerJoined):
                self.names[msg.player_id] = msg.name
                self._forget_score(msg.player_id)  # a reused id: not its last owner's line
            elif isinstance(msg, PlayerLeft):
                self.names.pop(msg.player_id, None)
                self._forget_score(msg.player_id)
            elif isinstance(msg, PlayerDied):
                self._note_death(msg.player_id)
            self._post_event(msg)
        else:
            self.counters.bad_messages += 1

    def _post_event(self, event: GameEvent) -> None:
        self._events.append(event)
        for listener in self.event_listeners:
            listener(event)

    def _seat_predictor(self) -> None:
        """A predictor for the player's snake, none for a spectator (or predict off)."""
        pid = self.player_id
        if not self.predict or pid is None:
            self._predictor = None
        elif self._predictor is None or self._predictor.player_id != pid:
            self._predictor = OwnSnakePredictor(pid, self.tick_rate)

    def _on_seated(self, msg: Seated) -> None:
        if self._state not in ADMITTED_STATES:
            self.counters.bad_messages += 1  # no seat to change before ACCEPTED
            return
        self._events.append(msg)
        self.player_id, self.colour = msg.player_id, msg.colour
        if msg.player_id is None:
            self._unacked.clear()  # turns for a snake given up: nobody will apply them
        self._seat_predictor()
        state = _seat_state(msg.seat)
        if state is not self._state:
            self._enter(state)
            self._forget_leader()  # a new seat: whoever leads when it starts

    def _on_terminated(self, event: ConnectionTerminated) -> None:
        if self._state in (
            ConnectionState.CLOSED,
            ConnectionState.SHUTDOWN,
            ConnectionState.LOST,
            ConnectionState.UNREACHABLE,
            ConnectionState.KEY_CHANGED,
        ):
            return  # already over; how the connection ended changes nothing
        code = event.code
        if self._quit_deadline is not None:
            # We asked to leave; the server saying goodbye first is the happy ending.
            self._quit_deadline = None
            self._close()
            return
        lost_reason = (
            "the server stopped answering"
            if code == DisconnectCode.TIMEOUT
            else f"disconnected: {event.reason}"
        )
        state, reason = ConnectionState.LOST, lost_reason
        rejection: RejectionCode | None = None
        if code == DisconnectCode.UNREACHABLE:
            waited = self.endpoint.config.connect_timeout
            state = ConnectionState.UNREACHABLE
            reason = f"Could not reach {self.server_label}: no answer in {waited:g} s"
        elif code == DisconnectCode.SERVER_KEY_MISMATCH:
            # The protocol keeps the key the server proved, to report (and perhaps trust).
            self.server_key = self.endpoint.server_key
            proven = key_fingerprint(self.server_key) if self.server_key else "another key"
            pinned = key_fingerprint(self._pinned_key) if self._pinned_key else "?"
            state = ConnectionState.KEY_CHANGED
            reason = f"it proved {proven}\nbut {pinned} was expected"
        elif code == DisconnectCode.SHUTDOWN:
            state, reason = ConnectionState.SHUTDOWN, event.reason or "server shut down"
        elif code in (
            DisconnectCode.SERVER_FULL,
            DisconnectCode.VERSION_MISMATCH,
            DisconnectCode.BAD_TOKEN,
        ):
            state, reason = ConnectionState.REJECTED, event.reason
            rejection = (
                RejectionCode.FULL if code == DisconnectCode.SERVER_FULL else RejectionCode.VERSION
            )
        elif code == DisconnectCode.NORMAL and not event.by_peer:
            self._close()
            return
        if not self._may_enter(state):
            # A denial that only makes sense during the handshake, after it: the
            # connection is gone all the same.
            state, reason, rejection = ConnectionState.LOST, lost_reason, None
        if rejection is not None:
            self.rejection_code = rejection
        self._enter(state, reason)

    # ---------------------------------------------------------------- snapshots

    def _on_payload(self, data: bytes, now: float) -> None:
        try:
            msg = decode_message(data)
        except DecodeError:
            self.counters.bad_messages += 1
            return
        if isinstance(msg, Scores):
            self._on_scores(msg)
            return
        if isinstance(msg, Overview):
            self._on_overview(msg)
            return
        if not isinstance(msg, SnapshotMessage):
            self.counters.bad_messages += 1
            return
        self._ack_inputs(msg.input_ack)
        snapshot = self._decode(msg)
        if snapshot is not None:
            if self._predictor is not None:
                self._predictor.on_snapshot(snapshot, msg.input_applied)
                self.counters.corrections = self._predictor.corrections
                self.counters.late_turns = self._predictor.late_turns
                self.netstats.note_corrections(self.counters.corrections)
            self._accept(snapshot, now)
        if self._unacked:
            self._send_inputs()

    def _on_overview(self, msg: Overview) -> None:
        board = self.board
        if board is None or not msg.fits(board[0], board[1]):
            self.counters.bad_overviews += 1
            return
        if self.overview is None or msg.tick > self.overview.tick:
            self.overview = msg  # else late or duplicated

    def _on_scores(self, msg: Scores) -> None:
        self.scores_serial += 1
        listed = {e.id for e in msg.entries}
        if msg.complete:
            if msg.tick <= self._scores_complete_tick:
                return  # late or duplicated
            self._scores_complete_tick = msg.tick
            # Everyone at msg.tick: a line older than that for someone not listed
            # is of a player who has left.  (Newer lines stay: a late complete list
            # must not undo what later ones said.)
            for pid in [
                p for p, t in self._scores_tick.items() if p not in listed and t < msg.tick
            ]:
                self._forget_score(pid)
        self._take_lines(msg.tick, msg.entries)
        if msg.complete or not msg.entries:
            return
        # The leaders are the best lines at msg.tick; a held line that would rank
        # above the last of them, had it still been true, is out of date.  A score
        # only ever falls by dying (to 0), so that player has died since: shown
        # dead until a newer line, not as a leader for up to 10 s.
        last = max(rank_key(e) for e in msg.entries)
        stale = [e for pid, e in self.scores.items() if pid not in listed and rank_key(e) < last]
        self._take_lines(msg.tick, [_dead(e) for e in stale])

    def _note_death(self, pid: int) -> None:
        """A DIED: the player's line is dead from the newest tick on.  (A snake that
        dies in the area leaves its snapshot, so no snapshot shows that.)"""
        held, snap = self.scores.get(pid), self.latest_snapshot
        if held is not None and snap is not None:
            self._take_lines(snap.tick + 1, [_dead(held)])
            self.scores_serial += 1

    def _take_lines(self, tick: int, entries: Iterable[ScoreEntry]) -> None:
        """Hold each of ``entries`` (as at ``tick``) unless a newer line is held."""
        for e in entries:
            if tick > self._scores_tick.get(e.id, -1):
                self.scores[e.id] = e
                self._scores_tick[e.id] = tick

    def _forget_score(self, pid: int) -> None:
        """Drop a player's line: they left (an id the server may give a newcomer)."""
        self.scores.pop(pid, None)
        self._scores_tick.pop(pid, None)
        self.scores_serial += 1

    def _decode(self, msg: SnapshotMessage) -> Snapshot | None:
        try:
            tick, baseline_tick = peek_header(msg.payload)
        except DecodeError:
            self.counters.decode_errors += 1
            return None
        if tick in self._history:
            self.counters.duplicates += 1
            return None
        baseline = None
        if baseline_tick is not None:
            baseline = self._history.get(baseline_tick)
            if baseline is None:
                self.counters.missing_baseline += 1
                self._request_resync()
                return None
        try:
            snapshot = decode_snapshot(msg.payload, baseline)
        except DecodeError:
            self.counters.decode_errors += 1
            self._request_resync()
            return None
        if snapshot_hash(snapshot) != msg.state_hash:
            self.counters.mismatches += 1
            self._request_resync()
            return None
        if baseline_tick is None:
            self.counters.full += 1
            self._resync_pending = False
        else:
            self.counters.delta += 1
        self._note_arrival(tick, len(msg.payload), baseline_tick is None)
        return snapshot

    def _note_arrival(self, tick: int, size: int, full: bool) -> None:
        stats = self.endpoint.stats(self._now)
        buf = self._buffer
        self.netstats.on_snapshot(
            tick,
            self._now,
            size=size,
            full=full,
            ping_ms=stats.rtt * 1000 if stats is not None and stats.rtt > 0 else None,
            render_delay_ms=buf.render_delay * 1000 if buf is not None else None,
        )

    def _request_resync(self) -> None:
        # One request is enough (it is reliable), but ask again if the full
        # snapshot it should bring has not come after many more snapshots.
        self._undecodable_since_resync += 1
        if not self._resync_pending or self._undecodable_since_resync > _RESYNC_RETRY:
            self._resync_pending = True
            self._undecodable_since_resync = 0
            self.counters.resyncs += 1
            self._send_reliable(encode_message(Resync()))

    def _accept(self, snapshot: Snapshot, now: float) -> None:
        self.counters.snapshots += 1
        self._history[snapshot.tick] = snapshot
        self._history.move_to_end(snapshot.tick)
        while len(self._history) > _HISTORY:
            self._history.popitem(last=False)
        if self.latest_snapshot is None or snapshot.tick > self.latest_snapshot.tick:
            self.latest_snapshot = snapshot
            # Players seen are held as seen: once out of the area, their line is the
            # last known one, not an older SCORES line (a dead leader shown leading).
            self._take_lines(snapshot.tick, (ScoreEntry.of(p) for p in snapshot.players))
            if self._state is ConnectionState.SPECTATING:
                self._hold_leader(snapshot)
            self._centre = self._area_centre(snapshot)
        if self._buffer is not None:
            self._buffer.push(snapshot, now)
        for listener in self.snapshot_listeners:
            listener(snapshot, now)

    # ------------------------------------------------------------------- inputs

    def _ack_inputs(self, input_ack: int) -> None:
        if self._unacked and self._unacked[0].seq <= input_ack:
            self._unacked = [t for t in self._unacked if t.seq > input_ack]

    def _send_inputs(self, copies: int = 1) -> None:
        if self._state is not ConnectionState.PLAYING or not self._unacked:
            return
        msg = Input(
            first_seq=self._unacked[0].seq,
            turns=tuple(t.direction for t in self._unacked),
            stamps=tuple(t.stamp for t in self._unacked),
        )
        data = encode_message(msg)
        for _ in range(copies):
            try:
                self.endpoint.send_unreliable(data)
            except LocalProtocolError:
                return
            self.counters.input_datagrams += 1
            self.on_output()  # one datagram each (the session flushes here)

    @property
    def own_player(self) -> PlayerState | None:
        """This player's state in the newest snapshot, if any."""
        snap = self.latest_snapshot
        return None if snap is None or self.player_id is None else snap.player(self.player_id)

    def steer(self, direction: Direction, now: float | None = None) -> int | None:
        """Turn the player's snake; returns the input sequence number, or None if ignored.

        A turn equal or opposite to the last one still pending (or to the
        snake's direction) is ignored, as the server would ignore it.  With
        prediction the turn is stamped for the step leaving the head cell last
        drawn (``frame(now).own.head``); ``now`` defaults to the latest time
        the core was given.
        """
        if self._state is not ConnectionState.PLAYING:
            return None
        if now is None:
            now = self._now
        predictor = self._predictor
        # The world's rule (accepts_turn), with the client's own cap: unacked
        # turns are not the world's queue (up to a round trip of them may
        # already be applied), so capping them at MAX_QUEUED_TURNS (3) would
        # drop turns the server still accepts on a slow link.  The cap is
        # what one INPUT can carry, since every INPUT repeats all of them.
        # With prediction the reference is the newest turn the world has not
        # consumed (acked turns may still be held for their tick), else the
        # direction of the snake as drawn.
        if len(self._unacked) >= MAX_INPUT_TURNS:
            return None
        if predictor is not None:
            pending = [t.direction for t in predictor.turns]
            heading, cap = self._current_direction(now), 2 * MAX_INPUT_TURNS
        else:
            pending = [t.direction for t in self._unacked]
            heading, cap = self._current_direction(), MAX_INPUT_TURNS
        if not accepts_turn(pending, heading, direction, cap):
            return None
        seq = self._next_input_seq
        self._next_input_seq += 1
        turn = StampedTurn(seq, direction, self._stamp(now))
        self._unacked.append(turn)
        if predictor is not None:
            predictor.add_turn(turn)
            shown = predictor.shown
            log.debug(
                "turn %d %s stamped %d; drawn tick %s head %s",
                seq,
                direction.name,
                turn.stamp,
                shown.tick if shown else None,
                shown.head if shown else None,
            )
        self.counters.turns_sent += 1
        # On a lossy uplink a stamped turn gets a second datagram at once: a
        # repeat only rides on the next snapshot's reply, which may come too late.
        stats = self.endpoint.stats(now) if predictor is not None else None
        self._send_inputs(2 if stats is not None and stats.loss > _LOSSY_UPLINK else 1)
        return seq

    def _stamp(self, now: float) -> int:
        predictor = self._predictor
        if predictor is None:
            return 0  # no stamp: the server applies it on arrival, as before stamps
        if self._frame_at is None or now - self._frame_at > _FRAME_STALE:
            self._sample_own(now)  # nothing drawing frames (a headless client)
        return predictor.next_stamp(now)

    def _current_direction(self, now: float | None = None) -> Direction | None:
        predictor = self._predictor
        if predictor is not None and now is not None:
            own = self._sample_own(now) if self._frame_at is None else predictor.shown
            if own is not None and own.state.alive:
                return own.state.direction
        me = self.own_player
        return me.direction if me is not None and me.alive else None

    @property
    def pending_direction(self) -> Direction | None:
        """The newest turn not yet showing on the drawn snake (for local response)."""
        predictor = self._predictor
        if predictor is not None:
            shown = predictor.shown
            pending = [t for t in predictor.turns if shown is None or t.stamp > shown.tick]
            return pending[-1].direction if pending else None
        return self._unacked[-1].direction if self._unacked else None

    @property
    def last_stamp(self) -> int | None:
        """The stamp of the newest turn not yet acknowledged (None if none)."""
        return self._unacked[-1].stamp if self._unacked else None

    def stamp_of(self, seq: int) -> int | None:
        """The stamp turn ``seq`` was sent with, while it is unacknowledged or unapplied."""
        turns = self._predictor.turns if self._predictor is not None else ()
        for t in (*self._unacked, *turns):
            if t.seq == seq:
                return t.stamp
        return None

    def steering_view(self, snapshot: Snapshot) -> Snapshot:
        """``snapshot`` as the player sees their own snake: bots steer from this.

        With prediction: the own snake at the tick a turn made now would be
        applied from, and the others extrapolated straight on to that tick, as
        the faint "now" heads show them; otherwise ``snapshot`` itself.
        """
        if self._predictor is None or self.player_id is None:
            return snapshot
        self._stamp(self._now)  # keeps the lead clock current without frames
        own = self._predictor.shown
        if own is None or not own.state.alive or snapshot is not self._predictor.base:
            return snapshot
        return self._predictor.view(own.tick) or snapshot

    @property
    def unacked_inputs(self) -> int:
        return len(self._unacked)

    # -------------------------------------------------------------------- seats

    @property
    def seat(self) -> Seat | None:
        """The seat held now, or None when not admitted."""
        if self._state is ConnectionState.PLAYING:
            return Seat.PLAYER
        if self._state is ConnectionState.SPECTATING:
            return Seat.SPECTATOR
        return None

    def switch_seat(self, seat: Seat | None = None) -> bool:
        """Ask to play or to watch (``None``: the other seat than now).

        Returns False when not admitted.  The server answers SEATED: the
        state follows it, and a refusal ("no free seat") comes out of
        :meth:`drain_events`.
        """
        current = self.seat
        if current is None:
            return False
        if seat is None:
            seat = Seat.SPECTATOR if current is Seat.PLAYER else Seat.PLAYER
        self.requested_seat = seat
        self._send_reliable(encode_message(SwitchSeat(seat=seat)))
        return True

    @property
    def followed_id(self) -> int | None:
        """The player a spectator follows: the one chosen with :meth:`follow_next`
        while it is in the game, else the leader, held steady as
        :class:`~netsnake.client.leader.LeaderHold` holds it."""
        ids = self._all_ids()
        for chosen in (self._followed, self._held_leader):
            if chosen is not None and chosen in ids:
                return chosen
        snap = self.latest_snapshot
        if snap is None or not snap.players:
            return None
        return ranked(snap.players)[0].id

    @property
    def follows_leader(self) -> bool:
        """True while a spectator follows the leader: nobody chosen with Tab, or
        the one chosen has left."""
        return self._followed is None or self._followed not in self._all_ids()

    def _hold_leader(self, snapshot: Snapshot) -> None:
        """Pick the leader to follow from a new snapshot (while nobody is chosen, or
        the one chosen has left), and tell the server when that changes."""
        if self._followed is not None:
            if self._followed in self._all_ids():
                return
            self._followed = None  # they left: the leader again, from now
            self._forget_leader()
        order = [
            Contender(line.id, line.score, _living(snapshot.player(line.id), line))
            for line in ranked(self.scoreboard(snapshot))
        ]
        leader = self._leader.pick(order, snapshot.tick / self.tick_rate)
        if leader != self._held_leader:
            self._held_leader = leader
            self._send_view()

    def _forget_leader(self) -> None:
        """Pick the leader afresh from the next snapshot (VIEW goes out for them)."""
        self._leader.reset()
        self._held_leader = None

    def _all_ids(self) -> set[int]:
        """Every player in the game as far as we know: the snapshot's and the scoreboard's."""
        ids = {p.id for p in self.latest_snapshot.players} if self.latest_snapshot else set()
        ids.update(i for i in self.scores if i in self.names)
        return ids

    def follow_next(self) -> int | None:
        """Follow the next player by id, the first after following the leader, and
        after the last the leader again (as replays do); returns the id chosen
        (None: the leader).

        Also those outside the area (from the scoreboard): the server then
        centres the area on that player (VIEW's ``follow``).
        """
        ids = sorted(self._all_ids())
        chosen = self._followed if self._followed in ids else None
        self.set_follow(next((i for i in ids if chosen is None or i > chosen), None))
        return self._followed

    def set_view_size(self, columns: int, rows: int) -> None:
        """The board cells the viewport shows (across, down): the server sends the
        world around the followed snake within that plus a margin.  Call on layout
        and on every resize; a VIEW goes out only when it changes."""
        self._view = (max(1, min(columns, MAX_VIEW_SIZE)), max(1, min(rows, MAX_VIEW_SIZE)))
        self._send_view()

    def set_follow(self, player_id: int | None) -> None:
        """Follow ``player_id`` as a spectator (None: the leader)."""
        self._followed = player_id
        if player_id is None:
            self._forget_leader()  # whoever leads now, not when the choice was made
            if self._state is ConnectionState.SPECTATING and self.latest_snapshot is not None:
                self._hold_leader(self.latest_snapshot)
        self._send_view()

    def _send_view(self, *, force: bool = False) -> None:
        if self._state not in ADMITTED_STATES:
            return
        follow = self._followed if self._followed is not None else self._held_leader
        view = View(columns=self._view[0], rows=self._view[1], follow=follow)
        if force or view != self._view_sent:
            self._view_sent = view
            self._send_reliable(encode_message(view))

    def scoreboard(self, snapshot: Snapshot | None = None) -> list[ScoreLine]:
        """Every player for the scoreboard: those in ``snapshot`` (default: the
        latest) as they are there, the rest as the latest SCORES said."""
        snap = self.latest_snapshot if snapshot is None else snapshot
        return scoreboard(snap.players if snap is not None else (), self.score_lines())

    def score_lines(self) -> list[ScoreLine]:
        """The SCORES lines held (every player the server listed, by the last
        complete one and the leaders since), named; those who left are gone."""
        return [
            ScoreLine(e.id, name, e.colour, e.score, e.length, e.kills)
            for e in self.scores.values()
            if (name := self.names.get(e.id)) is not None  # None: left since
        ]

    @property
    def view_id(self) -> int | None:
        """The snake the view highlights: one's own, or the followed one when spectating."""
        if self._state is ConnectionState.SPECTATING:
            return self.followed_id
        return self.player_id

    def area(self, snapshot: Snapshot | None = None) -> Area | None:
        """The area of interest the server sends around the viewed head of ``snapshot``
        (default: the latest), as the server places it: the one for the stated
        view capped by the server's ``max_view``, centred where the head was last
        seen while the snake is dead (the board's middle before any); None
        (WHOLE) when the board fits it, or with no snapshot yet."""
        snap = snapshot if snapshot is not None else self.latest_snapshot
        if snap is None:
            return None
        board = (snap.width, snap.height, snap.wrap)
        return area_for(board, self.area_view, self._area_centre(snap))

    def _area_centre(self, snapshot: Snapshot) -> Cell:
        focus = self.view_id
        me = snapshot.player(focus) if focus is not None else None
        return area_centre(me, self._centre, (snapshot.width, snapshot.height))

    @property
    def area_view(self) -> tuple[int, int]:
        """The viewport (cells across, down) the server sizes this client's area by:
        the one stated in VIEW, capped by the server's ``max_view``."""
        return min(self._view[0], self.max_view[0]), min(self._view[1], self.max_view[1])

    # ------------------------------------------------------------------ UI API

    def submit_name(self, name: str) -> None:
        """Join with ``name`` (after the prompt, or again after a name rejection).

        Raises NameError_ with a reason if the name breaks the rules.
        """
        self.name = validate_name(name)
        if (
            self._state is ConnectionState.REJECTED
            and self.rejection_code is RejectionCode.BAD_NAME
        ):
            self._enter(ConnectionState.JOINING, "")
        if self._state is ConnectionState.JOINING:
            self._send_join()

    def request_quit(self) -> None:
        """Send a reliable QUIT; CLOSED when the server's DISCONNECT answers it, or after 1 s.

        docs/game-messages.rst, "Quitting": the server removes the seat and
        closes the connection at once, so the QUIT itself is never acked.
        """
        if self._state in ADMITTED_STATES or self._state is ConnectionState.JOINING:
            self._send_reliable(encode_message(Quit()))
            self._quit_deadline = self._now + _QUIT_WAIT
        elif self._state in (ConnectionState.CONNECTING, ConnectionState.REJECTED):
            self.endpoint.disconnect(DisconnectCode.NORMAL, "player quit")
            self._close()
            self.on_output()
        else:
            self._close()

    @property
    def quitting(self) -> bool:
        return self._quit_deadline is not None

    def frame(self, now: float) -> RenderFrame | None:
        """The frame to draw at ``now``: everyone interpolated, the own snake predicted."""
        if self._buffer is None:
            return None
        frame = self.netstats.sample(self._buffer, now)
        if frame is None or self._predictor is None:
            return frame
        own = self._sample_own(now)
        if self._frame_at is not None:
            gap = min(_FRAME_STALE, max(0.0, now - self._frame_at))
            self._frame_gap += 0.1 * (gap - self._frame_gap)
        self._frame_at = now
        if own is None:
            return frame
        others = self._predictor.others_now(own.tick) if self.show_others_now else {}
        return replace(frame, own=own, others_now=others)

    def _sample_own(self, now: float) -> OwnSnake | None:
        predictor, buffer = self._predictor, self._buffer
        if predictor is None or buffer is None:
            return None
        server_tick = buffer.server_tick(now)
        if server_tick is None:
            return None
        stats = self.endpoint.stats(now)
        target = predictor.clock.target(
            server_tick,
            stats.rtt if stats else 0.0,
            stats.jitter if stats else 0.0,
            stats.loss if stats else 0.0,
            self._frame_gap,
        )
        return predictor.sample(now, target)

    @property
    def predictor(self) -> OwnSnakePredictor | None:
        """The own snake's predictor (None with prediction off or before joining)."""
        return self._predictor

    @property
    def buffer(self) -> SnapshotBuffer | None:
        return self._buffer

    def hud(self, now: float) -> HudInfo:
        stats = self.endpoint.stats(now)
        buf = self._buffer
        return HudInfo(
            ping_ms=stats.rtt * 1000 if stats else 0.0,
            # What the player feels: snapshots lost on the way down, or inputs on the way up.
            loss_pct=max(stats.loss, stats.loss_in) * 100 if stats else 0.0,
            down_kbps=stats.bytes_in_per_s / 1000 if stats else 0.0,
            up_kbps=stats.bytes_out_per_s / 1000 if stats else 0.0,
            server_tick=buf.latest_tick or 0 if buf else 0,
            render_delay_ms=buf.render_delay * 1000 if buf else 0.0,
            corrections=self.counters.corrections if self._predictor is not None else None,
            net=self.netstats.data(),
        )

    def drain_events(self) -> list[ClientEvent]:
        events, self._events = self._events, []
        return events

    def name_rule_error(self, name: str) -> str | None:
        """Why ``name`` would be refused, or None (for the prompt, before sending)."""
        try:
            validate_name(name)
        except NameError_ as exc:
            return str(exc)
        return None


def _dead(line: ScoreEntry) -> ScoreEntry:
    """``line`` once its player has died: no body, score back to 0."""
    return replace(line, length=0, score=0)


def _living(state: PlayerState | None, line: ScoreLine) -> bool:
    """Alive with a body in the snapshot; outside it, as SCORES last said."""
    return state.alive and bool(state.body) if state is not None else line.alive


def _seat_state(seat: Seat) -> ConnectionState:
    return ConnectionState.PLAYING if seat is Seat.PLAYER else ConnectionState.SPECTATING
