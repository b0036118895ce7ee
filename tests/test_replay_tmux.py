"""``netsnake-client --replay`` in a real terminal: the controls as a person uses them.

The recording is a seeded one-minute bot game written by the recording
module; the client plays it in a private tmux server, and the test reads
the progress line (play/pause, speed, time) and the scoreboard after each key.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_client_tmux import assert_shell_restored, client, scoreboard, wait_game
from test_recording import play, record
from tmux_helpers import BIN, TMUX, Tmux

pytestmark = [
    pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
    pytest.mark.skipif(
        not (BIN / "netsnake-client").exists(), reason=f"netsnake-client is not installed in {BIN}"
    ),
    pytest.mark.timeout(60),
]

# "▶ 1×   ████░░░░ 00:03 / 00:59  following p2" ("leader p2" before a Tab)
_PROGRESS = re.compile(
    r"^(?P<state>[▶‖]) (?P<speed>\S+)\s+[█░]+ (?P<time>\d\d:\d\d) / (?P<total>\d\d:\d\d)"
    r"(?:  (?P<how>following|leader) (?P<who>\S+))?",
    re.MULTILINE,
)


def progress(screen: str) -> re.Match[str] | None:
    return _PROGRESS.search(screen)


def seconds(screen: str) -> int:
    m = progress(screen)
    assert m is not None, screen
    minutes, secs = m["time"].split(":")
    return int(minutes) * 60 + int(secs)


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    term = Tmux(cols=80, rows=24)
    try:
        yield term
    finally:
        term.kill()


@pytest.fixture
def recording_file(tmp_path: Path) -> Path:
    path = tmp_path / "game.nsrec"
    path.write_bytes(record(play(seed=31, ticks=600, players=4)))
    return path


def test_replay_controls(tmux: Tmux, recording_file: Path, tmp_path: Path) -> None:
    client(tmux, f"--replay {recording_file}")
    screen = tmux.wait_for(
        lambda s: (m := progress(s)) is not None and m["state"] == "▶" and m["speed"] == "1×",
        timeout=12,
        what="the replay playing at 1×",
    )
    assert "Traceback" not in screen
    assert len(scoreboard(screen)) >= 4, screen
    m = progress(screen)
    assert m is not None and m["total"] == "00:59", screen

    # Space pauses: the clock stops.
    tmux.send_keys("Space")
    screen = tmux.wait_for(lambda s: "‖" in s, timeout=5, what="paused")
    paused_at = seconds(screen)
    tmux.send_keys("Space")
    tmux.send_keys("Space")  # play and pause again: still paused, a moment later
    screen = tmux.wait_for(
        lambda s: (m := progress(s)) is not None and m["state"] == "‖", timeout=5, what="paused"
    )
    paused_at = seconds(screen)
    screen = tmux.wait_for(lambda s: seconds(s) == paused_at, timeout=5, what="a stopped clock")

    # → and ← seek 10 s.
    tmux.send_keys("Right")
    tmux.wait_for(lambda s: seconds(s) == paused_at + 10, timeout=5, what="+10 s")
    tmux.send_keys("Right")
    tmux.wait_for(lambda s: seconds(s) == paused_at + 20, timeout=5, what="+20 s")
    tmux.send_keys("Left")
    tmux.wait_for(lambda s: seconds(s) == paused_at + 10, timeout=5, what="back 10 s")

    # + and - change the speed from ¼× to 8×.
    for key, shown in (("+", "2×"), ("+", "4×"), ("+", "8×"), ("+", "8×")):
        tmux.send_keys(key)
        tmux.wait_for(
            lambda s, shown=shown: (m := progress(s)) is not None and m["speed"] == shown,
            timeout=5,
            what=f"speed {shown}",
        )
    for key, shown in (("-", "4×"), ("-", "2×"), ("-", "1×"), ("-", "½×"), ("-", "¼×")):
        tmux.send_keys(key)
        tmux.wait_for(
            lambda s, shown=shown: (m := progress(s)) is not None and m["speed"] == shown,
            timeout=5,
            what=f"speed {shown}",
        )

    # Tab follows a player: named on the progress line and marked on the scoreboard.
    tmux.send_keys("Tab")
    screen = tmux.wait_for(
        lambda s: (m := progress(s)) is not None and m["how"] == "following",
        timeout=5,
        what="following someone",
    )
    m = progress(screen)
    assert m is not None
    marked = [row.name for row in scoreboard(screen) if row.mine]
    assert marked == [m["who"]], screen

    # Playing again at ¼×: the clock moves, slowly.
    tmux.send_keys("Space")
    tmux.wait_for(
        lambda s: (m := progress(s)) is not None and m["state"] == "▶", timeout=5, what="playing"
    )
    tmux.wait_for(lambda s: seconds(s) >= paused_at + 11, timeout=10, what="the clock moving")

    tmux.send_keys("q")
    assert tmux.wait_exit(timeout=5) == 0
    assert_shell_restored(tmux, tmp_path)


def test_replay_of_a_file_that_is_not_a_recording_is_one_error_line(
    tmux: Tmux, tmp_path: Path
) -> None:
    junk = tmp_path / "junk.nsrec"
    junk.write_bytes(b"this is not a recording\n" * 10)
    client(tmux, f"--replay {junk}")
    assert tmux.wait_exit(timeout=10) == 1
    screen = tmux.capture(join=True)
    errors = [line for line in screen.splitlines() if "error" in line]
    assert errors == [f"netsnake-client: error: {junk}: not a netsnake recording"], screen
    assert tmux.display("#{alternate_on}") == "0"


def test_a_game_recorded_by_the_client_replays(tmux: Tmux, tmp_path: Path) -> None:
    mine = tmp_path / "mine.nsrec"
    client(tmux, f"--name bob --bots 2 --record {mine}")
    wait_game(tmux, "bob", players=3)
    time.sleep(3)
    tmux.send_keys("q")
    assert tmux.wait_exit(timeout=6) == 0
    tmux.clear_shell()
    client(tmux, f"--replay {mine}")
    screen = tmux.wait_for(
        lambda s: (m := progress(s)) is not None and m["total"] >= "00:02",
        timeout=12,
        what="the client's recording playing",
    )
    assert {"bob"} <= {row.name for row in scoreboard(screen)}, screen
    tmux.send_keys("q")
    assert tmux.wait_exit(timeout=5) == 0
    assert_shell_restored(tmux, tmp_path)
