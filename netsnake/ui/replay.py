"""The replay screen: a recording played on the game's own board and scoreboard.

:class:`ReplayApp` is the controller for ``netsnake-client --replay FILE``,
built like :class:`~netsnake.ui.app.GameApp`: it owns the urwid ``MainLoop``
(on the caller's asyncio loop), reads the :class:`~netsnake.client.replay.ReplayPlayer`
model once per frame on a ``set_alarm_in`` timer and turns keys into calls on
it.  The screen is the game's own :class:`~netsnake.ui.layout.GameLayout`:
board, scoreboard and minimap, the followed player drawn as the game draws the
player's own snake and followed by the camera on a board bigger than the
terminal (``m`` toggles the minimap).  A progress line (play/pause, speed, a
bar and the time) stands in for the HUD, the key list goes under the side
panel when there is room, and the message line shows the recorded events as
playback passes them.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import urwid
from urwid.str_util import get_byte_encoding

from netsnake.client.replay import SEEK_SECONDS, ReplayPlayer
from netsnake.game.recording import RecordingError, RecordingHeader
from netsnake.ui.app import format_event
from netsnake.ui.board import Board
from netsnake.ui.layout import GameLayout, view_limit
from netsnake.ui.minimap import Minimap
from netsnake.ui.overlays import SizeGuard
from netsnake.ui.panels import MessageLine, Scoreboard
from netsnake.ui.runloop import FrameLoop
from netsnake.ui.text import safe_name

__all__ = ["REPLAY_KEYS", "ProgressLine", "ReplayApp", "describe_recording", "format_progress"]

#: (keys, what they do), shown beside the board when there is room.
REPLAY_KEYS: tuple[tuple[str, str], ...] = (
    ("space", "pause"),
    ("← →", f"seek {SEEK_SECONDS:g} s"),
    ("+ -", "speed"),
    ("Tab", "follow"),
    ("m", "minimap"),
    ("q", "quit"),
)
_ASCII_KEYS = {"← →": "< >"}
_QUIT_KEYS = frozenset({"q", "Q", "esc", "ctrl c"})
_FASTER_KEYS = frozenset({"+", "="})
_SLOWER_KEYS = frozenset({"-", "_"})
_MINIMAP_KEYS = frozenset({"m", "M"})
_BAR_COLS = 24
_SPEED_LABELS = {0.25: "¼×", 0.5: "½×"}
_ASCII_SPEED_LABELS = {0.25: "1/4x", 0.5: "1/2x"}


def _clock_text(seconds: float) -> str:
    whole = int(max(0.0, seconds))
    hours, rest = divmod(whole, 3600)
    minutes = f"{rest // 60:02d}:{rest % 60:02d}"
    return f"{hours}:{minutes}" if hours else minutes


def format_progress(
    *,
    paused: bool,
    speed: float,
    elapsed: float,
    duration: float,
    following: str | None,
    leader: bool = False,
    ascii_mode: bool = False,
    bar_cols: int = _BAR_COLS,
) -> str:
    """The progress line: ``▶ 1×  ████░░░░  01:23 / 05:00  following Kaa``
    (``leader Kaa`` when the camera follows the leader by default)."""
    if ascii_mode:
        state = "||" if paused else ">"
        label = _ASCII_SPEED_LABELS.get(speed, f"{speed:g}x")
        done_char, todo_char = "#", "-"
    else:
        state = "‖" if paused else "▶"
        label = _SPEED_LABELS.get(speed, f"{speed:g}×")
        done_char, todo_char = "█", "░"
    fraction = 1.0 if duration <= 0 else min(1.0, max(0.0, elapsed / duration))
    done = round(fraction * bar_cols)
    line = (
        f"{state} {label:<4} {done_char * done}{todo_char * (bar_cols - done)} "
        f"{_clock_text(elapsed)} / {_clock_text(duration)}"
    )
    if following is not None:
        line += f"  {'leader' if leader else 'following'} {following}"
    return line


def describe_recording(header: RecordingHeader) -> str:
    """Where and when a recording was made, for the message line when the replay starts."""
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(header.started))
    kind = "game" if header.source == "server" else "client's view"
    return f"recorded {kind} on {safe_name(header.server, 30)}, {when}"


class ProgressLine(urwid.WidgetWrap[urwid.Text]):
    """One line: play/pause, speed, progress bar, time and who is followed."""

    def __init__(self, *, ascii_mode: bool = False) -> None:
        self._ascii = ascii_mode
        self._text = urwid.Text(("hud", ""), wrap="clip")
        super().__init__(self._text)

    def update(self, player: ReplayPlayer) -> None:
        """Show where ``player`` stands."""
        followed = player.followed
        line = format_progress(
            paused=player.paused or player.at_end,
            speed=player.speed,
            elapsed=player.elapsed,
            duration=player.duration,
            following=None if followed is None else safe_name(followed.name, 16),
            leader=player.follows_leader,
            ascii_mode=self._ascii,
        )
        if line != self._text.text:
            self._text.set_text(("hud", line))


def _keys_help(ascii_mode: bool) -> urwid.Pile:
    rows: list[urwid.Widget] = [urwid.Text("")]
    for keys, what in REPLAY_KEYS:
        shown = _ASCII_KEYS.get(keys, keys) if ascii_mode else keys
        rows.append(urwid.Text([("help.key", f" {shown:<6}"), ("hud", f" {what}")], wrap="clip"))
    return urwid.Pile(rows)


class ReplayApp(FrameLoop):
    """Runs the replay UI until the user quits; see :meth:`run`."""

    def __init__(
        self,
        player: ReplayPlayer,
        *,
        ascii_mode: bool = False,
        screen: urwid.BaseScreen | None = None,
        colors: int | None = None,
        fps: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``clock`` must be the clock ``player`` was started with."""
        super().__init__(screen=screen, colors=colors, fps=fps, clock=clock)
        self.player = player
        self._ascii = ascii_mode or get_byte_encoding() != "utf8"
        self.board = Board(ascii_mode=self._ascii)
        self.scoreboard = Scoreboard(ascii_mode=self._ascii)
        self.progress = ProgressLine(ascii_mode=self._ascii)
        self.messages = MessageLine()
        # Reads self.board when drawn: run() replaces the board.
        self.minimap = Minimap(ascii_mode=self._ascii, board_view=lambda: self.board.viewport)
        self._keys = _keys_help(self._ascii)
        self.layout = self._build_view()
        self.min_size = self.layout.min_size
        self.top = SizeGuard(self.layout, self.min_size)
        #: Why playback stopped on a damaged recording, if it did.
        self.error: str | None = None
        # The camera's clock runs at the playback speed (never slower than real
        # time, so it still pans while paused): at 8x a snake moves 8 times as
        # far between frames, and a camera panning in real time falls behind.
        self._camera_clock = 0.0
        self._camera_at: float | None = None

    def _build_view(self) -> GameLayout:
        header = self.player.recording.header
        return GameLayout(
            self.board,
            self.scoreboard,
            self.progress,
            self.messages,
            self.minimap,
            (header.width, header.height),
            extra=self._keys,
        )

    async def run(self) -> int:
        """Show the replay until quit; 0, or 1 if the recording turned out damaged
        (:attr:`error` says why)."""
        screen, colors = self._open_screen()
        self.board = Board(ascii_mode=self._ascii, mono=colors == 1)
        enabled = self.layout.minimap_enabled
        self.layout = self._build_view()
        self.layout.minimap_enabled = enabled
        self.top.body = self.layout
        return await self._run_loop(screen, colors)

    def _on_started(self, now: float) -> None:
        self.messages.post(describe_recording(self.player.recording.header), now)

    def quit(self, code: int = 0) -> None:
        """Leave the replay; :meth:`run` returns ``code``."""
        self._finish(code)

    def update(self, now: float) -> None:
        """Advance playback to ``now`` and bring every widget up to date."""
        player = self.player
        try:
            player.advance(now)
            frame = player.frame()
            state = player.followed
            followed = None if state is None else state.id
            for event in player.drain_events():
                text = format_event(event, None)  # nobody is "you" in a replay
                if text is not None:
                    self.messages.post(text, now)
            # The camera's clock times its pans when Tab or a respawn moves the focus far.
            if self._camera_at is not None:
                self._camera_clock += (now - self._camera_at) * max(1.0, player.speed)
            self._camera_at = now
            self.board.max_view = self._view_limit()
            self.board.set_frame(frame, my_id=followed, now=self._camera_clock)
            lines = player.scoreboard()
            self.minimap.update(
                frame.prev,
                followed,
                overview=player.overview,
                area=player.area_cells(),
                colours={line.id: line.colour for line in lines},
            )
            self.scoreboard.update(lines, followed)
            self.progress.update(player)
        except RecordingError as exc:
            self.error = str(exc)
            self.quit(1)
            return
        self.messages.update(now)

    def _view_limit(self) -> tuple[int, int] | None:
        """A client recording holds only the area around its focus: the most of the
        board a view around that snake may show (as when it was played)."""
        area = self.player.area
        if area is None:
            return None
        header = self.player.recording.header
        return view_limit(area[1], (header.width, header.height))

    def _on_input(self, key: str | tuple[str, int, int, int]) -> bool:
        if not isinstance(key, str):
            return False
        now = self._clock()
        player = self.player
        try:
            if key in _QUIT_KEYS:
                self.quit(0)
            elif key == " ":
                player.toggle_pause(now)
            elif key in ("left", "right"):
                # A jump in time: what was said before it no longer applies, and
                # the camera starts over where the followed snake is then.
                self.messages.clear()
                self.board.camera.reset()
                player.seek(SEEK_SECONDS if key == "right" else -SEEK_SECONDS, now)
            elif key in _FASTER_KEYS:
                player.faster()
            elif key in _SLOWER_KEYS:
                player.slower()
            elif key == "tab":
                player.follow_next()
            elif key in _MINIMAP_KEYS:
                self.layout.minimap_enabled = not self.layout.minimap_enabled
            else:
                return False
        except RecordingError as exc:
            self.error = str(exc)
            self.quit(1)
            return True
        self.update(now)
        return True
