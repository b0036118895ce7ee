"""The game messages' one table: golden bytes both ways, and what the decoder refuses.

The golden bytes were taken from the encoder before it became table-driven,
so they pin the wire format across that change; the seat fields (game
version 2), the stamps and inputs_pending (game version 3) were written by hand
from docs/game-messages.rst.
"""

from __future__ import annotations

import msgpack
import pytest

from netsnake.game.direction import Direction
from netsnake.game.events import (
    PlayerDied,
    PlayerJoined,
    PlayerLeft,
    PlayerRespawned,
    ServerShuttingDown,
)
from netsnake.game.messages import (
    MESSAGE_TYPES,
    Accepted,
    Input,
    Join,
    Message,
    Overview,
    Quit,
    Rejected,
    RejectionCode,
    Resync,
    Roster,
    ScoreEntry,
    Scores,
    Seat,
    Seated,
    SnapshotMessage,
    Spectators,
    SwitchSeat,
    View,
    decode_message,
    encode_message,
    join_version,
)
from protocol import DecodeError

GOLDEN: list[tuple[Message, str]] = [
    (Join(name="alice", version=2), "94 01 a5 61 6c 69 63 65 02 00"),
    (Quit(), "91 02"),
    (Resync(), "91 03"),
    (SwitchSeat(seat=Seat.SPECTATOR), "92 04 01"),
    (
        Accepted(
            player_id=3,
            name="alice",
            width=26,
            height=20,
            wrap=False,
            tick_rate=10.0,
            colour=2,
            max_view=(64, 28),
        ),
        "9a 0a 03 a5 61 6c 69 63 65 1a 14 c2 cd 27 10 02 00 92 40 1c",
    ),
    (
        Accepted(
            player_id=None,
            name="eve",
            width=26,
            height=20,
            wrap=True,
            tick_rate=10.0,
            colour=0,
            seat=Seat.SPECTATOR,
        ),
        "9a 0a ff a3 65 76 65 1a 14 c3 cd 27 10 00 01 92 cd 04 00 cd 04 00",  # no cap: 1024
    ),
    (Seated(seat=Seat.PLAYER, player_id=4, colour=5), "95 0c 00 04 05 a0"),
    (
        Seated(seat=Seat.PLAYER, player_id=None, colour=0, refusal="full"),
        "95 0c 00 ff 00 a4 66 75 6c 6c",
    ),
    (Spectators(count=3), "92 19 03"),
    (View(columns=40, rows=20, follow=None), "94 05 28 14 ff"),
    (View(columns=200, rows=60, follow=7), "94 05 cc c8 3c 07"),
    (Roster(ids=(1, 3), names=("ab", "c")), "93 1a c4 02 01 03 92 a2 61 62 a1 63"),
    (
        Scores(
            tick=300,
            complete=True,
            entries=(ScoreEntry(id=1, colour=2, length=3, score=4, kills=5),),
        ),
        "94 29 cd 01 2c c3 95 01 02 03 04 05",
    ),
    (
        Rejected(code=RejectionCode.BAD_NAME, reason="empty"),
        "93 0b a8 62 61 64 2d 6e 61 6d 65 a5 65 6d 70 74 79",
    ),
    (PlayerJoined(player_id=1, name="bob"), "93 14 01 a3 62 6f 62"),
    (PlayerLeft(player_id=1, name="bob", reason="quit"), "94 15 01 a3 62 6f 62 a4 71 75 69 74"),
    (
        PlayerDied(player_id=1, name="bob", killer_id=None, killer_name=None, cause="wall"),
        "96 16 01 a3 62 6f 62 ff a0 a4 77 61 6c 6c",
    ),
    (PlayerRespawned(player_id=1, name="bob"), "93 17 01 a3 62 6f 62"),
    (ServerShuttingDown(reason="bye"), "92 18 a3 62 79 65"),
    (
        Input(first_seq=7, turns=(Direction.UP, Direction.LEFT), stamps=(300, 301)),
        # stamps: one big-endian u32 per turn (game version 3)
        "94 1e 07 c4 02 00 03 c4 08 00 00 01 2c 00 00 01 2d",
    ),
    (
        SnapshotMessage(
            state_hash=0xDEADBEEF, input_ack=300, inputs_pending=2, payload=b"\x01\x02"
        ),
        "95 28 ce de ad be ef cd 01 2c 02 c4 02 01 02",
    ),
    (
        # levels 0 1 2 3 | 1 0 (pad): 0b00011011, 0b01000000; leader 5 at (10, 2)
        Overview(tick=300, columns=3, rows=2, food=b"\x1b\x40", leaders=((5, 10, 2),)),
        "96 2a cd 01 2c 03 02 c4 02 1b 40 93 05 0a 02",
    ),
]


@pytest.mark.parametrize(("msg", "golden"), GOLDEN, ids=[type(m).__name__ for m, _ in GOLDEN])
def test_golden_bytes_both_ways(msg: Message, golden: str) -> None:
    data = bytes.fromhex(golden)
    assert encode_message(msg) == data
    assert decode_message(data) == msg


def test_every_message_type_has_a_golden_example() -> None:
    assert {row.cls for row in MESSAGE_TYPES} == {type(m) for m, _ in GOLDEN}


def test_rejection_codes_are_their_wire_strings() -> None:
    assert [c.value for c in RejectionCode] == ["full", "bad-name", "version", "spectators-full"]
    decoded = decode_message(encode_message(Rejected(code=RejectionCode.FULL, reason="r")))
    assert isinstance(decoded, Rejected) and decoded.code is RejectionCode.FULL


@pytest.mark.parametrize(
    "items",
    [
        [11, "banned", "no reason"],  # a rejection code outside the enum
        [True, "alice", 1],  # a bool type id (equal to 1 in Python, not an int on the wire)
        [1.0, "alice", 1],  # a float type id
        [[1], "alice", 1],  # an unhashable type id
        [99],  # an unknown type
        [1, "alice"],  # too few fields
        [2, 0],  # too many
        [30, 0, b"\x00\x01", b"\x00\x00\x00\x05"],  # two turns, one stamp
        [30, 0, b"\x00", b"\x00\x00\x05"],  # a stamp of three bytes
        [40, 1, 3, 5, b""],  # more inputs pending than received
        [40, 1, 3, -1, b""],  # a negative count
        [4, 2],  # a seat that does not exist
        [4, True],  # a bool seat
        [1, "alice", 2, -1],  # a JOIN with a negative seat
    ],
)
def test_decoder_refuses_what_the_table_does_not_describe(items: list[object]) -> None:
    with pytest.raises(DecodeError):
        decode_message(msgpack.packb(items))


def test_encoding_a_non_message_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="not a message"):
        encode_message("hello")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("items", "version"),
    [
        ([1, "alice", 1], 1),  # a game-version-1 JOIN: no seat
        ([1, "alice", 7, 0, "extra"], 7),  # some later layout
        ([1, "alice", "1"], None),  # the version is not an int
        ([1, "alice", True], None),
        ([1, "alice", 70000], None),
        ([2, "alice", 1], None),  # not a JOIN
        ([1, "alice"], None),  # too short to say
    ],
)
def test_join_version_reads_the_version_of_a_join_it_cannot_decode(
    items: list[object], version: int | None
) -> None:
    assert join_version(msgpack.packb(items)) == version


def test_join_version_of_garbage_is_none() -> None:
    assert join_version(b"\xc1") is None
    assert join_version(b"") is None
