"""The net graph pane rendered without a terminal (urwid.testing), and its toggle in the app.

The records it draws come from a real :class:`NetStats` watching a real
:class:`SnapshotBuffer` play back a scripted link (``tests/test_netstats.py``).
"""

from __future__ import annotations

import asyncio
import time

import pytest
import urwid
import urwid.testing as ut
from test_netstats import play, steady
from test_ui_widgets import FakeCore, RecordingScreen, _keys, _run_app_with_clock, _text

from netsnake.client.hud import HudInfo
from netsnake.client.netstats import NetStats, TickFate
from netsnake.game.world import WorldConfig
from netsnake.ui.app import GameApp, build_game_view
from netsnake.ui.board import Board
from netsnake.ui.netgraph import (
    ASCII_LEVELS,
    BLOCK_LEVELS,
    NETGRAPH_ROWS,
    NetGraph,
    legend,
    nice_top,
    sparkline,
)
from netsnake.ui.overlays import help_overlay, help_size
from netsnake.ui.palette import build_palette
from netsnake.ui.panels import SCOREBOARD_WIDTH, Hud, MessageLine, Scoreboard


def test_sparkline_levels_blanks_and_clamping() -> None:
    assert sparkline([0, 1, 2, 3, 4, 5, 6, 7, 8], 8) == "▁▁▂▃▄▅▆▇█"
    assert sparkline([None, 4.0, float("nan"), 100.0, -3.0], 8) == " ▄ █▁"
    assert sparkline([1, 8], 8, ASCII_LEVELS) == "_#"
    assert sparkline([], 8) == ""
    assert sparkline([1, 2, 3, 4, 5, 6, 7, 8], 8) == BLOCK_LEVELS
    assert sparkline([5], 0) == "█"  # no scale: anything is full
    with pytest.raises(ValueError):
        sparkline([1], 1, "")


def test_nice_top_is_round_and_leaves_headroom() -> None:
    assert nice_top([48.0, 61.0, None], 50) == 100
    assert nice_top([100.0], 50) == 200
    assert nice_top([], 50) == 100
    assert nice_top([812.0, 40.0], 64) == 1000
    assert nice_top([0.3], 0.1) == 0.5


def _hud(stats: NetStats | None, ping: float | None = 48.2) -> HudInfo:
    return HudInfo(
        ping_ms=ping,
        loss_pct=1.0,
        down_kbps=1.0,
        up_kbps=0.1,
        server_tick=50,
        render_delay_ms=210.0,
        net=stats.data() if stats is not None else None,
    )


def _scripted() -> NetStats:
    arrivals = steady()
    arrivals[30] = None  # lost
    arrivals[40] = 4.2  # late
    for t in range(45, 49):  # a stall: held
        arrivals[t] = 4.95
    stats, _ = play(arrivals, until=5.3)
    return stats


def test_the_graph_draws_one_column_per_tick_newest_right() -> None:
    stats = _scripted()
    stats.note_corrections(0)
    stats.note_corrections(2)
    graph = NetGraph()
    graph.update(_hud(stats), 10.0)
    text = ut.render_text(graph, (25,))
    assert len(text) == NETGRAPH_ROWS == graph.rows((25,))
    assert text[0].startswith("Net graph") and "100 ms/col" in text[0]
    labels = [line[:5] for line in text[1:6]]
    assert labels == ["ping ", "snap ", "dly  ", "size ", "fix  "]
    # 20 columns: ticks 32..51; the newest (arrived, not yet drawn) are dots.
    records = stats.records()[-20:]
    snap_row = text[2][5:]
    glyph = {TickFate.ON_TIME: "█", TickFate.LATE: "▓", TickFate.HELD: "▒", TickFate.LOST: "░"}
    glyph |= {TickFate.BUFFERED: "·", TickFate.MISSING: " "}
    assert snap_row == "".join(glyph[r.fate] for r in records)
    assert snap_row[40 - records[0].tick] == "▓"
    assert snap_row[45 - records[0].tick] == "▒"
    # ticks of equal size and ping draw equal heights; corrections mark their tick
    assert len(set(text[1][5:].strip())) == 1
    assert text[5][5:].count("•") == 1 and text[5][5:].rstrip().endswith("•")
    assert text[6].strip() == "ping 48 ms  delay 210 ms"
    assert "fix 2" in text[7] and "B/snap" in text[7]
    assert text[8].strip() == "last 10 s: ▓1 ▒1 ░1"
    assert text[9].strip() == "█ok ▓late ▒held ░lost"
    runs = [a for row in ut.render_runs(graph, (25,)) for a, _ in row]
    assert {"net.ok", "net.late", "net.held", "net.lost", "net.spark", "net.fix"} <= set(runs)
    entries = {e[0] for e in build_palette(256)}
    assert {str(a) for a in runs if a is not None} <= entries  # every attribute is styled


def test_a_lost_tick_leaves_gaps_in_ping_and_size() -> None:
    stats = _scripted()
    graph = NetGraph()
    graph.update(_hud(stats), 10.0)
    text = ut.render_text(graph, (45,))  # 40 columns: ticks 12..51
    first = stats.records()[-40].tick
    col = 5 + 30 - first
    assert text[2][col] == "░"
    assert text[1][col] == " " and text[4][col] == " "  # no ping, no size: it never came
    assert text[3][col] != " "  # the render delay when it was needed


def test_without_prediction_corrections_show_a_dash() -> None:
    graph = NetGraph()
    graph.update(_hud(_scripted()), 10.0)
    text = ut.render_text(graph, (25,))
    assert text[5].startswith("fix  — (no prediction)")
    assert "fix —" in text[7]


def test_ascii_mode_is_pure_ascii() -> None:
    stats = _scripted()
    stats.note_corrections(1)
    stats.note_corrections(3)
    graph = NetGraph(ascii_mode=True)
    graph.update(_hud(stats), 10.0)
    text = ut.render_text(graph, (25,))
    assert all(ch.isascii() for line in text for ch in line), text
    assert "+" in text[2] and "=" in text[2] and "#" in text[2]
    assert set(text[1][5:].strip()) <= set(ASCII_LEVELS)
    assert text[9].strip() == "#ok +late =held xlost"
    assert "*" in text[5]
    no_net = NetGraph(ascii_mode=True)
    no_net.update(_hud(None, ping=None), 10.0)
    assert all(ch.isascii() for line in ut.render_text(no_net, (25,)) for ch in line)


@pytest.mark.parametrize("cols", [0, 1, 4, 5, 6, 12, 25, 80, 200, 300])
def test_any_width_draws_exactly_that_width(cols: int) -> None:
    graph = NetGraph()
    graph.update(_hud(_scripted()), 10.0)
    canvas = graph.render((cols,))
    assert (canvas.cols(), canvas.rows()) == (cols, NETGRAPH_ROWS)
    if cols:
        assert all(len(line) == cols for line in canvas.decoded_text)
    empty = NetGraph()
    assert empty.render((cols,)).rows() == NETGRAPH_ROWS  # before any data too


def test_the_graph_redraws_only_for_new_figures() -> None:
    graph = NetGraph()
    info = _hud(_scripted())
    graph.update(info, 10.0)
    first = ut.render_text(graph, (25,))
    graph.update(info, 10.0)
    assert ut.render_text(graph, (25,)) == first
    graph.update(_hud(NetStats(), ping=300.0), 20.0)
    again = ut.render_text(graph, (25,))
    assert "50 ms/col" in again[0] and "ping 300 ms" in again[6]


def test_legend_lists_the_settled_fates() -> None:
    assert legend() == [("█", "on time"), ("▓", "late"), ("▒", "held"), ("░", "lost")]
    assert [g for g, _ in legend(ascii_mode=True)] == ["#", "+", "=", "x"]


@pytest.mark.parametrize("ascii_mode", [False, True])
def test_help_explains_the_graph_and_fits_80x24(ascii_mode: bool) -> None:
    cols, rows = help_size(ascii_mode)
    assert cols <= 80 and rows <= 24
    text = "\n".join(
        ut.render_text(help_overlay(urwid.SolidFill(" "), ascii_mode=ascii_mode), (80, 24))
    )
    assert "show / hide the net graph" in text
    for name in ("on time", "late", "held", "lost"):
        assert name in text
    if ascii_mode:
        assert all(ch.isascii() for ch in text)


def test_board_scoreboard_and_graph_fit_80x24() -> None:
    cfg = WorldConfig()
    view, (cols, rows) = build_game_view(
        Board(), Scoreboard(), Hud(), MessageLine(), (cfg.width, cfg.height), NetGraph()
    )
    assert cols <= 80 and rows <= 24, (cols, rows)
    text = [line.decode() for line in view.render((80, 24)).text]
    assert any(line[55:].startswith("Net graph") for line in text), text
    assert text[0][55:].startswith(" Player")
    # a small board still leaves the graph its rows
    _, (_, small_rows) = build_game_view(
        Board(), Scoreboard(), Hud(), MessageLine(), (10, 4), NetGraph()
    )
    assert small_rows >= NETGRAPH_ROWS + 4


def test_n_toggles_the_graph_in_the_app() -> None:
    seen: dict[str, str] = {}

    async def script(app: GameApp, screen: RecordingScreen) -> None:
        await asyncio.sleep(0.5)
        seen["before"] = _text(screen)
        _keys(app, "n")
        await asyncio.sleep(0.5)
        seen["on"] = _text(screen)
        assert app.net_graph_shown
        _keys(app, "n")
        await asyncio.sleep(0.2)
        seen["off"] = _text(screen)
        _keys(app, "q")

    core = FakeCore(time.monotonic)
    code, _ = asyncio.run(_run_app_with_clock(core, script))
    assert code == 0
    assert "Net graph" not in seen["before"]
    on = seen["on"].splitlines()
    assert len(on) == 24 and all(len(line) <= 80 for line in on)
    assert "Net graph" in seen["on"] and "█ok ▓late ▒held ░lost" in seen["on"]
    snap = next(line for line in on if "snap " in line)
    assert "█" in snap.split("snap ")[1]  # real records from the fake core's buffer
    assert "Player" in seen["on"] and "bot2" in seen["on"]  # the scoreboard stays
    assert "┌" + "─" * 40 + "┐" in seen["on"]  # and the board
    # right of the 20-cell board (42 columns and a divider), below the scoreboard
    title = next(i for i, line in enumerate(on) if "Net graph" in line)
    assert on[title].index("Net graph") == 43
    assert title > max(i for i, line in enumerate(on[:22]) if "bot" in line[43:])
    assert len(on[title].rstrip()) <= 43 + SCOREBOARD_WIDTH
    assert "Net graph" not in seen["off"]


def test_the_counts_cover_the_last_ten_seconds_and_fit() -> None:
    arrivals = steady(250)
    for t in range(1, 251, 2):
        arrivals[t] = None  # every other snapshot lost
    stats, _ = play(arrivals, until=25.0)
    data = stats.data()
    counts = data.counts(last=100)
    assert counts[TickFate.LOST] >= 45
    graph = NetGraph()
    graph.update(_hud(stats), 10.0)
    row = ut.render_text(graph, (25,))[8]
    want = f"last 10 s: ▓{counts[TickFate.LATE]} ▒{counts[TickFate.HELD]} ░{counts[TickFate.LOST]}"
    assert row.rstrip() == want
