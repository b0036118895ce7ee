"""Where the client's connection to the server stands, as the UI sees it."""

from __future__ import annotations

import enum

__all__ = ["TERMINAL_STATES", "ConnectionState"]


class ConnectionState(enum.Enum):
    """The life of one client connection.

    ``CONNECTING`` and ``JOINING`` lead to ``PLAYING``; every other state
    ends the session (``REJECTED`` may be retried with another name).
    ``KEY_CHANGED``: the server proved another key than the one pinned for it.
    """

    CONNECTING = "connecting"
    JOINING = "joining"
    PLAYING = "playing"
    REJECTED = "rejected"
    UNREACHABLE = "unreachable"
    LOST = "lost"
    SHUTDOWN = "shutdown"
    CLOSED = "closed"
    KEY_CHANGED = "key-changed"


#: States after which the client will not play again without a new connection.
TERMINAL_STATES = frozenset(
    {
        ConnectionState.REJECTED,
        ConnectionState.UNREACHABLE,
        ConnectionState.LOST,
        ConnectionState.SHUTDOWN,
        ConnectionState.CLOSED,
        ConnectionState.KEY_CHANGED,
    }
)
