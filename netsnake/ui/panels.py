"""Side and bottom panels: the scoreboard, the network HUD line and the message line.

They only draw state handed to them; the controller (``app.py``) decides
what to show and when.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Protocol

import urwid
from urwid.widget.constants import Sizing

from netsnake.client.hud import HudInfo
from netsnake.game.snapshot import ranked
from netsnake.ui.palette import snake_attr
from netsnake.ui.text import display_width, safe_name

__all__ = ["SCOREBOARD_WIDTH", "Hud", "MessageLine", "Scoreboard", "format_hud"]

#: Columns the scoreboard needs; the side panel is this wide.
# The default 26x20 board is 54 columns with its border; 54 + 1 + 25 = 80, so
# the whole game fits a standard 80x24 terminal.
SCOREBOARD_WIDTH = 25
_NAME_COLS = 11  # marker(1) + name(11) + score(5) + length(4) + kills(4) = 25

Markup = str | tuple[str, str]


class ScoreRow(Protocol):
    """What a scoreboard row needs: a PlayerState or a client ScoreLine."""

    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def colour(self) -> int: ...
    @property
    def score(self) -> int: ...
    @property
    def length(self) -> int: ...
    @property
    def kills(self) -> int: ...


def _pad_to(text: str, width: int) -> str:
    """``text`` followed by spaces up to ``width`` display columns."""
    return text + " " * max(0, width - display_width(text))


class Scoreboard(urwid.WidgetWrap[urwid.Pile]):
    """Players sorted by score: name, score, length and kills, the player's own row marked.

    The footer, after a blank row, says how many spectators are watching.  As a
    box (the game's side panel) it shows what fits: the leaders, and the marked
    row in the last place when it ranks below them, so the player (or the one
    followed) is always on it; the footer goes first when rows run short.
    """

    _sizing = frozenset([Sizing.FLOW, Sizing.BOX])

    def __init__(self, *, ascii_mode: bool = False) -> None:
        self._marker = ">" if ascii_mode else "▶"
        self._header = urwid.Text(
            ("panel.header", f" {'Player':<{_NAME_COLS}}{'Score':>5}{'Len':>4}{'K':>4}"),
            wrap="clip",
        )
        self._lines: list[urwid.Text] = []
        self._markups: list[tuple[Markup, ...]] = []
        self._gap = urwid.Text("")
        self._footer = urwid.Text("", wrap="clip")
        self._pile = urwid.Pile([])
        self._last: tuple[tuple[int, str, int, int, int, int, bool], ...] | None = None
        self._watching: int | None = None
        self._count = 0  # players shown
        self._mine: int | None = None  # index of the marked row, if any
        self._fitted: tuple[tuple[int, int, int | None], urwid.Pile] | None = None
        super().__init__(self._pile)
        self.update((), None)

    def render(
        self, size: tuple[()] | tuple[int] | tuple[int, int], focus: bool = False
    ) -> urwid.Canvas:
        """As a flow widget (``(cols,)``) every row; as a box the rows that fit."""
        if len(size) != 2:
            return super().render(size, focus)
        cols, rows = size
        canvas = urwid.CompositeCanvas(self._fit(rows).render((cols,), focus))
        canvas.pad_trim_top_bottom(0, rows - canvas.rows())
        return canvas

    def _fit(self, rows: int) -> urwid.Pile:
        """The pile for a box ``rows`` tall (kept while nothing it shows changes)."""
        key = (rows, self._count, self._mine)
        if self._fitted is not None and self._fitted[0] == key:
            return self._fitted[1]
        lines = self._lines[: self._count]
        room = rows - 3  # header, gap and footer
        tail = [self._gap, self._footer]
        if room < len(lines):
            room, tail = rows - 1, []  # short of rows: players before the footer
        if room < len(lines):
            mine = self._mine
            if mine is not None and mine >= room > 0:
                lines = [*lines[: room - 1], lines[mine]]  # the marked row in last place
            else:
                lines = lines[: max(0, room)]
        pile = urwid.Pile([self._header, *lines, *tail])
        self._fitted = (key, pile)
        return pile

    @staticmethod
    def ordered(players: Iterable[ScoreRow]) -> list[ScoreRow]:
        """Players in scoreboard order (:func:`netsnake.game.snapshot.ranked`)."""
        return ranked(players)

    def update(self, players: Iterable[ScoreRow], my_id: int | None, *, watching: int = 0) -> None:
        """Show ``players`` and how many are ``watching``; ``my_id`` is the row
        to mark (the player's own, or the one a spectator follows), if any."""
        if watching != self._watching:
            self._watching = watching
            self._footer.set_text(("hud", f" {min(watching, 99999)} watching"))
        ordered = self.ordered(players)
        key = tuple(
            (p.id, p.name, p.colour, p.score, p.length, p.kills, p.id == my_id) for p in ordered
        )
        if key == self._last:
            return  # nothing changed: keep the cached canvases
        self._last = key
        # Reuse the row widgets: only rows whose text changed are re-rendered.
        while len(self._lines) < len(ordered):
            self._lines.append(urwid.Text("", wrap="clip"))
            self._markups.append(())
        self._count = len(ordered)
        self._mine = next((i for i, p in enumerate(ordered) if p.id == my_id), None)
        for i, p in enumerate(ordered):
            mine = p.id == my_id
            name = _pad_to(safe_name(p.name, _NAME_COLS), _NAME_COLS)
            numbers = f"{min(p.score, 99999):>5}{min(p.length, 999):>4}{min(p.kills, 999):>4}"
            markup: list[Markup] = [
                ("panel.mine", self._marker) if mine else " ",
                (snake_attr(p.colour, "name"), name),
                ("panel.mine", numbers) if mine else numbers,
            ]
            if tuple(markup) != self._markups[i]:
                self._markups[i] = tuple(markup)
                self._lines[i].set_text(markup)
        shown = len(ordered) + 3
        if len(self._pile.contents) != shown:
            rows = [self._header, *self._lines[: len(ordered)], self._gap, self._footer]
            self._pile.contents[:] = [(w, self._pile.options()) for w in rows]


def format_hud(info: HudInfo, *, ascii_mode: bool = False) -> str:
    """The HUD line: ping, loss, down/up throughput, server tick, render delay and,
    with prediction on, the corrections count."""
    ping = "--" if info.ping_ms is None else f"{info.ping_ms:.0f}"
    tick = "--" if info.server_tick is None else str(info.server_tick)
    down, up = ("dn", "up") if ascii_mode else ("↓", "↑")
    return (
        f"ping {ping} ms  loss {info.loss_pct:.1f}%  "
        f"{down}{info.down_kbps:.1f} {up}{info.up_kbps:.1f} KB/s  "
        f"tick {tick}  delay {info.render_delay_ms:.0f} ms"
        + ("" if info.corrections is None else f"  fix {info.corrections}")
    )


class Hud(urwid.WidgetWrap[urwid.Text]):
    """One line of connection figures."""

    def __init__(self, *, ascii_mode: bool = False) -> None:
        self._ascii = ascii_mode
        self._text = urwid.Text(("hud", ""), wrap="clip")
        super().__init__(self._text)

    def update(self, info: HudInfo) -> None:
        """Show ``info``."""
        line = format_hud(info, ascii_mode=self._ascii)
        if line != self._text.text:
            self._text.set_text(("hud", line))


class MessageLine(urwid.WidgetWrap[urwid.Text]):
    """Recent game events, newest first, each fading then vanishing after ``ttl`` seconds.

    A *sticky* message (e.g. the respawn countdown) is shown before them until cleared.
    """

    def __init__(self, *, ttl: float = 4.0, fade_after: float = 2.0, keep: int = 4) -> None:
        self._ttl = ttl
        self._fade_after = fade_after
        self._messages: deque[tuple[float, str]] = deque(maxlen=keep)
        self._sticky: str | None = None
        self._text = urwid.Text("", wrap="clip")
        self._shown: object = None
        super().__init__(self._text)

    def post(self, text: str, now: float) -> None:
        """Add a message at time ``now``."""
        self._messages.appendleft((now, text))

    def clear(self) -> None:
        """Forget every message (the sticky one stays)."""
        self._messages.clear()

    def set_sticky(self, text: str | None) -> None:
        """Show ``text`` ahead of the messages until set to ``None``."""
        self._sticky = text

    def visible(self, now: float) -> list[str]:
        """The messages still shown at ``now``, newest first (the sticky one leading)."""
        shown = [t for at, t in self._messages if now - at < self._ttl]
        return ([self._sticky] if self._sticky else []) + shown

    def update(self, now: float) -> None:
        """Refresh for time ``now``: drop expired messages, dim old ones."""
        while self._messages and now - self._messages[-1][0] >= self._ttl:
            self._messages.pop()
        markup: list[Markup] = []
        if self._sticky:
            markup.append(("msg", self._sticky))
        for at, text in self._messages:
            if markup:
                markup.append("  ·  ")
            markup.append(("msg" if now - at < self._fade_after else "msg.old", text))
        key = tuple(markup)
        if key != self._shown:
            self._shown = key
            self._text.set_text(markup or "")
