"""A board bigger than the terminal, played in a real 80×24 terminal (tmux) against a
real ``netsnake-server``: the camera's viewport, the minimap and its ``m`` toggle,
and resizes during play; then a recording of such a game replayed the same way.
See ``test_client_tmux.py`` for how the terminal is driven.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from test_client_tmux import (
    BOTS,
    GAME_START,
    Server,
    assert_shell_restored,
    client,
    start_server,
    tmux,  # noqa: F401  (the fixture, used by name)
)
from test_replay_tmux import progress
from tmux_helpers import BIN, TMUX, Tmux

pytestmark = [
    pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
    pytest.mark.skipif(
        not (BIN / "netsnake-client").exists(), reason=f"netsnake-client is not installed in {BIN}"
    ),
    pytest.mark.timeout(60),
]

SCOREBOARD = 25  # columns of the side panel
_HUD = re.compile(r"ping (\d+|--) ms\s+loss \d+\.\d%.*tick \d+")
# The frame's top row: a wall (┌─, +-) or the faint edge of a view cut off by the screen (·╌, ..).
# It has no spaces: it ends at the divider before the scoreboard's header.
_TOP = re.compile(r"^([┌+·.│|][─╌.\-]{6,}[┐+·.│|─╌\-])(?: |$)")
_HEADS = set("▲▶▼◀")


def board_cols(screen: str) -> int:
    """Width of the board's frame on a game screen (0 when there is none)."""
    m = _TOP.match(screen.splitlines()[0]) if screen.strip() else None
    return len(m[1]) if m else 0


def side_panel(screen: str, cols: int) -> list[str]:
    """The side panel's lines: right of the board frame and the divider."""
    return [line[cols + 1 :] for line in screen.splitlines()]


def shows_big_game(name: str, *, minimap: bool) -> tuple[Callable[[str], bool], str]:
    """A predicate: HUD, a board frame, ``name`` marked in the scoreboard, the minimap or not."""

    def check(screen: str) -> bool:
        cols = board_cols(screen)
        if not cols or not _HUD.search(screen) or "Make the terminal" in screen:
            return False
        side = side_panel(screen, cols)
        marked = any(re.match(rf"^\s?[▶>]{re.escape(name)}\b", line) for line in side)
        framed = any(line.lstrip().startswith(("┌", "+-")) for line in side)
        has_me = any("@" in line for line in side)
        return marked and (framed and has_me) == minimap and framed == minimap

    return check, f"the game with {name} marked, minimap {'on' if minimap else 'off'}"


def wait_big(term: Tmux, name: str, *, minimap: bool = True, timeout: float = GAME_START) -> str:
    check, what = shows_big_game(name, minimap=minimap)
    return term.wait_for(check, timeout=timeout, what=what)


def own_head_on_board(screen: str) -> bool:
    """Whether a snake head is drawn inside the board's viewport."""
    cols = board_cols(screen)
    lines = screen.splitlines()
    return any(set(line[1 : cols - 1]) & _HEADS for line in lines[1:])


@pytest.fixture
def big_server(tmux: Tmux, tmp_path: Path) -> Server:  # noqa: F811
    return start_server(tmux, tmp_path, "--width", "200", "--height", "150")


def test_a_200x150_board_plays_in_an_80x24_terminal(
    tmux: Tmux,  # noqa: F811
    big_server: Server,
    tmp_path: Path,
) -> None:
    tmux.resize(80, 24)
    client(tmux, f"127.0.0.1 --port {big_server.port} --name carol")
    screen = wait_big(tmux, "carol")
    # The board takes what the scoreboard leaves: 26 cells (54 columns) of the 200.
    assert board_cols(screen) == 80 - SCOREBOARD - 1, screen
    assert len(screen.splitlines()) <= 24
    # Steering works, and for a few seconds the camera keeps the own head in view.
    for key in ("Up", "Left", "Down", "Right"):
        tmux.send_keys(key)
        deadline = time.monotonic() + 1.5
        while not own_head_on_board(tmux.capture()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert own_head_on_board(tmux.capture()) or "you died" in tmux.capture(), tmux.capture()
        time.sleep(0.4)
    tmux.wait_for(lambda _s: big_server.turns("carol") >= 1, timeout=5, what="a turn received")
    assert BOTS >= 1 and "Traceback" not in tmux.capture()
    tmux.send_keys("q")
    assert tmux.wait_exit(timeout=6) == 0
    assert_shell_restored(tmux, tmp_path)


def test_m_toggles_the_minimap_and_help_lists_it(
    tmux: Tmux,  # noqa: F811
    big_server: Server,
    tmp_path: Path,
) -> None:
    tmux.resize(80, 24)
    client(tmux, f"127.0.0.1 --port {big_server.port} --name dave --ascii")
    screen = wait_big(tmux, "dave")
    assert all(line.isascii() for line in screen.splitlines()), screen
    tmux.send_keys("m")
    wait_big(tmux, "dave", minimap=False, timeout=5)
    tmux.send_keys("m")
    wait_big(tmux, "dave", minimap=True, timeout=5)
    tmux.send_keys("?")
    screen = tmux.wait_for("minimap on / off", timeout=5, what="the help line for m")
    tmux.send_keys("?")
    tmux.send_keys("q")
    assert tmux.wait_exit(timeout=6) == 0
    assert_shell_restored(tmux, tmp_path)


def test_a_resize_during_play_changes_the_viewport_at_once(
    tmux: Tmux,  # noqa: F811
    big_server: Server,
    tmp_path: Path,
) -> None:
    tmux.resize(80, 24)
    client(tmux, f"127.0.0.1 --port {big_server.port} --name erin")
    wait_big(tmux, "erin")
    for cols, rows in ((120, 40), (50, 14), (44, 12), (80, 24)):
        tmux.resize(cols, rows)
        room = min(200, (cols - SCOREBOARD - 1 - 2) // 2)
        expected = room * 2 + 2

        def resized(screen: str, want: int = expected, r: int = rows) -> bool:
            return (
                board_cols(screen) == want
                and bool(_HUD.search(screen))
                and (len(screen.rstrip("\n").splitlines()) <= r)
            )

        screen = tmux.wait_for(
            resized, timeout=5, what=f"a {expected}-column board at {cols}x{rows}"
        )
        assert "Make the terminal" not in screen and "Traceback" not in screen, screen
    tmux.resize(40, 10)  # below MIN_GAME_SIZE: the only size that asks for more room
    tmux.wait_for("44×12", timeout=5, what="the too-small message")
    tmux.resize(80, 24)
    wait_big(tmux, "erin", timeout=5)
    tmux.send_keys("q")
    assert tmux.wait_exit(timeout=6) == 0
    assert_shell_restored(tmux, tmp_path)


def test_a_server_view_cap_keeps_the_board_within_the_area_sent(
    tmux: Tmux,  # noqa: F811
    tmp_path: Path,
) -> None:
    # A server sending each client at most 32 x 16 cells (and a margin) around it: a
    # 120 x 40 terminal would have room for 46 x 36 cells, but it shows 23 x 11, the
    # most whose every cell is in what the server sends (padded, not stretched).
    server = start_server(
        tmux, tmp_path, "--width", "200", "--height", "150", "--max-view", "32x16"
    )
    tmux.resize(120, 40)
    client(tmux, f"127.0.0.1 --port {server.port} --name gus")
    screen = tmux.wait_for(
        lambda s: bool(_HUD.search(s)) and "▶gus" in s and board_cols(s) > 0,
        timeout=GAME_START,
        what="the game with gus marked",
    )
    assert board_cols(screen) == 23 * 2 + 2, screen
    lines = screen.splitlines()
    bottom = next(i for i, line in enumerate(lines[1:], 1) if line.startswith(("└", "·")))
    assert bottom == 11 + 1, screen
    tmux.send_keys("q")
    assert tmux.wait_exit(timeout=6) == 0
    assert_shell_restored(tmux, tmp_path)


def test_a_recorded_120x80_game_replays_in_80x24_through_the_camera(
    tmux: Tmux,  # noqa: F811
    tmp_path: Path,
) -> None:
    records = tmp_path / "records"
    server = start_server(
        tmux, tmp_path, "--width", "120", "--height", "80", "--record", str(records), bots=6
    )
    time.sleep(3)  # a few seconds of bots playing on the big board
    os.kill(server.pid, signal.SIGINT)
    assert tmux.pane_exit_status(server.target, timeout=5) == 0
    (recording,) = records.glob("*.nsrec")

    tmux.resize(80, 24)
    client(tmux, f"--replay {recording}")

    def replaying(screen: str, *, following: bool, minimap: bool) -> bool:
        """``following``: a player picked with Tab, else the leader (the default)."""
        m = progress(screen)
        cols = board_cols(screen)
        if m is None or cols != 80 - SCOREBOARD - 1 or "Make the terminal" in screen:
            return False
        side = side_panel(screen, cols)
        framed = any(line.startswith("┌") for line in side)
        has_me = any("@" in line for line in side)
        keys = any("Tab    follow" in line for line in side)
        how = "following" if following else "leader"
        marked = any(re.match(rf"^\s?▶{re.escape(m['who'] or '')}\b", line) for line in side)
        return m["how"] == how and marked and (framed and has_me) == minimap and keys

    # The board is seen through the camera: 26 cells of 120, minimap and keys beside it,
    # the camera on the leader until Tab picks someone.
    screen = tmux.wait_for(
        lambda s: replaying(s, following=False, minimap=True) and own_head_on_board(s),
        timeout=GAME_START,
        what="the replay of the 120x80 board with its minimap",
    )
    assert len(screen.splitlines()) <= 24 and "Traceback" not in screen
    tmux.send_keys("Space")  # paused, so nobody dies while the camera follows
    tmux.send_keys("Tab")
    tmux.wait_for(
        lambda s: replaying(s, following=True, minimap=True) and own_head_on_board(s),
        timeout=5,
        what="the camera on the followed player, @ on the minimap",
    )
    tmux.send_keys("m")
    tmux.wait_for(
        lambda s: replaying(s, following=True, minimap=False), timeout=5, what="minimap off"
    )
    tmux.send_keys("m")
    tmux.wait_for(
        lambda s: replaying(s, following=True, minimap=True), timeout=5, what="minimap on"
    )
    tmux.resize(120, 40)  # more room: a wider view at once, the progress line kept
    tmux.wait_for(
        lambda s: board_cols(s) == 120 - SCOREBOARD - 1 and progress(s) is not None,
        timeout=5,
        what="a 94-column board at 120x40",
    )
    tmux.resize(80, 24)
    tmux.wait_for(
        lambda s: replaying(s, following=True, minimap=True), timeout=5, what="80x24 again"
    )
    tmux.send_keys("q")
    assert tmux.wait_exit(timeout=5) == 0
    assert_shell_restored(tmux, tmp_path)
