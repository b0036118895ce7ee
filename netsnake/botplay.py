"""The program's wiring for ``netsnake-client --bot``: bots instead of a person.

Like :mod:`netsnake.play`, but without a terminal UI: ``count`` real client
sessions (each a :class:`~netsnake.client.session.ClientSession` on its own
UDP socket) join the server, each driven by a
:class:`~netsnake.client.botrunner.BotRunner`, all on one asyncio loop.  With
no host the real server code starts in-process on loopback first, as for a
person, which is the quickest way to try a bot.  It runs until every session
has ended, ``duration`` has passed, or SIGINT/SIGTERM; then each bot says a
reliable goodbye and a summary line per bot is printed.

A remote server's key is checked as for a person (``trust``): pinned if
remembered, remembered on first contact once a bot's handshake proves it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from dataclasses import replace
from typing import TextIO

from netsnake.client.botrunner import BotRunner, BotSource
from netsnake.client.core import default_client_config
from netsnake.client.session import ClientSession
from netsnake.client.state import ADMITTED_STATES, EXIT_CODES, TERMINAL_STATES, ConnectionState
from netsnake.client.trust import ServerTrust
from netsnake.game.limits import MAX_NAME_LENGTH
from netsnake.play import LocalServer, start_local_server

__all__ = ["bot_names", "run_bots"]

log = logging.getLogger("bot")


def bot_names(base: str, count: int) -> list[str]:
    """``base`` alone, or ``base-1`` ... ``base-N`` trimmed to the name limit."""
    if count == 1:
        return [base]
    names = []
    for i in range(1, count + 1):
        suffix = f"-{i}"
        names.append(base[: MAX_NAME_LENGTH - len(suffix)] + suffix)
    return names


async def run_bots(
    host: str | None,
    port: int,
    source: BotSource,
    *,
    names: list[str],
    budget: float | None,
    predict: bool = True,
    local_bots: int = 3,
    duration: float | None = None,
    out: TextIO | None = None,
    trust: ServerTrust | None = None,
) -> int:
    """Play ``len(names)`` bots until they are done; returns the process exit code.

    0 when the bots played until the end (duration, a signal or a server
    shutdown); otherwise the exit code of the first session that failed
    (2 unreachable, 3 rejected, 4 lost, 5 the server's key changed), as for
    a person.  ``trust`` (with a host) pins and remembers the server's key.
    """
    out = out or sys.stdout
    loop = asyncio.get_running_loop()
    local: LocalServer | None = None
    if host is None:
        local = await start_local_server(local_bots)
        host, port = local.server.address
        print(f"local server on {host} port {port} with {local_bots} built-in bots", file=out)
        trust = None  # its key is fresh each run: nothing to pin or remember
    config = default_client_config()
    if trust is not None:
        config = replace(config, server_key=trust.pinned_key)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    sessions: list[ClientSession] = []
    runners: list[BotRunner] = []
    try:
        sessions = list(
            await asyncio.gather(
                *(
                    ClientSession.connect(host, port, name=name, predict=predict, config=config)
                    for name in names
                )
            )
        )
        for i, session in enumerate(sessions):
            runners.append(BotRunner(session.core, source.make(i), name=names[i], budget=budget))
        code = await _play(sessions, stop, duration, trust)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        for runner in runners:
            runner.stop()
        await asyncio.gather(*(_leave(s) for s in sessions))
        if local is not None:
            await local.stop()
    for runner, session in zip(runners, sessions, strict=True):
        core = session.core
        me = core.own_player
        score = f"; score {me.score} best {me.best} kills {me.kills}" if me is not None else ""
        ended = core.status_reason or core.state.value
        print(f"{runner.name}: {runner.stats.summary()}{score} ({ended})", file=out)
    return code


async def _play(
    sessions: list[ClientSession],
    stop: asyncio.Event,
    duration: float | None,
    trust: ServerTrust | None,
) -> int:
    """Wait for the end; the exit code (0 if any bot played to the end)."""
    loop = asyncio.get_running_loop()
    deadline = None if duration is None else loop.time() + duration
    reported: set[int] = set()
    code: int | None = None
    while not stop.is_set():
        if deadline is not None and loop.time() >= deadline:
            break
        for i, s in enumerate(sessions):
            state = s.core.state
            key = s.core.server_key
            if trust is not None and trust.proven is None and key is not None:
                if state is ConnectionState.KEY_CHANGED:
                    trust.proven = key  # refused by the handshake; the command line reports it
                else:
                    notice = trust.accept(key)
                    if notice is not None:
                        log.info("%s", notice.full)
            if state in TERMINAL_STATES and i not in reported:
                reported.add(i)
                reason = s.core.status_reason or state.value
                log.warning("bot %s: %s", s.core.name, reason)
                if code is None and state is not ConnectionState.SHUTDOWN:
                    code = EXIT_CODES.get(state, 0)
        if len(reported) == len(sessions):
            break
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.1)
    still_playing = len(reported) < len(sessions)
    return 0 if still_playing or code is None else code


async def _leave(session: ClientSession) -> None:
    if session.core.state in ADMITTED_STATES:
        await session.quit()
    else:
        await session.close()
