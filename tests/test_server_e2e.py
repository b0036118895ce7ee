"""End to end: ``netsnake-server`` as a subprocess, real clients over loopback UDP.

The server runs exactly as a player would start it (``python -m
netsnake.server.cli``); the clients are the real :class:`ClientSession` and
:class:`HeadlessBot` in this process (one asyncio loop per test, through
``asyncio.run``), or in their own subprocess when the test kills them.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest
from helpers_async import until
from helpers_proc import REPO, STATS_RE, ServerProcess, run_server_cli

from netsnake.client.core import ClientCore
from netsnake.client.headless import HeadlessBot
from netsnake.client.session import ClientSession
from netsnake.client.state import ConnectionState
from netsnake.game.direction import Direction
from netsnake.game.events import GameEvent, PlayerJoined, PlayerLeft
from protocol import HANDSHAKE_SIZE, PROTOCOL_VERSION
from protocol._wire import PacketKind, prefix

pytestmark = pytest.mark.timeout(60)

T = TypeVar("T")
PLAYING = ConnectionState.PLAYING


def run(coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
    """Run one test scenario on a fresh event loop, bounded in time."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


class EventLog:
    """Collects a core's game events as they are drained (the core hands each out once)."""

    def __init__(self, core: ClientCore) -> None:
        self.core = core
        self.events: list[GameEvent] = []

    def poll(self) -> list[GameEvent]:
        self.events.extend(self.core.drain_events())
        return self.events

    async def wait_for(
        self, match: Callable[[GameEvent], bool], timeout: float, what: str
    ) -> GameEvent:
        found: list[GameEvent] = []

        def seen() -> bool:
            found[:] = [e for e in self.poll() if match(e)]
            return bool(found)

        await until(seen, timeout, what)
        return found[0]


def left(name: str) -> Callable[[GameEvent], bool]:
    return lambda e: isinstance(e, PlayerLeft) and e.name == name


async def join_session(host: str, port: int, name: str) -> ClientSession:
    session = await ClientSession.connect(host, port, name=name)
    assert await session.wait_for(PLAYING, ConnectionState.REJECTED, timeout=5), (
        f"{name} stuck in {session.core.state}"
    )
    assert session.core.state is PLAYING, session.core.status_reason
    return session


async def steer_and_confirm(core: ClientCore, turns: int) -> None:
    """Steer ``turns`` times, each time waiting for the server's input ack and for the
    turn to be applied (a stamped turn waits for its tick), and checking that the
    snapshot shows the snake heading the new way."""
    confirmed = 0
    attempt = 0
    while confirmed < turns:
        attempt += 1
        assert attempt < 4 * turns, "the snake kept dying; could not confirm turns"
        await until(lambda: (p := core.own_player) is not None and p.alive, 5, "alive")
        me = core.own_player
        assert me is not None
        # Alternate right and left turns: a zigzag never runs into itself.
        new = Direction((me.direction + (1 if attempt % 2 else 3)) % 4)
        seq = core.steer(new)
        assert seq is not None, f"steer({new.name}) ignored while heading {me.direction.name}"
        await until(lambda: core.unacked_inputs == 0, 3, f"ack of input {seq}")
        await until(
            lambda: (pr := core.predictor) is None or not pr.turns, 3, f"input {seq} applied"
        )
        after = core.own_player
        if after is not None and after.alive:
            assert after.direction is new, (after.direction, new)
            confirmed += 1


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def shared_server() -> Iterator[ServerProcess]:
    """One server for the tests that do not care about its player count or lifetime."""
    with ServerProcess(
        "--tick-rate",
        "20",
        "--wrap",
        "--width",
        "40",
        "--height",
        "30",
        "--stats-interval",
        "1",
        "--seed",
        "7",
    ) as server:
        yield server


# ------------------------------------------------------------------ join, play, quit


def test_join_play_quit_and_name_clash(shared_server: ServerProcess) -> None:
    host, port = shared_server.address

    async def scenario() -> None:
        bot = await HeadlessBot.join(host, port, "alice", seed=1)
        steerer = await join_session(host, port, "alice")
        assert (bot.core.name, steerer.core.name) == ("alice", "alice-2")
        assert bot.core.player_id != steerer.core.player_id
        bot_log, steer_log = EventLog(bot.core), EventLog(steerer.core)
        await bot_log.wait_for(
            lambda e: isinstance(e, PlayerJoined) and e.name == "alice-2",
            3,
            "alice sees alice-2 join",
        )

        await steer_and_confirm(steerer.core, turns=4)
        await asyncio.sleep(1.0)
        for core in (bot.core, steerer.core):
            c = core.counters
            assert c.snapshots >= 20, c
            assert c.delta > c.full >= 1, c
            assert c.mismatches == c.decode_errors == c.missing_baseline == 0, c
        # The bot steers on every snapshot; the server acknowledges nearly all of them.
        assert bot.core.counters.turns_sent >= 3
        assert bot.core.unacked_inputs <= 2

        await bot.quit()
        assert bot.core.state is ConnectionState.CLOSED
        ev = await steer_log.wait_for(left("alice"), 3, "PlayerLeft(alice)")
        assert isinstance(ev, PlayerLeft) and ev.reason == "quit"
        await steerer.quit()
        assert steerer.core.state is ConnectionState.CLOSED

    run(scenario())
    assert "alice left (quit)" in shared_server.output
    assert "alice-2 left (quit)" in shared_server.output


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "empty"),
        ("x" * 17, "longer than 16"),
        ("\x1b[31mred", "control or invisible"),
        ("zero\u200bwidth", "control or invisible"),
    ],
    ids=["empty", "too-long", "escape", "zero-width"],
)
def test_bad_names_are_rejected_with_a_reason(
    shared_server: ServerProcess, name: str, reason: str
) -> None:
    host, port = shared_server.address

    async def scenario() -> None:
        session = await ClientSession.connect(host, port, name=name)
        try:
            assert await session.wait_for(ConnectionState.REJECTED, PLAYING, timeout=5)
            core = session.core
            assert core.state is ConnectionState.REJECTED
            assert core.rejection_code == "bad-name"
            assert reason in core.status_reason
            assert core.name is None  # the UI asks again
        finally:
            await session.quit()

    run(scenario())


def test_rejected_name_can_be_retried_on_the_same_connection(shared_server: ServerProcess) -> None:
    host, port = shared_server.address

    async def scenario() -> None:
        session = await ClientSession.connect(host, port, name="bad\x07")
        assert await session.wait_for(ConnectionState.REJECTED, timeout=5)
        session.core.submit_name("  retried  ")
        assert await session.wait_for(PLAYING, timeout=5), session.core.state
        assert session.core.name == "retried"
        await session.quit()

    run(scenario())


# ------------------------------------------------------------------------ capacity


def test_full_server_rejects_with_reason() -> None:
    with ServerProcess("--max-players", "2", "--bots", "0", "--tick-rate", "20") as server:
        host, port = server.address

        async def scenario() -> None:
            a = await HeadlessBot.join(host, port, "a", seed=1)
            b = await HeadlessBot.join(host, port, "b", seed=2)
            late = await ClientSession.connect(host, port, name="late")
            assert await late.wait_for(ConnectionState.REJECTED, PLAYING, timeout=5)
            assert late.core.state is ConnectionState.REJECTED
            assert late.core.rejection_code == "full"
            assert "full" in late.core.status_reason
            await late.quit()
            for bot in (a, b):
                assert bot.core.state is PLAYING
                await bot.quit()

        run(scenario())
        assert "rejected" in server.output and "server full" in server.output


def test_bots_make_room_for_humans_and_come_back() -> None:
    with ServerProcess("--max-players", "2", "--bots", "2", "--tick-rate", "20") as server:
        host, port = server.address

        async def scenario() -> None:
            first = await HeadlessBot.join(host, port, "first", seed=1)
            log = EventLog(first.core)
            second = await HeadlessBot.join(host, port, "second", seed=2)
            ev = await log.wait_for(lambda e: isinstance(e, PlayerLeft), 3, "a bot leaving")
            assert isinstance(ev, PlayerLeft) and ev.reason == "making room"
            await until(
                lambda: (
                    (s := first.core.latest_snapshot) is not None
                    and {p.name for p in s.players} == {"first", "second"}
                ),
                3,
                "only the two humans in the snapshot",
            )
            await second.quit()
            await log.wait_for(lambda e: isinstance(e, PlayerJoined), 3, "a bot returning")
            await first.quit()

        run(scenario())
        assert server.output.count("left (making room)") == 2


# ------------------------------------------------------------------ client timeouts

_VICTIM = """
import asyncio, sys
from netsnake.client.headless import HeadlessBot

async def main() -> None:
    bot = await HeadlessBot.join(sys.argv[1], int(sys.argv[2]), sys.argv[3], seed=5)
    print("joined", bot.core.name, flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


def test_killed_client_is_freed_after_the_timeout() -> None:
    with ServerProcess("--max-players", "2", "--tick-rate", "20") as server:
        host, port = server.address

        async def scenario() -> float:
            watcher = await HeadlessBot.join(host, port, "watcher", seed=1)
            log = EventLog(watcher.core)
            env = dict(os.environ, PYTHONPATH=str(REPO))
            victim = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                _VICTIM,
                host,
                str(port),
                "victim",
                stdout=asyncio.subprocess.PIPE,
                env=env,
            )
            try:
                assert victim.stdout is not None
                line = await asyncio.wait_for(victim.stdout.readline(), 10)
                assert line.decode().split() == ["joined", "victim"]
                victim.send_signal(signal.SIGKILL)
                killed_at = time.monotonic()
            finally:
                if victim.returncode is None:
                    victim.kill()
                await victim.wait()
            ev = await log.wait_for(left("victim"), 9, "the victim timing out")
            elapsed = time.monotonic() - killed_at
            assert isinstance(ev, PlayerLeft) and ev.reason == "timeout"
            # Its slot is free again: the full server (max 2) takes a new player.
            newcomer = await HeadlessBot.join(host, port, "newcomer", seed=3)
            assert watcher.core.state is PLAYING and watcher.core.counters.mismatches == 0
            await newcomer.quit()
            await watcher.quit()
            return elapsed

        elapsed = run(scenario())
        # The connection timeout is 5 s; allow for a loaded machine.
        assert 4.0 <= elapsed <= 7.5, elapsed
        assert "victim left (timeout)" in server.output


# ------------------------------------------------------------------------ shutdown


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_shuts_down_cleanly_and_frees_the_port(sig: signal.Signals) -> None:
    with ServerProcess("--bots", "1", "--tick-rate", "20") as server:
        host, port = server.address

        async def scenario() -> float:
            bots = [await HeadlessBot.join(host, port, f"p{i}", seed=i) for i in range(2)]
            await asyncio.sleep(0.3)
            server.send_signal(sig)
            t0 = time.monotonic()
            for bot in bots:
                assert await bot.session.wait_for(ConnectionState.SHUTDOWN, timeout=1.5), (
                    bot.core.state,
                    bot.core.status_reason,
                )
            assert time.monotonic() - t0 <= 1.5
            for bot in bots:
                assert bot.core.status_reason == "stopped by its operator"
                await bot.close()
            return t0

        signalled = run(scenario())
        code = server.wait(timeout=max(0.1, 1.5 - (time.monotonic() - signalled)))
        assert time.monotonic() - signalled <= 1.5
        assert code == 0, server.output
        assert "server stopped" in server.output
        assert "Traceback" not in server.output
        assert "telling 2 client(s)" in server.output
    # The port is free at once: a new server binds it.
    with ServerProcess("--port", str(port)) as again:
        assert again.port == port


# ------------------------------------------------------------------ command line errors


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "99999"], r"--port: 99999 is not between 0 and 65535"),
        (["--bots", "5", "--max-players", "2"], r"--bots 5 is more than --max-players 2"),
        (["--width", "3"], r"--width: 3 is not between"),
        (["--host", "not-an-address"], r"cannot listen on not-an-address"),
        (["--tick-rate", "0"], r"--tick-rate: 0 Hz is not between 1 and 60"),
        (["--max-players", "many"], r"'many' is not a whole number"),
        (["--max-spectators", "-1"], r"--max-spectators: -1 is not between 0 and 256"),
        (["--max-view", "wide"], r"--max-view: 'wide' is not COLSxROWS"),
        (["--max-view", "2000x10"], r"--max-view: '2000x10': each side must be 12-1024 cells"),
        (["--max-view", "64x10"], r"--max-view: '64x10': each side must be 12-1024 cells"),
    ],
    ids=[
        "port",
        "bots",
        "width",
        "host",
        "tick-rate",
        "max-players",
        "max-spectators",
        "max-view",
        "max-view-size",
        "max-view-small",
    ],
)
def test_bad_arguments_give_one_error_line(args: list[str], message: str) -> None:
    result = run_server_cli(*args)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("netsnake-server: error: "), errors
    assert re.search(message, errors[0]), errors


def test_port_in_use_gives_one_error_line() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        result = run_server_cli("--host", "127.0.0.1", "--port", str(port))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"netsnake-server: error: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]


# ---------------------------------------------------------------- unknown datagrams


def test_datagrams_from_unknown_addresses_are_dropped_and_counted(
    shared_server: ServerProcess,
) -> None:
    host, port = shared_server.address
    garbage = [
        b"",  # too short
        b"\x00\x01",  # too short
        b"GET / HTTP/1.1\r\n\r\n",  # wrong protocol id
        prefix(PacketKind.DATA) + os.urandom(40),  # DATA from nobody
        prefix(PacketKind.DISCONNECT) + os.urandom(12),  # DISCONNECT from nobody
        prefix(PacketKind.DATA, version=PROTOCOL_VERSION + 1) + os.urandom(40),  # wrong version
        # A CONNECT_RESPONSE with a forged token (and, almost surely, a bad check).
        prefix(PacketKind.CONNECT_RESPONSE) + os.urandom(HANDSHAKE_SIZE - 4),
        prefix(PacketKind.DATA) + os.urandom(1500),  # oversized
    ]

    async def scenario() -> None:
        player = await HeadlessBot.join(host, port, "steady", seed=4)
        before = player.core.counters.snapshots
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as raw:
            for _ in range(5):
                for data in garbage:
                    raw.sendto(data, (host, port))
                await asyncio.sleep(0.05)
            # Nothing comes back to an unverified sender that did not handshake.
            raw.setblocking(False)
            await asyncio.sleep(0.2)
            with pytest.raises(BlockingIOError):
                raw.recv(2048)
        # The counters are cumulative: the first stats line after the whole burst has them all.
        start = len(shared_server.lines)
        stats = await asyncio.to_thread(
            shared_server.wait_for_line,
            re.compile(
                STATS_RE.pattern.replace(r"(?P<dropped>.*)", r"(?P<dropped>.*unknown_source.*)")
            ),
            timeout=4,
            start=start,
        )
        dropped = dict(kv.split("=") for kv in stats["dropped"].split(", "))
        for counter in (
            "too_short",
            "bad_protocol_id",
            "unknown_source",
            "bad_version",
            "oversized",
        ):
            assert int(dropped.get(counter, 0)) >= 5, (counter, dropped)
        assert int(dropped.get("bad_check", 0)) + int(dropped.get("bad_token", 0)) >= 5
        # The server kept serving: snapshots still flow and a newcomer can join.
        await until(lambda: player.core.counters.snapshots > before + 20, 3, "snapshots")
        newcomer = await HeadlessBot.join(host, port, "newcomer", seed=5)
        assert player.core.counters.mismatches == 0
        await newcomer.quit()
        await player.quit()

    run(scenario())
