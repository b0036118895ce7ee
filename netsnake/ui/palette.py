"""Colour depth detection and the named palette entries every widget draws with.

Palettes are lists of named entries, as in urwid's examples.  Each entry is a
6-tuple ``(name, fg16, bg16, mono, fg_high, bg_high)``, so one list serves a
16-colour, 256-colour or true-colour screen; the screen uses the part that
matches its ``colors``.  Snake colour index ``i`` (0..15) owns the entries:

``snake.i``            body cells and partial glyphs growing from the left/bottom
``snake.i.inv``        the same colours in reverse video, for partial glyphs that
                       grow from the right/top (no Unicode glyph exists for those)
``snake.i.head``       the head of another player's snake
``snake.i.mine``       the head of the player's own snake (bright, bold)
``snake.i.mine.body``  the player's own body (bold, so it stands out in monochrome)
``snake.i.mine.inv``   reverse-video partials of the player's own snake
``snake.i.name``       a name in the scoreboard and messages

Reverse video ("standout") is used instead of naming the snake colour as a
background because basic terminals only reliably offer eight backgrounds.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = [
    "SNAKE_COLOURS",
    "PaletteEntry",
    "build_palette",
    "detect_colors",
    "snake_attr",
]

PaletteEntry = tuple[str, str, str, str, str, str]

TRUE_COLOR = 2**24

# (16-colour name, RGB) for each colour index; picked to stay apart on a black board.
SNAKE_COLOURS: tuple[tuple[str, str], ...] = (
    ("light green", "#4ee44e"),
    ("light red", "#ff5555"),
    ("light blue", "#5c8cff"),
    ("yellow", "#f2e14c"),
    ("light magenta", "#f062f0"),
    ("light cyan", "#4fe8e8"),
    ("brown", "#ff9a1f"),
    ("white", "#f4f4f4"),
    ("dark green", "#1f9e4a"),
    ("dark red", "#b8323c"),
    ("dark blue", "#3a4fd1"),
    ("dark magenta", "#9a3fc0"),
    ("dark cyan", "#1b9aa0"),
    ("light gray", "#b4b4a0"),
    ("dark gray", "#8a8a8a"),
    ("light green", "#b4f04a"),
)

# Monochrome: other snakes differ by body glyph (see board.py) and these settings.
_MONO_SNAKE = ("default", "underline")

_BOARD_BG16 = "black"
_BOARD_BG_HIGH = "#121212"


def detect_colors(
    screen_colors: int | None = None, environ: Mapping[str, str] | None = None
) -> int:
    """How many colours to use: 1, 16, 256 or ``2**24``.

    ``NO_COLOR`` forces monochrome; ``COLORTERM=truecolor|24bit`` means true
    colour; a ``TERM`` naming 256 colours means 256; ``TERM=dumb`` means
    monochrome; otherwise the screen's own idea (``screen.colors``), rounded
    down to a depth we have a palette for.
    """
    env = os.environ if environ is None else environ
    term = env.get("TERM", "")
    if "NO_COLOR" in env:
        return 1
    if env.get("COLORTERM", "").lower() in ("truecolor", "24bit"):
        return TRUE_COLOR
    if "256color" in term or "256colour" in term:
        return 256
    if term == "dumb":
        return 1
    if screen_colors is None:
        return 16
    for depth in (TRUE_COLOR, 256, 16):
        if screen_colors >= depth:
            return depth
    return 1


def _to_256(rgb: str) -> str:
    """The nearest xterm-256 cube colour to ``#rrggbb`` as an urwid ``hNNN`` name."""
    r, g, b = (int(rgb[i : i + 2], 16) for i in (1, 3, 5))
    levels = (0, 95, 135, 175, 215, 255)

    def nearest(v: int) -> int:
        return min(range(6), key=lambda i: abs(levels[i] - v))

    return f"h{16 + 36 * nearest(r) + 6 * nearest(g) + nearest(b)}"


def snake_attr(colour: int, role: str = "") -> str:
    """The palette entry name for ``colour`` (wrapped into 0..15) and ``role``.

    ``role`` is ``""`` (body), ``"inv"``, ``"head"``, ``"mine"``, ``"mine.body"``,
    ``"mine.inv"`` or ``"name"``.
    """
    base = f"snake.{colour % len(SNAKE_COLOURS)}"
    return f"{base}.{role}" if role else base


def build_palette(colors: int) -> list[PaletteEntry]:
    """Every named entry the UI uses, for a screen of ``colors`` colours."""
    high = colors >= 256

    def hi(rgb: str) -> str:
        return (rgb if colors >= TRUE_COLOR else _to_256(rgb)) if high else ""

    bg_hi = hi(_BOARD_BG_HIGH) if high else ""
    entries: list[PaletteEntry] = [
        ("board", "default", _BOARD_BG16, "default", "default", bg_hi),
        ("border", "dark gray", _BOARD_BG16, "default", hi("#707070"), bg_hi),
        (
            "food",
            "yellow,bold",
            _BOARD_BG16,
            "bold",
            hi("#ffd700") + ",bold" if high else "",
            bg_hi,
        ),
        # Where another snake's head probably is now (prediction on): faint.
        ("ghost", "dark gray", _BOARD_BG16, "default", hi("#8a8a8a"), bg_hi),
        ("panel", "default", "default", "default", "", ""),
        ("panel.header", "light gray,underline", "default", "underline", "", ""),
        ("panel.mine", "white,bold", "default", "bold,standout", "", ""),
        ("hud", "light gray", "default", "default", "", ""),
        ("msg", "white,bold", "default", "bold", "", ""),
        ("msg.old", "dark gray", "default", "default", "", ""),
        ("status.title", "white,bold", "default", "bold", "", ""),
        ("status.error", "light red,bold", "default", "bold,standout", "", ""),
        ("status.text", "light gray", "default", "default", "", ""),
        ("prompt", "white", "default", "default", "", ""),
        ("prompt.edit", "white,bold", "dark blue", "standout", "", ""),
        ("help", "white", "dark blue", "standout", "", ""),
        ("help.key", "yellow,bold", "dark blue", "bold,standout", "", ""),
        # Where the view is cut off by the screen rather than by a wall (camera).
        ("border.open", "dark gray", _BOARD_BG16, "default", hi("#404040"), bg_hi),
        ("minimap", "light gray", "default", "default", "", ""),
        ("minimap.view", "light gray", "dark blue", "standout", "", hi("#1c2c4c")),
        ("minimap.food", "yellow", "default", "default", hi("#b09000"), ""),
        ("minimap.view.food", "yellow", "dark blue", "standout", hi("#b09000"), hi("#1c2c4c")),
        ("minimap.me", "white,bold", "dark green", "bold,standout", "", ""),
        # The net graph (ui/netgraph.py): one colour per snapshot fate.
        ("net.title", "light gray,underline", "default", "underline", "", ""),
        ("net.label", "dark gray", "default", "default", "", ""),
        ("net.text", "light gray", "default", "default", "", ""),
        ("net.dim", "dark gray", "default", "default", "", ""),
        ("net.spark", "light cyan", "default", "default", "", ""),
        ("net.ok", "dark green", "default", "default", "", ""),
        ("net.late", "yellow", "default", "bold", "", ""),
        ("net.held", "light magenta", "default", "underline", "", ""),
        ("net.lost", "light red,bold", "default", "bold,standout", "", ""),
        ("net.fix", "yellow,bold", "default", "bold", "", ""),
    ]
    for i, (name16, rgb) in enumerate(SNAKE_COLOURS):
        fg_hi = hi(rgb)
        mono = _MONO_SNAKE[(i // 4) % len(_MONO_SNAKE)]

        def entry(
            role: str,
            fg16: str,
            bg16: str,
            mono_s: str,
            fg_high: str,
            bg_high: str,
            colour: int = i,
        ) -> PaletteEntry:
            return (snake_attr(colour, role), fg16, bg16, mono_s, fg_high, bg_high)

        def styled(fg: str, extra: str) -> str:
            return f"{fg},{extra}" if fg else ""

        entries += [
            entry("", name16, _BOARD_BG16, mono, fg_hi, bg_hi),
            entry(
                "inv",
                f"{name16},standout",
                _BOARD_BG16,
                f"{mono},standout",
                styled(fg_hi, "standout"),
                bg_hi,
            ),
            entry(
                "head",
                f"{name16},standout",
                _BOARD_BG16,
                f"{mono},standout",
                styled(fg_hi, "standout"),
                bg_hi,
            ),
            entry(
                "mine",
                "white,bold",
                name16,
                "bold,standout,underline",
                styled(hi("#ffffff"), "bold"),
                fg_hi,
            ),
            entry("mine.body", f"{name16},bold", _BOARD_BG16, "bold", styled(fg_hi, "bold"), bg_hi),
            entry(
                "mine.inv",
                f"{name16},bold,standout",
                _BOARD_BG16,
                "bold,standout",
                styled(fg_hi, "bold,standout"),
                bg_hi,
            ),
            entry("name", name16, "default", mono, fg_hi, ""),
        ]
    return entries
