"""The replay screen on a scripted urwid screen: layout, keys, a big board seen
through the game's camera, and a recording that turns out damaged in the middle
of playing it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import msgpack
from test_recording import play, record_chunks
from test_ui_widgets import RecordingScreen, _keys, _text

from netsnake.client.camera import Viewport
from netsnake.client.replay import ReplayPlayer
from netsnake.game.recording import Recording
from netsnake.game.snapshot_codec import encode_full
from netsnake.game.world import WorldConfig
from netsnake.ui.layout import MIN_GAME_SIZE
from netsnake.ui.panels import SCOREBOARD_WIDTH
from netsnake.ui.replay import ReplayApp, format_progress

Script = Callable[[ReplayApp, RecordingScreen], Awaitable[None]]


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


def record_game_on_big_board() -> bytes:
    """Six bots on a 120×80 board (268×84 columns and rows to show it whole)."""
    config = WorldConfig(width=120, height=80)
    # Seed 6: p0 starts far from the top-left corner (the boards' food changed in game version 4).
    return record_chunks(play(6, 300, 6, config=config), keyframe_interval=100)[0]


def _side(text: str) -> list[str]:
    """The side panel of an 80-column screen: right of the 54-column board and the divider."""
    return [line[80 - SCOREBOARD_WIDTH :] for line in text.splitlines()]


def _distance(a: tuple[int, int], b: tuple[int, int]) -> int:
    return abs(a[0] - b[0]) + abs(a[1] - b[1])


def _followed_head_in_view(app: ReplayApp) -> bool:
    followed = app.player.followed
    view = app.board.viewport
    assert followed is not None and followed.head is not None and view is not None
    return view.to_view(*followed.head) is not None


def test_a_big_board_replays_in_80x24_through_the_camera() -> None:
    seen: dict[str, str] = {}
    shown: dict[str, bool] = {}

    async def script(app: ReplayApp, screen: RecordingScreen) -> None:
        seen["start"] = _text(screen)
        shown["leader"] = app.player.follows_leader and _followed_head_in_view(app)
        _keys(app, "tab")
        await asyncio.sleep(0.6)  # the camera pans over to p0
        seen["follow"] = _text(screen)
        shown["head"] = _followed_head_in_view(app)
        _keys(app, "m")
        await asyncio.sleep(0.1)
        seen["no map"] = _text(screen)
        shown["no map"] = app.layout.minimap_shown
        _keys(app, "m")
        await asyncio.sleep(0.1)
        seen["map again"] = _text(screen)
        _keys(app, "q")

    code, app = asyncio.run(_run(Recording(record_game_on_big_board()), script))
    assert code == 0 and app.error is None
    assert app.min_size == MIN_GAME_SIZE
    start = seen["start"]
    assert "Make the terminal" not in start
    lines = start.splitlines()
    assert len(lines) == 24
    # The camera follows the leader from the start (not the board's top-left corner).
    assert shown["leader"] and "leader p" in start, start
    assert "space  pause" in start and "m      minimap" in start and "q      quit" in start
    assert "▶ 1×" in start and "/ 00:29" in start
    assert any(line.startswith("┌") for line in _side(start)), start  # the minimap
    follow = seen["follow"]
    assert "following p0" in follow and shown["head"]
    assert any("@" in line for line in _side(follow)), follow
    assert not shown["no map"] and not any("┌" in line for line in _side(seen["no map"]))
    assert "m      minimap" in seen["no map"]
    assert any(line.startswith("┌") for line in _side(seen["map again"]))


def _board_cols(app: ReplayApp, size: tuple[int, int]) -> tuple[int, Viewport]:
    canvas = app.top.render(size)
    assert (canvas.cols(), canvas.rows()) == size
    text = [line.decode("utf-8") for line in canvas.text]
    assert "Make the terminal" not in "\n".join(text)
    assert app.board.viewport is not None
    return len(text[0].split(" ", 1)[0]), app.board.viewport


def test_the_replay_camera_pans_to_whoever_tab_follows_and_follows_resizes() -> None:
    """Driven by hand with a fixed clock: a Tab pans across the board, frame by frame."""
    player = ReplayPlayer(Recording(record_game_on_big_board()), 0.0)
    app = ReplayApp(player, clock=lambda: 0.0)
    player.toggle_pause(0.0)  # still snakes: only the camera moves
    app.update(0.0)
    app.update(1.0)  # settled on the leader, the default
    cols, start = _board_cols(app, (80, 24))
    assert cols == 80 - SCOREBOARD_WIDTH - 1 and _followed_head_in_view(app)
    leader = player.followed
    assert leader is not None and leader.head is not None
    # Tab on to whoever is farthest from the leader.
    others = [p for p in player.frame().prev.players if p.head is not None and p.id != leader.id]
    far = max(others, key=lambda p: _distance(p.head, leader.head))
    while player.following != far.id:
        player.follow_next()
    assert not _followed_head_in_view(app)  # far from the leader, off screen
    app.update(1.01)
    _cols, first = _board_cols(app, (80, 24))
    app.update(1.02)
    _cols, second = _board_cols(app, (80, 24))
    # A pan, not a cut: the view moves a share of the way at each frame.
    assert (start.x, start.y) != (first.x, first.y) != (second.x, second.y)
    assert not _followed_head_in_view(app)
    app.update(2.0)
    _board_cols(app, (80, 24))
    assert _followed_head_in_view(app)
    assert app.layout.minimap_shown and app.layout.extra_shown
    # Resizes change the viewport at once; the key list gives way first when short.
    for size, board_cols, keys in (((120, 40), 94, True), ((44, 12), 18, False)):
        cols, view = _board_cols(app, size)
        assert cols == board_cols and view.width == (board_cols - 2) // 2
        assert app.layout.extra_shown == keys
        assert _followed_head_in_view(app)


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


def test_a_seek_forgets_what_the_message_line_said_before_it() -> None:
    seen: dict[str, list[str]] = {}

    async def script(app: ReplayApp, screen: RecordingScreen) -> None:
        clock = asyncio.get_running_loop().time
        app.messages.post("bob joined", clock())  # as the events of the first seconds are
        seen["before"] = app.messages.visible(clock())
        _keys(app, "right")
        _keys(app, "left")  # back where "bob joined" is said again, if it is
        await asyncio.sleep(0.05)
        seen["after"] = app.messages.visible(clock())
        _keys(app, "q")

    code, _app = asyncio.run(_run(Recording(record_game_on_default_board()), script))
    assert code == 0
    assert "bob joined" in seen["before"]
    assert "bob joined" not in seen["after"], seen["after"]


def test_at_8x_the_camera_keeps_up_with_the_followed_snake() -> None:
    """At 8x a snake moves about 3 cells a frame; the camera (its pans timed by
    a clock running at the playback speed) keeps the head well inside the view,
    and after a seek it starts over on the head at once.  Frames at 30 fps on
    a clock of the test's own."""
    now = 0.0
    player = ReplayPlayer(Recording(record_game_on_big_board()), now)
    app = ReplayApp(player, clock=lambda: now)
    for _ in range(3):
        player.faster()
    assert player.speed == 8.0
    gaps: list[int] = []
    last: tuple[int, tuple[int, int]] | None = None
    settle = 0  # frames left of a pan over to another snake (a new leader, a respawn)
    for step in range(1, 240):
        now = step / 30
        if step == 120:
            app._on_input("left")  # a seek: the camera starts over on the head
        app.update(now)
        app.board.render((80 - SCOREBOARD_WIDTH - 1, 24 - 4))
        followed, view = player.followed, app.board.viewport
        head = followed.head if followed is not None else None
        if followed is None or head is None or view is None:
            last = None
            continue
        if last is None or last[0] != followed.id or _distance(last[1], head) > 4:
            settle = 12  # the camera pans over: ~0.4 s
        last = (followed.id, head)
        if settle:
            settle -= 1
            continue
        at = view.to_view(*head)
        if at is None:
            gaps.append(-1)  # off screen
            continue
        left, right, top, bottom = view.walls
        sides = [
            d
            for d, wall in (
                (at[0], left),
                (view.columns - 1 - at[0], right),
                (at[1], top),
                (view.height - 1 - at[1], bottom),
            )
            if not wall
        ]
        if sides:
            gaps.append(min(sides))
    assert len(gaps) > 100 and min(gaps) >= 3, gaps
