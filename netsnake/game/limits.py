"""Limits shared by the game rules, the encodings and the spec, one constant each.

The world refuses what the wire cannot carry, so anything the world accepts
can be encoded, and every decoder checks the same bound.
``docs/game-messages.rst`` quotes these values (a test keeps it in step).
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "MAX_BOARD_SIZE",
    "MAX_NAME_LENGTH",
    "MAX_PLAYERS",
    "MAX_PLAYER_ID",
    "MAX_TEXT_LENGTH",
    "MAX_VIEW_SIZE",
    "MIN_BOARD_SIZE",
]

#: Longest player name, in characters after trimming (the name rules, the
#: world and the snapshot codec all use it).
MAX_NAME_LENGTH: Final = 16
#: Player ids are 0..255: the message decoders take them as one byte's range.
MAX_PLAYER_ID: Final = 255
#: Ids are unique, so no more players than ids.
MAX_PLAYERS: Final = MAX_PLAYER_ID + 1
#: Longest text field a message decoder accepts (reasons, and a JOIN's name
#: before the name rules see it).  Deliberately far above MAX_NAME_LENGTH: an
#: over-long name must reach the server's name rules to be refused with a
#: reason, not dropped as undecodable.
MAX_TEXT_LENGTH: Final = 1024
#: Smallest board width or height the world accepts.
MIN_BOARD_SIZE: Final = 8
#: Largest board width or height: ACCEPTED and full snapshots carry up to it,
#: and a snapshot's cells take two bytes per coordinate once a side exceeds 256.
MAX_BOARD_SIZE: Final = 1024
#: Largest viewport (cells across or down) a VIEW message may state; the server
#: caps the area of interest further (``ServerSettings.max_view``).
MAX_VIEW_SIZE: Final = MAX_BOARD_SIZE
