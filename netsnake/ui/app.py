"""The controller: owns the urwid ``MainLoop``, polls the client core and draws at ~30 fps.

The app is a thin adapter in the style of urwid's examples: widgets (the
view) only draw what they are handed; :class:`GameApp` reads the client core
(the model, seen through the :class:`ClientView` protocol) once per frame on a
``set_alarm_in`` timer, independent of the server's tick rate, and turns keys
into calls on the core.  A spectator sees the same screen as a player, with
the followed snake highlighted in place of its own (``view_id``); Tab
follows the next player and ``p`` switches between playing and watching.
It runs on the caller's asyncio loop through
``urwid.AsyncioEventLoop``; no threads.

With an event loop we do not own, raising ``urwid.ExitMainLoop`` from a
callback has nowhere to go (asyncio would only log it), so leaving is done by
resolving a future that :meth:`GameApp.run` awaits; the screen is stopped in
a ``finally`` on every path, including cancellation by Ctrl+C.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from typing import Protocol

import urwid
from urwid.str_util import get_byte_encoding

from netsnake.client.camera import area_span
from netsnake.client.hud import HudInfo
from netsnake.client.interpolation import RenderFrame
from netsnake.client.state import ADMITTED_STATES, EXIT_CODES, ConnectionState
from netsnake.game.direction import Direction
from netsnake.game.events import (
    PlayerDied,
    PlayerJoined,
    PlayerLeft,
    PlayerRespawned,
    ServerShuttingDown,
)
from netsnake.game.interest import Area
from netsnake.game.messages import Overview, RejectionCode, Seat, Seated
from netsnake.game.names import NameError_
from netsnake.game.snapshot import Snapshot
from netsnake.ui.board import Board
from netsnake.ui.layout import GameLayout, view_limit
from netsnake.ui.minimap import Minimap
from netsnake.ui.netgraph import NetGraph
from netsnake.ui.overlays import NamePrompt, SizeGuard, StatusScreen, help_overlay, help_size
from netsnake.ui.panels import Hud, MessageLine, Scoreboard, ScoreRow
from netsnake.ui.runloop import FrameLoop
from netsnake.ui.text import safe_name

__all__ = [
    "EXIT_CODES",
    "RETRYABLE_REJECTIONS",
    "ClientView",
    "GameApp",
    "build_game_view",
    "format_event",
]

#: Rejection codes after which the app asks for another name instead of exiting.
RETRYABLE_REJECTIONS = frozenset({RejectionCode.BAD_NAME})

_STEER_KEYS: dict[str, Direction] = {
    "up": Direction.UP,
    "w": Direction.UP,
    "W": Direction.UP,
    "k": Direction.UP,
    "down": Direction.DOWN,
    "s": Direction.DOWN,
    "S": Direction.DOWN,
    "j": Direction.DOWN,
    "left": Direction.LEFT,
    "a": Direction.LEFT,
    "A": Direction.LEFT,
    "h": Direction.LEFT,
    "right": Direction.RIGHT,
    "d": Direction.RIGHT,
    "D": Direction.RIGHT,
    "l": Direction.RIGHT,
}
_QUIT_KEYS = frozenset({"q", "Q", "esc", "ctrl c"})
_FOLLOW_KEYS = frozenset({"tab"})
_SEAT_KEYS = frozenset({"p", "P"})
_MINIMAP_KEYS = frozenset({"m", "M"})
_QUIT_WAIT = 1.0  # s to wait for the server to ack our quit
_NAME_COLS = 20  # width of names in messages


class ClientView(Protocol):
    """What the UI needs from the client core (written as read-only members).

    ``submit_name`` is expected to move ``state`` out of ``REJECTED`` (to
    ``JOINING``) before it returns, so the app can tell a new rejection from
    the old one.
    """

    @property
    def state(self) -> ConnectionState: ...
    @property
    def status_reason(self) -> str: ...
    @property
    def rejection_code(self) -> RejectionCode | None: ...
    @property
    def server_label(self) -> str: ...
    @property
    def connect_attempts(self) -> int: ...
    @property
    def player_id(self) -> int | None: ...
    @property
    def name(self) -> str | None: ...
    # The name asked for, when the server admitted us under another.
    @property
    def renamed_from(self) -> str | None: ...
    @property
    def latest_snapshot(self) -> Snapshot | None: ...
    @property
    def pending_direction(self) -> Direction | None: ...
    @property
    def tick_rate(self) -> float: ...
    @property
    def spectators(self) -> int: ...
    @property
    def view_id(self) -> int | None: ...
    # A spectator follows the leader (nobody chosen with Tab).
    @property
    def follows_leader(self) -> bool: ...
    @property
    def server_fingerprint(self) -> str | None: ...
    # The newest OVERVIEW (the whole arena for the minimap), and the area of interest.
    @property
    def overview(self) -> Overview | None: ...
    def area(self, snapshot: Snapshot | None = None) -> Area | None: ...
    # The server's cap on the viewport it sends the world for (ACCEPTED).
    @property
    def max_view(self) -> tuple[int, int]: ...

    def frame(self, now: float) -> RenderFrame | None: ...
    # Every player, also those outside the area of interest (SCORES).
    def scoreboard(self, snapshot: Snapshot | None = None) -> Sequence[ScoreRow]: ...
    # The board cells the viewport shows: the server sizes the area of interest by it.
    def set_view_size(self, columns: int, rows: int) -> None: ...
    def hud(self, now: float) -> HudInfo: ...
    def drain_events(self) -> Sequence[object]: ...
    # Results, if any, are ignored: `object` lets an implementation return one.
    def steer(self, direction: Direction, now: float) -> object: ...
    def submit_name(self, name: str) -> object: ...
    def request_quit(self) -> object: ...
    def switch_seat(self, seat: Seat | None = None) -> object: ...
    def follow_next(self) -> object: ...


def format_event(event: object, my_id: int | None) -> str | None:
    """The message-line text for a game event, or ``None`` if it is not worth showing."""

    def who(player_id: int | None, name: str | None) -> str:
        if player_id is not None and player_id == my_id:
            return "you"
        return safe_name(name or "", _NAME_COLS)

    if isinstance(event, PlayerJoined):
        return None if event.player_id == my_id else f"{who(event.player_id, event.name)} joined"
    if isinstance(event, PlayerLeft):
        # Never "you": one's own LEFT is not shown, and the id it names may be
        # the one this client has just been given (a bot leaving to make room).
        name = safe_name(event.name, _NAME_COLS)
        if event.reason == "spectating":  # gave up the snake to watch
            return f"{name} is watching now"
        extra = " (timed out)" if event.reason == "timeout" else ""
        return f"{name} left{extra}"
    if isinstance(event, PlayerDied):
        victim = who(event.player_id, event.name)
        mine = event.player_id == my_id
        has_killer = event.killer_id is not None or bool(event.killer_name)
        if event.cause == "head-on" and has_killer:
            # Both heads died; each gets its own event, so name the other one.
            other = who(event.killer_id, event.killer_name)
            return f"{victim} crashed head-on into {other}"
        if event.cause == "snake" and has_killer:
            killer = who(event.killer_id, event.killer_name)
            return f"{victim} {'were' if mine else 'was'} eaten by {killer}"
        if event.cause == "wall":
            return f"{victim} hit a wall"
        if event.cause == "self":
            return f"{victim} bit {'yourself' if mine else 'itself'}"
        return f"{victim} died"
    if isinstance(event, PlayerRespawned):
        return "you are back" if event.player_id == my_id else None
    if isinstance(event, Seated) and event.refusal:
        return safe_name(event.refusal, 60, placeholder="")
    if isinstance(event, ServerShuttingDown):
        reason = safe_name(event.reason, 40, placeholder="")
        return f"server shutting down{': ' + reason if reason else ''}"
    return None


def build_game_view(
    board: Board,
    scoreboard: Scoreboard,
    hud: Hud,
    messages: MessageLine,
    grid: tuple[int, int],
    netgraph: NetGraph | None = None,
    minimap: Minimap | None = None,
) -> tuple[GameLayout, tuple[int, int]]:
    """The playing screen for a ``grid`` (cells) board, and the smallest size it fits.

    Board on the left, scoreboard (then the minimap, then a ``netgraph`` if
    given) on the right, HUD and message line at the bottom; a board bigger
    than the terminal is seen through a camera (``layout.py``), so any board
    fits :data:`MIN_GAME_SIZE` (a little taller with the net graph).
    """
    if minimap is None:
        minimap = Minimap(ascii_mode=board.ascii_mode, board_view=lambda: board.viewport)
    view = GameLayout(board, scoreboard, hud, messages, minimap, grid, netgraph)
    return view, view.min_size


class GameApp(FrameLoop):
    """Runs the terminal UI for one client session; see :meth:`run`."""

    def __init__(
        self,
        core: ClientView,
        *,
        ascii_mode: bool = False,
        screen: urwid.BaseScreen | None = None,
        colors: int | None = None,
        default_name: str | None = None,
        fps: float = 30.0,
        linger: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``clock`` must be the clock the core's ``frame``/``hud`` expect as ``now``.

        ``linger`` is how long a final status (lost, shut down, …) stays up
        before the app exits; any key leaves earlier.
        """
        super().__init__(screen=screen, colors=colors, fps=fps, clock=clock)
        self._core = core
        self._ascii = ascii_mode or get_byte_encoding() != "utf8"
        self._linger = linger
        self._default_name = default_name or core.name or os.environ.get("USER") or "player"

        self.board = Board(ascii_mode=self._ascii)
        self.scoreboard = Scoreboard(ascii_mode=self._ascii)
        self.hud = Hud(ascii_mode=self._ascii)
        self.netgraph = NetGraph(ascii_mode=self._ascii)
        self._netgraph_on = False
        self.messages = MessageLine()
        # Reads self.board when drawn: run() replaces the board.
        self.minimap = Minimap(ascii_mode=self._ascii, board_view=lambda: self.board.viewport)
        self._minimap_on = True
        self.status = StatusScreen()
        self.prompt = NamePrompt(self._submit_name, self._default_name)
        self._game_view: urwid.Widget = urwid.SolidFill(" ")
        self._layout: GameLayout | None = None
        self._game_min = (1, 1)
        self._game_dims: tuple[int, int, bool] | None = None
        self.top = SizeGuard(self.status, StatusScreen.MIN_SIZE)

        self._last_state: ConnectionState | None = None
        self._prompt_open = core.name is None
        self._help = False
        # The snake last ours: its PLAYER LEFT may come after SEATED took it away.
        self._own_id: int | None = None
        self._shown_key: tuple[urwid.Widget, bool, str | None] | None = None
        self._notices: list[str] = []
        self._quit_deadline: float | None = None
        self._exit_code: int | None = None
        self._exit_at = 0.0
        #: Why the game ended, for the terminal once the screen is gone (None: the
        #: player left, or the reason is printed elsewhere).
        self.farewell: str | None = None

    # -- running

    async def run(self) -> int:
        """Show the UI until the session ends; returns the process exit code.

        0 user quit or server shut down, 2 unreachable, 3 rejected, 4 connection lost,
        5 the server's key is not the one remembered for it.
        """
        screen, colors = self._open_screen()
        self.board = Board(ascii_mode=self._ascii, mono=colors == 1)
        self._game_dims = None
        return await self._run_loop(screen, colors)

    # -- per-frame update (public so tests can drive it with a fake clock)

    def update(self, now: float) -> None:
        """Bring every widget up to date with the core at time ``now``."""
        core = self._core
        state = core.state
        for event in core.drain_events():
            self._on_event(event, now)
        if core.player_id is not None:
            self._own_id = core.player_id
        if self._quit_deadline is not None:
            if state is ConnectionState.CLOSED or now >= self._quit_deadline:
                self._finish(0)
                return
        elif state is not self._last_state:
            self._on_state_change(state, now)
        self._last_state = state
        if self._exit_code is not None:
            if now >= self._exit_at:
                self._finish(self._exit_code)
            return
        if self._prompt_open:
            self._show(self.prompt, NamePrompt.MIN_SIZE)
        elif state in ADMITTED_STATES:
            self._draw_game(now)
        elif state is ConnectionState.CONNECTING:
            tries = core.connect_attempts
            self.status.show(
                f"Connecting to {core.server_label}…", f"attempt {tries}" if tries > 1 else ""
            )
            self._show(self.status, StatusScreen.MIN_SIZE)
        else:
            self.status.show(f"Joining {core.server_label}…")
            self._show(self.status, StatusScreen.MIN_SIZE)

    def _on_state_change(self, state: ConnectionState, now: float) -> None:
        core = self._core
        reason = safe_name(core.status_reason, 60, placeholder="")
        if state is ConnectionState.KEY_CHANGED:
            reason = core.status_reason  # made here from two fingerprints: safe, and longer
        label = core.server_label
        if state in ADMITTED_STATES and self._last_state in ADMITTED_STATES:
            seated = "you are playing" if state is ConnectionState.PLAYING else "you are watching"
            self.messages.post(seated, now)
            return
        if state in ADMITTED_STATES and core.renamed_from is not None and core.name is not None:
            taken, given = (safe_name(n, _NAME_COLS) for n in (core.renamed_from, core.name))
            self._notices.append(f"{taken} was taken: you are {given}")
        if state is ConnectionState.REJECTED and core.rejection_code in RETRYABLE_REJECTIONS:
            self.prompt.ask(core.name or self._default_name, core.status_reason)
            self._prompt_open = True
            return
        final = {
            ConnectionState.REJECTED: (f"Rejected: {reason or 'no reason given'}", ""),
            ConnectionState.UNREACHABLE: (f"Could not reach {label}", reason),
            ConnectionState.LOST: ("Connection lost", reason),
            ConnectionState.SHUTDOWN: ("Server shut down", reason),
            ConnectionState.CLOSED: ("Disconnected", reason),
            ConnectionState.KEY_CHANGED: (f"The key of {label} has changed!", reason),
        }.get(state)
        if final is None:
            return
        title, detail = final
        # A reason that repeats the title ("Could not reach HOST: ...") adds only its tail.
        if detail.startswith(title):
            detail = detail[len(title) :].lstrip(" :")
        if state not in (ConnectionState.CLOSED, ConnectionState.KEY_CHANGED):
            # The player left, or the key report is printed after the game.
            self.farewell = f"{title}: {detail}" if detail else title
        error = state in (
            ConnectionState.REJECTED,
            ConnectionState.UNREACHABLE,
            ConnectionState.LOST,
            ConnectionState.KEY_CHANGED,
        )
        self.status.show(title, detail + ("\n\n" if detail else "") + "press any key", error=error)
        self._show(self.status, StatusScreen.MIN_SIZE)
        self._exit_code = EXIT_CODES[state]
        self._exit_at = now + self._linger

    def notify(self, text: str) -> None:
        """Show ``text`` on the message line (from the next game frame on, so a
        notice given while the name prompt is up is not missed)."""
        self._notices.append(text)

    def _on_event(self, event: object, now: float) -> None:
        core = self._core
        mine = self._own_id if core.player_id is None else core.player_id
        if isinstance(event, PlayerLeft) and (event.reason, event.player_id) == (
            "spectating",
            mine,
        ):
            return  # our own snake, given up: "you are watching" says so
        text = format_event(event, core.player_id)
        if text is not None:
            self.messages.post(text, now)

    def _draw_game(self, now: float) -> None:
        core = self._core
        frame = core.frame(now)
        if frame is None:
            self.status.show("Waiting for the game…")
            self._show(self.status, StatusScreen.MIN_SIZE)
            return
        view_id = core.view_id
        self._ensure_layout(frame.prev)
        # No wider than the area the server sends: beyond it snakes would be unseen.
        self.board.max_view = view_limit(core.max_view, (frame.prev.width, frame.prev.height))
        self.board.set_frame(
            frame, my_id=view_id, pending_direction=core.pending_direction, now=now
        )
        lines = core.scoreboard(frame.prev)
        self.minimap.update(
            frame.prev,
            view_id,
            overview=core.overview,
            area=core.area(frame.prev),
            colours={line.id: line.colour for line in lines},
        )
        self.scoreboard.update(lines, view_id, watching=core.spectators)
        shown = self.board.viewport  # the last drawn: a resize reaches the server a frame later
        if shown is not None:
            core.set_view_size(*area_span(shown.width, shown.height))
        info = core.hud(now)
        self.hud.update(info)
        if self._netgraph_on:
            self.netgraph.update(info, core.tick_rate)
        latest = core.latest_snapshot or frame.next
        if core.state is ConnectionState.SPECTATING:
            self.messages.set_sticky(
                self._spectating_notice(lines, view_id, leader=core.follows_leader)
            )
        else:
            self.messages.set_sticky(self._respawn_notice(latest, core.player_id))
        for notice in self._notices:
            self.messages.post(notice, now)
        self._notices.clear()
        self.messages.update(now)
        self._show(self._game_view, self._game_min)

    def _respawn_notice(self, snapshot: Snapshot, my_id: int | None) -> str | None:
        me = snapshot.player(my_id) if my_id is not None else None
        if me is None or me.alive or me.respawn_ticks <= 0:
            return None
        seconds = math.ceil(me.respawn_ticks / max(self._core.tick_rate, 1e-6))
        return f"you died, respawning in {seconds}…"

    def _spectating_notice(
        self, lines: Sequence[ScoreRow], followed: int | None, *, leader: bool
    ) -> str:
        # From the scoreboard: a player followed from afar is not in the frame yet.
        who = next((line for line in lines if line.id == followed), None)
        if who is None:
            return "watching nobody (Tab: next, p: play)"
        name = safe_name(who.name, _NAME_COLS)
        return f"watching {name}{', the leader' if leader else ''} (Tab: next, p: play)"

    def _ensure_layout(self, snapshot: Snapshot) -> None:
        """(Re)build the game layout when the board size changes or the net graph toggles."""
        dims = (snapshot.width, snapshot.height, self._netgraph_on)
        if dims == self._game_dims:
            return
        self._game_dims = dims
        self._layout, self._game_min = build_game_view(
            self.board,
            self.scoreboard,
            self.hud,
            self.messages,
            dims[:2],
            self.netgraph if self._netgraph_on else None,
            minimap=self.minimap,
        )
        self._layout.minimap_enabled = self._minimap_on
        self._game_view = self._layout

    def _show(self, widget: urwid.Widget, min_size: tuple[int, int]) -> None:
        fingerprint = self._core.server_fingerprint if self._help else None
        if self._help:
            hc, hr = help_size(self._ascii, fingerprint)
            min_size = (max(min_size[0], hc), max(min_size[1], hr))
            if self._shown_key != (widget, True, fingerprint):
                self.top.body = help_overlay(
                    widget, ascii_mode=self._ascii, fingerprint=fingerprint
                )
        elif self.top.body is not widget:
            self.top.body = widget
        self._shown_key = (widget, self._help, fingerprint)
        self.top.min_size = min_size
        self.top.note = "for the help: ? or Esc closes it" if self._help else ""

    # -- input

    def _on_input(self, key: str | tuple[str, int, int, int]) -> bool:
        """Global keys (urwid's ``unhandled_input``)."""
        if not isinstance(key, str):
            return False
        now = self._clock()
        if self._exit_code is not None:
            self._finish(self._exit_code)  # any key leaves a final status screen
            return True
        if key == "?" or (key == "esc" and self._help):  # Esc closes help, then quits
            self._help = not self._help
            self._shown_key = None
            if not self._help:
                self.top.body = self._shown_widget()
            return True
        if key in _QUIT_KEYS:
            self.quit(now)
            return True
        if key in ("n", "N"):
            self.toggle_net_graph()
            return True
        if self._prompt_open:
            return False
        direction = _STEER_KEYS.get(key)
        if direction is not None:
            self._core.steer(direction, now)
            return True
        if key in _FOLLOW_KEYS and self._core.state is ConnectionState.SPECTATING:
            self._core.follow_next()
            return True
        if key in _MINIMAP_KEYS:
            self._minimap_on = not self._minimap_on
            if self._layout is not None:
                self._layout.minimap_enabled = self._minimap_on
            return True
        if key in _SEAT_KEYS and self._core.state in ADMITTED_STATES:
            self._core.switch_seat()
            return True
        return False

    @property
    def net_graph_shown(self) -> bool:
        """Whether the net graph is on (``n`` toggles it)."""
        return self._netgraph_on

    def toggle_net_graph(self) -> None:
        """Show or hide the net graph; the layout follows on the next frame
        (``_ensure_layout`` sees the flag in its dimensions)."""
        self._netgraph_on = not self._netgraph_on

    def _shown_widget(self) -> urwid.Widget:
        body = self.top.body
        return body.bottom_w if isinstance(body, urwid.Overlay) else body

    def quit(self, now: float) -> None:
        """Leave: ask the core to say goodbye, then exit once it is closed (at most ~1 s)."""
        if self._quit_deadline is not None:
            return
        state = self._core.state
        if state in ADMITTED_STATES or state in (
            ConnectionState.JOINING,
            ConnectionState.CONNECTING,
        ):
            self._core.request_quit()
            self._quit_deadline = now + _QUIT_WAIT
        else:
            self._finish(0)

    def _submit_name(self, name: str) -> None:
        try:
            self._core.submit_name(name)
        except NameError_ as exc:
            # The core checks the name rules before sending; a refused name is
            # explained and asked for again (raising here would hang the UI).
            self.prompt.ask(name, str(exc))
            return
        self._prompt_open = False
