"""The recording format: what is written is what is read back, tick for tick.

Games are the deterministic world driven by the bots, with players joining
and leaving; every frame read back is compared with the world it recorded
by :func:`snapshot_hash`.  Then the ways a file goes wrong: cut off at any
byte (a killed server), damaged, or not a recording at all.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netsnake.client.replay import ReplayPlayer
from netsnake.game.bots import steer_bots
from netsnake.game.events import GameEvent, PlayerDied, PlayerJoined, PlayerLeft
from netsnake.game.recording import (
    FORMAT_VERSION,
    MAGIC,
    Recording,
    RecordingError,
    RecordingHeader,
    RecordingWriter,
)
from netsnake.game.snapshot import Snapshot, snapshot_hash
from netsnake.game.world import PlayerDied as WorldDied
from netsnake.game.world import World, WorldConfig
from netsnake.recording_file import RecordingFile, load_recording, recording_path
from netsnake.server.game import ServerSettings
from netsnake.server.recorder import server_header


def header(
    config: WorldConfig,
    keyframe_interval: int = 20,
    source: str = "server",
    tick_rate: float = 10.0,
) -> RecordingHeader:
    return RecordingHeader(
        game_version=1,
        width=config.width,
        height=config.height,
        wrap=config.wrap,
        tick_rate=tick_rate,
        server="test",
        started=1_700_000_000.0,
        source=source,
        keyframe_interval=keyframe_interval,
    )


@dataclass
class Game:
    """A recorded bot game: each frame's world and the events that belong to it."""

    frames: list[Snapshot] = field(default_factory=list)
    events: list[list[GameEvent]] = field(default_factory=list)


def play(
    seed: int,
    ticks: int,
    players: int,
    *,
    wrap: bool = False,
    skip: float = 0.0,
    config: WorldConfig | None = None,
) -> Game:
    """``ticks`` ticks of bots on a small board (or ``config``'s), with joins and
    leaves; ``skip`` is the chance that a tick is not recorded (as a client
    misses snapshots)."""
    rng = random.Random(seed)
    world = World(config or WorldConfig(width=16, height=12, wrap=wrap), seed)
    next_id = 0
    game = Game()
    pending: list[GameEvent] = []
    for _ in range(players):
        world.add_player(next_id, f"p{next_id}", next_id % 12)
        next_id += 1
    for _ in range(ticks):
        if rng.random() < 0.03 and len(world.player_ids) < 8:
            world.add_player(next_id, f"p{next_id}", next_id % 12)
            pending.append(PlayerJoined(player_id=next_id, name=f"p{next_id}"))
            next_id += 1
        if rng.random() < 0.02 and world.player_ids:
            gone = rng.choice(world.player_ids)
            world.remove_player(gone)
            pending.append(PlayerLeft(player_id=gone, name=f"p{gone}", reason="quit"))
        steer_bots(world, rng)
        for ev in world.step():
            if isinstance(ev, WorldDied):
                pending.append(
                    PlayerDied(
                        player_id=ev.player_id,
                        name=f"p{ev.player_id}",
                        killer_id=ev.killer_id,
                        killer_name=None,
                        cause=ev.cause,
                    )
                )
        if game.frames and rng.random() < skip:
            continue  # this tick never reached the recorder; its events come later
        game.frames.append(world.snapshot())
        game.events.append(pending)
        pending = []
    return game


def record_chunks(
    game: Game, keyframe_interval: int = 20, source: str = "server", tick_rate: float = 10.0
) -> tuple[bytes, list[tuple[int, int]]]:
    """The recording of ``game`` and, per frame, the byte range of its records
    (its events, a check record before a keyframe, then the frame)."""
    first = game.frames[0]
    config = WorldConfig(width=first.width, height=first.height, wrap=first.wrap)
    writer = RecordingWriter(header(config, keyframe_interval, source, tick_rate))
    data = writer.take()
    chunks = []
    for frame, events in zip(game.frames, game.events, strict=True):
        for event in events:
            writer.add_event(event)
        writer.add_frame(frame)
        chunk = writer.take()
        chunks.append((len(data), len(data) + len(chunk)))
        data += chunk
    return data, chunks


def record(
    game: Game, keyframe_interval: int = 20, source: str = "server", tick_rate: float = 10.0
) -> bytes:
    return record_chunks(game, keyframe_interval, source, tick_rate)[0]


# -- round trip


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    ticks=st.integers(1, 250),
    players=st.integers(0, 6),
    keyframe_interval=st.integers(1, 60),
    wrap=st.booleans(),
    skip=st.sampled_from([0.0, 0.3]),
    order_seed=st.integers(0, 2**32 - 1),
)
def test_every_tick_replays_as_the_world_that_was_recorded(
    seed: int,
    ticks: int,
    players: int,
    keyframe_interval: int,
    wrap: bool,
    skip: float,
    order_seed: int,
) -> None:
    game = play(seed, ticks, players, wrap=wrap, skip=skip)
    # 8 Hz: a tick is 1/8 s, exact in binary, so the playback clock lands on whole ticks.
    source = "client" if skip else "server"
    recording = Recording(record(game, keyframe_interval, source, tick_rate=8.0))
    assert recording.frame_count == len(game.frames)
    assert recording.ignored_tail == 0
    assert recording.keyframe_count >= len(game.frames) // keyframe_interval
    expected = {s.tick: snapshot_hash(s) for s in game.frames}
    first = game.frames[0].tick

    # Played at 1x, tick by tick: each frame shown is the last recorded at or before it
    # (the world of that very tick for a server recording), and every event comes out.
    player = ReplayPlayer(recording, now=0.0)
    events = player.drain_events()
    all_ticks = list(range(first, game.frames[-1].tick + 1))
    for tick in all_ticks:
        player.advance((tick - first) / 8.0)
        shown = max(t for t in expected if t <= tick)
        frame = player.frame()
        assert frame.prev.tick == shown and frame.alpha == 0.0
        assert snapshot_hash(frame.prev) == expected[shown], f"tick {tick} (seed {seed})"
        events.extend(player.drain_events())
    assert events == [e for frame_events in game.events for e in frame_events]

    # Then seeks to every tick in a random order.
    shuffled = all_ticks[:]
    random.Random(order_seed).shuffle(shuffled)
    for tick in shuffled:
        shown = max(t for t in expected if t <= tick)
        frame = recording.frame_at(tick)
        assert frame.tick == shown
        assert snapshot_hash(frame) == expected[shown], f"tick {tick} (seed {seed})"
    for i, frame_events in enumerate(game.events):
        assert recording.events(i) == frame_events


@pytest.mark.parametrize("size", [(300, 200), (1024, 1024)])
def test_boards_up_to_the_largest_record_and_replay(size: tuple[int, int]) -> None:
    """Boards past 255 cells (two-byte coordinates) up to the 1024x1024 limit:
    the server's header accepts them and every frame reads back exactly."""
    config = WorldConfig(width=size[0], height=size[1], max_players=64)
    game = play(5, 40, 40, config=config)
    recording = Recording(record(game, keyframe_interval=16))
    assert (recording.header.width, recording.header.height) == size
    for frame in game.frames:
        assert snapshot_hash(recording.frame_at(frame.tick)) == snapshot_hash(frame)
    settings_ = ServerSettings(world=config, max_players=64)
    assert server_header(settings_, server_name="big", started=0.0).width == size[0]


def test_header_round_trips_and_the_file_starts_with_the_magic() -> None:
    game = play(1, 30, 3)
    data = record(game)
    # A three-item array whose first item is the magic string, then the version.
    assert data.startswith(b"\x93\xb2netsnake recording\x01")
    assert msgpack.packb(MAGIC) == b"\xb2netsnake recording" and FORMAT_VERSION == 1
    recording = Recording(data)
    assert recording.header == header(WorldConfig(width=16, height=12))
    assert recording.first_tick == 1 and recording.last_tick == 30
    assert recording.duration == pytest.approx(2.9)


def test_events_after_the_last_frame_belong_to_it() -> None:
    game = play(2, 10, 2)
    first = game.frames[0]
    writer = RecordingWriter(header(WorldConfig(width=first.width, height=first.height)))
    for frame in game.frames:
        writer.add_frame(frame)
    late = PlayerLeft(player_id=0, name="p0", reason="quit")
    writer.add_event(late)
    recording = Recording(writer.take())
    assert recording.events(recording.frame_count - 1) == [late]


def test_writer_refuses_ticks_that_do_not_go_forward_and_other_boards() -> None:
    game = play(3, 5, 2)
    writer = RecordingWriter(header(WorldConfig(width=16, height=12)))
    writer.add_frame(game.frames[2])
    with pytest.raises(ValueError, match="not after"):
        writer.add_frame(game.frames[1])
    with pytest.raises(ValueError, match="board"):
        writer.add_frame(play(3, 2, 1, wrap=True).frames[1])


# -- cut off, damaged, not a recording


def test_a_recording_cut_at_any_byte_plays_to_its_last_whole_frame() -> None:
    game = play(4, 60, 4)
    data, chunks = record_chunks(game, keyframe_interval=15)
    header_end = chunks[0][0]
    for cut in range(len(data) + 1):
        part = data[:cut]
        if cut < header_end:
            with pytest.raises(RecordingError, match="not a netsnake recording"):
                Recording(part)
            continue
        recording = Recording(part)
        whole = sum(1 for _, end in chunks if end <= cut)
        assert recording.frame_count == whole, cut
        if whole:
            assert recording.last_tick == game.frames[whole - 1].tick
            last = recording.frame(whole - 1)
            assert snapshot_hash(last) == snapshot_hash(game.frames[whole - 1])
        assert 0 <= recording.ignored_tail <= cut - (chunks[whole - 1][1] if whole else header_end)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "not a netsnake recording"),
        (b"hello, world\n", "not a netsnake recording"),
        (b"\x93\xb2netsnake recording\x02\x80", "format version 2 is not supported"),
        (msgpack.packb(["netsnake recording", 1, {"width": 3}]), "header is damaged"),
        (msgpack.packb({"a": 1}), "not a netsnake recording"),
        (b"\xc1" * 40, "not a netsnake recording"),
    ],
    ids=["empty", "text", "version", "header", "map", "garbage"],
)
def test_what_is_not_a_recording_says_so_in_one_line(data: bytes, reason: str) -> None:
    with pytest.raises(RecordingError, match=reason) as info:
        Recording(data)
    assert "\n" not in str(info.value)


def test_damaged_records_are_reported_with_where() -> None:
    game = play(5, 40, 3)
    data, chunks = record_chunks(game, keyframe_interval=100)
    # A frame with no events before it and a delta after it.
    i = next(i for i in range(5, 38) if not game.events[i] and not game.events[i + 1])
    start, end = chunks[i]
    with pytest.raises(RecordingError, match=f"damaged record at byte {start}"):
        Recording(data[:start] + b"\xc1" + data[start + 1 :])
    # A frame left out: the next delta is no longer against the frame before it.
    with pytest.raises(RecordingError, match="not against the frame before"):
        Recording(data[:start] + data[end:])


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_damaged_bytes_only_ever_raise_recording_error(data: st.DataObject) -> None:
    game = play(data.draw(st.integers(0, 1000), label="seed"), 40, 3)
    raw = bytearray(record(game, keyframe_interval=10))
    for _ in range(data.draw(st.integers(1, 4), label="flips")):
        at = data.draw(st.integers(0, len(raw) - 1), label="at")
        raw[at] ^= 1 << data.draw(st.integers(0, 7), label="bit")
    try:
        recording = Recording(bytes(raw))
        for i in range(recording.frame_count):
            recording.frame(i)
    except RecordingError as exc:
        assert "\n" not in str(exc)


# -- the file layer


def test_the_file_on_disk_is_never_more_than_a_second_behind(tmp_path: Path) -> None:
    game = play(6, 80, 4)
    path = tmp_path / "game.nsrec"
    first = game.frames[0]
    rec = RecordingFile(path, header(WorldConfig(width=first.width, height=first.height)), now=0.0)
    for i, frame in enumerate(game.frames):
        now = i * 0.1  # 10 Hz
        rec.add_frame(frame, now)
        on_disk = Recording(path.read_bytes())
        # Flushed at least once a second: everything up to a second ago is in the file.
        assert on_disk.frame_count >= i + 1 - 10, (i, on_disk.frame_count)
        assert on_disk.ignored_tail == 0
    rec.close(8.0)
    assert load_recording(path).frame_count == len(game.frames)


def test_recording_names_are_dated_and_never_reused(tmp_path: Path) -> None:
    first = recording_path(tmp_path, 1_700_000_000.0)
    assert first.name.startswith("netsnake-2023111") and first.suffix == ".nsrec"
    first.write_bytes(b"")
    second = recording_path(tmp_path, 1_700_000_000.0)
    assert second != first and second.stem.endswith("-2")


def test_load_recording_explains_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="cannot read it: No such file"):
        load_recording(tmp_path / "nope.nsrec")
    only_header = tmp_path / "header.nsrec"
    only_header.write_bytes(RecordingWriter(header(WorldConfig())).take())
    with pytest.raises(RecordingError, match="holds no frames"):
        load_recording(only_header)


def test_records_of_unknown_kinds_and_events_are_skipped_and_counted() -> None:
    game = play(7, 20, 2)
    data, chunks = record_chunks(game)
    at = chunks[5][0]
    unknown = msgpack.packb([-9, "from a newer netsnake"]) + msgpack.packb([-1, b"\x91\x63"])
    recording = Recording(data[:at] + unknown + data[at:])
    assert recording.skipped == 2
    assert recording.frame_count == len(game.frames)
    assert snapshot_hash(recording.frame(19)) == snapshot_hash(game.frames[19])


def test_area_records_hold_from_their_frame_on_and_bad_ones_are_skipped() -> None:
    game = play(7, 20, 2)
    first = game.frames[0]
    config = WorldConfig(width=first.width, height=first.height, wrap=first.wrap)
    writer = RecordingWriter(header(config, 20, "client", 10.0))
    for i, frame in enumerate(game.frames):
        if i == 0:
            writer.add_area((1, (36, 28)))
        if i == 8:
            writer.add_area((None, (64, 48)))  # a spectator following the leader
        writer.add_frame(frame)
    data = writer.take()
    bad = b"".join(
        msgpack.packb(r) for r in ([-3, 1, 0, 28], [-3, "x", 1, 1], [-3, 1, 2], [-3, 300, 8, 8])
    )
    recording = Recording(data + bad)
    assert recording.skipped == 4
    assert [recording.area(i) for i in (0, 7, 8, 19)] == [
        (1, (36, 28)),
        (1, (36, 28)),
        (None, (64, 48)),
        (None, (64, 48)),
    ]
    assert Recording(record(game)).area(5) is None  # a server recording holds the world


def test_scores_and_overview_records_hold_from_their_frame_on_and_bad_ones_are_skipped() -> None:
    from netsnake.game.messages import Scores, encode_message
    from netsnake.game.scoreboard import ScoreLine
    from netsnake.server.game import world_overview, world_scores

    game = play(7, 20, 2)
    first = game.frames[0]
    config = WorldConfig(width=first.width, height=first.height, wrap=first.wrap)
    writer = RecordingWriter(header(config, 20, "client", 10.0))
    lines = [ScoreLine(9, "far away", 4, 12, 15, 1), ScoreLine(3, "Kaa", 2, 0, 0, 0)]
    overview = world_overview(game.frames[5])
    for i, frame in enumerate(game.frames):
        if i == 5:
            writer.add_scores(frame.tick, lines)
            writer.add_overview(overview)
        if i == 12:
            writer.add_scores(frame.tick, [])  # the area grew to the whole board
        writer.add_frame(frame)
    data = writer.take()
    assert len(game.frames[3].players) == 2
    scores = encode_message(world_scores(game.frames[3], True))
    other_board = world_overview(play(7, 2, 2, config=WorldConfig(width=64, height=48)).frames[1])
    bad = [
        [-4, b"\x00", []],  # not a message
        [-4, scores, ["one"]],  # a name short
        [-4, scores, ["ok", "bad\x1b[2J"]],  # a name that is not a name
        [-4, scores, ["ok", 7]],
        [-4, encode_message(Scores(tick=1, complete=True, entries=())), [], "more"],
        [-4, encode_message(Scores(tick=1, complete=False, entries=())), []],  # not complete
        [-4, encode_message(PlayerJoined(player_id=1, name="p1")), []],  # not SCORES
        [-5, "x"],
        [-5, encode_message(other_board)],  # a grid of another board
    ]
    recording = Recording(data + b"".join(msgpack.packb(r) for r in bad))
    assert recording.skipped == len(bad)
    assert recording.scores(4) == () and recording.overview(4) is None
    assert recording.scores(5) == tuple(sorted(lines, key=lambda s: s.id))
    assert recording.scores(11) == recording.scores(5)
    assert recording.overview(11) == overview == recording.overview(19)
    assert recording.scores(12) == () == recording.scores(19)
    server = Recording(record(game))  # a server recording: every player is in its frames
    assert server.scores(5) == () and server.overview(5) is None
