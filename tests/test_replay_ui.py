"""The replay screen on a scripted urwid screen: layout, keys, and a recording
that turns out damaged in the middle of playing it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import msgpack
from test_recording import play, record_chunks
from test_ui_widgets import RecordingScreen

from netsnake.client.replay import ReplayPlayer
from netsnake.game.recording import Recording
from netsnake.game.snapshot_codec import encode_full
from netsnake.game.world import WorldConfig
from netsnake.ui.replay import ReplayApp, format_progress

Script = Callable[[ReplayApp, RecordingScreen], Awaitable[None]]


def _text(screen: RecordingScreen) -> str:
    return "\n".join(screen.last_text)


def _keys(app: ReplayApp, *keys: str) -> None:
    loop = app.main_loop
    assert loop is not None
    loop.process_input(list(keys))


async def _run(recording: Recording, script: Script) -> tuple[int, ReplayApp]:
    clock = asyncio.get_running_loop().time
    screen = RecordingScreen(size=(80, 24))
    app = ReplayApp(ReplayPlayer(recording, clock()), screen=screen, colors=256, clock=clock)
    task = asyncio.ensure_future(app.run())
    await asyncio.sleep(0.1)
    await script(app, screen)
    return await asyncio.wait_for(task, 5), app


def test_progress_line_format() -> None:
    line = format_progress(paused=False, speed=1.0, elapsed=83, duration=300, following=None)
    assert line == "▶ 1×   ███████░░░░░░░░░░░░░░░░░ 01:23 / 05:00"
    line = format_progress(
        paused=True, speed=0.25, elapsed=3700, duration=3700, following="Kaa", ascii_mode=True
    )
    assert line == "|| 1/4x " + "#" * 24 + " 1:01:40 / 1:01:40  following Kaa"


def test_a_default_board_replay_fits_80x24_with_its_keys() -> None:
    seen: dict[str, str] = {}

    async def script(app: ReplayApp, screen: RecordingScreen) -> None:
        seen["start"] = _text(screen)
        _keys(app, "tab", "+")
        await asyncio.sleep(0.1)
        seen["follow"] = _text(screen)
        _keys(app, "q")

    data = record_game_on_default_board()
    code, app = asyncio.run(_run(Recording(data), script))
    assert code == 0 and app.error is None
    assert app.min_size[0] <= 80 and app.min_size[1] <= 24
    start = seen["start"]
    assert "┌" + "─" * 52 + "┐" in start
    assert "space  pause" in start and "Tab    follow" in start
    assert "▶ 1×" in start and "/ 00:29" in start
    assert "recorded game on test" in start
    assert "▶ 2×" in seen["follow"] and "following p0" in seen["follow"]


def record_game_on_default_board() -> bytes:
    return record_chunks(play(3, 300, 4, config=WorldConfig()), keyframe_interval=100)[0]


def test_a_recording_damaged_further_in_ends_the_replay_with_the_reason() -> None:
    game = play(9, 300, 3)
    data, chunks = record_chunks(game, keyframe_interval=20)
    # Frame 100 (tick 101) is a keyframe: give it a check record that does not match.
    start, end = chunks[100]
    keyframe = encode_full(game.frames[100])
    assert data[start:end].endswith(keyframe)
    damaged = data[:start] + msgpack.packb([-2, 12345]) + keyframe + data[end:]
    recording = Recording(damaged)

    async def script(app: ReplayApp, screen: RecordingScreen) -> None:
        _keys(app, "right")  # +10 s: tick 101

    code, app = asyncio.run(_run(recording, script))
    assert code == 1
    assert app.error == "damaged frame at tick 101: world hash does not match"
