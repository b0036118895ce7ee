"""The bot API: the view and its helpers, loading ``--bot``, and bots playing on real clients.

Runner tests start the real server in-process on loopback (as ``netsnake-client``
with no HOST does) and drive real :class:`ClientSession` objects over UDP, one
asyncio loop per test; the end-to-end test runs ``netsnake-client --bot`` and
``netsnake-server`` as real processes.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import random
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from helpers_async import until
from helpers_proc import REPO, ServerProcess

from netsnake.botapi import (
    BadTurn,
    BotFunction,
    BotView,
    Direction,
    Turn,
    as_direction,
    builtin_bot,
    view_of,
)
from netsnake.botplay import run_bots
from netsnake.client import botrunner
from netsnake.client.botrunner import BotLoadError, BotRunner, ErrorReporter, load_bot
from netsnake.client.cli import main as client_main
from netsnake.client.known_servers import KnownServers, format_line
from netsnake.client.session import ClientSession
from netsnake.client.state import ConnectionState
from netsnake.client.trust import ServerTrust
from netsnake.game.bots import choose_turn
from netsnake.game.interest import Area
from netsnake.game.snapshot import PlayerState, Snapshot
from netsnake.game.world import WorldConfig
from netsnake.server.app import start_server
from netsnake.server.game import ServerSettings

pytestmark = pytest.mark.timeout(60)
T = TypeVar("T")
PLAYING = ConnectionState.PLAYING


def player(pid: int, *body: tuple[int, int], heading: Direction = Direction.RIGHT) -> PlayerState:
    return PlayerState(
        id=pid,
        name=f"p{pid}",
        colour=1,
        alive=bool(body),
        direction=heading,
        body=body,
        score=2,
        best=5,
        kills=1,
        respawn_ticks=0 if body else 7,
    )


def snapshot(
    *players: PlayerState, wrap: bool = False, food: tuple[tuple[int, int], ...] = ()
) -> Snapshot:
    return Snapshot(tick=42, width=8, height=6, wrap=wrap, players=players, food=food)


# -- the view ---------------------------------------------------------------------------


def test_the_view_shows_the_own_snake_the_others_and_the_food() -> None:
    snap = snapshot(
        player(1, (3, 2), (2, 2), (1, 2)),
        player(2, (6, 4), (6, 5), heading=Direction.UP),
        player(3),
        food=((0, 0), (7, 5)),
    )
    view = view_of(snap, 1, time_budget=0.05)
    assert view is not None
    assert (view.tick, view.width, view.height, view.wrap) == (42, 8, 6, False)
    assert view.me.head == (3, 2) and view.me.tail == (1, 2) and view.me.length == 3
    assert view.me.heading is Direction.RIGHT and view.me.alive
    assert (view.me.score, view.me.best, view.me.kills) == (2, 5, 1)
    assert [s.id for s in view.others] == [2, 3]
    dead = view.others[1]
    assert not dead.alive and dead.head is None and dead.respawn_in == 7
    assert view.food == {(0, 0), (7, 5)}
    assert view.time_budget == 0.05
    assert view_of(snap, 9) is None


def test_a_view_of_an_area_sees_its_cells_only() -> None:
    me = player(1, (2, 3), (1, 3))
    big = Snapshot(tick=1, width=50, height=40, wrap=True, players=(me,), food=((3, 3),))
    whole = view_of(big, 1)
    assert whole is not None and whole.area is None
    assert whole.sees((25, 20)) and not whole.sees((50, 0))
    # Blocks 11, 12 (cells 48-49: the last is short) and 0 across; 8, 9, 0, 1 down.
    view = view_of(big, 1, area=Area(bx=11, by=8, columns=3, rows=4))
    assert view is not None and view.area == (44, 32, 10, 16)
    for cell in ((44, 32), (49, 39), (0, 0), (3, 7), (45, 5), (2, 35)):
        assert view.sees(cell), cell
    for cell in ((4, 0), (43, 0), (0, 8), (45, 31), (20, 20), (50, 0), (-1, 0)):
        assert not view.sees(cell), cell
    assert view.is_free((20, 20))  # unknown, so free as far as the view can tell


def test_helpers_respect_walls_and_bodies() -> None:
    view = view_of(
        snapshot(player(1, (0, 0), (1, 0), heading=Direction.LEFT), player(2, (0, 1), (0, 2))), 1
    )
    assert view is not None
    assert view.neighbours((0, 0)) == ((Direction.RIGHT, (1, 0)), (Direction.DOWN, (0, 1)))
    assert view.step((0, 0), "up") is None and view.step((0, 0), Direction.DOWN) == (0, 1)
    assert not view.is_free((0, 1)) and not view.is_free((1, 0)) and not view.is_free((-1, 0))
    assert view.is_free((5, 5)) and not view.is_free((8, 0))
    assert view.snake_at((0, 2)) == view.others[0] and view.snake_at((4, 4)) is None
    # Heading left in the corner: straight and up leave the board, only down remains.
    assert view.moves() == ((Direction.DOWN, (0, 1)),)
    assert view.heads_next_to((1, 1)) == (view.others[0],)
    assert view.distance((0, 0), (7, 5)) == 12


def test_helpers_wrap_round_the_edges() -> None:
    view = view_of(snapshot(player(1, (0, 0), (1, 0), heading=Direction.LEFT), wrap=True), 1)
    assert view is not None
    assert view.step((0, 0), "up") == (0, 5) and view.step((7, 3), "right") == (0, 3)
    assert len(view.neighbours((0, 0))) == 4
    assert view.moves() == (
        (Direction.LEFT, (7, 0)),
        (Direction.UP, (0, 5)),
        (Direction.DOWN, (0, 1)),
    )
    assert view.distance((0, 0), (7, 5)) == 2


def test_turns_are_directions_or_their_names() -> None:
    assert as_direction(None) is None
    assert as_direction(Direction.UP) is Direction.UP
    assert as_direction("left") is Direction.LEFT and as_direction(" Down ") is Direction.DOWN
    for bad in ("north", 1, (0, 1), 2.0):
        with pytest.raises(BadTurn):
            as_direction(bad)


def test_the_view_is_frozen() -> None:
    view = view_of(snapshot(player(1, (3, 2), (2, 2))), 1)
    assert view is not None
    with pytest.raises(AttributeError):
        view.tick = 3  # type: ignore[misc]


def test_the_builtin_bot_through_the_api_decides_as_the_game_policy() -> None:
    rng = random.Random(7)
    for trial in range(30):
        players = []
        taken: set[tuple[int, int]] = set()
        for pid in range(1, 4):
            x, y = rng.randrange(2, 6), rng.randrange(1, 5)
            body = ((x, y), (x - 1, y), (x - 2, y))
            if taken & set(body):
                continue
            taken |= set(body)
            players.append(player(pid, *body))
        snap = snapshot(*players, wrap=trial % 2 == 0, food=((rng.randrange(8), rng.randrange(6)),))
        pid = players[0].id
        view = view_of(snap, pid)
        assert view is not None
        assert builtin_bot(trial)(view) == choose_turn(snap, pid, random.Random(trial))


# -- loading --------------------------------------------------------------------------


BOT_FILE = """
calls = 0

def bot(view):
    global calls
    calls += 1
    return None

def no_args():
    return None

value = 3
"""


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("{dir}/missing.py:bot", "no such file"),
        ("{dir}/bots.py:nope", "has no 'nope'"),
        ("{dir}/bots.py:value", "is not callable"),
        ("{dir}/bots.py:no_args", "cannot be called with one argument"),
        ("{dir}/broken.py:bot", "syntax error in"),
        ("{dir}/raising.py:bot", "raised RuntimeError: no luck while loading"),
        ("no_such_module_here:bot", "cannot import no_such_module_here"),
        ("{dir}/bots.py", "is not FILE_OR_MODULE:FUNCTION"),
    ],
)
def test_a_bad_bot_spec_is_one_clear_line_and_exit_2(
    tmp_path: Path, spec: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bots.py").write_text(BOT_FILE)
    (tmp_path / "broken.py").write_text("def bot(view:\n")
    (tmp_path / "raising.py").write_text("raise RuntimeError('no luck')\n")
    spec = spec.format(dir=tmp_path)
    with pytest.raises(BotLoadError, match=message):
        load_bot(spec)
    with pytest.raises(SystemExit) as exit_info:
        client_main(["--bot", spec])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and err.startswith("netsnake-client: error:")


def test_a_bot_loads_from_a_file_or_a_module(tmp_path: Path) -> None:
    (tmp_path / "bots.py").write_text(BOT_FILE)
    source = load_bot(f"{tmp_path}/bots.py:bot")
    assert source.make(0) is source.make(1)  # one user function serves every bot
    assert source.default_name == "bot"
    builtin = load_bot("builtin")
    assert builtin.make(0) is not builtin.make(1)  # the built-in bot: one instance each
    assert load_bot("netsnake.botapi:builtin").label == "netsnake.botapi:builtin"


def test_bot_flags_need_bot(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--count", "2"], ["--bot-budget", "5"], ["--bot", "builtin", "--spectate"]):
        with pytest.raises(SystemExit) as exit_info:
            client_main(argv)
        assert exit_info.value.code == 2
    assert capsys.readouterr().err.count("\n") == 3


def test_errors_are_rate_limited() -> None:
    now = [0.0]
    reporter = ErrorReporter("b", lambda: now[0], interval=5.0)
    for t in (0.0, 1.0, 2.0, 4.9, 5.5, 6.0):
        now[0] = t
        reporter.report("raised", "Traceback ...")
    assert reporter.logged == 2 and reporter.suppressed == 1


# -- bots on real clients ----------------------------------------------------------------


def run(coro: Coroutine[Any, Any, T], timeout: float = 40.0) -> T:
    return asyncio.run(asyncio.wait_for(coro, timeout))


@asynccontextmanager
async def bots_on_a_server(
    *bots: BotFunction, budget: float | None = None, settings: ServerSettings | None = None
) -> AsyncIterator[list[BotRunner]]:
    """The real server in-process on loopback, and a joined session + runner per bot."""
    settings = settings if settings is not None else ServerSettings(bots=1, seed=11)
    server = await start_server(settings, "127.0.0.1", 0, stats_interval=3600)
    threshold = gc.get_threshold()
    task = asyncio.create_task(server.run())
    sessions: list[ClientSession] = []
    runners: list[BotRunner] = []
    try:
        for i, bot in enumerate(bots):
            session = await ClientSession.connect(*server.address, name=f"t{i}")
            sessions.append(session)
            runners.append(BotRunner(session.core, bot, name=f"t{i}", budget=budget))
        for s in sessions:
            assert await s.wait_for(PLAYING, timeout=5.0), s.core.status_reason
        yield runners
    finally:
        for r in runners:
            r.stop()
        for s in sessions:
            await s.close()
        server.stop()
        await asyncio.wait_for(task, 3.0)
        # The server ran its own full collections; stopped, it gives them back.
        assert gc.get_threshold() == threshold


def turner(view: BotView) -> Turn:
    """Turns whenever a side is free (so it turns often), else goes straight."""
    for direction, cell in view.moves()[1:]:
        if view.is_free(cell):
            return direction.name.lower() if view.tick % 2 else direction
    return None


def test_a_bot_that_turns_steers_its_snake_through_the_real_client() -> None:
    async def scenario() -> None:
        async with bots_on_a_server(turner) as (runner,):
            core = runner.core
            headings: set[Direction] = set()
            core.snapshot_listeners.append(
                lambda snap, now: (
                    headings.add(core.own_player.direction) if core.own_player is not None else None
                )
            )
            await until(lambda: runner.stats.turns >= 5, 10.0, "five turns")
            assert core.counters.turns_sent == runner.stats.turns
            # The server applied them: the snake has faced at least three ways.
            await until(lambda: len(headings) >= 3, 5.0, "three headings")
            runner.stop()
            await until(lambda: core.unacked_inputs == 0, 5.0, "the turns to be acknowledged")
            assert core.state is PLAYING
            assert runner.stats.errors == runner.stats.late == runner.stats.bad_turns == 0

    run(scenario())


def test_on_a_big_arena_a_bot_sees_the_area_it_is_sent() -> None:
    views: list[BotView] = []

    def watcher(view: BotView) -> Turn:
        views.append(view)
        return turner(view)

    settings = ServerSettings(world=WorldConfig(width=200, height=150), bots=12, seed=5)

    async def scenario() -> None:
        async with bots_on_a_server(watcher, settings=settings) as (runner,):
            await until(lambda: len(views) >= 20, 10.0, "twenty views")
            assert runner.stats.errors == 0

    run(scenario())
    for view in views:
        assert view.area is not None
        _, _, columns, rows = view.area
        # The default 64 x 48 view and 4 cells round it (less in the board's short last block).
        assert 70 <= columns <= 72 and 54 <= rows <= 56, view.area
        assert view.me.head is not None and view.sees(view.me.head)
        # What the server sent lies in the area: all food, a cell of every live snake.
        assert all(view.sees(f) for f in view.food)
        assert all(any(view.sees(c) for c in s.body) for s in view.others if s.alive)
    # The rest of the 200 x 150 board is out of sight.
    last = views[-1]
    assert last.area is not None
    seen = sum(last.sees((x, y)) for x in range(200) for y in range(150))
    assert seen == last.area[2] * last.area[3]


def test_a_bot_that_raises_is_reported_and_keeps_its_connection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def raiser(view: BotView) -> Turn:
        return {"up": "up"}[str(view.tick % 3)]  # KeyError, every time

    def bad(view: BotView) -> Turn:
        return 42  # type: ignore[return-value]

    async def scenario() -> None:
        with caplog.at_level(logging.ERROR, logger="bot"):
            async with bots_on_a_server(raiser, bad) as (r1, r2):
                await until(lambda: r1.stats.errors >= 10, 10.0, "ten errors")
                await until(lambda: r2.stats.bad_turns >= 10, 10.0, "ten bad turns")
                snapshots = r1.core.counters.snapshots
                await until(lambda: r1.core.counters.snapshots > snapshots + 5, 5.0, "snapshots")
                assert r1.core.state is PLAYING and r2.core.state is PLAYING
        tracebacks = [r for r in caplog.records if "t0" in r.getMessage()]
        assert len(tracebacks) == 1  # the rest are counted, within 5 s
        text = tracebacks[0].getMessage()
        assert "Traceback" in text and "KeyError" in text and "in raiser" in text
        assert "botrunner" not in text  # the user's frames, not netsnake's
        assert any("42 (int) is not a turn" in r.getMessage() for r in caplog.records)

    run(scenario())


def test_a_slow_bot_is_skipped_and_counted_and_the_network_loop_runs_on() -> None:
    def slow(view: BotView) -> Turn:
        time.sleep(0.15)  # three times its 50 ms budget
        return "up"

    async def scenario() -> None:
        async with bots_on_a_server(slow, budget=0.05) as (runner,):
            await until(lambda: runner.stats.late >= 5, 10.0, "five late answers")
            stats = runner.stats
            assert stats.turns == 0 and stats.busy >= 4 and stats.max_ms >= 150
            assert runner.core.counters.turns_sent == 0
            assert runner.core.state is PLAYING

    run(scenario())


def test_a_stuck_bot_is_reported_once_and_the_snake_plays_on(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(botrunner, "STUCK_AFTER", 0.3)
    release = threading.Event()

    def stuck(view: BotView) -> Turn:
        release.wait(20)  # stands in for an endless loop, so that the test can end it
        return None

    async def scenario() -> None:
        with caplog.at_level(logging.WARNING, logger="bot"):
            async with bots_on_a_server(stuck) as (runner,):
                await until(
                    lambda: any("has not returned" in r.getMessage() for r in caplog.records),
                    5.0,
                    "the warning",
                )
                busy = runner.stats.busy
                await asyncio.sleep(0.5)
                assert runner.stats.busy > busy and runner.core.state is PLAYING
                calls = runner.stats.calls
                release.set()
                await until(lambda: runner.stats.calls > calls, 5.0, "the bot to be called again")
        assert sum("has not returned" in r.getMessage() for r in caplog.records) == 1

    run(scenario())


def test_several_bots_share_one_process_and_one_loop() -> None:
    threads: dict[int, set[str]] = {}

    def who(view: BotView) -> Turn:
        threads.setdefault(view.me.id, set()).add(threading.current_thread().name)
        return turner(view)

    async def scenario() -> None:
        async with bots_on_a_server(who, who, who) as runners:
            await until(lambda: all(r.stats.calls >= 10 for r in runners), 10.0, "ten calls each")
            ids = {r.core.player_id for r in runners}
            assert len(ids) == 3 and set(threads) >= ids
            # One worker thread per bot, never the loop's.
            names = [next(iter(threads[i])) for i in ids]
            assert all(len(threads[i]) == 1 for i in ids) and len(set(names)) == 3
            assert threading.current_thread().name not in names

    run(scenario())


def test_the_example_bot_plays_a_simulated_game_through_the_api() -> None:
    from benchmarks.bot_match import play_game

    example = load_bot(f"{REPO}/examples/hungry_bot.py:bot")
    mine, theirs = play_game(3, example, load_bot("builtin"), seconds=15.0)
    assert mine.errors == theirs.errors == 0
    assert mine.food > 0 and theirs.food > 0


# -- end to end ----------------------------------------------------------------------


def test_bot_command_line_plays_against_a_real_server_process(tmp_path: Path) -> None:
    bot = tmp_path / "mybot.py"
    bot.write_text(
        "from netsnake.botapi import BotView, Turn\n\n"
        "def bot(view: BotView) -> Turn:\n"
        "    for d, cell in view.moves():\n"
        "        if view.is_free(cell):\n"
        "            return d\n"
        "    return None\n"
    )
    with ServerProcess("--bots", "1") as server:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "netsnake.client.cli",
                server.host,
                "--port",
                str(server.port),
                "--bot",
                f"{bot}:bot",
                "--count",
                "2",
                "--name",
                "e2e",
                "--duration",
                "3",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=REPO,
            env={
                "PYTHONPATH": str(REPO),
                "PATH": "/usr/bin:/bin",
                "HOME": str(tmp_path),
                "XDG_CONFIG_HOME": str(tmp_path / "config"),
            },
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        server.wait_for_line(r"e2e-1 joined from", timeout=5)
        server.wait_for_line(r"e2e-2 joined from", timeout=5)
        server.wait_for_line(r"e2e-1 left", timeout=5)
    # Trust on first use, as for a person: the server's key is remembered.
    assert "new server" in proc.stderr
    known = (tmp_path / "config" / "netsnake" / "known_servers").read_text()
    assert f"\n127.0.0.1:{server.port} x25519 " in known
    lines = [line for line in proc.stdout.splitlines() if line.startswith("e2e-")]
    assert len(lines) == 2, proc.stdout
    for line in lines:
        calls = int(line.split(": ")[1].split(" calls")[0])
        assert calls >= 3, line  # called on every tick while alive (it may die early)
        assert "0 errors" in line and "0 late" in line


def test_bots_refuse_a_known_server_whose_key_changed(tmp_path: Path) -> None:
    """``--bot`` pins a remembered key as a person's client does: a server proving
    another key ends the run with exit code 5 and the file keeps the old key."""

    async def scenario() -> tuple[int, str, str]:
        server = await start_server(
            ServerSettings(bots=1, seed=12), "127.0.0.1", 0, stats_interval=3600
        )
        task = asyncio.create_task(server.run())
        try:
            host, port = server.address
            label = f"{host}:{port}"
            path = tmp_path / "known_servers"
            path.write_text(format_line(label, bytes(range(1, 33))) + "\n")
            before = path.read_text()
            trust = ServerTrust(KnownServers.load(path), label, False)
            with (tmp_path / "out.txt").open("w") as out:
                code = await run_bots(
                    host,
                    port,
                    load_bot("builtin"),
                    names=["pinned"],
                    budget=None,
                    duration=5.0,
                    out=out,
                    trust=trust,
                )
            return code, before, path.read_text()
        finally:
            server.stop()
            await asyncio.wait_for(task, 3.0)

    code, before, after = asyncio.run(scenario())
    assert code == 5
    assert after == before
