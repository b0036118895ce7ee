"""The program's wiring: one game in the terminal, from server to screen.

``netsnake-client`` (``netsnake/client/cli.py``) only parses arguments and
prepares the process; this module puts the parts together.  With a host it
connects a :class:`~netsnake.client.session.ClientSession` to it; with none it
first starts the real server code in-process on loopback (a free port, with
bots, a fresh key), so a lone player is in a game at once.  Against a real
server it applies the player's :class:`~netsnake.client.trust.ServerTrust`:
the remembered key is pinned in the handshake, and a key proved at first
contact (or with ``--trust-new-key``) is remembered.  The session's core is then
handed to the urwid :class:`~netsnake.ui.app.GameApp`, and everything is torn
down in order when the app returns.

It sits above the client, the server and the UI, and is the only module that
imports all three.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from netsnake.client.core import default_client_config
from netsnake.client.recorder import ClientRecorder
from netsnake.client.session import ClientSession
from netsnake.client.state import TERMINAL_STATES, ConnectionState
from netsnake.client.trust import ServerTrust
from netsnake.server.app import RunningServer, start_server
from netsnake.server.game import ServerSettings

if TYPE_CHECKING:
    from netsnake.ui.app import GameApp

__all__ = ["LocalServer", "play", "start_local_server"]

log = logging.getLogger("client")

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
    trust: ServerTrust | None = None,
    said: list[str] | None = None,
) -> int:
    """Play one game until the player leaves; returns the process exit code.

    ``host`` None starts a local server with ``bots`` bots and joins it
    (``port`` is then ignored).  ``name`` None asks for one in the game,
    offering ``default_name``.  ``spectate`` joins without a snake;
    ``predict`` draws the player's own snake ahead, where their turns land
    (``--predict``); ``record`` saves what the client receives there.
    ``trust`` (with a host) pins the server's remembered key and remembers
    the key it proves; afterwards its ``proven`` and ``said`` tell what
    happened.  ``said`` gets why the game ended, when the server ended it,
    for the terminal once the game's screen is gone.
    """
    # Imported here so that importing this module never touches the terminal.
    from netsnake.ui.app import GameApp

    loop = asyncio.get_running_loop()
    local: LocalServer | None = None
    if host is None:
        local = await start_local_server(bots)
        host, port = local.server.address
        trust = None  # its key is fresh each run: nothing to pin or remember
    config = default_client_config()
    if trust is not None:
        config = replace(config, server_key=trust.pinned_key)
    session = await ClientSession.connect(
        host,
        port,
        name=name,
        render_delay=render_delay,
        spectate=spectate,
        predict=predict,
        config=config,
    )
    recorder = ClientRecorder(record, session.core) if record is not None else None
    app = GameApp(session.core, ascii_mode=ascii_mode, default_name=default_name, clock=loop.time)
    watcher = (
        asyncio.create_task(_remember_server_key(session, app, trust))
        if trust is not None
        else None
    )
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: app.quit(loop.time()))
    try:
        code = await app.run()
        if said is not None and app.farewell is not None:
            said.append(app.farewell)
        return code
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        if watcher is not None and trust is not None:
            watcher.cancel()
            await _quietly(watcher)
            trust.proven = session.core.server_key
        if recorder is not None:
            recorder.close(loop.time())
        await session.close()
        if local is not None:
            await local.stop()


@dataclass(frozen=True, slots=True)
class LocalServer:
    """The real server code running in-process for a game without a host."""

    server: RunningServer
    task: asyncio.Task[None]

    async def stop(self) -> None:
        """Stop it, giving it ``_SERVER_STOP_WAIT`` s to say goodbye to its clients."""
        self.server.stop()
        await _quietly(self.task)


async def start_local_server(bots: int) -> LocalServer:
    """Start the server on a free loopback port with ``bots`` bots and a fresh seed."""
    settings = ServerSettings(bots=bots, seed=random.randrange(2**32))
    server = await start_server(settings, "127.0.0.1", 0, stats_interval=3600)
    return LocalServer(server, asyncio.create_task(server.run()))


async def _remember_server_key(session: ClientSession, app: GameApp, trust: ServerTrust) -> None:
    """Once the handshake has proved the server's key, remember it (first contact or
    --trust-new-key) and tell the player on the message line and in the log."""
    core = session.core
    while core.server_key is None:
        if core.state in TERMINAL_STATES:
            return
        await asyncio.sleep(0.05)
    if core.state is ConnectionState.KEY_CHANGED:
        return  # the protocol refused it; the command line reports it
    notice = trust.accept(core.server_key)
    if notice is not None:
        log.info("%s", notice.full)
        app.notify(notice.short)


async def _quietly(aw: Awaitable[None]) -> None:
    with contextlib.suppress(TimeoutError, asyncio.CancelledError):
        await asyncio.wait_for(aw, _SERVER_STOP_WAIT)
