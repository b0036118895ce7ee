"""``netsnake-client``: play in the terminal.

With a HOST it joins that server; with none it starts the real server code
in-process on loopback (a free port, 3 bots) and joins it, so a lone player
is in a game at once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import random
import signal
import sys
from collections.abc import Awaitable
from dataclasses import replace
from typing import TYPE_CHECKING

from netsnake.argparsing import OneLineErrorParser, int_range
from netsnake.client.address import parse_host
from netsnake.client.core import default_client_config
from netsnake.client.known_servers import (
    KnownServers,
    KnownServersError,
    default_known_servers_path,
    server_label,
)
from netsnake.client.session import ClientSession
from netsnake.client.state import TERMINAL_STATES, ConnectionState
from netsnake.client.trust import KEY_CHANGED_EXIT, ServerTrust
from netsnake.game.names import NameError_, validate_name
from netsnake.logsetup import setup_logging
from netsnake.server.app import RunningServer, start_server
from netsnake.server.game import ServerSettings

if TYPE_CHECKING:
    from netsnake.ui.app import GameApp

__all__ = ["main"]

log = logging.getLogger("client")


def _render_delay(text: str) -> float | None:
    if text == "auto":
        return None
    try:
        ms = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither 'auto' nor milliseconds") from None
    if not 0 <= ms <= 2000:
        raise argparse.ArgumentTypeError(f"{ms:g} ms is not between 0 and 2000")
    return ms / 1000


def build_parser() -> argparse.ArgumentParser:
    p = OneLineErrorParser(
        prog="netsnake-client",
        description="Play netsnake. With no HOST, play at once against bots on a local server.",
    )
    p.add_argument(
        "host", nargs="?", metavar="HOST", help="server: name, IPv4, IPv6, host:port or [v6]:port"
    )
    p.add_argument(
        "--port", type=int_range(1, 65535), default=5050, help="server port (default 5050)"
    )
    p.add_argument("--name", help="your username (asked for in the game if not given)")
    p.add_argument("--ascii", action="store_true", help="plain ASCII, whole cells only")
    p.add_argument(
        "--render-delay",
        type=_render_delay,
        default=None,
        metavar="auto|MS",
        help="how far behind the server to draw (default auto)",
    )
    p.add_argument(
        "--bots",
        type=int_range(0, 15),
        default=3,
        help="bots in the local game when no HOST is given (default 3)",
    )
    p.add_argument(
        "--trust-new-key",
        action="store_true",
        help="accept a server key that differs from the one in known_servers, and remember it",
    )
    p.add_argument("--log-file", metavar="PATH", help="write a debug log here")
    return p


def _say(line: str) -> None:
    print(f"netsnake-client: {line}", file=sys.stderr)


def _load_trust(host: str, port: int, trust_new_key: bool) -> ServerTrust:
    """What known_servers says about ``host``; ignored lines are reported on stderr.

    Raises KnownServersError if the file cannot be read.
    """
    known = KnownServers.load(default_known_servers_path())
    for report in known.problem_reports():
        log.warning("%s", report)
        _say(f"warning: {report}")
    return ServerTrust(known, server_label(host, port), trust_new_key)


async def _remember_server_key(
    session: ClientSession, app: GameApp, trust: ServerTrust, said: list[str]
) -> None:
    """Once the handshake has proved the server's key, remember it (first contact or
    --trust-new-key), telling the player on the message line, in the log and in
    ``said`` (printed when the game is over)."""
    core = session.core
    while core.server_key is None:
        if core.state in TERMINAL_STATES:
            return
        await asyncio.sleep(0.05)
    if core.state is ConnectionState.KEY_CHANGED:
        return
    notice = trust.accept(core.server_key)
    if notice is not None:
        log.info("%s", notice.full)
        said.append(notice.full)
        app.notify(notice.short)


async def _run(
    args: argparse.Namespace, host: str | None, port: int, trust: ServerTrust | None
) -> int:
    # Imported here so `--help` and argument errors stay fast and never touch the terminal.
    from netsnake.ui.app import GameApp

    loop = asyncio.get_running_loop()
    server: RunningServer | None = None
    server_task: asyncio.Task[None] | None = None
    config = default_client_config()
    if host is None:
        # The local game's server has a fresh key each run: nothing to remember.
        settings = ServerSettings(bots=args.bots, seed=random.randrange(2**32))
        server = await start_server(settings, "127.0.0.1", 0, stats_interval=3600)
        server_task = asyncio.create_task(server.run())
        host, port = server.address
    elif trust is not None:
        config = replace(config, server_key=trust.pinned_key)
    session = await ClientSession.connect(
        host, port, name=args.name, render_delay=args.render_delay, config=config
    )
    app = GameApp(
        session.core,
        ascii_mode=args.ascii,
        default_name=os.environ.get("USER") or os.environ.get("LOGNAME"),
        clock=loop.time,
    )
    said: list[str] = []
    watcher = (
        asyncio.create_task(_remember_server_key(session, app, trust, said))
        if trust is not None
        else None
    )
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: app.quit(loop.time()))
    try:
        code = await app.run()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        if watcher is not None:
            watcher.cancel()
            await _quietly(watcher)
        await session.close()
        if server is not None and server_task is not None:
            server.stop()
            await _quietly(server_task)
    # The game's screen is gone: what is printed now stays in the terminal.
    for line in said:
        _say(line)
    if code == KEY_CHANGED_EXIT and trust is not None:
        for line in trust.mismatch_report(session.core.server_key):
            _say(line)
    return code


async def _quietly(aw: Awaitable[None]) -> None:
    with contextlib.suppress(TimeoutError, asyncio.CancelledError):
        await asyncio.wait_for(aw, 2.0)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    host: str | None = None
    port = args.port
    if args.host is not None:
        try:
            host, port = parse_host(args.host, args.port)
        except ValueError as exc:
            parser.error(f"bad HOST: {exc}")
    elif args.trust_new_key:
        parser.error("--trust-new-key needs a HOST (the local game has no key to trust)")
    if args.name is not None:
        try:
            args.name = validate_name(args.name)
        except NameError_ as exc:
            parser.error(f"bad --name: {exc}")
    if args.log_file:
        try:
            stream = open(args.log_file, "a", encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            parser.error(f"cannot open log file: {exc.strerror}")
        setup_logging("debug", stream)
    else:
        # The terminal belongs to the game: log nothing there.
        logging.getLogger().addHandler(logging.NullHandler())
        logging.getLogger().setLevel(logging.CRITICAL)
    if not sys.stdin.isatty() or not sys.stdout.isatty():
        print(
            "netsnake-client: error: needs a terminal (stdin and stdout must be a tty)",
            file=sys.stderr,
        )
        return 1
    trust: ServerTrust | None = None
    if host is not None:
        try:
            trust = _load_trust(host, port, args.trust_new_key)
        except KnownServersError as exc:
            _say(f"error: {exc}")
            return 1
    try:
        return asyncio.run(_run(args, host, port, trust))
    except KeyboardInterrupt:
        return 0
    except OSError as exc:
        print(f"netsnake-client: error: {exc.strerror or exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
