"""The camera (a pure model) and the widgets that use it: a big board in a small terminal.

Camera tests drive :class:`Camera` with hand-made focus points and a hand-stepped
clock; widget tests render the real board, minimap and game layout at 80×24.
"""

from __future__ import annotations

import random

import pytest
import urwid
from hypothesis import given, settings
from hypothesis import strategies as st

from netsnake.client.camera import (
    FOLLOW_STEP,
    Camera,
    Viewport,
    area_span,
    frame_focus,
    head_point,
    margin_for,
    view_within,
)
from netsnake.client.interpolation import RenderFrame
from netsnake.client.prediction import OwnSnake
from netsnake.game.bots import steer_bots
from netsnake.game.direction import Direction
from netsnake.game.direction import step as step_cell
from netsnake.game.interest import area_for, area_holds
from netsnake.game.snapshot import PlayerState, Snapshot
from netsnake.game.world import World, WorldConfig
from netsnake.server.game import MIN_MAX_VIEW
from netsnake.ui.app import build_game_view
from netsnake.ui.board import Board
from netsnake.ui.layout import MIN_GAME_SIZE, MIN_VIEW, GameLayout, view_limit
from netsnake.ui.minimap import Minimap, minimap_cells, minimap_shape
from netsnake.ui.panels import Hud, MessageLine, Scoreboard

FPS = 30.0
BIG = (200, 150, False)
ROOM = (26, 20)  # the cells an 80x24 terminal has for the board beside the scoreboard


def shown_cols(view: Viewport) -> list[int]:
    return [(view.x + i) % view.board_width for i in range(view.width)]


def shown_rows(view: Viewport) -> list[int]:
    return [(view.y + j) % view.board_height for j in range(view.height)]


def cell_text(line: str, view: Viewport, i: int) -> str:
    """The text of painted cell ``i`` on a drawn board line (one column for the half cells)."""
    start = 1 + 2 * i - view.half
    return line[max(1, start) : min(start + 2, 1 + 2 * view.width)]


def ahead_visible(view: Viewport, cell: tuple[int, int], heading: Direction) -> int:
    """How many cells straight ahead of ``cell`` the view shows (stopping at a wall)."""
    n = 0
    x, y = cell
    while True:
        x, y = x + heading.dx, y + heading.dy
        if view.wrap:
            x, y = x % view.board_width, y % view.board_height
        elif not (0 <= x < view.board_width and 0 <= y < view.board_height):
            return n + 1000  # the wall is in view: nothing further to show
        if view.to_view(x, y) is None:
            return n
        n += 1


# --------------------------------------------------------------------------- camera model


@pytest.mark.parametrize("heading", list(Direction))
def test_camera_follows_the_snake_and_keeps_the_margin_ahead(heading: Direction) -> None:
    cam = Camera()
    x, y = 100.5, 75.5
    margin = min(margin_for(ROOM[0]), margin_for(ROOM[1]))
    last: Viewport | None = None
    for frame in range(105):  # ~0.67 cell per frame: 20 ticks/s drawn at 30 fps
        x += heading.dx * 2 / 3
        y += heading.dy * 2 / 3
        view = cam.viewport(BIG, ROOM, (x, y), frame / FPS)
        cell = (int(x), int(y))
        assert view.to_view(*cell) is not None, (frame, view, cell)
        assert ahead_visible(view, cell, heading) >= margin - 1, (frame, view, cell)
        if last is not None:  # it scrolls one cell at a time, never jumps
            assert abs(view.x - last.x) <= 1 and abs(view.y - last.y) <= 1
        last = view
    assert last is not None and (last.x, last.y) != (100 - 13, 75 - 10)


def test_camera_clamps_at_the_edges_and_shows_the_walls() -> None:
    cam = Camera()
    view = cam.viewport(BIG, ROOM, (100.5, 75.5))
    assert view.walls == (False, False, False, False)
    for step in range(200):  # head for the top-left corner
        view = cam.viewport(BIG, ROOM, (max(0.5, 100.5 - step), max(0.5, 75.5 - step)))
    assert (view.x, view.y) == (0, 0)
    assert view.walls[0] and view.walls[2] and not view.walls[1] and not view.walls[3]
    for step in range(250):  # and on to the bottom-right one
        view = cam.viewport(BIG, ROOM, (min(199.5, 0.5 + step), min(149.5, 0.5 + step)))
    assert (view.x, view.y) == (200 - ROOM[0], 150 - ROOM[1])
    assert view.walls == (False, True, False, True)
    assert view.to_view(199, 149) == (ROOM[0] - 1, ROOM[1] - 1)


def test_camera_wraps_across_the_seam_of_a_wrap_board() -> None:
    cam = Camera()
    board = (200, 150, True)
    x = 180.5
    last = cam.viewport(board, ROOM, (x, 10.5))
    for frame in range(90):
        x = (x + 2 / 3) % 200
        view = cam.viewport(board, ROOM, (x, 10.5), frame / FPS)
        assert view.to_view(int(x), 10) is not None
        assert ahead_visible(view, (int(x), 10), Direction.RIGHT) >= margin_for(ROOM[0]) - 1
        moved = (view.x - last.x) % 200
        assert moved in (0, 1), (last, view)  # one cell on, also across the seam
        assert view.walls == (False, False, False, False)  # a wrap board has no walls
        last = view
    assert view.x < 60  # it crossed the seam (180 -> 0 -> ...)
    seam = Viewport(190, 140, 26, 20, 200, 150, True)  # a view across both seams
    assert seam.to_view(199, 149) == (9, 9) and seam.to_view(0, 0) == (10, 10)
    assert shown_cols(seam)[9:11] == [199, 0] and shown_rows(seam)[9:11] == [149, 0]


def test_camera_on_a_wrap_board_follows_the_short_way_round() -> None:
    cam = Camera()
    board = (200, 150, True)
    cam.viewport(board, ROOM, (198.5, 75.5))
    view = cam.viewport(board, ROOM, (199.5, 75.5))
    view = cam.viewport(board, ROOM, (0.5, 75.5))  # one step across the seam, not 199 back
    assert view.to_view(0, 75) is not None and view.to_view(199, 75) is not None


def test_resizing_changes_the_viewport_at_once() -> None:
    cam = Camera()
    focus = (120.5, 40.5)
    view = cam.viewport(BIG, ROOM, focus, 0.0)
    assert (view.width, view.height) == ROOM
    small = cam.viewport(BIG, (10, 8), focus, 1 / FPS)
    assert (small.width, small.height) == (10, 8)
    rel = (120 - small.x, 40 - small.y)
    assert margin_for(10) - 1 <= rel[0] <= 10 - margin_for(10)
    assert margin_for(8) - 1 <= rel[1] <= 8 - margin_for(8)
    huge = cam.viewport(BIG, (300, 40), focus, 2 / FPS)  # wider than the board: all of it
    assert (huge.x, huge.width) == (0, 200) and huge.height == 40
    assert huge.walls[0] and huge.walls[1]
    whole = cam.viewport(BIG, (255, 255), focus, 3 / FPS)
    assert whole.whole and (whole.x, whole.y) == (0, 0)


def test_the_sub_cell_glide_drives_the_scroll_one_cell_at_a_time() -> None:
    cam = Camera()
    x = 100.5
    view = cam.viewport(BIG, ROOM, (x, 75.5), 0.0)
    scrolls = []
    for frame in range(1, 200):
        x += 0.1  # a slow glide: ten frames per cell
        new = cam.viewport(BIG, ROOM, (x, 75.5), frame / FPS)
        step = (2 * new.x + new.half) - (2 * view.x + view.half)
        assert step in (0, 1)  # one column at a time
        if step:
            scrolls.append(x)
        view = new
    # It scrolled twice per cell the head glides (half a cell each), at the same
    # two fractions of every cell: half-way through the glide and at its end.
    assert len(scrolls) >= 20
    phases = {round((s - 0.5) % 1.0, 1) % 1.0 for s in scrolls}
    assert len(phases) == 2 and abs(max(phases) - min(phases) - 0.5) < 0.11, scrolls


def test_frame_focus_is_the_drawn_head_with_its_glide() -> None:
    a = _player(((10, 5), (9, 5), (8, 5)))
    b = _player(((11, 5), (10, 5), (9, 5)))
    prev, nxt = _snap(1, (a,)), _snap(2, (b,))
    frame = RenderFrame(prev, nxt, 0.25, 1.25)
    assert frame_focus(frame, 1, whole_cells=False) == pytest.approx((10.75, 5.5))
    assert frame_focus(frame, 1, whole_cells=True) == (10.5, 5.5)
    late = RenderFrame(prev, nxt, 0.75, 1.75)
    assert frame_focus(late, 1, whole_cells=True) == (11.5, 5.5)
    assert frame_focus(frame, 2, whole_cells=False) is None
    assert frame_focus(frame, None, whole_cells=False) is None
    dead = _player((), alive=False)
    assert head_point(dead, None, 0.0, prev) is None
    # A wrap step glides across the seam (the camera measures the short way round).
    w = _player(((31, 5),))
    w2 = _player(((0, 5),))
    wrapped = Snapshot(tick=1, width=32, height=16, wrap=True, players=(w,), food=())
    assert head_point(w, w2, 0.5, wrapped) == pytest.approx((32.0, 5.5))


def test_the_focus_of_the_own_predicted_snake_is_its_predicted_head() -> None:
    a = _player(((10, 5), (9, 5), (8, 5)))
    b = _player(((11, 5), (10, 5), (9, 5)))
    ahead = _player(((14, 5), (13, 5), (12, 5)))
    ahead_next = _player(((14, 6), (14, 5), (13, 5)))
    prev, nxt = _snap(1, (a,)), _snap(2, (b,))
    own = OwnSnake(tick=4, state=ahead, next_state=ahead_next, progress=0.25)
    frame = RenderFrame(prev, nxt, 0.5, 1.5, own=own)
    # The board draws the own snake from the prediction, so the camera follows that.
    assert frame_focus(frame, 1, whole_cells=False) == pytest.approx((14.5, 5.75))
    assert frame_focus(frame, 1, whole_cells=True) == (14.5, 5.5)
    dead = OwnSnake(tick=4, state=_player((), alive=False), next_state=b, progress=0.5)
    assert frame_focus(RenderFrame(prev, nxt, 0.5, 1.5, own=dead), 1, whole_cells=False) is None
    # Another player (a spectator's choice) is interpolated as before.
    other = _player(((50, 50), (49, 50)), 2)
    frame2 = RenderFrame(_snap(1, (a, other)), _snap(2, (b, other)), 0.5, 1.5, own=own)
    assert frame_focus(frame2, 2, whole_cells=False) == (50.5, 50.5)


def test_a_respawn_far_away_pans_there_promptly_without_teleporting() -> None:
    cam = Camera()
    t = 0.0
    view = cam.viewport(BIG, ROOM, (20.5, 20.5), t)
    target = (180.5, 130.5)
    moves, xs, ys = [], [view.x], [view.y]
    for _ in range(int(0.6 * FPS)):
        t += 1 / FPS
        new = cam.viewport(BIG, ROOM, target, t)
        moves.append(max(abs(new.x - view.x), abs(new.y - view.y)))
        xs.append(new.x)
        ys.append(new.y)
        view = new
    assert view.to_view(180, 130) is not None  # on screen within 0.6 s
    assert moves[0] < max(xs[-1] - xs[0], ys[-1] - ys[0]) / 2, moves  # not all at once
    assert xs == sorted(xs) and ys == sorted(ys)  # straight there: no overshoot, no way back
    assert moves[-1] == 0  # and settled
    # Without a clock (or on a resize) it moves at once.
    at_once = Camera()
    at_once.viewport(BIG, ROOM, (20.5, 20.5))
    assert at_once.viewport(BIG, ROOM, target).to_view(180, 130) is not None


def test_no_focus_keeps_the_camera_still_and_a_new_board_starts_over() -> None:
    cam = Camera()
    view = cam.viewport(BIG, ROOM, (60.5, 60.5), 0.0)
    assert cam.viewport(BIG, ROOM, None, 1.0) == view
    other = cam.viewport((100, 100, False), ROOM, (90.5, 90.5), 2.0)
    assert other.to_view(90, 90) is not None  # no pan from the old board's position
    assert FOLLOW_STEP < 2


def test_the_smallest_view_cap_a_server_takes_covers_the_smallest_view() -> None:
    assert area_span(MIN_VIEW, MIN_VIEW) == (MIN_MAX_VIEW, MIN_MAX_VIEW)
    assert view_within((MIN_MAX_VIEW, MIN_MAX_VIEW)) == (MIN_VIEW, MIN_VIEW)


def test_view_within_is_the_largest_view_whose_stated_span_fits_the_cap() -> None:
    for cap in range(1, 1025):
        cols, rows = view_within((cap, 1024))
        assert rows == view_within((1024, 1024))[1]
        if cols > 1:
            assert area_span(cols, 1)[0] <= cap
        assert area_span(cols + 1, 1)[0] > cap, cap


@settings(max_examples=80, deadline=None)
@given(
    board=st.tuples(st.integers(8, 300), st.integers(8, 300), st.booleans()),
    cap=st.tuples(st.integers(MIN_MAX_VIEW, 160), st.integers(MIN_MAX_VIEW, 160)),
    seed=st.integers(0, 2**16),
)
def test_a_view_within_the_limit_shows_only_cells_of_the_area_sent(
    board: tuple[int, int, bool], cap: tuple[int, int], seed: int
) -> None:
    """The camera follows a wandering head in the room ``view_limit`` gives; every cell
    it paints is in the area the server sends for the view the client states, capped
    by the server (both centred on the same head)."""
    width, height, wrap = board
    rng = random.Random(seed)
    room = view_limit(cap, (width, height))
    camera = Camera()
    head, heading = (rng.randrange(width), rng.randrange(height)), Direction.RIGHT
    for _ in range(150):
        if rng.random() < 0.2:
            heading = rng.choice(list(Direction))
        nxt = step_cell(head, heading, width, height, wrap)
        if nxt is None:  # a wall: turn round and go on
            heading = heading.opposite
            nxt = step_cell(head, heading, width, height, wrap)
            assert nxt is not None
        head = nxt
        if room[0] >= width and room[1] >= height:  # as Board: the whole board, no camera
            view = Viewport(0, 0, width, height, width, height, False)
        else:
            view = camera.viewport(board, room, (head[0] + 0.5, head[1] + 0.5))
        stated = area_span(view.width, view.height)
        sent = (min(stated[0], cap[0]), min(stated[1], cap[1]))
        area = area_for(board, sent, head)
        for i in range(view.columns):
            for j in range(view.height):
                cell = ((view.x + i) % width, (view.y + j) % height)
                assert area_holds(area, (width, height), cell), (view, head, cell)


def test_the_limit_shows_an_axis_whole_where_the_area_always_covers_it() -> None:
    # 20 columns and 10 rows are covered whole by the area for a 32 x 12 cap; 24 rows
    # are not, and the view keeps to view_within there.
    assert view_limit((32, 12), (20, 10)) == (20, 10)
    assert view_limit((32, 12), (20, 24)) == (20, view_within((32, 12))[1])
    assert view_limit((12, 12), (1024, 1024)) == (MIN_VIEW, MIN_VIEW)


# --------------------------------------------------------------------------- widgets


def _player(
    body: tuple[tuple[int, int], ...], pid: int = 1, *, alive: bool = True, score: int = 0
) -> PlayerState:
    return PlayerState(
        id=pid,
        name=f"p{pid}",
        colour=pid,
        alive=alive,
        direction=Direction.RIGHT,
        body=body,
        score=score,
        best=score,
        kills=0,
        respawn_ticks=0 if alive else 5,
    )


def _snap(
    tick: int, players: tuple[PlayerState, ...], food: tuple[tuple[int, int], ...] = ()
) -> Snapshot:
    return Snapshot(tick=tick, width=200, height=150, wrap=False, players=players, food=food)


def _game(width: int, height: int, *, wrap: bool = False, seed: int = 3) -> World:
    world = World(WorldConfig(width=width, height=height, wrap=wrap), seed)
    for pid in range(1, 9):
        world.add_player(pid, f"bot{pid}", pid)
    rng = random.Random(seed)
    for _ in range(40):
        steer_bots(world, rng)
        world.step()
    return world


def _screen(
    snapshot: Snapshot, size: tuple[int, int] = (80, 24), *, ascii_mode: bool = False
) -> tuple[GameLayout, Board, list[str]]:
    board = Board(ascii_mode=ascii_mode)
    scoreboard = Scoreboard(ascii_mode=ascii_mode)
    view, _min = build_game_view(
        board, scoreboard, Hud(), MessageLine(), (snapshot.width, snapshot.height)
    )
    board.set_snapshot(snapshot, my_id=1)
    scoreboard.update(snapshot.players, 1)
    view.minimap.update(snapshot, 1)
    canvas = view.render(size)
    assert (canvas.cols(), canvas.rows()) == size
    return view, board, [line.decode("utf-8") for line in canvas.text]


def test_a_200x150_board_plays_in_80x24_around_the_own_snake() -> None:
    snapshot = _game(200, 150).snapshot()
    me = snapshot.player(1)
    assert me is not None and me.alive
    layout, board, lines = _screen(snapshot)
    assert MIN_GAME_SIZE <= (80, 24)
    view = board.viewport
    assert view is not None and (view.width, view.height) == ROOM
    at = view.to_view(*me.body[0])
    assert at is not None
    head_glyphs = {"▲", "▶", "▼", "◀"}
    row = lines[1 + at[1]]
    assert set(cell_text(row, view, at[0])) & head_glyphs, row
    # The screen cuts the board off on every side: faint dashed edges, no walls.
    assert lines[0].startswith("·╌╌") and lines[21].startswith("·╌╌")
    assert lines[5][0] == "╎" and lines[5][53] == "╎"
    # The minimap sits under the scoreboard: a framed map with '@' for us.
    assert layout.minimap_shown
    map_top = next(i for i, line in enumerate(lines) if "┌" in line[54:])
    assert any("@" in line[54:] for line in lines[map_top:22])
    assert "Make the terminal" not in "".join(lines)


def test_the_walls_come_into_view_at_the_board_corner() -> None:
    me = _player(((2, 3), (1, 3), (0, 3)))
    _layout, board, lines = _screen(_snap(1, (me,)))
    assert board.viewport is not None and (board.viewport.x, board.viewport.y) == (0, 0)
    assert lines[0].startswith("┌──") and lines[0][53] == "─"  # the top wall runs on
    assert lines[4][0] == "│" and lines[4][53] == "╎"
    assert lines[21].startswith("│") and "╌" in lines[21]


def test_ascii_mode_with_a_big_board_is_pure_ascii() -> None:
    snapshot = _game(200, 150).snapshot()
    _layout, _board, lines = _screen(snapshot, ascii_mode=True)
    assert all(line.isascii() for line in lines), lines
    assert any("@" in line[54:] for line in lines)
    assert lines[0].startswith("....")


def test_the_minimap_toggles_and_only_shows_for_boards_bigger_than_the_screen() -> None:
    snapshot = _game(200, 150).snapshot()
    layout, _board, lines = _screen(snapshot)
    assert layout.minimap_shown
    layout.minimap_enabled = False
    text = [line.decode() for line in layout.render((80, 24)).text]
    assert not layout.minimap_shown and not any("┌" in line[54:] for line in text)
    small = _game(26, 20).snapshot()
    layout, _board, lines = _screen(small)
    assert not layout.minimap_shown  # the default board fits 80x24 whole
    assert lines[0].startswith("┌") and lines[0][53] == "┐"


@pytest.mark.parametrize(
    "board",
    [(8, 8), (26, 20), (27, 20), (26, 21), (64, 48), (200, 150), (255, 255), (255, 8), (8, 255)],
)
def test_every_board_size_is_playable_in_80x24(board: tuple[int, int]) -> None:
    world = _game(*board, seed=board[0] + board[1])
    snapshot = world.snapshot()
    _layout, view_board, lines = _screen(snapshot)
    view = view_board.viewport
    assert view is not None
    me = snapshot.player(1)
    assert me is not None
    if me.alive:
        assert view.to_view(*me.body[0]) is not None
    assert view.width == min(board[0], ROOM[0]) and view.height == min(board[1], ROOM[1])
    assert all(len(line) == 80 for line in lines)


def test_a_terminal_resize_renders_the_new_viewport_at_once() -> None:
    snapshot = _game(200, 150).snapshot()
    layout, board, _lines = _screen(snapshot)
    me = snapshot.player(1)
    assert me is not None
    for size in ((120, 40), (44, 12), (80, 24), (200, 60)):
        canvas = layout.render(size)
        assert (canvas.cols(), canvas.rows()) == size
        view = board.viewport
        assert view is not None and view.to_view(*me.body[0]) is not None
        room = (min(200, (size[0] - 26 - 2) // 2), min(150, size[1] - 4))
        assert (view.width, view.height) == room, (size, view)


def test_minimap_marks_me_the_leaders_the_food_and_the_viewport() -> None:
    me = _player(((150, 100), (149, 100)), 1, score=1)
    leader = _player(((10, 10), (9, 10)), 2, score=9)
    second = _player(((190, 140), (189, 140)), 3, score=5)
    food = ((12, 12), (13, 12), (14, 13), (100, 70))
    snapshot = _snap(1, (me, leader, second), food)
    cols, rows = minimap_shape((200, 150), 23)
    assert (cols, rows) == (21, 8)
    view = Viewport(140, 90, 26, 20, 200, 150, False)
    cells = minimap_cells(snapshot, 1, view, cols, rows)
    marks = {(i, j): c.mark for j, line in enumerate(cells) for i, c in enumerate(line) if c.mark}
    assert marks == {(15, 5): "@", (1, 0): "1", (19, 7): "2"}
    assert cells[0][1].mark == "1" and cells[0][1].food == 3  # three food under the leader
    assert cells[3][10].food == 1
    seen = {(i, j) for j, line in enumerate(cells) for i, c in enumerate(line) if c.in_view}
    assert (15, 5) in seen and (0, 0) not in seen and len(seen) < cols * rows // 4
    widget = Minimap()
    widget.update(snapshot, 1, view)
    text = [line.decode() for line in widget.render((25, 10)).text]
    assert text[0] == "┌" + "─" * 21 + "┐  " and "@" in text[6] and "1" in text[1]
    assert isinstance(widget.render((2, 2)), urwid.Canvas)  # no room: blank, no error


def test_minimap_shape_keeps_the_board_shape_within_its_box() -> None:
    assert minimap_shape((8, 8), 23) == (16, 8)
    assert minimap_shape((26, 20), 23) == (21, 8)
    cols, rows = minimap_shape((255, 8), 23)
    assert cols == 23 and rows == 1
    cols, rows = minimap_shape((8, 255), 23)
    assert rows == 8 and 1 <= cols <= 2


def test_a_spectator_camera_follows_the_chosen_player_and_pans_to_the_next() -> None:
    near = _player(((20, 20), (19, 20)), 2)
    far = _player(((170, 120), (169, 120)), 3)
    snapshot = _snap(1, (near, far))
    board = Board()
    still = RenderFrame(snapshot, snapshot, 0.0, 1.0)
    board.set_frame(still, my_id=2, now=0.0)  # watching player 2 (the app passes core.view_id)
    board.render((54, 22))
    assert board.viewport is not None and board.viewport.to_view(20, 20) is not None
    assert board.viewport.to_view(170, 120) is None
    now = 0.0
    views = []
    for _ in range(int(0.6 * FPS)):  # Tab: now following player 3
        now += 1 / FPS
        board.set_frame(still, my_id=3, now=now)
        board.render((54, 22))
        assert board.viewport is not None
        views.append(board.viewport)
    assert views[0].to_view(170, 120) is None  # a pan, not a cut
    assert views[-1].to_view(170, 120) is not None


def test_a_wrap_board_is_drawn_across_the_seam_without_walls() -> None:
    # Heading right across the seam: head at x=1, body back over 0 and 199, 198.
    me = _player(((1, 75), (0, 75), (199, 75), (198, 75)))
    snapshot = Snapshot(tick=1, width=200, height=150, wrap=True, players=(me,), food=((197, 75),))
    board = Board()
    board.set_snapshot(snapshot, my_id=1)
    lines = [line.decode() for line in board.render((54, 22)).text]
    view = board.viewport
    assert view is not None and view.wrap
    row = lines[1 + 75 - view.y]
    at = {(view.x + i) % 200: cell_text(row, view, i) for i in range(view.columns)}
    assert at[1] == " ▶" and at[0] == at[199] == at[198] == "██" and at[197] == "▐▌"
    assert lines[0].startswith("·╌") and row[0] == "╎" and row[53] == "╎"


def test_the_board_scrolls_with_the_drawn_glide_between_ticks() -> None:
    def at(tick: int) -> Snapshot:
        x = 100 + tick
        return _snap(tick, (_player(((x, 75), (x - 1, 75), (x - 2, 75))),))

    board = Board()
    last: Viewport | None = None
    scrolled_mid_tick = False
    for tick in range(40):
        prev, nxt = at(tick), at(tick + 1)
        for k in range(3):  # 30 fps over a 10 Hz world: alpha 0, 1/3, 2/3
            alpha = k / 3
            frame = RenderFrame(prev, nxt, alpha, tick + alpha)
            board.set_frame(frame, my_id=1, now=(3 * tick + k) / FPS)
            board.render((54, 22))
            view = board.viewport
            assert view is not None and view.to_view(100 + tick, 75) is not None
            if last is not None:  # one column (half a cell) at most per frame
                assert (2 * view.x + view.half) - (2 * last.x + last.half) in (0, 1)
                scrolled_mid_tick |= (view.x, view.half) != (last.x, last.half) and k != 0
            last = view
    assert last is not None and last.x > 100 - ROOM[0]
    assert scrolled_mid_tick  # the glide, not the whole-cell tick, drives the scroll
    # ASCII draws whole cells at whole positions: it scrolls by whole cells.
    ascii_board = Board(ascii_mode=True)
    ascii_board.set_snapshot(at(5), my_id=1)
    ascii_board.render((54, 22))
    assert ascii_board.viewport is not None and not ascii_board.viewport.half


def test_a_view_half_a_cell_in_paints_one_more_cell_and_shows_no_side_wall() -> None:
    half = Viewport(0, 0, 26, 20, 200, 150, False, half=True)
    assert half.columns == 27 and half.to_view(26, 0) == (26, 0) and half.to_view(27, 0) is None
    assert half.walls == (False, False, True, False)
    assert Viewport(0, 0, 26, 20, 200, 150, False).walls == (True, False, True, False)
    # Clamped at either wall, the camera never stops half a cell in.
    cam = Camera()
    for x in (0.5, 0.7, 1.2, 199.5, 198.9, 198.2):
        view = cam.viewport(BIG, ROOM, (x, 75.5))
        assert not view.half and (view.walls[0] or view.walls[1]), (x, view)


def test_the_minimap_and_the_net_graph_share_the_side_panel_in_80x24() -> None:
    from netsnake.ui.netgraph import NETGRAPH_ROWS, NetGraph

    snapshot = _game(200, 150).snapshot()
    board, scoreboard = Board(), Scoreboard()
    view, min_size = build_game_view(
        board, scoreboard, Hud(), MessageLine(), (200, 150), NetGraph()
    )
    assert min_size <= (80, 24)
    board.set_snapshot(snapshot, my_id=1)
    scoreboard.update(snapshot.players, 1)
    view.minimap.update(snapshot, 1)
    lines = [line.decode() for line in view.render((80, 24)).text]
    assert view.minimap_shown
    side = [line[55:] for line in lines[:22]]
    top = next(i for i, line in enumerate(side) if line.startswith("┌"))
    bottom = next(i for i, line in enumerate(side) if line.startswith("└"))
    assert top >= 4 and bottom < 22 - NETGRAPH_ROWS  # scoreboard above, net graph below
    assert "@" in "".join(side[top:bottom])
    # Too short for all three: the minimap gives way, the net graph stays.
    view.render((80, 17))
    assert not view.minimap_shown
