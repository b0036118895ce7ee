"""A board bigger than the terminal, played in a real 80×24 terminal (tmux) against a
real ``netsnake-server``: the camera's viewport, the minimap and its ``m`` toggle,
and resizes during play.  See ``test_client_tmux.py`` for how the terminal is driven.
"""

from __future__ import annotations

import re
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
