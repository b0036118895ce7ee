"""The urwid main loop shared by the game and replay screens.

:class:`FrameLoop` owns what both apps do the same way: pick the screen and its
colour depth, start and stop urwid's ``MainLoop`` on the running asyncio loop,
and call :meth:`FrameLoop.update` once per frame on a ``set_alarm_in`` timer
until :meth:`FrameLoop._finish` resolves the exit code.  Keys, widgets and exit
codes stay with each app.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import urwid

from netsnake.ui.overlays import SizeGuard
from netsnake.ui.palette import build_palette, detect_colors


class FrameLoop:
    """Base for a full-screen urwid app redrawn at a fixed frame rate."""

    #: The widget urwid draws; set by the subclass before :meth:`_run_loop`.
    top: SizeGuard

    def __init__(
        self,
        *,
        screen: urwid.BaseScreen | None,
        colors: int | None,
        fps: float,
        clock: Callable[[], float],
    ) -> None:
        self._screen = screen
        self._colors = colors
        self._fps = fps
        self._clock = clock
        self._loop: urwid.MainLoop | None = None
        self._done: asyncio.Future[int] | None = None
        self._alarm: object = None
        self._next_frame = 0.0

    @property
    def main_loop(self) -> urwid.MainLoop | None:
        """The urwid main loop while :meth:`run` is running."""
        return self._loop

    def _open_screen(self) -> tuple[urwid.BaseScreen, int]:
        """Arm the exit future and pick the screen and its colour depth (1, 16, 88 or 256)."""
        self._done = asyncio.get_running_loop().create_future()
        screen = self._screen if self._screen is not None else urwid.display.raw.Screen()
        colors = self._colors or detect_colors(getattr(screen, "colors", None))
        if hasattr(screen, "set_terminal_properties"):
            screen.set_terminal_properties(colors=colors)
        return screen, colors

    async def _run_loop(self, screen: urwid.BaseScreen, colors: int) -> int:
        """Run urwid on ``screen`` until :meth:`_finish`; the screen is restored however it ends."""
        assert self._done is not None, "_open_screen() first"
        self._loop = urwid.MainLoop(
            self.top,
            build_palette(colors),
            screen=screen,
            event_loop=urwid.AsyncioEventLoop(loop=asyncio.get_running_loop()),
            unhandled_input=self._on_input,
            handle_mouse=False,
        )
        started = False
        try:
            self._loop.start()
            started = True
            self._next_frame = self._clock()
            self._on_started(self._next_frame)
            self._on_frame(self._loop, None)
            return await self._done
        finally:
            if self._alarm is not None:
                self._loop.remove_alarm(self._alarm)
                self._alarm = None
            if started:
                self._loop.stop()
            elif screen.started:
                screen.stop()

    def _finish(self, code: int) -> None:
        """End :meth:`_run_loop` with ``code`` (the first call wins)."""
        if self._done is not None and not self._done.done():
            self._done.set_result(code)

    def _on_frame(self, loop: urwid.MainLoop, _data: object) -> None:
        """One animation frame: update the widgets; urwid redraws afterwards."""
        self._alarm = None
        now = self._clock()
        try:
            self.update(now)
        finally:
            if self._done is not None and not self._done.done():
                # Aim at a fixed 1/fps grid so frame times do not drift; skip missed frames.
                self._next_frame = max(self._next_frame + 1.0 / self._fps, now)
                self._alarm = loop.set_alarm_in(self._next_frame - now, self._on_frame)

    def _on_started(self, now: float) -> None:
        """Called once the screen is up, just before the first frame."""

    def update(self, now: float) -> None:
        """Bring every widget up to date at time ``now``."""
        raise NotImplementedError

    def _on_input(self, key: str | tuple[str, int, int, int]) -> bool:
        """Handle a key no widget took; True if it was used."""
        raise NotImplementedError
