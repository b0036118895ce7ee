"""The terminal client used as a person uses it: real programs in a real terminal (tmux).

Every test types ``netsnake-client ...; echo EXIT=$?`` into a bash running in
a private tmux server, reads the screen with ``capture-pane`` and presses keys
with ``send-keys``.  Servers are the real ``netsnake-server`` in a tmux window
of their own (so they can be killed) or the client's embedded one.  After the
client exits, the tests check what a player would notice first if the UI
misbehaved: the exit status, a traceback on screen, and a terminal left in
raw mode or in the alternate screen.

Waits poll the screen up to generous deadlines (the machine may be busy), and
a timeout fails with the last screen in the message.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from netcheck import unused_udp_port
from tmux_helpers import BIN, TMUX, Tmux, exit_code, tty_is_sane

from netsnake.server.key_file import load_or_create_key as load_key_file

pytestmark = [
    pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
    pytest.mark.skipif(
        not (BIN / "netsnake-client").exists(), reason=f"netsnake-client is not installed in {BIN}"
    ),
    pytest.mark.timeout(40),
]

#: World seed for the servers; override to reproduce another game.
SEED = int(os.environ.get("NETSNAKE_TMUX_SEED", "6006"))
BOTS = 3
GAME_START = 12.0  # s for a client to show a running game (process start included)

_BORDER_TOP = re.compile(r"^[┌+][─-]{10,}[┐+]", re.MULTILINE)
_FINGERPRINT = re.compile(r"SHA256:[A-Za-z0-9+/]{43}")
_HUD = re.compile(r"ping (\d+|--) ms\s+loss \d+\.\d%.*tick \d+")
# A scoreboard row, right of the board: marker(1) name(12) score(5) length(4) kills(4).
_ROW = re.compile(r"[│|] ([ ▶>])(.{11})([ \d]{5})([ \d]{4})([ \d]{4})\s*$")


@dataclass(frozen=True)
class Row:
    """One scoreboard line."""

    mine: bool
    name: str
    score: int


def scoreboard(screen: str) -> list[Row]:
    """The scoreboard rows on a game screen."""
    rows = []
    for line in screen.splitlines():
        m = _ROW.search(line)
        if m:
            rows.append(Row(m[1] != " ", m[2].strip(), int(m[3])))
    return rows


def shows_game(name: str, players: int = 1) -> Callable[[str], bool]:
    """A screen predicate: board, HUD and ``name`` marked as ours among >= ``players`` rows."""

    def check(screen: str) -> bool:
        rows = scoreboard(screen)
        return (
            bool(_BORDER_TOP.search(screen))
            and bool(_HUD.search(screen))
            and name in {r.name for r in rows if r.mine}
            and len(rows) >= players
        )

    return check


def wait_game(tmux: Tmux, name: str, players: int = 1, timeout: float = GAME_START) -> str:
    return tmux.wait_for(
        shows_game(name, players),
        timeout=timeout,
        what=f"a game with {name} marked and >= {players} players",
    )


def client(tmux: Tmux, args: str) -> None:
    """Start the client in the shell pane, echoing its exit status afterwards."""
    tmux.run_in_shell(f"netsnake-client {args}; echo EXIT=$?")


def assert_shell_restored(tmux: Tmux, tmp_path: Path) -> None:
    """The terminal is usable again after the client exited: as a person would check it."""
    screen = tmux.capture()
    assert "Traceback" not in screen, screen
    # Back on the normal screen, cursor visible, no mouse reporting left on.
    assert tmux.display("#{alternate_on} #{cursor_flag} #{mouse_any_flag}") == "0 1 0", screen
    # Nothing of the game (board, HUD, scoreboard) is left on the screen.
    for leftover in ("│", "┌", "ping ", "Player"):
        assert leftover not in screen, f"{leftover!r} left on screen:\n{screen}"
    # Typed characters are echoed and output starts at column 0: line mode works.
    tmux.run_in_shell("echo hello")
    tmux.wait_for(lambda s: "$ echo hello\nhello\n" in s, timeout=5, what="echo hello")
    stty = tmp_path / "stty.txt"
    tmux.run_in_shell(f"stty -a > {stty}; echo STTY=$?")
    tmux.wait_for("STTY=0", timeout=5)
    assert tty_is_sane(stty.read_text()), stty.read_text()


@dataclass
class Server:
    """A ``netsnake-server`` running in its own tmux window."""

    tmux: Tmux
    target: str
    port: int
    pid: int
    trace: Path
    key_file: Path

    def turns(self, name: str) -> int:
        """Turns from ``name`` the server has received (its --input-trace file)."""
        if not self.trace.exists():
            return 0
        return sum(f'"name": "{name}"' in line for line in self.trace.read_text().splitlines())

    @property
    def fingerprint(self) -> str:
        """The fingerprint of the key the server proves."""
        return load_key_file(self.key_file).fingerprint


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    term = Tmux(cols=100, rows=30)
    try:
        yield term
    finally:
        term.kill()


def start_server(
    tmux: Tmux,
    tmp_path: Path,
    *extra: str,
    name: str = "server",
    key_file: Path | None = None,
    port: int = 0,
    bots: int = BOTS,
) -> Server:
    """``netsnake-server`` with ``bots`` (the test's count unless given), the test's seed
    and ``extra`` arguments in a tmux window of its own, once its join line is shown."""
    trace = tmp_path / f"{name}-inputs.jsonl"
    key_file = key_file or tmp_path / f"{name}.key"
    print(f"netsnake-server seed {SEED} (set NETSNAKE_TMUX_SEED to change)")
    # Port 0: the server picks a free port and prints the join command with it.
    target = tmux.new_window(
        name,
        [
            str(BIN / "netsnake-server"),
            "--bots",
            str(bots),
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
            "--seed",
            str(SEED),
            "--input-trace",
            str(trace),
            "--key-file",
            str(key_file),
            *extra,
        ],
    )
    join = re.compile(r"players can join with: netsnake-client 127\.0\.0\.1 --port (\d+)")
    screen = tmux.wait_for(
        lambda s: bool(join.search(s)),
        timeout=10,
        target=target,
        join=True,
        what="the server's join line",
    )
    m = join.search(screen)
    assert m is not None
    return Server(tmux, target, int(m[1]), tmux.pane_pid(target), trace, key_file)


@pytest.fixture
def server(tmux: Tmux, tmp_path: Path) -> Server:
    return start_server(tmux, tmp_path)


# -- playing against a real server


def test_play_steer_help_and_quit(tmux: Tmux, server: Server, tmp_path: Path) -> None:
    client(tmux, f"127.0.0.1 --port {server.port} --name alice")
    screen = wait_game(tmux, "alice", players=BOTS + 1)
    assert "Traceback" not in screen
    assert re.search(r"^└[─]+┘", screen, re.MULTILINE), screen
    assert {r.name for r in scoreboard(screen)} >= {"alice"}

    # Steering: every key family reaches the server as turns from alice.  Each
    # press is a pair of perpendicular directions, since a turn along the
    # snake's current axis is (rightly) not sent; at least one of a pair is.
    for pair in (("Up", "Left"), ("Down", "Right"), ("w", "a"), ("s", "d"), ("k", "h"), ("j", "l")):
        before = server.turns("alice")
        deadline = time.monotonic() + 8
        while server.turns("alice") <= before:
            assert time.monotonic() < deadline, (
                f"keys {pair} sent no turn to the server; screen:\n{tmux.capture()}"
            )
            tmux.send_keys(pair[0])
            time.sleep(0.1)
            tmux.send_keys(pair[1])
            time.sleep(0.4)

    tmux.send_keys("?")
    # All of the box at once: a capture can catch a redraw half done on a busy machine.
    # The key the server proved is in it, as its operator sees it in the server's log.
    help_words = ("show / hide this help", "Keys", "steer", "quit", "Server key fingerprint:")
    screen = tmux.wait_for(
        lambda s: all(w in s for w in (*help_words, server.fingerprint)),
        timeout=5,
        what="the help overlay with the server's fingerprint",
    )
    assert f"server key {server.fingerprint}" in tmux.capture(server.target, join=True)
    tmux.send_keys("?")
    screen = tmux.wait_for(
        lambda s: "show / hide this help" not in s, timeout=5, what="the help overlay hidden"
    )
    assert _BORDER_TOP.search(screen), screen

    started = time.monotonic()
    tmux.send_keys("q")
    assert tmux.wait_exit(timeout=6) == 0
    assert time.monotonic() - started < 4, "q took long to exit"
    assert_shell_restored(tmux, tmp_path)
    # The server saw alice leave, and keeps running.
    tmux.wait_for("alice left", timeout=5, target=server.target, join=True)
    assert tmux.display("#{pane_dead}", server.target) == "0"


def test_server_killed_shows_connection_lost(tmux: Tmux, server: Server, tmp_path: Path) -> None:
    client(tmux, f"127.0.0.1 --port {server.port} --name alice")
    wait_game(tmux, "alice")
    os.kill(server.pid, signal.SIGKILL)
    killed = time.monotonic()
    tmux.wait_for("Connection lost", timeout=12, what="'Connection lost'")
    lost_after = time.monotonic() - killed
    print(f"'Connection lost' {lost_after:.1f} s after SIGKILL")
    # The client's silence timeout is 4 s, so players hear of it within 5 s;
    # the bound has slack for a loaded machine.
    assert lost_after < 6.0, lost_after
    assert tmux.wait_exit(timeout=8) == 4
    assert_shell_restored(tmux, tmp_path)


def test_server_interrupted_shows_shutdown(tmux: Tmux, server: Server, tmp_path: Path) -> None:
    client(tmux, f"127.0.0.1 --port {server.port} --name alice")
    wait_game(tmux, "alice")
    os.kill(server.pid, signal.SIGINT)
    screen = tmux.wait_for(
        lambda s: "Server shut down" in s or "server shutting down" in s,
        timeout=6,
        what="a shut-down message",
    )
    assert "Connection lost" not in screen
    assert tmux.wait_exit(timeout=8) == 0
    assert tmux.pane_exit_status(server.target, timeout=5) == 0
    assert_shell_restored(tmux, tmp_path)


# -- spectating


_WATCHING = re.compile(r"watching (.+?)(, the leader)? \(Tab: next, p: play\)")


def watched(screen: str) -> str | None:
    """The player the spectator line names, if a spectator's game is shown."""
    m = _WATCHING.search(screen)
    return m[1] if m else None


def watching_leader(screen: str) -> bool:
    """Whether the spectator line says the leader is followed (nobody chosen)."""
    m = _WATCHING.search(screen)
    return m is not None and m[2] is not None


def spectating(players: int) -> Callable[[str], bool]:
    """A screen predicate: a spectator's game (board, HUD, >= ``players`` rows, the
    followed one marked and named on the message line, the footer counting us)."""

    def check(screen: str) -> bool:
        rows = scoreboard(screen)
        marked = [r.name for r in rows if r.mine]
        return (
            bool(_BORDER_TOP.search(screen))
            and bool(_HUD.search(screen))
            and len(rows) >= players
            and len(marked) == 1
            and watched(screen) == marked[0]
            and "1 watching" in screen
        )

    return check


def test_spectate_follow_with_tab_and_switch_seats_with_p(
    tmux: Tmux, server: Server, tmp_path: Path
) -> None:
    tmux.resize(80, 24)  # everything must fit a standard terminal
    client(tmux, f"127.0.0.1 --port {server.port} --name eve --spectate")
    screen = tmux.wait_for(spectating(BOTS), timeout=GAME_START, what="a spectator's game")
    assert "eve" not in {r.name for r in scoreboard(screen)}  # no snake of our own
    assert re.search(r"^└[─]+┘", screen, re.MULTILINE), screen  # the whole board is in view
    assert "Traceback" not in screen
    tmux.wait_for("eve is spectating, from 127.0.0.1", timeout=5, target=server.target, join=True)

    # Tab follows each player in turn, then the leader again.
    assert watching_leader(screen), screen
    notices = [(watched(screen), True)]
    for _ in range(BOTS + 1):
        tmux.send_keys("Tab")
        screen = tmux.wait_for(
            lambda s: spectating(BOTS)(s) and (watched(s), watching_leader(s)) != notices[-1],
            timeout=5,
            what="the next player followed",
        )
        notices.append((watched(screen), watching_leader(screen)))
    chosen = [name for name, leader in notices[1:-1] if not leader]
    assert len(set(chosen)) == BOTS and notices[-1][1], notices

    # p: a seat is free, so eve plays (and is marked as herself), then watches again.
    tmux.send_keys("p")
    screen = wait_game(tmux, "eve", players=BOTS + 1)
    assert "0 watching" in screen and watched(screen) is None
    tmux.wait_for("eve stopped spectating", timeout=5, target=server.target, join=True)
    tmux.send_keys("p")
    screen = tmux.wait_for(
        lambda s: spectating(BOTS)(s) and "eve" not in {r.name for r in scoreboard(s)},
        timeout=5,
        what="watching again",
    )
    tmux.send_keys("q")
    assert tmux.wait_exit(timeout=6) == 0
    assert_shell_restored(tmux, tmp_path)
    tmux.wait_for("spectator eve left (quit)", timeout=5, target=server.target, join=True)


def test_a_full_spectator_list_is_explained(tmux: Tmux, tmp_path: Path) -> None:
    server = start_server(tmux, tmp_path, "--max-spectators", "0")
    client(tmux, f"127.0.0.1 --port {server.port} --name eve --spectate")
    tmux.wait_for("Rejected: no spectator seat left (0 watching)", timeout=GAME_START)
    assert tmux.wait_exit(timeout=8) == 3
    assert_shell_restored(tmux, tmp_path)


# -- the embedded local server (no HOST)


def test_no_host_plays_at_once_against_bots(tmux: Tmux, tmp_path: Path) -> None:
    started = time.monotonic()
    # The local game needs no file: nothing is read or written under this config home.
    config, data = tmp_path / "config", tmp_path / "data"
    tmux.run_in_shell(
        f"XDG_CONFIG_HOME={config} XDG_DATA_HOME={data} netsnake-client --name bob; echo EXIT=$?"
    )
    screen = wait_game(tmux, "bob", players=BOTS + 1, timeout=8)
    print(f"bob and {BOTS} bots shown after {time.monotonic() - started:.1f} s")
    names = [r.name for r in scoreboard(screen)]
    assert len(names) == BOTS + 1 and "bob" in names, screen
    # The local server's key is fresh each run; help shows it all the same.
    tmux.send_keys("?")
    screen = tmux.wait_for("Server key fingerprint:", timeout=5, what="the help overlay")
    assert _FINGERPRINT.search(screen), screen
    tmux.send_keys("?")
    tmux.send_keys("q")
    assert tmux.wait_exit(timeout=6) == 0
    assert not config.exists() and not data.exists()
    assert_shell_restored(tmux, tmp_path)


def _clear_prompt(tmux: Tmux, chars: int) -> None:
    tmux.send_keys(*["BSpace"] * chars)


def test_name_typed_at_the_prompt(tmux: Tmux, tmp_path: Path) -> None:
    client(tmux, "")
    # The prompt offers the login name ($USER is "tester" in the helper's shell).
    tmux.wait_for(
        lambda s: "Choose a player name" in s and "Name: tester" in s,
        timeout=GAME_START,
        what="the name prompt",
    )
    _clear_prompt(tmux, len("tester"))
    tmux.type_text("carol")
    tmux.send_keys("Enter")
    wait_game(tmux, "carol", players=BOTS + 1)
    tmux.send_keys("q")
    assert tmux.wait_exit(timeout=6) == 0
    assert_shell_restored(tmux, tmp_path)


def test_refused_names_are_explained_and_asked_again(tmux: Tmux, tmp_path: Path) -> None:
    client(tmux, "")
    tmux.wait_for("Choose a player name", timeout=GAME_START, what="the name prompt")
    _clear_prompt(tmux, len("tester"))

    tmux.type_text("   ")
    tmux.send_keys("Enter")
    screen = tmux.wait_for("must not be empty", timeout=5, what="the empty-name explanation")
    assert "Choose a player name" in screen

    _clear_prompt(tmux, 3)
    too_long = "abcdefghijklmnopqrstu"  # 21 characters; 16 is the limit
    tmux.type_text(too_long)
    tmux.send_keys("Enter")
    screen = tmux.wait_for("longer than 16", timeout=5, what="the too-long explanation")
    assert "Choose a player name" in screen and too_long in screen

    _clear_prompt(tmux, len(too_long))
    tmux.type_text("dave")
    tmux.send_keys("Enter")
    wait_game(tmux, "dave")
    tmux.send_keys("q")
    assert tmux.wait_exit(timeout=6) == 0
    assert_shell_restored(tmux, tmp_path)


def test_ctrl_c_exits_cleanly(tmux: Tmux, tmp_path: Path) -> None:
    client(tmux, "--name bob")
    wait_game(tmux, "bob")
    tmux.send_keys("C-c")
    assert tmux.wait_exit(timeout=6) == 0
    assert "Traceback" not in tmux.capture()
    assert_shell_restored(tmux, tmp_path)


def test_tiny_terminal_asks_for_more_room(tmux: Tmux, tmp_path: Path) -> None:
    client(tmux, "--name bob")
    screen = wait_game(tmux, "bob")
    tmux.resize(40, 10)
    screen = tmux.wait_for("(it is 40×10 now)", timeout=5, what="the too-small message")
    m = re.search(r"Make the terminal at least (\d+)×(\d+)", screen)
    assert m, screen
    need = int(m[1]), int(m[2])
    # The default board, scoreboard and HUD fit a standard 80x24 terminal.
    assert need[0] > 40 and need[1] > 10 and need[0] <= 80 and need[1] <= 24, need
    tmux.resize(30, 8)
    screen = tmux.wait_for("now 30×8", timeout=5, what="the too-small message at 30×8")
    assert f"{need[0]}×{need[1]}" in screen and "Traceback" not in screen
    tmux.resize(100, 30)
    screen = wait_game(tmux, "bob", timeout=5)
    assert "Make the terminal" not in screen and "now 30×8" not in screen
    tmux.send_keys("q")
    assert tmux.wait_exit(timeout=6) == 0
    assert_shell_restored(tmux, tmp_path)


def test_ascii_mode_draws_only_ascii(tmux: Tmux, tmp_path: Path) -> None:
    client(tmux, "--name eve --ascii")
    screen = wait_game(tmux, "eve", players=BOTS + 1)
    lines = screen.splitlines()
    assert re.match(r"^\+-{52}\+", lines[0]), screen
    bottom = next(i for i, line in enumerate(lines) if i > 0 and line.startswith("+-"))
    # Board (border and cells), scoreboard and HUD: plain ASCII, whole cells.
    drawn = [*lines[: bottom + 1], *(line for line in lines if _HUD.search(line))]
    for line in drawn:
        assert line.isascii(), f"non-ASCII in --ascii mode: {line!r}\n{screen}"
    assert all(line.startswith("|") for line in lines[1:bottom]), screen
    assert re.search(r"dn\d+\.\d up\d+\.\d KB/s", screen), screen
    assert any(r.mine and r.name == "eve" for r in scoreboard(screen))
    assert "| >eve" in screen, screen
    tmux.send_keys("q")
    assert tmux.wait_exit(timeout=6) == 0
    assert_shell_restored(tmux, tmp_path)


# -- no server at all


def test_unreachable_server(tmux: Tmux, tmp_path: Path) -> None:
    port = unused_udp_port()
    started = time.monotonic()
    client(tmux, f"127.0.0.1 --port {port} --name alice")
    tmux.wait_for(f"Connecting to 127.0.0.1:{port}", timeout=GAME_START, what="'Connecting to ...'")
    tmux.wait_for(f"Could not reach 127.0.0.1:{port}", timeout=15, what="'Could not reach'")
    code = tmux.wait_exit(timeout=8)
    elapsed = time.monotonic() - started
    print(f"unreachable: exit {code} after {elapsed:.1f} s")
    assert code == 2
    assert 3 <= elapsed <= 20, elapsed
    screen = tmux.capture()
    assert exit_code(screen) == 2
    # Why it ended stays in the terminal once the game's screen is gone.
    assert f"netsnake-client: Could not reach 127.0.0.1:{port}: no answer in 5 s" in screen, screen
    assert_shell_restored(tmux, tmp_path)


# -- the net graph


def test_net_graph_toggles_and_shows_lost_snapshots(
    tmux: Tmux, server: Server, tmp_path: Path
) -> None:
    # A lossy relay in front of the real server: a quarter of the snapshots go
    # missing on the way down, so the graph must show lost (rebuilt) ticks.
    relay = tmux.new_window(
        "netem",
        [
            str(BIN / "python"),
            "-m",
            "netsnake.netem",
            "0",
            f"127.0.0.1:{server.port}",
            "--seed",
            "12",
            "--down-loss",
            "25",
            "--latency",
            "20",
        ],
    )
    listening = re.compile(r"netem: listening on 127\.0\.0\.1:(\d+)")
    found = listening.search(
        tmux.wait_for(
            lambda s: bool(listening.search(s)), timeout=10, target=relay, join=True, what="netem"
        )
    )
    assert found is not None
    tmux.resize(80, 24)
    client(tmux, f"127.0.0.1 --port {found[1]} --name alice")
    wait_game(tmux, "alice", players=BOTS + 1)
    assert "Net graph" not in tmux.capture()

    tmux.send_keys("n")

    def graph_with_losses(screen: str) -> bool:
        snap = re.search(r"snap (.*)$", screen, re.MULTILINE)
        lost = re.search(r"last 10 s: ▓\d+ ▒\d+ ░(\d+)", screen)
        return bool(snap and "░" in snap[1] and "█" in snap[1] and lost and int(lost[1]) > 0)

    screen = tmux.wait_for(graph_with_losses, timeout=15, what="the net graph with lost ticks")
    lines = screen.splitlines()
    assert len(lines) <= 24 and all(len(line) <= 80 for line in lines), screen
    assert "Net graph" in screen and "█ok ▓late ▒held ░lost" in screen
    assert re.search(r"ping \d+ ms  delay \d+ ms", screen), screen
    assert re.search(r"\d+ B/snap", screen), screen
    assert any(r.mine and r.name == "alice" for r in scoreboard(screen)), screen
    assert _BORDER_TOP.search(screen), screen  # the board is still whole

    tmux.send_keys("n")
    screen = tmux.wait_for(
        lambda s: "Net graph" not in s, timeout=5, what="the net graph hidden again"
    )
    assert _BORDER_TOP.search(screen) and "Traceback" not in screen
    tmux.send_keys("q")
    assert tmux.wait_exit(timeout=6) == 0
    assert_shell_restored(tmux, tmp_path)


# -- prediction: a turn lands where the head was drawn

_ASCII_HEADS = {"@^": "Up", "@>": "Right", "@v": "Down", "<@": "Left"}


def own_head(screen: str) -> tuple[tuple[int, int], str] | None:
    """The (cell, heading key) of the only snake's head on an ``--ascii`` board, if one."""
    lines = screen.splitlines()
    if not lines or not lines[0].startswith("+-"):
        return None
    heads = []
    for y, line in enumerate(lines[1:]):
        if not line.startswith("|"):
            break
        for x in range((len(line) - 1) // 2):
            token = line[1 + 2 * x : 3 + 2 * x]
            if token in _ASCII_HEADS:
                heads.append(((x, y), _ASCII_HEADS[token]))
    return heads[0] if len(heads) == 1 else None


def test_a_turn_lands_on_the_cell_where_the_head_was_drawn(tmux: Tmux, tmp_path: Path) -> None:
    server = start_server(tmux, tmp_path, bots=0)
    trace = server.trace
    log = tmp_path / "client.log"
    client(tmux, f"127.0.0.1 --port {server.port} --name ann --ascii --predict on --log-file {log}")
    wait_game(tmux, "ann")
    time.sleep(1.0)  # as a person would take in the board before the first turn
    width, height = 26, 20  # the server's default board

    def applied() -> dict[int, tuple[int, int]]:
        out = {}
        for line in trace.read_text().splitlines() if trace.exists() else []:
            if '"applied": "ann"' in line:
                entry = json.loads(line)
                out[entry["seq"]] = tuple(entry["cell"])
        return out

    def drawn_at_key(seq: int) -> tuple[int, int] | None:
        # The client logs the head it last drew when it takes the key: what the
        # player saw at that moment (a frame can land between the test's screen
        # capture and the client reading the key from the pty).
        found = re.search(
            rf"turn {seq} \w+ stamped \d+; drawn tick \d+ head \((\d+), (\d+)\)", log.read_text()
        )
        return (int(found[1]), int(found[2])) if found else None

    checked, seq = 0, 0
    deadline = time.monotonic() + 25
    while checked < 4 and time.monotonic() < deadline:
        first = own_head(tmux.capture())
        if first is None:
            time.sleep(0.1)  # dead, or between frames
            continue
        (x, y), heading = first
        # Turn towards the middle of the board, so the snake lives on.
        if heading in ("Left", "Right"):
            key = "Down" if y < height // 2 else "Up"
        else:
            key = "Right" if x < width // 2 else "Left"
        tmux.send_keys(key)
        applied_deadline = time.monotonic() + 3
        while seq not in applied() and time.monotonic() < applied_deadline:
            time.sleep(0.05)
        cell = applied().get(seq)
        assert cell is not None, f"turn {seq} was never applied; screen:\n{tmux.capture()}"
        drawn = drawn_at_key(seq)
        seq += 1
        if drawn != first[0]:
            continue  # the head moved on between the capture and the key: the screen can't say
        assert cell == first[0], (
            f"turn {seq - 1} pressed with the head drawn at {first[0]} took effect at {cell}\n"
            f"{log.read_text()[-3000:]}\n{trace.read_text()[-2000:]}"
        )
        checked += 1
        time.sleep(0.3)  # a few cells along the new heading before the next turn
    assert checked >= 3, f"only {checked} turns could be checked"
    tmux.send_keys("q")
    assert tmux.wait_exit(timeout=6) == 0


# -- server identity: trust on first use, a changed key, --trust-new-key


@pytest.mark.timeout(120)
def test_a_changed_server_key_exits_5_until_trusted(tmux: Tmux, tmp_path: Path) -> None:
    config = tmp_path / "config"
    known = config / "netsnake" / "known_servers"
    key_a, key_b = tmp_path / "a.key", tmp_path / "b.key"
    fp_a, fp_b = load_key_file(key_a).fingerprint, load_key_file(key_b).fingerprint
    assert fp_a != fp_b

    def play(extra: str = "") -> None:
        tmux.clear_shell()
        tmux.run_in_shell(
            f"XDG_CONFIG_HOME={config} netsnake-client 127.0.0.1 --port {port} --name alice"
            f"{extra}; echo EXIT=$?"
        )

    # First contact: the key is accepted, remembered, and the player is told.
    server = start_server(tmux, tmp_path, name="server-a", key_file=key_a)
    port = server.port
    play()
    tmux.wait_for("its key is remembered in known_servers", timeout=GAME_START)
    wait_game(tmux, "alice")
    tmux.send_keys("q")
    assert tmux.wait_exit(timeout=6) == 0
    where = f"{known}:2"  # line 1 is the file's header comment
    screen = tmux.capture(join=True)
    assert f"new server 127.0.0.1:{port}: key {fp_a} added to {where}" in screen, screen
    assert known.read_text().splitlines()[1].startswith(f"127.0.0.1:{port} x25519 ")

    # Another server (another key) on the same address: refused, exit 5, file:line named.
    os.kill(server.pid, signal.SIGTERM)
    assert tmux.pane_exit_status(server.target, timeout=5) == 0
    start_server(tmux, tmp_path, name="server-b", key_file=key_b, port=port)
    play()
    screen = tmux.wait_for(
        f"The key of 127.0.0.1:{port} has changed!", timeout=GAME_START, what="the refusal"
    )
    assert fp_b in screen and fp_a in screen, screen
    assert tmux.wait_exit(timeout=8) == 5
    screen = tmux.capture(join=True)
    assert f"Offending key in {where}" in screen, screen
    assert f"it proved {fp_b}, expected {fp_a}" in screen, screen
    assert "--trust-new-key" in screen
    assert_shell_restored(tmux, tmp_path)
    assert known.read_text().splitlines()[1].startswith(f"127.0.0.1:{port} x25519 ")
    before = known.read_bytes()

    # --trust-new-key accepts the change and rewrites that line...
    play(" --trust-new-key")
    wait_game(tmux, "alice")
    tmux.send_keys("?")
    assert fp_b in tmux.wait_for("Server key fingerprint:", timeout=5)
    tmux.send_keys("?")
    tmux.send_keys("q")
    assert tmux.wait_exit(timeout=6) == 0
    screen = tmux.capture(join=True)
    assert f"the key of 127.0.0.1:{port} changed to {fp_b}: {where} rewritten" in screen, screen
    after = known.read_bytes()
    assert after != before and len(after) == len(before)  # the one line, in place

    # ... and from then on the new key is the one pinned.
    play()
    wait_game(tmux, "alice")
    tmux.send_keys("q")
    assert tmux.wait_exit(timeout=6) == 0
    assert "netsnake-client:" not in tmux.capture(join=True)  # nothing new to say
    assert known.read_bytes() == after


def test_odd_known_servers_lines_are_reported_and_play_goes_on(
    tmux: Tmux, server: Server, tmp_path: Path
) -> None:
    config = tmp_path / "config"
    known = config / "netsnake" / "known_servers"
    known.parent.mkdir(parents=True)
    known.write_text("# mine\nnot a line at all\n127.0.0.1:5 x25519 short==\n")
    tmux.run_in_shell(
        f"XDG_CONFIG_HOME={config} netsnake-client 127.0.0.1 --port {server.port} --name alice"
        "; echo EXIT=$?"
    )
    wait_game(tmux, "alice")
    tmux.send_keys("q")
    assert tmux.wait_exit(timeout=6) == 0
    screen = tmux.capture(join=True)
    assert f"warning: {known}:2: expected 'HOST:PORT x25519 KEY', found 5 fields" in screen
    assert f"warning: {known}:3: key 'short==' is not base64; line ignored" in screen, screen
    assert known.read_text().splitlines()[3].startswith(f"127.0.0.1:{server.port} x25519 ")


# -- the server list


def test_list_prints_a_table_and_exits_0(tmux: Tmux, server: Server, tmp_path: Path) -> None:
    dead = unused_udp_port()
    started = time.monotonic()
    client(tmux, f"--list 127.0.0.1:{server.port} 127.0.0.1:{dead}")
    assert tmux.wait_exit(timeout=10) == 0
    elapsed = time.monotonic() - started
    screen = tmux.capture()
    print(f"--list: exit 0 after {elapsed:.1f} s\n{screen}")
    lines = screen.splitlines()
    [header] = [i for i, line in enumerate(lines) if line.startswith("NAME ")]
    assert lines[header].split() == [
        "NAME",
        "ADDRESS",
        "PING",
        "PLAYERS",
        "WATCHING",
        "TICK",
        "BOARD",
        "UPTIME",
        "VERSION",
    ]
    up, down = lines[header + 1], lines[header + 2]
    assert re.search(rf"127\.0\.0\.1:{server.port}\s+[\d.]+ ms\s+{BOTS}/16\s+0\s+10 Hz\s", up), up
    assert re.match(rf"\(no answer\)\s+127\.0\.0\.1:{dead}\s+-\s*$", down), down
    assert elapsed < 8
    # It printed and left: no game screen, terminal as it was.
    assert tmux.display("#{alternate_on}") == "0"
    assert_shell_restored(tmux, tmp_path)
