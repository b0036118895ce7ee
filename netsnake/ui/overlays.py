"""Screens drawn over or instead of the game: help, too-small, name prompt, status.

Every widget here must draw *something* sensible at any size, because the
terminal can be resized to anything — including 1×1 or zero rows — and the
UI must never crash or leave garbage.  :class:`SizeGuard` enforces that: it
shows :class:`TooSmall` (which fits any size) whenever its body would not fit.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

import urwid
from urwid.str_util import get_byte_encoding
from urwid.widget.constants import Sizing

from netsnake.ui.netgraph import legend

__all__ = [
    "HELP_KEYS",
    "NET_GRAPH_MEANINGS",
    "NamePrompt",
    "SizeGuard",
    "StatusScreen",
    "TooSmall",
    "help_overlay",
    "help_size",
]

#: (keys, what they do) shown by the help overlay.
HELP_KEYS: tuple[tuple[str, str], ...] = (
    ("←↑→↓  WASD  hjkl", "steer"),
    ("p", "play / watch (spectate)"),
    ("Tab", "watching: follow the next player"),
    ("m", "minimap on / off (big boards)"),
    ("?  Esc", "show / hide this help"),
    ("n", "show / hide the net graph"),
    ("q  Esc", "quit"),
    ("Ctrl+C", "quit at once"),
)
_ASCII_HELP_KEYS = (("arrows  WASD  hjkl", "steer"), *HELP_KEYS[1:])
_SERVER_KEY = "Server key fingerprint:"
_KEY_UNKNOWN = "(not known yet)"

#: What each net-graph column says about its snapshot tick (netsnake.client.netstats).
NET_GRAPH_MEANINGS: dict[str, str] = {
    "on time": "came before playback needed it",
    "late": "came after; a rebuilt guess stood in",
    "held": "picture froze until it came",
    "lost": "never came in time: drawn rebuilt",
}


def _help_rows(ascii_mode: bool) -> tuple[tuple[str, str], ...]:
    """The key list, then the net graph's legend."""
    keys = _ASCII_HELP_KEYS if ascii_mode else HELP_KEYS
    fates = tuple(
        (f"  {glyph} {name}", NET_GRAPH_MEANINGS[name]) for glyph, name in legend(ascii_mode)
    )
    return (*keys, ("net graph", "one column per snapshot tick:"), *fates)


def _times() -> str:
    """A multiplication sign the screen's encoding can show."""
    return "×" if get_byte_encoding() == "utf8" else "x"


Size = tuple[()] | tuple[int] | tuple[int, int]


def box_size(size: Size) -> tuple[int, int]:
    """``size`` as box (columns, rows); a box widget given another form is misused."""
    if len(size) != 2:
        raise ValueError(f"a box widget needs (cols, rows), got {size!r}")
    return size[0], size[1]


def _fit(line: str, cols: int) -> str:
    """``line`` cut to ``cols`` columns (the lines here are narrow characters only)."""
    return line[: max(0, cols)]


class TooSmall(urwid.Widget):
    """'Make the terminal at least C×R', fitted into whatever size it is given."""

    _sizing = frozenset([Sizing.BOX])
    _selectable = False

    def __init__(self, required: tuple[int, int] = (0, 0)) -> None:
        super().__init__()
        self._required = required
        #: A last line saying what needs the room, if not the game itself.
        self.note = ""

    @property
    def required(self) -> tuple[int, int]:
        """The (columns, rows) the real screen needs."""
        return self._required

    @required.setter
    def required(self, value: tuple[int, int]) -> None:
        self._required = value
        self._invalidate()

    def lines(self, cols: int, rows: int) -> list[str]:
        """The message lines for a ``cols``×``rows`` terminal, most important first."""
        need_c, need_r = self._required
        x = _times()
        note = [self.note] if self.note else []
        wide = [f"Make the terminal at least {need_c}{x}{need_r}", f"(it is {cols}{x}{rows} now)"]
        if len(wide[0]) <= cols:
            return wide + note
        medium = [f"Need {need_c}{x}{need_r}", f"now {cols}{x}{rows}"]
        if len(medium[0]) <= cols:
            return medium + note
        return [f"{need_c}{x}{need_r}", "!"]

    def render(self, size: Size, focus: bool = False) -> urwid.Canvas:
        """Draw the message centred in ``size``; rows and columns may be zero."""
        cols, rows = box_size(size)
        cols, rows = max(0, cols), max(0, rows)
        wanted = [_fit(line, cols) for line in self.lines(cols, rows)][:rows]
        top = (rows - len(wanted)) // 2
        text: list[bytes] = []
        attrs: list[list[tuple[Hashable, int]]] = []
        for r in range(rows):
            i = r - top
            line = wanted[i] if 0 <= i < len(wanted) else ""
            left = (cols - len(line)) // 2
            padded = " " * left + line + " " * (cols - left - len(line))
            raw = padded.encode("utf-8")
            text.append(raw)
            if line:
                lead = len(" " * left)
                body = len(line.encode("utf-8"))
                attrs.append([(None, lead), ("status.error", body), (None, len(raw) - lead - body)])
            else:
                attrs.append([(None, len(raw))])
        return urwid.TextCanvas(text, attrs, maxcol=cols, check_width=False)


class SizeGuard(urwid.WidgetWrap[urwid.Widget]):
    """Shows ``body`` when the screen is at least ``min_size``, else :class:`TooSmall`."""

    _sizing = frozenset([Sizing.BOX])

    def __init__(self, body: urwid.Widget, min_size: tuple[int, int] = (1, 1)) -> None:
        self._too_small = TooSmall(min_size)
        self._min_size = min_size
        super().__init__(body)

    @property
    def body(self) -> urwid.Widget:
        """The widget shown when it fits."""
        return self._w

    @body.setter
    def body(self, widget: urwid.Widget) -> None:
        self._w = widget

    @property
    def min_size(self) -> tuple[int, int]:
        """The smallest (columns, rows) the body can be drawn at."""
        return self._min_size

    @min_size.setter
    def min_size(self, value: tuple[int, int]) -> None:
        if value != self._min_size:
            self._min_size = value
            self._too_small.required = value
            self._invalidate()

    @property
    def note(self) -> str:
        """Said under the too-small message: what needs the room (empty: the body)."""
        return self._too_small.note

    @note.setter
    def note(self, value: str) -> None:
        if value != self._too_small.note:
            self._too_small.note = value
            self._invalidate()

    def fits(self, size: Size) -> bool:
        """Whether ``size`` is big enough for the body."""
        cols, rows = box_size(size)
        return cols >= max(1, self._min_size[0]) and rows >= max(1, self._min_size[1])

    def render(self, size: Size, focus: bool = False) -> urwid.Canvas:
        """Draw the body, or the too-small message when it would not fit."""
        if not self.fits(size):
            return self._too_small.render(size, focus)
        return self._w.render(size, focus)

    def keypress(self, size: Size, key: str) -> str | None:
        """Pass keys to the body only while it is shown."""
        if not self.fits(size) or not self._w.selectable():
            return key
        result: str | None = self._w.keypress(size, key)
        return result

    def selectable(self) -> bool:
        """Selectable when the body is."""
        return bool(self._w.selectable())


def _centered(rows: list[urwid.Widget]) -> urwid.Widget:
    return urwid.Filler(urwid.Pile(rows), valign="middle")


class StatusScreen(urwid.WidgetWrap[urwid.Widget]):
    """A full-screen message such as 'Connecting to host:port…' or 'Connection lost'."""

    #: The smallest size at which the status lines are readable.
    MIN_SIZE = (20, 4)

    def __init__(self) -> None:
        self._title = urwid.Text("", align="center")
        self._detail = urwid.Text("", align="center")
        super().__init__(_centered([self._title, urwid.Divider(), self._detail]))
        self._shown: tuple[str, str, bool] | None = None

    def show(self, title: str, detail: str = "", *, error: bool = False) -> None:
        """Display ``title`` (in the error style if ``error``) above ``detail``."""
        if (title, detail, error) == self._shown:
            return
        self._shown = (title, detail, error)
        self._title.set_text(("status.error" if error else "status.title", title))
        self._detail.set_text(("status.text", detail))

    @property
    def title(self) -> str:
        """The title shown."""
        return str(self._title.text)

    @property
    def detail(self) -> str:
        """The detail line shown."""
        return str(self._detail.text)


class NamePrompt(urwid.WidgetWrap[urwid.Widget]):
    """Asks for a player name, showing why the last one was refused, if it was."""

    MIN_SIZE = (34, 8)

    def __init__(self, on_submit: Callable[[str], None], default: str = "") -> None:
        self._on_submit = on_submit
        self._reason = urwid.Text("", align="center")
        self._edit = urwid.Edit(("prompt", "Name: "), default)
        self._edit.set_edit_pos(len(default))
        edit_box = urwid.Padding(urwid.AttrMap(self._edit, "prompt.edit"), "center", 30)
        rows: list[urwid.Widget] = [
            urwid.Text(("status.title", "Choose a player name"), align="center"),
            self._reason,
            urwid.Divider(),
            edit_box,
            urwid.Divider(),
            urwid.Text(("status.text", "Enter to join, Esc to quit"), align="center"),
        ]
        self._pile = urwid.Pile(rows)
        self._pile.focus_position = 3
        super().__init__(urwid.Filler(self._pile, valign="middle"))

    @property
    def text(self) -> str:
        """What is typed in the box."""
        return str(self._edit.edit_text)

    def ask(self, default: str, reason: str = "") -> None:
        """Ask again with ``default`` in the box and ``reason`` explaining why."""
        self._edit.set_edit_text(default)
        self._edit.set_edit_pos(len(default))
        self._reason.set_text(("status.error", f"Rejected: {reason}") if reason else "")

    def keypress(self, size: Size, key: str) -> str | None:
        """Enter submits the name (if not blank); other keys edit it."""
        if key == "enter":
            name = self.text.strip()
            if not name:
                self._reason.set_text(("status.error", "The name must not be empty"))
                return None
            self._on_submit(name)
            return None
        result: str | None = super().keypress(size, key)
        return result


def help_size(ascii_mode: bool = False, fingerprint: str | None = None) -> tuple[int, int]:
    """The (columns, rows) of the help box (with the server key's ``fingerprint``)."""
    keys = _help_rows(ascii_mode)
    line = max(len(k) for k, _ in keys) + 3 + max(len(v) for _, v in keys)
    key_lines = max(len(_SERVER_KEY), len(fingerprint or _KEY_UNKNOWN))
    # Plus a divider, the label and the fingerprint, and the frame.
    return max(line, key_lines) + 2, len(keys) + 3 + 2


def help_overlay(
    bottom: urwid.Widget, *, ascii_mode: bool = False, fingerprint: str | None = None
) -> urwid.Overlay[urwid.Widget, urwid.Widget]:
    """The help box centred over ``bottom``: the key list, then the server's key
    fingerprint (``fingerprint``, None while it is not known), to compare with
    the one the server's operator sees in its log."""
    keys = _help_rows(ascii_mode)
    key_cols = max(len(k) for k, _ in keys)
    lines: list[urwid.Widget] = [
        urwid.Text([("help.key", f"{k:<{key_cols}}"), "   ", v], wrap="clip") for k, v in keys
    ]
    lines += [
        urwid.Divider(),
        urwid.Text(("help.key", _SERVER_KEY), wrap="clip"),
        urwid.Text(fingerprint or _KEY_UNKNOWN, wrap="clip"),
    ]
    pile = urwid.Pile(lines)
    if ascii_mode:
        frame = urwid.LineBox(
            pile,
            title="Keys",
            tlcorner="+",
            tline="-",
            lline="|",
            trcorner="+",
            blcorner="+",
            rline="|",
            bline="-",
            brcorner="+",
        )
    else:
        frame = urwid.LineBox(pile, title="Keys")
    box = urwid.AttrMap(frame, "help")
    cols, rows = help_size(ascii_mode, fingerprint)
    return urwid.Overlay(box, bottom, "center", cols, "middle", rows)
