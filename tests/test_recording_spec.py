"""docs/recording.rst: its example is what the reference writer writes, byte for byte,
and what the reader reads back."""

from __future__ import annotations

import re
from pathlib import Path

import msgpack

from netsnake import GAME_VERSION
from netsnake.game.events import PlayerJoined
from netsnake.game.recording import FORMAT_VERSION, Recording, RecordingHeader, RecordingWriter
from netsnake.game.snapshot import snapshot_hash
from netsnake.game.world import World, WorldConfig

DOC = Path(__file__).resolve().parent.parent / "docs" / "recording.rst"
_LABELS = ("header", "event", "check", "keyframe", "delta")


def example_from_the_doc() -> list[tuple[str, bytes]]:
    """The example's records: (label, bytes), continuation lines joined."""
    text = DOC.read_text(encoding="utf-8")
    block = text.split("One record a line, label first", 1)[1].split("Read as records:", 1)[0]
    records: list[tuple[str, str]] = []
    for line in block.splitlines():
        m = re.match(r"^    (\w+)\s+((?:[0-9a-f]{2} ?)+)$", line)
        if m and m.group(1) in _LABELS:
            records.append((m.group(1), m.group(2)))
        elif records and re.match(r"^ {13}(?:[0-9a-f]{2} ?)+$", line):
            label, hexes = records[-1]
            records[-1] = (label, hexes + " " + line.strip())
    return [(label, bytes.fromhex(hexes)) for label, hexes in records]


def written_example() -> bytes:
    """The example game, through the reference writer."""
    header = RecordingHeader(
        game_version=GAME_VERSION,
        width=8,
        height=8,
        wrap=False,
        tick_rate=10.0,
        server="example",
        started=1_700_000_000.0,
        source="server",
        keyframe_interval=100,
    )
    writer = RecordingWriter(header)
    world = World(WorldConfig(width=8, height=8), 1)
    world.add_player(0, "kaa", 2)
    writer.add_event(PlayerJoined(player_id=0, name="kaa"))
    for _ in range(3):
        world.step()
        writer.add_frame(world.snapshot())
    return writer.take()


def test_the_documented_example_is_what_the_writer_writes() -> None:
    documented = example_from_the_doc()
    assert [label for label, _ in documented] == [
        "header",
        "event",
        "check",
        "keyframe",
        "delta",
        "delta",
    ]
    assert b"".join(data for _, data in documented) == written_example()
    # Each documented line is exactly one msgpack value (one record).
    for label, data in documented:
        unpacker = msgpack.Unpacker(raw=False)
        unpacker.feed(data)
        record = unpacker.unpack()
        assert unpacker.tell() == len(data), label
        first = record[0]
        assert {"header": "netsnake recording", "event": -1, "check": -2}.get(label, first) == first
    assert FORMAT_VERSION == 1 and f"game version {GAME_VERSION}" in DOC.read_text()


def test_the_documented_example_reads_back() -> None:
    recording = Recording(written_example())
    assert recording.frame_count == 3 and recording.keyframe_count == 1
    assert recording.events(0) == [PlayerJoined(player_id=0, name="kaa")]
    tick1 = recording.frame_at(1)
    assert snapshot_hash(tick1) == 0x17797FAF
    assert tick1.players[0].body == ((0, 4), (0, 5), (0, 6))
    assert tick1.food == ((0, 1), (1, 2), (1, 6))
    assert recording.frame_at(3).players[0].body == ((0, 2), (0, 3), (0, 4))
