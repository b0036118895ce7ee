"""The net graph: a lagometer under the scoreboard, toggled with ``n``.

It only draws the per-tick records the client core keeps
(:mod:`netsnake.client.netstats`, handed over in ``HudInfo.net``).  Every
graph row has one column per snapshot tick, newest on the right, so a column
reads top to bottom as one tick: the round trip when it arrived, what became
of it, the render delay, its size and the prediction corrections it brought.

::

    Net graph      100 ms/col
    ping ▂▂▃▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂
    snap ████▓█████░███▒████·
    dly  ▃▃▃▃▄▄▄▅▅▅▅▅▅▅▅▅▅▅▅▅
    size ▂▂▂▂█▂▂▂▂▂▂▂▂▂▂▂▂▂▂
    fix  ·······•···········
    ping 48 ms  delay 210 ms
    94 B/snap max 812  fix 3
    last 10 s: ▓1 ▒1 ░2
    █ok ▓late ▒held ░lost

The ``snap`` row's glyphs (and the legend) are described in the module
docstring of :mod:`netsnake.client.netstats`; with ``--ascii`` they are
``# + = x`` and the sparklines use ``_.,-=+*#``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import urwid

from netsnake.client.hud import HudInfo
from netsnake.client.netstats import FINAL_FATES, TickFate, TickRecord

__all__ = [
    "ASCII_LEVELS",
    "BLOCK_LEVELS",
    "NETGRAPH_ROWS",
    "NetGraph",
    "fate_glyphs",
    "legend",
    "nice_top",
    "sparkline",
]

#: Rows the net graph takes.
NETGRAPH_ROWS = 10
BLOCK_LEVELS = "▁▂▃▄▅▆▇█"
ASCII_LEVELS = "_.,-=+*#"
_LABEL_COLS = 5
_SUMMARY_SECONDS = 10  # the fate counts cover this much recent play

_BLOCK_FATES: dict[TickFate, str] = {
    TickFate.ON_TIME: "█",
    TickFate.LATE: "▓",
    TickFate.HELD: "▒",
    TickFate.LOST: "░",
    TickFate.BUFFERED: "·",
    TickFate.MISSING: " ",
}
_ASCII_FATES: dict[TickFate, str] = {
    TickFate.ON_TIME: "#",
    TickFate.LATE: "+",
    TickFate.HELD: "=",
    TickFate.LOST: "x",
    TickFate.BUFFERED: ".",
    TickFate.MISSING: " ",
}
_FATE_ATTRS: dict[TickFate, str] = {
    TickFate.ON_TIME: "net.ok",
    TickFate.LATE: "net.late",
    TickFate.HELD: "net.held",
    TickFate.LOST: "net.lost",
    TickFate.BUFFERED: "net.dim",
    TickFate.MISSING: "net.dim",
}
_SHORT_NAMES: dict[TickFate, str] = {
    TickFate.ON_TIME: "ok",
    TickFate.LATE: "late",
    TickFate.HELD: "held",
    TickFate.LOST: "lost",
}
# The smallest full scale of each sparkline, so that noise stays low.
_PING_FLOOR_MS = 50.0
_DELAY_FLOOR_MS = 100.0
_SIZE_FLOOR = 64.0

Markup = str | tuple[str, str]


def fate_glyphs(ascii_mode: bool = False) -> dict[TickFate, str]:
    """The glyph of each fate in the ``snap`` row."""
    return dict(_ASCII_FATES if ascii_mode else _BLOCK_FATES)


def legend(ascii_mode: bool = False) -> list[tuple[str, str]]:
    """(glyph, name) of each settled fate, in legend order."""
    glyphs = fate_glyphs(ascii_mode)
    return [(glyphs[f], f.value) for f in FINAL_FATES]


def sparkline(values: Sequence[float | None], top: float, levels: str = BLOCK_LEVELS) -> str:
    """One character per value, its height against ``top``; ``None`` is a blank.

    Zero and below draw the lowest level, ``top`` and above the highest.
    """
    if not levels:
        raise ValueError("levels must not be empty")
    n = len(levels)
    out: list[str] = []
    for v in values:
        if v is None or math.isnan(v):
            out.append(" ")
            continue
        frac = v / top if top > 0 else 1.0
        out.append(levels[max(0, min(n - 1, math.ceil(frac * n) - 1))])
    return "".join(out)


def nice_top(values: Sequence[float | None], floor: float) -> float:
    """A round full scale (1, 2 or 5 times a power of ten) with room above the largest value.

    Round scales change seldom, so the sparkline does not rescale every frame.
    """
    peak = max([floor, *(v for v in values if v is not None and not math.isnan(v))])
    want = peak * 1.1
    power = 10 ** math.floor(math.log10(want))
    for step in (1, 2, 5, 10):
        if step * power >= want:
            return float(step * power)
    return float(10 * power)  # pragma: no cover - the loop always returns


def _fmt_ms(ms: float | None) -> str:
    return "--" if ms is None else f"{ms:.0f}"


class NetGraph(urwid.WidgetWrap[urwid.Pile]):
    """The lagometer pane (a flow widget of :data:`NETGRAPH_ROWS` rows, any width)."""

    def __init__(self, *, ascii_mode: bool = False) -> None:
        self._ascii = ascii_mode
        self._levels = ASCII_LEVELS if ascii_mode else BLOCK_LEVELS
        self._glyphs = fate_glyphs(ascii_mode)
        self._rows = [urwid.Text("", wrap="clip") for _ in range(NETGRAPH_ROWS)]
        self._info: HudInfo | None = None
        self._tick_rate = 10.0
        self._drawn: tuple[int, HudInfo | None] | None = None
        super().__init__(urwid.Pile(self._rows))

    def update(self, info: HudInfo, tick_rate: float) -> None:
        """Show the records in ``info.net`` (snapshot ticks at ``tick_rate`` Hz)."""
        self._info = info
        self._tick_rate = tick_rate if tick_rate > 0 else 10.0
        self._invalidate()

    def render(self, size: tuple[int] | tuple[()], focus: bool = False) -> urwid.Canvas:  # type: ignore[override]
        """Lay the rows out for the width given, then draw them."""
        cols = size[0] if size else 20
        self._layout(max(0, cols - _LABEL_COLS))
        return super().render(size, focus)

    def rows(self, size: tuple[int], focus: bool = False) -> int:
        """Always :data:`NETGRAPH_ROWS`."""
        return NETGRAPH_ROWS

    # -- drawing

    def _layout(self, width: int) -> None:
        info = self._info
        net = info.net if info is not None else None
        records: tuple[TickRecord, ...] = net.records[-width:] if net and width > 0 else ()
        if self._drawn is not None and self._drawn[0] == width and self._drawn[1] is info:
            return  # the same figures at the same width: the rows are up to date
        self._drawn = (width, info)
        pad = width - len(records)
        blank = " " * pad

        ms_per_col = 1000.0 / self._tick_rate
        title = f"Net graph {ms_per_col:>5.0f} ms/col"
        lines: list[list[Markup]] = [[("net.title", title)]]

        pings = [r.ping_ms for r in records]
        lines.append(self._spark_row("ping", blank, pings, nice_top(pings, _PING_FLOOR_MS)))

        fates: list[Markup] = [("net.label", "snap "), blank]
        fates += [(_FATE_ATTRS[r.fate], self._glyphs[r.fate]) for r in records]
        lines.append(fates)

        delays = [r.render_delay_ms for r in records]
        lines.append(self._spark_row("dly", blank, delays, nice_top(delays, _DELAY_FLOOR_MS)))

        sizes = [None if r.size is None else float(r.size) for r in records]
        lines.append(self._spark_row("size", blank, sizes, nice_top(sizes, _SIZE_FLOOR)))

        corrections = net.corrections if net is not None else None
        fix: list[Markup] = [("net.label", "fix  ")]
        if corrections is None:
            fix.append(("net.dim", "— (no prediction)" if not self._ascii else "- (no prediction)"))
        else:
            dot, mark = (".", "*") if self._ascii else ("·", "•")
            fix.append(blank)
            fix += [
                ("net.fix", mark) if r.corrections else ("net.dim", dot if r.arrived_at else " ")
                for r in records
            ]
        lines.append(fix)

        ping_now = info.ping_ms if info is not None else None
        delay_now = info.render_delay_ms if info is not None else None
        lines.append([("net.text", f"ping {_fmt_ms(ping_now)} ms  delay {_fmt_ms(delay_now)} ms")])

        max_size = max((r.size for r in records if r.size is not None), default=0)
        last_size = next((r.size for r in reversed(records) if r.size is not None), None)
        size_text = "--" if last_size is None else str(last_size)
        fix_text = "—" if corrections is None else str(corrections)
        if self._ascii and corrections is None:
            fix_text = "-"
        lines.append(
            [("net.text", f"{size_text} B/snap  max {max_size}  fix {fix_text}")]
            if records
            else [("net.text", f"-- B/snap  fix {fix_text}")]
        )

        window = max(1, round(_SUMMARY_SECONDS * self._tick_rate))
        counts = net.counts(last=window) if net is not None else dict.fromkeys(TickFate, 0)
        # Glyph and count, so that it stays inside 25 columns with 3-digit counts.
        summary: list[Markup] = [("net.text", f"last {_SUMMARY_SECONDS} s:")]
        for fate in (TickFate.LATE, TickFate.HELD, TickFate.LOST):
            summary += [
                " ",
                (_FATE_ATTRS[fate], self._glyphs[fate]),
                ("net.text", str(counts[fate])),
            ]
        lines.append(summary)

        key_line: list[Markup] = []
        for fate in FINAL_FATES:
            if key_line:
                key_line.append(" ")
            key_line += [(_FATE_ATTRS[fate], self._glyphs[fate]), ("net.text", _SHORT_NAMES[fate])]
        lines.append(key_line)

        assert len(lines) == NETGRAPH_ROWS
        for text, markup in zip(self._rows, lines, strict=True):
            text.set_text([m for m in markup if m])

    def _spark_row(
        self, label: str, blank: str, values: list[float | None], top: float
    ) -> list[Markup]:
        return [
            ("net.label", f"{label:<{_LABEL_COLS}}"),
            blank,
            ("net.spark", sparkline(values, top, self._levels)),
        ]
