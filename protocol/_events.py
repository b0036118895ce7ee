"""Events the protocol hands to the application, pulled with ``next_event()``."""

from __future__ import annotations

import enum
from collections.abc import Hashable
from dataclasses import dataclass

__all__ = [
    "ConnectionEstablished",
    "ConnectionTerminated",
    "DisconnectCode",
    "Event",
    "MessageReceived",
    "PayloadAcked",
    "PayloadLost",
    "PayloadReceived",
]

Address = Hashable


class DisconnectCode(enum.IntEnum):
    """Why a connection ended; sent on the wire in DISCONNECT and DENIED packets."""

    NORMAL = 0
    TIMEOUT = 1
    VERSION_MISMATCH = 2
    SERVER_FULL = 3
    BAD_TOKEN = 4
    SHUTDOWN = 5
    PROTOCOL_ERROR = 6
    UNREACHABLE = 7
    REPLACED = 8
    SERVER_KEY_MISMATCH = 9
    """Local only: the server proved a static key other than the pinned one."""

    @classmethod
    def parse(cls, value: int) -> DisconnectCode:
        """Map a wire value to a code; unknown values read as PROTOCOL_ERROR."""
        try:
            return cls(value)
        except ValueError:
            return cls.PROTOCOL_ERROR


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base class of every protocol event; ``peer`` is the remote address."""

    peer: Address


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionEstablished(Event):
    """The handshake completed; reliable and unreliable data may flow.

    On the client, ``server_key`` is the static public key the server proved in
    the handshake (what a known-servers file records); on the server it is b"".
    """

    server_key: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionTerminated(Event):
    """The connection is over: ``by_peer`` tells who ended it."""

    code: DisconnectCode
    reason: str
    by_peer: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageReceived(Event):
    """A reliable message, delivered exactly once and in order."""

    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class PayloadReceived(Event):
    """An unreliable payload (reassembled if it was fragmented)."""

    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class PayloadAcked(Event):
    """The peer received the unreliable payload sent with this ``handle``."""

    handle: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PayloadLost(Event):
    """The unreliable payload sent with this ``handle`` is presumed lost."""

    handle: int
