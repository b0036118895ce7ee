"""What a netsnake server says about itself in answer to an INFO query.

The protocol carries an opaque INFO payload (``protocol/_info.py``); this is
netsnake's: a msgpack map with string keys, specified in
``docs/game-messages.rst``.  The encoder always fits the payload into
``MAX_INFO_PAYLOAD`` bytes, cutting the server name (on a character boundary)
if it must, so no reply is ever larger than the request it answers.  The
decoder reads untrusted bytes: it checks every field's type and range, ignores
keys it does not know (so later servers may add some), and makes the name
safe to print in a terminal.
"""

from __future__ import annotations

import socket
import unicodedata
from dataclasses import dataclass, replace
from typing import Any

from netsnake.game.limits import MAX_PLAYERS
from protocol import (
    MAX_INFO_PAYLOAD,
    CodecLimits,
    DecodeError,
    Packer,
    expect_int,
    expect_str,
    unpack_untrusted,
)

__all__ = [
    "MAX_SERVER_NAME_LENGTH",
    "ServerInfo",
    "decode_server_info",
    "default_server_name",
    "encode_server_info",
    "printable",
]

#: Longest server name, in characters; the encoder cuts further if the bytes do not fit.
MAX_SERVER_NAME_LENGTH = 64
_MAX_UPTIME = 2**32 - 1  # seconds: 136 years
_LIMITS = CodecLimits(
    max_size=MAX_INFO_PAYLOAD, max_map_len=32, max_str_len=MAX_INFO_PAYLOAD, max_depth=2
)
_PACKER = Packer()


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerInfo:
    """A server's name, software and game versions, load, settings and uptime."""

    name: str
    version: str
    game_version: int
    players: int
    max_players: int
    spectators: int
    tick_rate: float
    width: int
    height: int
    uptime: int
    """Whole seconds since the server started."""
    instance: int
    """Random per server process: tells one server reached by two addresses."""


def printable(text: str) -> str:
    """``text`` with control and format characters (escape sequences) replaced by '?'."""
    return "".join("?" if unicodedata.category(c)[0] == "C" else c for c in text)


def default_server_name() -> str:
    """The name a server gets without ``--server-name``: this machine's host name."""
    return printable(socket.gethostname())[:MAX_SERVER_NAME_LENGTH] or "netsnake"


def _as_map(info: ServerInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "version": info.version,
        "game": info.game_version,
        "players": info.players,
        "max_players": info.max_players,
        "spectators": info.spectators,
        "tick_mhz": round(info.tick_rate * 1000),
        "width": info.width,
        "height": info.height,
        "uptime": min(max(0, info.uptime), _MAX_UPTIME),
        "id": info.instance,
    }


def encode_server_info(info: ServerInfo) -> bytes:
    """The INFO payload, at most ``MAX_INFO_PAYLOAD`` bytes (the name cut to fit)."""
    name = printable(info.name)[:MAX_SERVER_NAME_LENGTH]
    data = _PACKER.pack(_as_map(replace(info, name=name)))
    if len(data) > MAX_INFO_PAYLOAD:
        # Cut the name's UTF-8 by the excess (plus the str header's possible shrink).
        room = len(name.encode("utf-8")) - (len(data) - MAX_INFO_PAYLOAD)
        name = name.encode("utf-8")[: max(0, room)].decode("utf-8", "ignore")
        data = _PACKER.pack(_as_map(replace(info, name=name)))
    if len(data) > MAX_INFO_PAYLOAD:
        raise ValueError("server info does not fit an INFO reply even without a name")
    return data


def decode_server_info(data: bytes) -> ServerInfo:
    """Read an INFO payload from the network; raises DecodeError if it is not one."""
    raw = unpack_untrusted(data, _LIMITS)
    if not isinstance(raw, dict):
        raise DecodeError("INFO payload is not a map")

    def field(key: str) -> Any:
        if key not in raw:
            raise DecodeError(f"INFO payload has no {key!r}")
        return raw[key]

    def count(key: str, hi: int = MAX_PLAYERS) -> int:
        return expect_int(field(key), 0, hi)

    return ServerInfo(
        name=printable(expect_str(field("name"), MAX_INFO_PAYLOAD)),
        version=printable(expect_str(field("version"), 32)),
        game_version=count("game", 2**16),
        players=count("players"),
        max_players=count("max_players"),
        spectators=count("spectators", 2**16),
        tick_rate=expect_int(field("tick_mhz"), 1, 1_000_000) / 1000,
        width=count("width", 2**16),
        height=count("height", 2**16),
        uptime=count("uptime", _MAX_UPTIME),
        instance=count("id", 2**32 - 1),
    )
