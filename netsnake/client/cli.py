"""``netsnake-client``: play in the terminal.

This module parses the arguments and prepares the process (logging, a
terminal check); :func:`netsnake.play.play` wires the game together.  With a
HOST it joins that server; with none it starts the real server code
in-process on loopback (a free port, 3 bots) and joins it, so a lone player
is in a game at once.
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
    p.add_argument("--log-file", metavar="PATH", help="write a debug log here")
    p.add_argument("--record", metavar="FILE", help="save the game this client sees to FILE")
    p.add_argument(
        "--replay", metavar="FILE", help="play a recording (from --record) instead of joining"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
    try:
        return asyncio.run(
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
            )
        )
    except KeyboardInterrupt:
        return 0
    except OSError as exc:
        print(f"netsnake-client: error: {exc.strerror or exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
