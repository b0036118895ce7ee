"""``netsnake-client``: play in the terminal.

This module parses the arguments and prepares the process (logging, a
terminal check); :func:`netsnake.play.play` wires the game together.  With a
HOST it joins that server; with none it starts the real server code
in-process on loopback (a free port, 3 bots) and joins it, so a lone player
is in a game at once.  ``--bot FILE_OR_MODULE:FUNCTION`` plays a bot function
instead of a person, without a UI (:func:`netsnake.botplay.run_bots`).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from netsnake.addresses import parse_host
from netsnake.argparsing import OneLineErrorParser, int_range
from netsnake.client.botrunner import BotLoadError, BotSource, load_bot
from netsnake.client.known_servers import (
    KnownServers,
    KnownServersError,
    default_known_servers_path,
    server_label,
)
from netsnake.client.trust import KEY_CHANGED_EXIT, ServerTrust
from netsnake.game.names import NameError_, validate_name
from netsnake.logsetup import setup_logging
from netsnake.play import play
from netsnake.play_replay import replay_main

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


def _budget(text: str) -> float:
    try:
        ms = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not milliseconds") from None
    if not 1 <= ms <= 10_000:
        raise argparse.ArgumentTypeError(f"{ms:g} ms is not between 1 and 10000")
    return ms / 1000


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= 1e6:
        raise argparse.ArgumentTypeError(f"{value:g} s is not between 0 and 1000000")
    return value


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
    p.add_argument(
        "--list",
        nargs="*",
        metavar="HOST[:PORT]",
        help="print a table of these servers (with none: find those on the LAN) and exit",
    )
    p.add_argument("--name", help="your username (asked for in the game if not given)")
    p.add_argument(
        "--spectate",
        action="store_true",
        help="watch without a snake (Tab follows the next player, p plays when a seat is free)",
    )
    p.add_argument("--ascii", action="store_true", help="plain ASCII, whole cells only")
    p.add_argument(
        "--render-delay",
        type=_render_delay,
        default=None,
        metavar="auto|MS",
        help="how far behind the server to draw (default auto)",
    )
    p.add_argument(
        "--predict",
        choices=("on", "off"),
        default="on",
        help="draw your own snake ahead, where your turns land (default on); "
        "off draws it with the others, about two ticks behind",
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
    p.add_argument("--record", metavar="FILE", help="save the game this client sees to FILE")
    p.add_argument(
        "--replay", metavar="FILE", help="play a recording (from --record) instead of joining"
    )
    bot = p.add_argument_group("bots (no UI; see README 'Write your own bot')")
    bot.add_argument(
        "--bot",
        metavar="FILE_OR_MODULE:FUNCTION",
        help="play with this function (view) -> turn instead of the keyboard, without a UI; "
        "'builtin' is netsnake's own bot",
    )
    bot.add_argument(
        "--bot-budget",
        type=_budget,
        default=None,
        metavar="MS",
        help="time the function may take per tick before its answer is skipped "
        "(default half a tick)",
    )
    bot.add_argument(
        "--count",
        type=int_range(1, 64),
        default=1,
        help="bots to run from this process, named NAME-1..NAME-N (default 1)",
    )
    bot.add_argument(
        "--duration",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help="leave after this long (default: until Ctrl+C or the server ends)",
    )
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


def _list(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    # Imported here: the local game's start-up should not pay for it.
    from netsnake.client.listing import list_servers
    from netsnake.ui.server_list import format_table

    texts = [*args.list, *([args.host] if args.host is not None else [])]
    hosts = []
    for text in texts:
        try:
            hosts.append(parse_host(text, args.port))
        except ValueError as exc:
            parser.error(f"bad HOST: {exc}")
    rows = list_servers(hosts, args.port)
    if not rows:
        print(f"no netsnake servers answered on the LAN (port {args.port})")
    else:
        format_table(rows, sys.stdout)
    sys.stdout.flush()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list is not None:
        if args.replay is not None or args.record is not None or args.bot is not None:
            parser.error("--list prints a table and exits: no --replay, --record or --bot with it")
        return _list(parser, args)
    if args.replay is not None:
        if args.host is not None or args.record is not None:
            parser.error("--replay plays a file: give no HOST and no --record")
        return replay_main(args.replay, ascii_mode=args.ascii)
    host: str | None = None
    port = args.port
    if args.host is not None:
        try:
            host, port = parse_host(args.host, args.port)
        except ValueError as exc:
            parser.error(f"bad HOST: {exc}")
    elif args.trust_new_key:
        parser.error("--trust-new-key needs a HOST (the local game has no key to trust)")
    if args.record is not None:
        try:
            with open(args.record, "wb"):
                pass  # fail now, before the game starts, if it cannot be written
        except OSError as exc:
            parser.error(f"cannot write --record file: {exc.strerror or exc}")
    if args.name is not None:
        try:
            args.name = validate_name(args.name)
        except NameError_ as exc:
            parser.error(f"bad --name: {exc}")
    source: BotSource | None = None
    if args.bot is None:
        for flag, given in (
            ("--bot-budget", args.bot_budget is not None),
            ("--count", args.count != 1),
            ("--duration", args.duration is not None),
        ):
            if given:
                parser.error(f"{flag} needs --bot")
    else:
        if args.spectate:
            parser.error("--spectate and --bot do not go together (a bot plays)")
        if args.record is not None:
            parser.error("--record is for the terminal client, not --bot")
        try:
            source = load_bot(args.bot)
        except BotLoadError as exc:
            parser.error(f"bad --bot: {exc}")
    if args.log_file:
        try:
            stream = open(args.log_file, "a", encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            parser.error(f"cannot open log file: {exc.strerror}")
        setup_logging("debug", stream)
        # urwid logs every frame and key at DEBUG: 10 KB a second of its own.
        logging.getLogger("urwid").setLevel(logging.INFO)
    elif source is not None:
        # No UI: the bots' errors and warnings go to stderr.
        setup_logging("warning", sys.stderr)
    else:
        # The terminal belongs to the game: log nothing there.
        logging.getLogger().addHandler(logging.NullHandler())
        logging.getLogger().setLevel(logging.CRITICAL)
    if source is None and (not sys.stdin.isatty() or not sys.stdout.isatty()):
        _say("error: needs a terminal (stdin and stdout must be a tty)")
        return 1
    trust: ServerTrust | None = None
    if host is not None:
        try:
            trust = _load_trust(host, port, args.trust_new_key)
        except KnownServersError as exc:
            _say(f"error: {exc}")
            return 1
    if source is not None:
        code = _run_bots(args, host, port, source, trust)
    else:
        try:
            code = _play(args, host, port, trust)
        except KeyboardInterrupt:
            return 0
        except OSError as exc:
            _say(f"error: {exc.strerror or exc}")
            return 1
    # The game's screen is gone: what is printed now stays in the terminal.
    if trust is not None:
        for line in trust.said:
            _say(line)
        if code == KEY_CHANGED_EXIT:
            for line in trust.mismatch_report():
                _say(line)
    return code


def _play(args: argparse.Namespace, host: str | None, port: int, trust: ServerTrust | None) -> int:
    said: list[str] = []
    code = asyncio.run(
        play(
            host,
            port,
            name=args.name,
            render_delay=args.render_delay,
            ascii_mode=args.ascii,
            spectate=args.spectate,
            bots=args.bots,
            predict=args.predict == "on",
            default_name=os.environ.get("USER") or os.environ.get("LOGNAME"),
            record=Path(args.record) if args.record is not None else None,
            trust=trust,
            said=said,
        )
    )
    # The game's screen is gone: why it ended stays in the terminal.
    for line in said:
        _say(line)
    return code


def _run_bots(
    args: argparse.Namespace,
    host: str | None,
    port: int,
    source: BotSource,
    trust: ServerTrust | None,
) -> int:
    from netsnake.botplay import bot_names, run_bots

    try:
        return asyncio.run(
            run_bots(
                host,
                port,
                source,
                names=bot_names(args.name or source.default_name, args.count),
                budget=args.bot_budget,
                predict=args.predict == "on",
                local_bots=args.bots,
                duration=args.duration,
                trust=trust,
            )
        )
    except KeyboardInterrupt:
        return 0
    except OSError as exc:
        _say(f"error: {exc.strerror or exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
