"""Playing recordings back, and recording real games.

First the playback model on a hand-stepped clock (speeds, pause, seeks,
following, events); then a real ``netsnake-server --record`` killed with
SIGKILL, whose file must play up to its last flushed second and agree,
tick for tick, with what a real client received and recorded itself.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest
from helpers_proc import ServerProcess, run_server_cli
from test_recording import play, record

from netsnake.client.recorder import ClientRecorder
from netsnake.client.replay import SEEK_SECONDS, SPEEDS, ReplayPlayer
from netsnake.client.session import ClientSession
from netsnake.client.state import ConnectionState
from netsnake.game.events import GameEvent
from netsnake.game.recording import Recording
from netsnake.game.snapshot import ranked, snapshot_hash
from netsnake.recording_file import load_recording


def recorded_game(ticks: int = 600, seed: int = 11) -> tuple[Recording, dict[int, int]]:
    game = play(seed, ticks, 4)
    return Recording(record(game)), {s.tick: snapshot_hash(s) for s in game.frames}


# -- the playback model


def test_playback_runs_at_the_tick_rate_times_the_speed() -> None:
    recording, hashes = recorded_game()
    player = ReplayPlayer(recording, now=100.0)
    assert player.duration == pytest.approx(59.9)
    player.advance(101.0)
    assert player.position == pytest.approx(11.0)  # first tick 1, 10 Hz
    player.faster()
    player.advance(102.0)
    assert player.speed == 2.0 and player.elapsed == pytest.approx(3.0)
    for _ in range(10):
        player.faster()
    assert player.speed == SPEEDS[-1] == 8.0
    for _ in range(10):
        player.slower()
    assert player.speed == SPEEDS[0] == 0.25
    player.advance(106.0)
    assert player.elapsed == pytest.approx(4.0)
    frame = player.frame()
    assert snapshot_hash(frame.prev) == hashes[frame.prev.tick]


def test_frames_interpolate_between_consecutive_recorded_ticks() -> None:
    recording, hashes = recorded_game(100)
    player = ReplayPlayer(recording, now=0.0)
    player.advance(0.25)
    frame = player.frame()
    assert (frame.prev.tick, frame.next.tick) == (3, 4)
    assert frame.alpha == pytest.approx(0.5)
    assert snapshot_hash(frame.next) == hashes[4]


def test_pause_holds_and_space_at_the_end_plays_again() -> None:
    recording, _ = recorded_game(100)
    player = ReplayPlayer(recording, now=0.0)
    player.toggle_pause(1.0)
    assert player.paused
    player.advance(50.0)
    assert player.elapsed == pytest.approx(1.0)
    player.toggle_pause(50.0)
    player.advance(60.0)
    assert player.at_end and player.position == recording.last_tick
    player.toggle_pause(61.0)  # at the end: play again from the start
    assert not player.paused and player.elapsed == 0.0
    player.advance(62.0)
    assert player.elapsed == pytest.approx(1.0)


def test_seeks_jump_ten_seconds_within_the_recording() -> None:
    recording, hashes = recorded_game()
    player = ReplayPlayer(recording, now=0.0)
    player.seek(SEEK_SECONDS, 0.0)
    assert player.elapsed == pytest.approx(10.0)
    player.seek(SEEK_SECONDS, 0.0)
    player.seek(-SEEK_SECONDS, 0.0)
    assert player.elapsed == pytest.approx(10.0)
    for _ in range(20):
        player.seek(SEEK_SECONDS, 0.0)
    assert player.at_end
    assert snapshot_hash(player.frame().prev) == hashes[recording.last_tick]
    for _ in range(20):
        player.seek(-SEEK_SECONDS, 0.0)
    assert player.elapsed == 0.0


def test_tab_follows_each_player_in_turn_then_the_leader_again() -> None:
    recording, _ = recorded_game(50)
    player = ReplayPlayer(recording, now=0.0)
    players = player.frame().prev.players
    ids = [p.id for p in players]
    # At first, and after the last player, the camera follows the leader.
    assert player.following is None and player.follows_leader
    living = [p for p in ranked(players) if p.alive]
    assert player.followed is not None and player.followed.id == living[0].id
    seen = []
    for _ in range(len(ids) + 1):
        player.follow_next()
        seen.append(player.following)
    assert seen == [*ids, None]
    player.follow_next()
    assert player.followed is not None and player.followed.id == ids[0]
    assert not player.follows_leader


def test_events_come_out_as_playback_passes_their_frames_but_not_across_seeks() -> None:
    game = play(12, 600, 5)
    recording = Recording(record(game))
    player = ReplayPlayer(recording, now=0.0)
    got: list[GameEvent] = list(player.drain_events())
    for step in range(1, 201):  # 20 s, frame by frame
        player.advance(step * 0.1)
        got.extend(player.drain_events())
    assert got == [e for events in game.events[:201] for e in events]
    assert got, "the game should have had deaths or joins in 20 s"
    player.seek(30.0, 20.0)
    assert player.drain_events() == []


# -- real processes


async def _watch_and_kill(server: ServerProcess, path: Path) -> tuple[dict[int, int], int]:
    """Join as a client recording to ``path``; SIGKILL the server after a few seconds.

    Returns the hashes of every snapshot the client decoded and the newest
    tick it had when the server died.
    """
    session = await ClientSession.connect(server.host, server.port, name="watcher")
    assert await session.wait_for(ConnectionState.PLAYING, timeout=5)
    seen: dict[int, int] = {}
    session.core.snapshot_listeners.append(lambda s, now: seen.setdefault(s.tick, snapshot_hash(s)))
    recorder = ClientRecorder(path, session.core)
    loop = asyncio.get_running_loop()
    await asyncio.sleep(3.5)
    server.send_signal(signal.SIGKILL)
    newest = max(seen)
    recorder.close(loop.time())
    await session.close()
    return seen, newest


@pytest.mark.timeout(60)
def test_a_server_killed_with_sigkill_leaves_a_recording_to_its_last_second(
    tmp_path: Path,
) -> None:
    record_dir = tmp_path / "games"
    client_file = tmp_path / "client.nsrec"
    with ServerProcess(
        "--bots", "6", "--seed", "21", "--record", str(record_dir), "--tick-rate", "20"
    ) as server:
        server.wait_for_line("recording the game to", timeout=5)
        seen, newest = asyncio.run(asyncio.wait_for(_watch_and_kill(server, client_file), 30))
        server.wait(timeout=5)
    files = list(record_dir.glob("netsnake-*.nsrec"))
    assert len(files) == 1, files
    recording = load_recording(files[0])
    assert recording.header.source == "server" and recording.header.tick_rate == 20.0
    # Flushed at least once a second: at most 20 ticks (plus a little scheduling slack)
    # of what the client had seen are missing from the file.
    print(f"client saw tick {newest}, the file ends at {recording.last_tick}")
    assert recording.last_tick >= newest - 20 - 4
    # The file plays to its end, every tick, and it is the game the client saw.
    ticks = list(recording.ticks)
    assert ticks == list(range(ticks[0], ticks[-1] + 1)), "a server recording has every tick"
    compared = 0
    for i, tick in enumerate(ticks):
        frame = recording.frame(i)
        if tick in seen:
            assert snapshot_hash(frame) == seen[tick], tick
            compared += 1
    assert compared >= 40
    # The client's own recording: every snapshot it decoded, the same worlds.
    mine = load_recording(client_file)
    assert mine.header.source == "client"
    assert set(mine.ticks) <= set(seen) and len(mine.ticks) >= len(seen) - 2
    for i, tick in enumerate(mine.ticks):
        assert snapshot_hash(mine.frame(i)) == seen[tick]
    # The server's recording has the watcher's join (the watcher is not told of its own).
    assert any(
        getattr(e, "name", None) == "watcher"
        for i in range(recording.frame_count)
        for e in recording.events(i)
    )


def test_server_record_directory_that_cannot_be_made_is_one_error_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run_server_cli("--record", str(blocker / "sub"))
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("netsnake-server: error: cannot create --record directory")
    )
    assert "Traceback" not in result.stderr


def test_client_record_and_replay_arguments_are_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from netsnake.client.cli import main

    def one_error_line() -> str:
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1, lines
        assert lines[0].startswith("netsnake-client: error: ")
        return lines[0]

    with pytest.raises(SystemExit) as exited:
        main(["example.org", "--replay", "game.nsrec"])
    assert exited.value.code == 2
    assert "give no HOST" in one_error_line()
    with pytest.raises(SystemExit):
        main(["--record", str(tmp_path / "no" / "such" / "dir.nsrec")])
    assert "cannot write --record file: No such file or directory" in one_error_line()
    missing = tmp_path / "missing.nsrec"
    assert main(["--replay", str(missing)]) == 1
    assert one_error_line() == (
        f"netsnake-client: error: {missing}: cannot read it: No such file or directory"
    )
    cut = tmp_path / "cut.nsrec"
    cut.write_bytes(record(play(1, 20, 2))[:30])
    assert main(["--replay", str(cut)]) == 1
    assert one_error_line().endswith("not a netsnake recording (empty or cut short)")


def test_the_leader_camera_moves_only_to_a_clear_new_leader() -> None:
    """The followed leader changes on a death, or once it has trailed someone by
    score for LEADER_HOLD s of play; a tie or a lead of a few ticks does not move it."""
    from tests.leader_audit import LeaderAudit

    for seed in (11, 12, 13):
        game = play(seed, 900, 8)
        player = ReplayPlayer(Recording(record(game)), now=0.0)
        audit = LeaderAudit(10, slack=1)
        for tick in range(1, 900):
            player.advance(tick / 10)
            followed = player.followed
            audit.observe(player.frame().prev, None if followed is None else followed.id)
        assert audit.switches < audit.raw_switches, (seed, audit.switches, audit.raw_switches)


def test_a_client_recording_keeps_its_area_and_replays_around_the_recorder(
    tmp_path: Path,
) -> None:
    """A client on a big board records where its area was centred and how big it
    was; the replay follows that snake and shows no more of the board than the
    area held around it, so no snake pops in or out inside the view."""
    from dataclasses import replace

    from netsnake.client.camera import view_within
    from netsnake.game.interest import area_for, area_holds
    from netsnake.game.world import WorldConfig
    from netsnake.server.game import ServerSettings
    from netsnake.sim import GameSimulation
    from netsnake.ui.replay import ReplayApp

    settings = ServerSettings(world=WorldConfig(width=200, height=150), max_players=40, bots=30)
    sim = GameSimulation(replace(settings, seed=8), seed=8)
    client = sim.add_client("rec", steer=True)
    path = tmp_path / "rec.nsrec"
    recorder = ClientRecorder(path, client.core)
    sim.run(0.5)
    client.core.set_view_size(36, 28)  # as an 80x24 terminal states
    sim.run(12.0)
    recorder.close(sim.now)
    recording = load_recording(path)
    pid = client.core.player_id
    assert pid is not None and recording.header.source == "client"
    last = recording.area(recording.frame_count - 1)
    assert last == (pid, (36, 28))

    player = ReplayPlayer(recording, now=0.0)
    app = ReplayApp(player, clock=lambda: 0.0)
    checked = 0
    for step in range(1, 120):
        player.advance(step / 10)
        app.update(step / 10)
        app.board.render((160 - 26, 45 - 4))  # a big terminal: room for 66 x 41 cells
        snap, area = player.frame().prev, player.area
        me = snap.player(pid)
        view = app.board.viewport
        assert area is not None and view is not None
        if me is None or not me.alive or not me.body:
            continue
        assert player.followed is not None and player.followed.id == pid
        limit = view_within(area[1])
        assert view.width <= limit[0] and view.height <= limit[1]
        sent = area_for((200, 150, False), area[1], me.body[0])
        for i in range(view.columns):
            for j in range(view.height):
                assert area_holds(sent, (200, 150), (view.x + i, view.y + j))
        checked += 1
    assert checked > 50


def test_a_client_recording_replays_the_whole_scoreboard_and_minimap(tmp_path: Path) -> None:
    """On a big board a client holds the players outside its area only as SCORES
    lines, and the arena only as OVERVIEW; its recording keeps both, so at every
    frame the replay lists the players the client listed then, and has its minimap.
    Lines are written when SCORES or an event changes them (not each tick, as the
    players in the area move): there the replay's board is exactly the client's."""
    from dataclasses import replace

    from netsnake.game.scoreboard import ScoreLine
    from netsnake.game.snapshot import Snapshot
    from netsnake.game.world import WorldConfig
    from netsnake.server.game import ServerSettings
    from netsnake.sim import GameSimulation

    settings = ServerSettings(world=WorldConfig(width=200, height=150), max_players=40, bots=30)
    sim = GameSimulation(replace(settings, seed=9), seed=9)
    client = sim.add_client("rec", steer=True)
    path = tmp_path / "rec.nsrec"
    recorder = ClientRecorder(path, client.core)
    seen: dict[int, tuple[list[ScoreLine], object]] = {}

    def note(snapshot: Snapshot, now: float) -> None:  # after the recorder's listener
        seen.setdefault(snapshot.tick, (client.core.scoreboard(snapshot), client.core.overview))

    client.core.snapshot_listeners.append(note)
    sim.run(0.5)
    client.core.set_view_size(36, 28)
    sim.run(15.0)
    recorder.close(sim.now)
    recording = load_recording(path)
    player = ReplayPlayer(recording, now=0.0)
    beyond = with_overview = exact = 0
    for index in range(recording.frame_count):
        tick = recording.ticks[index]
        lines, overview = seen[tick]
        player.seek((tick - player.position) / recording.header.tick_rate, 0.0)
        assert player.frame().prev.tick == tick
        replayed = sorted(player.scoreboard(), key=lambda s: s.id)
        assert [(s.id, s.name) for s in replayed] == sorted((s.id, s.name) for s in lines), tick
        if index == 0 or recording.scores(index) != recording.scores(index - 1):
            assert replayed == sorted(lines, key=lambda s: s.id), tick
            exact += 1
        assert player.overview == overview, tick
        beyond += len(lines) > len(player.frame().prev.players)
        with_overview += overview is not None
    assert beyond > recording.frame_count // 2, beyond  # most players were outside the area
    assert with_overview > recording.frame_count // 2, with_overview
    assert exact > 5, exact  # SCORES every 2 s, and deaths
    assert recording.skipped == 0
