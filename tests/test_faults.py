"""Faults with real processes on loopback: kills, restarts, outages, signals, bad names.

Each test starts its own ``netsnake-server`` subprocess (``helpers_proc``) on
a kernel-chosen port.  Clients are headless ``ClientSession``/``HeadlessBot``
objects in this process, or a headless bot in a child process when the test
needs to SIGKILL it.  Timeouts are generous: the machine may be busy.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
import unicodedata

import pytest
from helpers_proc import REPO, ServerProcess

from netsnake.client.core import CLIENT_TIMEOUT
from netsnake.client.headless import HeadlessBot
from netsnake.client.session import ClientSession
from netsnake.client.state import ConnectionState
from netsnake.game.events import PlayerJoined, PlayerLeft
from netsnake.game.messages import Join, decode_message, encode_message
from netsnake.game.names import NameError_, validate_name
from netsnake.netem import start_relay
from netsnake.ui.text import safe_name
from protocol import DecodeError

CHILD_BOT = textwrap.dedent(
    """
    import asyncio, sys
    from netsnake.client.headless import HeadlessBot

    async def main():
        bot = await HeadlessBot.join(sys.argv[1], int(sys.argv[2]), sys.argv[3], seed=3)
        print("joined", bot.core.player_id, flush=True)
        await asyncio.sleep(3600)

    asyncio.run(main())
    """
)


async def _events_until(session: ClientSession, match: type, timeout: float) -> list[object]:
    """Collect the session's game events until one of type ``match`` arrives."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    seen: list[object] = []
    while loop.time() < deadline:
        seen.extend(session.core.drain_events())
        if any(isinstance(e, match) for e in seen):
            return seen
        await asyncio.sleep(0.05)
    return seen


def test_sigkilled_client_is_freed_and_others_see_it_leave() -> None:
    async def scenario(server: ServerProcess) -> None:
        watcher = await HeadlessBot.join(*server.address, "watcher", seed=1)
        env = dict(os.environ, PYTHONPATH=str(REPO))
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD_BOT, *map(str, server.address), "doomed"],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            assert child.stdout is not None
            line = await asyncio.wait_for(asyncio.to_thread(child.stdout.readline), 15)
            assert line.startswith("joined"), line
            server.wait_for_line("doomed joined", timeout=5)
            child.kill()  # SIGKILL: no QUIT, no DISCONNECT, the socket just goes quiet
            killed_at = time.monotonic()
            events = await _events_until(watcher.session, PlayerLeft, timeout=12)
            left = [e for e in events if isinstance(e, PlayerLeft) and e.name == "doomed"]
            assert left, f"watcher never saw 'doomed' leave; events: {events}"
            assert left[0].reason == "timeout"
            # The connection timeout is 5 s; allow for a busy machine.
            assert time.monotonic() - killed_at < 10
            server.wait_for_line(r"doomed left \(timeout\)", timeout=2)
            assert watcher.core.state is ConnectionState.PLAYING
        finally:
            child.kill()
            child.wait(5)
            await watcher.close()

    with ServerProcess() as server:
        asyncio.run(scenario(server))


def test_sigkilled_server_shows_connection_lost_then_restart_on_same_port() -> None:
    async def lose(server: ServerProcess) -> None:
        session = await ClientSession.connect(*server.address, name="alice")
        try:
            assert await session.wait_for(ConnectionState.PLAYING, timeout=5)
            server.kill()
            killed_at = time.monotonic()
            assert await session.wait_for(ConnectionState.LOST, timeout=9), session.core.state
            elapsed = time.monotonic() - killed_at
            # The client's 4 s silence timeout: not sooner, and within the 5 s a player
            # is promised (with slack for a loaded machine).
            assert CLIENT_TIMEOUT - 0.5 <= elapsed < 6.0, elapsed
            assert session.core.status_reason == "the server stopped answering"
        finally:
            await session.close()

    async def join_at_once(port: int) -> None:
        started = time.monotonic()
        bot = await HeadlessBot.join("127.0.0.1", port, "bob", seed=2, timeout=5)
        try:
            assert time.monotonic() - started < 2.0
            assert bot.core.state is ConnectionState.PLAYING
        finally:
            await bot.quit()

    with ServerProcess() as first:
        port = first.port
        asyncio.run(lose(first))
    with ServerProcess("--port", str(port)) as second:
        assert second.port == port
        asyncio.run(join_at_once(port))


def test_three_second_outage_recovers_without_reconnecting() -> None:
    async def scenario(server: ServerProcess) -> None:
        relay = await start_relay(("127.0.0.1", 0), server.address, seed=5)
        bot = await HeadlessBot.join("127.0.0.1", relay.address[1], "outage", seed=4)
        core = bot.core
        try:
            await asyncio.sleep(1.5)
            player_id, attempts = core.player_id, core.connect_attempts
            before = core.counters.snapshots
            tick_before = core.latest_snapshot.tick if core.latest_snapshot else 0
            relay.blackhole = True
            await asyncio.sleep(3.0)
            during = core.counters.snapshots
            relay.blackhole = False
            await asyncio.sleep(2.5)
            assert core.state is ConnectionState.PLAYING, core.status_reason
            assert core.player_id == player_id
            assert core.connect_attempts == attempts  # the same connection, no new handshake
            assert during - before <= 2  # nothing got through the outage (a copy in flight)
            assert core.counters.snapshots >= during + 10  # snapshots resumed
            assert core.latest_snapshot is not None
            assert core.latest_snapshot.tick >= tick_before + 50  # 10 Hz over 5.5 s
            # Every accepted snapshot matched the server's hash: exact state.
            assert core.counters.mismatches == 0
            assert core.counters.decode_errors == 0
        finally:
            await bot.close()
            relay.close()

    with ServerProcess() as server:
        asyncio.run(scenario(server))


def test_sigint_stops_the_server_cleanly() -> None:
    async def scenario(server: ServerProcess) -> None:
        session = await ClientSession.connect(*server.address, name="carol")
        try:
            assert await session.wait_for(ConnectionState.PLAYING, timeout=5)
            server.send_signal(signal.SIGINT)
            code = await asyncio.to_thread(server.wait, 5.0)
            assert code == 0
            assert await session.wait_for(ConnectionState.SHUTDOWN, timeout=3)
        finally:
            await session.close()

    with ServerProcess() as server:
        asyncio.run(scenario(server))
        assert "Traceback" not in server.output
        assert "KeyboardInterrupt" not in server.output
        assert "server stopped" in server.output


# -- bad names -------------------------------------------------------------------------------

BAD_NAMES = {
    "ansi colour": "\x1b[31mred\x1b[0m",
    "ansi clear screen": "\x1b[2J\x1b[Hx",
    "osc title": "\x1b]0;pwned\x07x",
    "bell": "ding\x07",
    "newline": "two\nlines",
    "c1 csi": "a\x9b31mb",
    "nul": "a\x00b",
    "empty": "",
    "spaces only": "    ",
    "right-to-left override": "abc\u202edcba",
    "rtl isolate": "\u2067evil\u2069",
    "zero-width space": "ad\u200bmin",
    "zero-width joiner": "a\u200db",
    "byte order mark": "\ufeffbob",
    "long (1000 chars)": "x" * 1000,
}


def _is_safe_for_terminal(text: str) -> bool:
    return not any(
        unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp") for ch in text
    )


@pytest.mark.parametrize("name", list(BAD_NAMES.values()), ids=list(BAD_NAMES))
def test_validate_name_refuses_with_a_reason(name: str) -> None:
    with pytest.raises(NameError_) as info:
        validate_name(name)
    assert str(info.value)  # a reason the player can read


@pytest.mark.parametrize("name", [*BAD_NAMES.values(), "\x1b" * 10_000, "é\u0301\u0301\u0301x"])
def test_safe_name_output_has_no_escape_control_or_bidi(name: str) -> None:
    for width in (1, 8, 16, 40):
        shown = safe_name(name, width)
        assert _is_safe_for_terminal(shown), repr(shown)
        assert "\x1b" not in shown


def test_ten_kilobyte_name_is_refused_before_the_game_layer() -> None:
    huge = "n" * 10_000
    with pytest.raises(NameError_):
        validate_name(huge)
    # Over the wire it cannot even be a message: the decoder's string limit refuses it.
    with pytest.raises(DecodeError):
        decode_message(encode_message(Join(name=huge, version=1)))


def test_server_rejects_bad_names_and_never_announces_them() -> None:
    async def scenario(server: ServerProcess) -> None:
        watcher = await HeadlessBot.join(*server.address, "watcher", seed=1, steer=False)
        try:
            for label, name in BAD_NAMES.items():
                session = await ClientSession.connect(*server.address, name=name)
                try:
                    assert await session.wait_for(ConnectionState.REJECTED, timeout=5), (
                        label,
                        session.core.state,
                    )
                    assert session.core.rejection_code == "bad-name", label
                    assert session.core.status_reason.startswith("bad name"), (
                        label,
                        session.core.status_reason,
                    )
                finally:
                    await session.close()
            await asyncio.sleep(0.3)
            joined = [e for e in watcher.core.drain_events() if isinstance(e, PlayerJoined)]
            assert joined == [], joined
            snapshot = watcher.core.latest_snapshot
            assert snapshot is not None
            assert [p.name for p in snapshot.players] == ["watcher"]
        finally:
            await watcher.close()

    with ServerProcess() as server:
        asyncio.run(scenario(server))
        assert server.output.count("rejected") >= len(BAD_NAMES)
        # The server's own log shows the reason, never the raw name.
        assert "\x1b" not in server.output


# -- a lost snapshot under a slow frame rate -------------------------------------------------


def test_render_buffer_survives_a_lost_snapshot_at_one_frame_per_tick() -> None:
    # Found by the soak: a lost snapshot, then frames a whole tick apart (a UI at
    # 30 fps under a 30+ Hz server) stepped playback into the gap -> KeyError.
    from netsnake.client.interpolation import SnapshotBuffer
    from netsnake.game.world import World, WorldConfig

    world = World(WorldConfig(), 1)
    world.add_player(1, "a", 0)
    snaps = []
    for _ in range(20):
        world.step()
        snaps.append(world.snapshot())
    buffer = SnapshotBuffer(10.0, render_delay=0.2)
    for s in snaps[:10]:
        buffer.push(s, s.tick * 0.1)
        buffer.sample(s.tick * 0.1)
    arrival = snaps[11].tick * 0.1 + 0.05  # snaps[10] was lost
    buffer.push(snaps[11], arrival)
    shown = []
    for k in range(1, 6):
        frame = buffer.sample(arrival + 0.1 * k)
        assert frame is not None
        shown.append(frame.prev.tick)
    assert shown == sorted(shown) and snaps[10].tick in shown  # the gap was rebuilt and drawn
