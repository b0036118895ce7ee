"""The program's wiring: one game in the terminal, from server to screen.

``netsnake-client`` (``netsnake/client/cli.py``) only parses arguments and
prepares the process; this module puts the parts together.  With a host it
connects a :class:`~netsnake.client.session.ClientSession` to it; with none it
first starts the real server code in-process on loopback (a free port, with
bots), so a lone player is in a game at once.  The session's core is then
handed to the urwid :class:`~netsnake.ui.app.GameApp`, and everything is torn
down in order when the app returns.

It sits above the client, the server and the UI, and is the only module that
imports all three.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
from collections.abc import Awaitable
from pathlib import Path

from netsnake.client.recorder import ClientRecorder
from netsnake.client.session import ClientSession
from netsnake.server.app import RunningServer, start_server
from netsnake.server.game import ServerSettings

__all__ = ["play"]

_SERVER_STOP_WAIT = 2.0  # s for the embedded server to say goodbye to its clients


async def play(
    host: str | None,
    port: int,
    *,
    name: str | None,
    render_delay: float | None,
    ascii_mode: bool,
    bots: int,
    spectate: bool = False,
    default_name: str | None,
    predict: bool = True,
    record: Path | None = None,
) -> int:
    """Play one game until the player leaves; returns the process exit code.

    ``host`` None starts a local server with ``bots`` bots and joins it
    (``port`` is then ignored).  ``name`` None asks for one in the game,
    offering ``default_name``.  ``spectate`` joins without a snake;
    ``predict`` draws the player's own snake ahead, where their turns land
    (``--predict``); ``record`` saves what the client receives there.
    """
    # Imported here so that importing this module never touches the terminal.
    from netsnake.ui.app import GameApp

    loop = asyncio.get_running_loop()
    server: RunningServer | None = None
    server_task: asyncio.Task[None] | None = None
    if host is None:
        settings = ServerSettings(bots=bots, seed=random.randrange(2**32))
        server = await start_server(settings, "127.0.0.1", 0, stats_interval=3600)
        server_task = asyncio.create_task(server.run())
        host, port = server.address
    session = await ClientSession.connect(
        host,
        port,
        name=name,
        render_delay=render_delay,
        spectate=spectate,
        predict=predict,
    )
    recorder = ClientRecorder(record, session.core) if record is not None else None
    app = GameApp(session.core, ascii_mode=ascii_mode, default_name=default_name, clock=loop.time)
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: app.quit(loop.time()))
    try:
        return await app.run()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        if recorder is not None:
            recorder.close(loop.time())
        await session.close()
        if server is not None and server_task is not None:
            server.stop()
            await _quietly(server_task)


async def _quietly(aw: Awaitable[None]) -> None:
    with contextlib.suppress(TimeoutError, asyncio.CancelledError):
        await asyncio.wait_for(aw, _SERVER_STOP_WAIT)
