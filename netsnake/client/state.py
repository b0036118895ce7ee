"""Where the client's connection to the server stands, and how it may move on.

Every legal change of :attr:`ClientCore.state <netsnake.client.core.ClientCore.state>`
is in :data:`TRANSITIONS`; the core changes state only through one method
that checks this table, and refuses anything else with
:class:`IllegalTransition`::

    CONNECTING --handshake done--> JOINING --ACCEPTED--> PLAYING or SPECTATING
    PLAYING <--SEATED--> SPECTATING   (admitted either way: snapshots flow to both)
    CONNECTING --denied: full, version, bad token--> REJECTED
    CONNECTING --handshake timed out / host unknown--> UNREACHABLE
    CONNECTING --the server proved another key than the pinned one--> KEY_CHANGED
    JOINING --REJECTED--> REJECTED --new name--> JOINING
    CONNECTING, JOINING, PLAYING, SPECTATING, REJECTED --SHUTDOWN / disconnect--> SHUTDOWN or LOST
    any state but CLOSED --the player quits--> CLOSED
"""

from __future__ import annotations

import enum

__all__ = [
    "ADMITTED_STATES",
    "EXIT_CODES",
    "TERMINAL_STATES",
    "TRANSITIONS",
    "ConnectionState",
    "IllegalTransition",
]


class ConnectionState(enum.Enum):
    """The life of one client connection.

    ``CONNECTING`` and ``JOINING`` lead to a seat: ``PLAYING`` (with a
    snake) or ``SPECTATING`` (without); every other state ends the session
    (``REJECTED`` may be retried with another name).
    ``KEY_CHANGED``: the server proved another key than the one pinned for it.
    """

    CONNECTING = "connecting"
    JOINING = "joining"
    PLAYING = "playing"
    SPECTATING = "spectating"
    REJECTED = "rejected"
    UNREACHABLE = "unreachable"
    LOST = "lost"
    SHUTDOWN = "shutdown"
    CLOSED = "closed"
    KEY_CHANGED = "key-changed"


class IllegalTransition(RuntimeError):
    """A caller asked the client core for a state change the table does not allow."""


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

#: Admitted to the game, with a seat: snapshots and events arrive.
ADMITTED_STATES = frozenset({ConnectionState.PLAYING, ConnectionState.SPECTATING})

_S = ConnectionState

#: Every legal state change, and nothing else.
TRANSITIONS: dict[ConnectionState, frozenset[ConnectionState]] = {
    _S.CONNECTING: frozenset(
        {_S.JOINING, _S.REJECTED, _S.UNREACHABLE, _S.LOST, _S.SHUTDOWN, _S.CLOSED, _S.KEY_CHANGED}
    ),
    _S.JOINING: frozenset(
        {_S.PLAYING, _S.SPECTATING, _S.REJECTED, _S.LOST, _S.SHUTDOWN, _S.CLOSED}
    ),
    # SEATED moves an admitted connection between the two seats.
    _S.PLAYING: frozenset({_S.SPECTATING, _S.LOST, _S.SHUTDOWN, _S.CLOSED}),
    _S.SPECTATING: frozenset({_S.PLAYING, _S.LOST, _S.SHUTDOWN, _S.CLOSED}),
    # A ``bad-name`` rejection keeps the connection: the player may try another
    # name (JOINING); a JOIN sent before the rejection may still be accepted.
    _S.REJECTED: frozenset(
        {_S.JOINING, _S.PLAYING, _S.SPECTATING, _S.LOST, _S.SHUTDOWN, _S.CLOSED}
    ),
    # The end of a session: only the player leaving (or their quit completing) remains.
    _S.UNREACHABLE: frozenset({_S.CLOSED}),
    _S.LOST: frozenset({_S.CLOSED}),
    _S.SHUTDOWN: frozenset({_S.CLOSED}),
    _S.KEY_CHANGED: frozenset({_S.CLOSED}),
    _S.CLOSED: frozenset(),
}

#: Process exit code for each way a session ends (the terminal UI's and ``--bot``'s).
EXIT_CODES: dict[ConnectionState, int] = {
    _S.CLOSED: 0,
    _S.SHUTDOWN: 0,
    _S.UNREACHABLE: 2,
    _S.REJECTED: 3,
    _S.LOST: 4,
    _S.KEY_CHANGED: 5,
}
