"""``netsnake-server``: host a game on the network."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import IO

from netsnake.argparsing import OneLineErrorParser, int_range, view_size_from
from netsnake.game.limits import MAX_BOARD_SIZE, MAX_PLAYERS, MAX_VIEW_SIZE, MIN_BOARD_SIZE
from netsnake.game.server_info import MAX_SERVER_NAME_LENGTH, default_server_name, printable
from netsnake.game.world import WorldConfig
from netsnake.logsetup import setup_logging
from netsnake.server.app import serve
from netsnake.server.game import DEFAULT_MAX_VIEW, MIN_MAX_VIEW, ServerSettings
from netsnake.server.key_file import KeyFileError, default_key_path, load_or_create_key

__all__ = ["main", "parse_args"]


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 1 <= value <= 60:
        raise argparse.ArgumentTypeError(f"{value:g} Hz is not between 1 and 60")
    return value


def _server_name(text: str) -> str:
    name = text.strip()
    if not name:
        raise argparse.ArgumentTypeError("the server name is empty")
    if printable(name) != name:
        raise argparse.ArgumentTypeError("the server name has control characters")
    if len(name) > MAX_SERVER_NAME_LENGTH:
        raise argparse.ArgumentTypeError(
            f"the server name is longer than {MAX_SERVER_NAME_LENGTH} characters"
        )
    return name


def build_parser() -> argparse.ArgumentParser:
    p = OneLineErrorParser(
        prog="netsnake-server",
        description="Host a netsnake game. Friends join with: netsnake-client YOUR-IP",
    )
    p.add_argument(
        "--host",
        default="0.0.0.0",
        help="address to listen on (default 0.0.0.0: all IPv4; '::' adds IPv6; "
        "127.0.0.1 keeps it local)",
    )
    p.add_argument(
        "--port",
        type=int_range(0, 65535),
        default=5050,
        help="UDP port (default 5050; 0 picks a free one)",
    )
    p.add_argument(
        "--server-name",
        type=_server_name,
        default=None,
        metavar="NAME",
        help="the name `netsnake-client --list` shows (default: this machine's host name)",
    )
    p.add_argument("--tick-rate", type=_rate, default=10.0, help="ticks per second (default 10)")
    p.add_argument(
        "--width",
        type=int_range(MIN_BOARD_SIZE, MAX_BOARD_SIZE),
        default=WorldConfig().width,
        help="board width in cells",
    )
    p.add_argument(
        "--height",
        type=int_range(MIN_BOARD_SIZE, MAX_BOARD_SIZE),
        default=WorldConfig().height,
        help="board height in cells",
    )
    p.add_argument("--wrap", action="store_true", help="snakes wrap around the edges")
    p.add_argument(
        "--max-players",
        type=int_range(1, MAX_PLAYERS),
        default=16,
        help="players at once, bots included (default 16)",
    )
    p.add_argument(
        "--max-spectators",
        type=int_range(0, 256),
        default=16,
        help="spectators at once, not counted as players (default 16)",
    )
    p.add_argument(
        "--bots", type=int_range(0, MAX_PLAYERS), default=0, help="bot players (default 0)"
    )
    p.add_argument(
        "--max-view",
        type=view_size_from(MIN_MAX_VIEW),
        default=DEFAULT_MAX_VIEW,
        metavar="COLSxROWS",
        help="on a board bigger than this, the most of it (in cells) one client's view is "
        "sent, a margin added: smaller saves bandwidth, bigger serves big terminals "
        f"(default {DEFAULT_MAX_VIEW[0]}x{DEFAULT_MAX_VIEW[1]}; "
        f"each side {MIN_MAX_VIEW}-{MAX_VIEW_SIZE})",
    )
    p.add_argument(
        "--seed", type=int_range(0, 2**63 - 1), default=None, help="world seed (default: random)"
    )
    p.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="default info",
    )
    p.add_argument(
        "--stats-interval",
        type=int_range(1, 3600),
        default=30,
        help="seconds between stats lines (default 30)",
    )
    p.add_argument(
        "--key-file",
        metavar="PATH",
        type=Path,
        default=None,
        help="the server's private key, created on first run "
        "(default $XDG_DATA_HOME/netsnake/server.key)",
    )
    p.add_argument(
        "--input-trace",
        metavar="PATH",
        help="append one JSON line per received turn, and one per turn applied "
        "(its stamp, tick and cell; for benchmarks and tests)",
    )
    p.add_argument(
        "--record",
        metavar="DIR",
        help="write the game to a new file in DIR (netsnake-DATE-TIME.nsrec), "
        "for netsnake-client --replay",
    )
    return p


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, ServerSettings]:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.bots > args.max_players:
        parser.error(f"--bots {args.bots} is more than --max-players {args.max_players}")
    if args.record is not None:
        try:
            os.makedirs(args.record, exist_ok=True)
        except OSError as exc:
            parser.error(f"cannot create --record directory {args.record}: {exc.strerror or exc}")
        if not os.access(args.record, os.W_OK | os.X_OK):
            parser.error(f"cannot write to --record directory {args.record}")
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4))
    try:
        world = WorldConfig(width=args.width, height=args.height, wrap=args.wrap)
        settings = ServerSettings(
            tick_rate=args.tick_rate,
            world=world,
            max_players=args.max_players,
            max_spectators=args.max_spectators,
            bots=args.bots,
            max_view=args.max_view,
            seed=seed,
            server_name=args.server_name or default_server_name(),
        )
    except ValueError as exc:
        parser.error(str(exc))
    return args, settings


def main(argv: list[str] | None = None) -> int:
    args, settings = parse_args(argv)
    setup_logging(args.log_level)
    try:
        key = load_or_create_key(args.key_file or default_key_path())
    except KeyFileError as exc:
        print(f"netsnake-server: error: {exc}", file=sys.stderr)
        return 1
    record_dir = Path(args.record) if args.record is not None else None
    trace: IO[str] | None = None
    try:
        if args.input_trace:
            trace = open(args.input_trace, "a", buffering=1, encoding="utf-8")  # noqa: SIM115
        asyncio.run(
            serve(
                settings,
                args.host,
                args.port,
                stats_interval=args.stats_interval,
                input_trace=trace,
                record_dir=record_dir,
                key=key,
            )
        )
    except OSError as exc:
        where = f"{args.host}:{args.port}"
        print(
            f"netsnake-server: error: cannot listen on {where}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        if trace is not None:
            trace.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
