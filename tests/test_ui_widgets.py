"""UI widgets rendered without a terminal (urwid.testing), and the app driven end to end.

The app tests use ``FakeCore``: test-only scaffolding implementing the
``ClientView`` protocol on top of a real :class:`~netsnake.game.world.World` and a
real :class:`SnapshotBuffer`, so everything the UI draws comes from the game.
"""

from __future__ import annotations

import asyncio
import inspect
import random
import time
import types
import typing
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any

import pytest
import urwid
import urwid.testing as ut

from netsnake.client.camera import view_within
from netsnake.client.core import ClientCore
from netsnake.client.hud import HudInfo
from netsnake.client.interpolation import RenderFrame, SnapshotBuffer
from netsnake.client.netstats import NetStats
from netsnake.client.prediction import OwnSnake
from netsnake.client.state import ConnectionState
from netsnake.game.bots import steer_bots
from netsnake.game.direction import Direction
from netsnake.game.events import PlayerDied, PlayerJoined, PlayerLeft, ServerShuttingDown
from netsnake.game.interest import Area
from netsnake.game.messages import Overview, RejectionCode, Seat, Seated
from netsnake.game.snapshot import PlayerState, Snapshot
from netsnake.game.world import World, WorldConfig
from netsnake.ui.app import ClientView, GameApp, build_game_view, format_event
from netsnake.ui.board import Board
from netsnake.ui.overlays import (
    NamePrompt,
    SizeGuard,
    StatusScreen,
    TooSmall,
    help_overlay,
    help_size,
)
from netsnake.ui.palette import build_palette, detect_colors
from netsnake.ui.panels import (
    SCOREBOARD_WIDTH,
    Hud,
    MessageLine,
    Scoreboard,
    format_hud,
)
from netsnake.ui.runloop import FrameLoop
from netsnake.ui.text import attributed_row, display_width, safe_name


def player(
    pid: int,
    body: tuple[tuple[int, int], ...],
    *,
    colour: int = 0,
    direction: Direction = Direction.RIGHT,
    score: int = 0,
    name: str = "",
    alive: bool = True,
    kills: int = 0,
) -> PlayerState:
    return PlayerState(
        id=pid,
        name=name or f"p{pid}",
        colour=colour,
        alive=alive,
        direction=direction,
        body=body if alive else (),
        score=score,
        best=score,
        kills=kills,
        respawn_ticks=0 if alive else 10,
    )


def snap(
    tick: int,
    players: tuple[PlayerState, ...],
    food: tuple[tuple[int, int], ...] = (),
    width: int = 8,
    height: int = 4,
) -> Snapshot:
    return Snapshot(tick=tick, width=width, height=height, wrap=False, players=players, food=food)


def attrs_of(widget: urwid.Widget, size: tuple[()] | tuple[int, int]) -> set[object]:
    return {a for row in ut.render_runs(widget, size) for a, _ in row}


# --------------------------------------------------------------------------- board


def test_board_draws_border_snakes_food_and_own_marker() -> None:
    me = player(1, ((3, 1), (2, 1), (1, 1)), colour=2)
    other = player(2, ((5, 3), (6, 3)), colour=5, direction=Direction.LEFT)
    board = Board()
    board.set_snapshot(snap(1, (me, other), food=((6, 0),)), my_id=1)
    text = ut.render_text(board, ())
    assert text == [
        "┌────────────────┐",
        "│            ▐▌  │",
        "│  ████ ▶        │",
        "│                │",
        "│          ◀ ██  │",
        "└────────────────┘",
    ]
    attrs = attrs_of(board, ())
    assert {
        "border",
        "food",
        "snake.2.mine",
        "snake.2.mine.body",
        "snake.5",
        "snake.5.head",
    } <= attrs
    assert "snake.5.mine" not in attrs  # only the player's own snake is marked
    assert board.pack() == (18, 6)


def test_board_sub_cell_movement_uses_partial_blocks() -> None:
    # moving right: head grows from the left, tail shrinks towards the right (reverse video)
    a = player(1, ((3, 1), (2, 1), (1, 1)))
    b = player(1, ((4, 1), (3, 1), (2, 1)))
    board = Board()
    board.set_frame(RenderFrame(snap(1, (a,)), snap(2, (b,)), 0.25, 1.25))
    runs = ut.render_runs(board, ())[2]
    assert ("snake.0", "▌ ") in runs  # 4 of 16 eighths into the new cell
    assert ("snake.0.inv", "▌ ") in runs  # 12 of 16 left of the tail, drawn inverted
    # moving down: the new cell fills from the top, which needs inversion
    c = player(1, ((2, 1), (2, 0)), direction=Direction.DOWN)
    d = player(1, ((2, 2), (2, 1)), direction=Direction.DOWN)
    board.set_frame(RenderFrame(snap(1, (c,)), snap(2, (d,)), 0.5, 1.5))
    rows = ut.render_runs(board, ())
    assert ("snake.0.inv", "▄▄") in rows[3]  # the top half filled = inverse lower half
    assert ("snake.0", "▄▄") in rows[1]  # the tail keeps the half next to its body: lower
    # moving up: fills from the bottom with the glyph itself
    e = player(1, ((2, 2), (2, 3)), direction=Direction.UP)
    f = player(1, ((2, 1), (2, 2)), direction=Direction.UP)
    board.set_frame(RenderFrame(snap(1, (e,)), snap(2, (f,)), 0.5, 1.5))
    rows = ut.render_runs(board, ())
    assert ("snake.0", "▄▄") in rows[2]


def test_board_ascii_mode_is_pure_ascii_whole_cells() -> None:
    a = player(1, ((3, 1), (2, 1), (1, 1)))
    b = player(1, ((4, 1), (3, 1), (2, 1)))
    other = player(2, ((6, 3), (7, 3)), direction=Direction.LEFT, colour=1)
    board = Board(ascii_mode=True)
    board.set_frame(
        RenderFrame(
            snap(1, (a, other), food=((0, 0),)), snap(2, (b, other), food=((0, 0),)), 0.3, 1.3
        ),
        my_id=1,
    )
    text = ut.render_text(board, ())
    assert all(line.isascii() for line in text)
    assert text == [
        "+----------------+",
        "|**              |",
        "|  ####@>        |",
        "|                |",
        "|            <@oo|",
        "+----------------+",
    ]
    board.set_frame(RenderFrame(snap(1, (a,)), snap(2, (b,)), 0.7, 1.7), my_id=1)
    assert ut.render_text(board, ())[2] == "|    ####@>      |"


def test_board_draws_the_own_snake_predicted_and_the_others_now() -> None:
    # Interpolated frame: the own snake two cells back, another snake heading left.
    old_me = player(1, ((2, 1), (1, 1)))
    other = player(2, ((6, 3), (7, 3)), direction=Direction.LEFT, colour=1)
    base = snap(1, (old_me, other))
    ahead = player(1, ((4, 1), (3, 1)))
    further = player(1, ((5, 1), (4, 1)))
    own = OwnSnake(tick=3, state=ahead, next_state=further, progress=0.25)
    frame = RenderFrame(base, base, 0.0, 1.0, own=own, others_now={2: (4, 3)})
    board = Board(ascii_mode=True)
    board.set_frame(frame, my_id=1)
    text = ut.render_text(board, ())
    assert text[2] == "|      ##@>      |"  # the prediction, not the interpolated snake
    assert text[4] == "|        ::  <@oo|"  # where the other's head probably is now
    board = Board()
    board.set_frame(frame, my_id=1)
    rows = ut.render_runs(board, ())
    assert ("snake.0.mine.body", "▌ ") in rows[2]  # growing into the next predicted cell
    assert ("ghost", "··") in rows[4]
    # A dead own snake (predicted) draws nothing, not the interpolated one.
    dead = player(1, (), alive=False)
    frame = RenderFrame(base, base, 0.0, 1.0, own=OwnSnake(3, dead, dead, 0.0))
    board.set_frame(frame, my_id=1)
    assert "████" not in "".join(ut.render_text(board, ()))


def test_board_pending_direction_turns_own_head_at_once() -> None:
    me = player(1, ((3, 1), (2, 1)))
    board = Board()
    board.set_snapshot(snap(1, (me,)), my_id=1, pending_direction=Direction.UP)
    assert "▲ " in ut.render_text(board, ())[2]
    board = Board(ascii_mode=True)
    board.set_snapshot(snap(1, (me,)), my_id=1, pending_direction=Direction.DOWN)
    assert "@v" in ut.render_text(board, ())[2]


@pytest.mark.parametrize("size", [(1, 1), (5, 2), (18, 6), (40, 30), (0, 0)])
def test_board_crops_or_pads_to_any_box(size: tuple[int, int]) -> None:
    board = Board()
    board.set_snapshot(snap(1, (player(1, ((7, 3), (6, 3))),)))
    canvas = board.render(size)
    assert (canvas.cols(), canvas.rows()) == size


def test_board_reuses_unchanged_rows() -> None:
    board = Board()
    world = World(WorldConfig(width=30, height=15), 3)
    for i in range(2):
        world.add_player(i + 1, f"b{i}", i)
    board.set_snapshot(world.snapshot())
    before = board.render(())
    kept = list(board._rows)
    world.step()
    board.set_snapshot(world.snapshot())
    after = board.render(())
    reused = sum(a is b for a, b in zip(kept, board._rows, strict=True))
    changed = sum(x != y for x, y in zip(before.text, after.text, strict=True))
    assert reused == 15 - changed and 0 < changed < 15


def test_board_ignores_cells_outside_the_grid() -> None:
    bad = player(1, ((50, 50), (-1, 2), (3, 9)))
    board = Board()
    board.set_snapshot(snap(1, (bad,), food=((99, 0),)))
    assert ut.render_text(board, ())[1] == "│                │"


# --------------------------------------------------------------------------- palette


def test_colour_detection() -> None:
    assert detect_colors(256, {"TERM": "xterm", "COLORTERM": "truecolor"}) == 2**24
    assert detect_colors(16, {"TERM": "xterm-256color"}) == 256
    assert detect_colors(16, {"TERM": "xterm"}) == 16
    assert detect_colors(None, {"TERM": "dumb"}) == 1
    assert detect_colors(256, {"TERM": "xterm-256color", "NO_COLOR": "1"}) == 1
    assert detect_colors(88, {"TERM": "rxvt"}) == 16
    assert detect_colors(1, {"TERM": "vt100"}) == 1


@pytest.mark.parametrize("colors", [1, 16, 256, 2**24])
def test_palettes_resolve_and_keep_snakes_apart(colors: int) -> None:
    palette = build_palette(colors)
    names = [e[0] for e in palette]
    assert len(names) == len(set(names))
    for i in range(16):
        for role in ("", ".inv", ".head", ".mine", ".mine.body", ".mine.inv", ".name"):
            ut.resolve_attr(f"snake.{i}{role}", palette, colors=colors)
    own = ut.resolve_attr("snake.3.mine", palette, colors=colors)
    other = ut.resolve_attr("snake.3.head", palette, colors=colors)
    assert own != other
    if colors == 1:
        assert own.bold
    else:
        bodies = {
            ut.resolve_attr(f"snake.{i}", palette, colors=colors).foreground for i in range(16)
        }
        assert len(bodies) >= 15


# --------------------------------------------------------------------------- panels


def test_scoreboard_sorted_by_score_with_marker_and_truncation() -> None:
    board = Scoreboard()
    board.update(
        [
            player(1, ((0, 0),), score=3, name="alice"),
            player(2, ((0, 0), (0, 1)), score=9, name="bob the very long named snake", kills=2),
            player(3, ((0, 0),), score=5, name="日本語の名前です"),
        ],
        my_id=3,
    )
    text = ut.render_text(board, (SCOREBOARD_WIDTH,))
    assert text[0].split() == ["Player", "Score", "Len", "K"]
    assert text[1] == " bob the ve…    9   2   2"
    assert text[2] == "▶日本語の名…    5   1   0"  # wide chars cut by width
    assert text[3] == " alice          3   1   0"
    assert all(display_width(line) == SCOREBOARD_WIDTH for line in text)
    assert ("panel.mine", "▶") in ut.render_runs(board, (SCOREBOARD_WIDTH,))[2]
    assert [t.rstrip() for t in text[4:]] == ["", " 0 watching"]  # the footer, after a gap


def test_scoreboard_footer_counts_the_watchers() -> None:
    board = Scoreboard()
    board.update([player(1, ((0, 0),), name="alice")], my_id=None, watching=3)
    text = ut.render_text(board, (SCOREBOARD_WIDTH,))
    assert text[-1].rstrip() == " 3 watching" and text[-2].strip() == ""
    board.update([player(1, ((0, 0),), name="alice")], my_id=None, watching=12)
    assert ut.render_text(board, (SCOREBOARD_WIDTH,))[-1].rstrip() == " 12 watching"


def test_sixteen_players_and_the_footer_fit_beside_the_default_board() -> None:
    cfg = WorldConfig()
    board = Scoreboard()
    board.update([player(i, ((0, 0),), name=f"p{i}") for i in range(16)], None, watching=16)
    assert board.rows((SCOREBOARD_WIDTH,)) <= cfg.height + 2  # the board's rows, border included


def test_the_marked_row_is_always_on_a_scoreboard_too_short_for_everyone() -> None:
    board = Scoreboard()
    players = [player(i, ((0, 0),), score=100 - i, name=f"p{i}") for i in range(30)]
    board.update(players, my_id=25, watching=2)
    for rows in (2, 4, 9, 20):
        text = [t.rstrip() for t in ut.render_text(board, (SCOREBOARD_WIDTH, rows))]
        assert len(text) == rows
        # The leaders first, then the marked row in the last place (no room for the footer).
        assert [t.split()[0] for t in text[1:]] == [f"p{i}" for i in range(rows - 2)] + ["▶p25"]
    board.update(players, my_id=3, watching=2)  # among the leaders: in its own place
    text = ut.render_text(board, (SCOREBOARD_WIDTH, 6))
    assert [t.split()[0] for t in text[1:]] == ["p0", "p1", "p2", "▶p3", "p4"]
    board.update(players[:5], my_id=None, watching=2)  # room for all: the footer too
    text = [t.rstrip() for t in ut.render_text(board, (SCOREBOARD_WIDTH, 10))]
    assert text[6:8] == ["", " 2 watching"] and text[8:] == ["", ""]


def test_the_game_screen_shows_ones_own_row_among_thirty_players_in_80x24() -> None:
    snapshot = Snapshot(
        tick=1,
        width=200,
        height=150,
        wrap=False,
        players=tuple(
            player(i, ((i, 5),), score=100 - i, name=f"p{i}", colour=i % 8) for i in range(30)
        ),
        food=(),
    )
    board, scoreboard = Board(), Scoreboard()
    view, _min = build_game_view(board, scoreboard, Hud(), MessageLine(), (200, 150))
    board.set_snapshot(snapshot, my_id=29)
    scoreboard.update(snapshot.players, 29)
    view.minimap.update(snapshot, 29)
    lines = [line.decode() for line in view.render((80, 24)).text]
    side = [line[55:].split() for line in lines]
    assert any(row[:1] == ["▶p29"] for row in side), "\n".join(lines)
    assert view.minimap_shown


def test_hud_line() -> None:
    info = HudInfo(
        ping_ms=42.4,
        loss_pct=1.25,
        down_kbps=3.4,
        up_kbps=0.5,
        server_tick=1234,
        render_delay_ms=100,
    )
    assert format_hud(info) == "ping 42 ms  loss 1.2%  ↓3.4 ↑0.5 KB/s  tick 1234  delay 100 ms"
    hud = Hud(ascii_mode=True)
    hud.update(
        HudInfo(
            ping_ms=None, loss_pct=0, down_kbps=0, up_kbps=0, server_tick=None, render_delay_ms=0
        )
    )
    assert ut.render_text(hud, (80,), strip=True) == [
        "ping -- ms  loss 0.0%  dn0.0 up0.0 KB/s  tick --  delay 0 ms"
    ]


def test_message_line_fades_and_expires() -> None:
    line = MessageLine(ttl=4.0, fade_after=2.0)
    line.post("bob joined", 0.0)
    line.post("alice left", 1.0)
    line.update(2.5)
    runs = ut.render_runs(line, (60,))[0]
    assert ("msg", "alice left") in runs and ("msg.old", "bob joined") in runs
    line.set_sticky("you died, respawning in 3…")
    assert line.visible(4.5) == ["you died, respawning in 3…", "alice left"]
    line.set_sticky(None)
    line.update(6.0)
    assert ut.render_text(line, (60,), strip=True) == [""]


def test_a_refused_seat_switch_is_shown_and_a_granted_one_is_not() -> None:
    refused = Seated(seat=Seat.SPECTATOR, player_id=None, colour=0, refusal="server full (4)")
    assert format_event(refused, None) == "server full (4)"
    assert format_event(Seated(seat=Seat.PLAYER, player_id=1, colour=0), 1) is None


def test_event_formatting() -> None:
    assert format_event(PlayerJoined(player_id=2, name="bob"), 1) == "bob joined"
    assert format_event(PlayerLeft(player_id=2, name="bob", reason="quit"), 1) == "bob left"
    watching = PlayerLeft(player_id=2, name="bob", reason="spectating")
    assert format_event(watching, 1) == "bob is watching now"
    # A bot leaves to make room, and the seat (its id) is ours by the time it is read.
    assert format_event(PlayerLeft(player_id=1, name="Kaa", reason="making room"), 1) == "Kaa left"
    died = PlayerDied(player_id=2, name="bob", killer_id=3, killer_name="alice", cause="snake")
    assert format_event(died, 1) == "bob was eaten by alice"
    head_on = PlayerDied(player_id=1, name="me", killer_id=3, killer_name="alice", cause="head-on")
    assert format_event(head_on, 1) == "you crashed head-on into alice"
    wall = PlayerDied(player_id=2, name="bob", killer_id=None, killer_name=None, cause="wall")
    assert format_event(wall, 1) == "bob hit a wall"
    assert (
        format_event(ServerShuttingDown(reason="maintenance"), 1)
        == "server shutting down: maintenance"
    )
    evil = PlayerJoined(player_id=2, name="\x1b[2Jmallory\u202e")
    assert format_event(evil, 1) == "mallory joined"


# --------------------------------------------------------------------------- too small


SIZES = [(c, r) for c in (0, 1, 2, 3, 5, 8, 13, 20, 33, 60, 120) for r in (0, 1, 2, 3, 5, 8, 30)]


@pytest.mark.parametrize("size", SIZES)
def test_too_small_message_fits_any_size(size: tuple[int, int]) -> None:
    canvas = TooSmall((84, 24)).render(size)
    assert (canvas.cols(), canvas.rows()) == size
    # (urwid cannot read back a canvas of zero rows; drawing one is fine)
    text = list(canvas.decoded_text) if size[1] else []
    assert all(display_width(line) == size[0] for line in text)
    if size[0] >= 31 and size[1] >= 1:
        assert any("at least 84×24" in line for line in text)
    elif size[0] >= 5 and size[1] >= 1:
        assert any("84×24" in line for line in text)


@pytest.mark.parametrize("size", SIZES)
def test_every_screen_survives_every_size(size: tuple[int, int]) -> None:
    prompt = NamePrompt(lambda name: None, "bob")
    prompt.ask("bob", "name taken")
    status = StatusScreen()
    status.show("Connecting to example.org:4000…", "attempt 3")
    for body, need in ((prompt, NamePrompt.MIN_SIZE), (status, StatusScreen.MIN_SIZE)):
        guard = SizeGuard(body, need)
        canvas = guard.render(size)
        assert (canvas.cols(), canvas.rows()) == size
        if size[0] >= need[0] and size[1] >= need[1]:
            assert "at least" not in "".join(canvas.decoded_text)
        elif size[1]:
            assert len(list(canvas.decoded_text)) == size[1]


# --------------------------------------------------------------------------- safe_name


@pytest.mark.parametrize(
    ("raw", "width", "expected"),
    [
        ("alice", 10, "alice"),
        ("\x1b[31mred\x1b[0m", 10, "red"),
        ("\x1b]0;pwned\x07bob", 10, "bob"),
        ("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", 10, "link"),
        ("\x9b2Jcsi", 10, "csi"),
        ("a\x00b\x07c\x7fd\x08e", 10, "abcde"),
        ("tab\there\nnew", 20, "tab here new"),
        ("\u202eevil\u202c", 10, "evil"),
        ("\u2066iso\u2069", 10, "iso"),
        ("z\u200bw\u200cj\u200d\ufeff", 10, "zwj"),
        ("", 10, "?"),
        ("   ", 10, "?"),
        ("\x1b[0m", 10, "?"),
        ("abcdefghijkl", 5, "abcd…"),
        ("日本語日本語", 7, "日本語…"),
        ("日本語", 6, "日本語"),
        ("日本", 1, "…"),
        ("anything", 0, ""),
        ("e\u0301\u0301\u0301\u0301", 5, "e\u0301"),
        ("\u0301lead", 10, "lead"),
        ("שלום", 10, "שלום"),
    ],
)
def test_safe_name(raw: str, width: int, expected: str) -> None:
    assert safe_name(raw, width) == expected


def test_safe_name_huge_and_random_input_is_always_safe() -> None:
    huge = ("\x1b[" + "9" * 10_000) + "x" * 10_000
    assert display_width(safe_name(huge, 12)) <= 12
    rng = random.Random(5)
    for _ in range(500):
        raw = "".join(
            chr(
                rng.choice(
                    [
                        rng.randrange(0, 0x250),
                        rng.randrange(0x2000, 0x2100),
                        rng.randrange(0x3000, 0x30FF),
                        0x1B,
                        0x9B,
                    ]
                )
            )
            for _ in range(rng.randrange(0, 40))
        )
        width = rng.randrange(0, 15)
        out = safe_name(raw, width)
        assert display_width(out) <= max(0, width)
        assert not any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in out)


# --------------------------------------------------------------------------- the app


class FakeCore:
    """Test-only ClientView: a real World with bots, fed through a real SnapshotBuffer."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        name: str | None = "me",
        tick_rate: float = 20.0,
        board: tuple[int, int] = (20, 10),
    ) -> None:
        self._clock = clock
        self.state = ConnectionState.PLAYING if name else ConnectionState.CONNECTING
        self.status_reason = ""
        self.rejection_code: RejectionCode | None = None
        self.server_label = "localhost:4000"
        self.server_fingerprint: str | None = "SHA256:" + "Fp" * 21 + "x"
        self.connect_attempts = 1
        self.player_id: int | None = 1
        self.name = name
        self.renamed_from: str | None = None
        self.tick_rate = tick_rate
        self.pending_direction: Direction | None = None
        self.world = World(WorldConfig(width=board[0], height=board[1]), 4)
        for pid in range(1, 5):
            self.world.add_player(pid, "me" if pid == 1 else f"bot{pid}", pid)
        self.buffer = SnapshotBuffer(tick_rate)
        self.netstats = NetStats()
        self.start = clock()
        self.steered: list[Direction] = []
        self.names: list[str] = []
        self.quit_requested = False
        self.events: list[object] = [PlayerJoined(player_id=2, name="bot2")]
        self.rng = random.Random(1)
        self.on_submit: Callable[[FakeCore, str], None] | None = None
        self.spectators = 0
        self.followed: int | None = None  # the leader, 2
        self.seat_requests: list[Seat | None] = []
        self.max_view = (1024, 1024)  # no cap: the whole world is in every snapshot

    @property
    def view_id(self) -> int | None:
        if self.state is not ConnectionState.SPECTATING:
            return self.player_id
        return 2 if self.followed is None else self.followed

    @property
    def follows_leader(self) -> bool:
        return self.followed is None

    def switch_seat(self, seat: Seat | None = None) -> None:
        self.seat_requests.append(seat)

    def follow_next(self) -> None:
        ids = sorted(self.world.player_ids)
        self.followed = next((i for i in ids if self.followed is None or i > self.followed), None)

    def set_view_size(self, columns: int, rows: int) -> None:
        self.view_size = (columns, rows)

    @property
    def overview(self) -> Overview | None:
        return None  # the whole world is in every snapshot

    def area(self, snapshot: Snapshot | None = None) -> Area | None:
        return None

    def scoreboard(self, snapshot: Snapshot | None = None) -> Sequence[PlayerState]:
        shown = snapshot or self.latest_snapshot
        return shown.players if shown is not None else ()

    @property
    def latest_snapshot(self) -> Snapshot | None:
        return self.world.snapshot()

    def _advance(self, now: float) -> None:
        due = int((now - self.start) * self.tick_rate)
        while self.world.tick < due:
            steer_bots(self.world, self.rng, [p for p in self.world.player_ids if p != 1])
            self.world.step()
            self.pending_direction = None
            self._push(now)

    def _push(self, now: float) -> None:
        snapshot = self.world.snapshot()
        self.netstats.on_snapshot(
            snapshot.tick, now, size=64, full=False, ping_ms=12.0, render_delay_ms=100.0
        )
        self.buffer.push(snapshot, now)

    def frame(self, now: float) -> RenderFrame | None:
        self._advance(now)
        if self.buffer.latest_tick is None:
            self._push(now)
        return self.netstats.sample(self.buffer, now)

    def hud(self, now: float) -> HudInfo:
        return HudInfo(
            ping_ms=12.0,
            loss_pct=0.0,
            down_kbps=1.5,
            up_kbps=0.2,
            server_tick=self.buffer.latest_tick,
            render_delay_ms=self.buffer.render_delay * 1000,
            net=self.netstats.data(),
        )

    def drain_events(self) -> list[object]:
        events, self.events = self.events, []
        return events

    def steer(self, direction: Direction, now: float = 0.0) -> None:
        self.steered.append(direction)
        self.pending_direction = direction
        self.world.queue_turn(1, direction)

    def submit_name(self, name: str) -> None:
        self.names.append(name)
        if self.on_submit is not None:
            self.on_submit(self, name)

    def request_quit(self) -> None:
        self.quit_requested = True
        self.state = ConnectionState.CLOSED


class RecordingScreen(ut.ScriptedScreen):
    """A ScriptedScreen whose input comes from the test (``process_input``), not a script."""

    def hook_event_loop(self, event_loop: object, callback: object) -> None:
        pass  # nothing fed: the test types through MainLoop.process_input

    def unhook_event_loop(self, event_loop: object) -> None:
        pass


def _text(screen: RecordingScreen) -> str:
    return "\n".join(screen.last_text)


async def _run_app(
    core: FakeCore,
    script: Callable[[GameApp, RecordingScreen], object],
    size: tuple[int, int] = (80, 24),
    **kwargs: Any,
) -> tuple[int, str]:
    screen = RecordingScreen(size=size)
    app = GameApp(core, screen=screen, colors=256, **kwargs)
    task = asyncio.ensure_future(app.run())
    await asyncio.sleep(0.05)
    await script(app, screen)  # type: ignore[misc]
    code = await asyncio.wait_for(task, 5)
    return code, _text(screen)


def _keys(app: FrameLoop, *keys: str) -> None:
    loop = app.main_loop
    assert loop is not None
    loop.process_input(list(keys))


def _view_mismatches(core: object) -> list[str]:
    """How ``core`` fails ClientView at run time: members missing, of the wrong
    type (properties, checked on their current value) or with other parameters."""
    problems: list[str] = []
    for member, declared in vars(ClientView).items():
        if member.startswith("_"):
            continue
        if not hasattr(core, member):
            problems.append(f"{member}: missing")
        elif isinstance(declared, property):
            assert declared.fget is not None
            expected = typing.get_type_hints(declared.fget)["return"]
            if isinstance(expected, types.GenericAlias):  # tuple[int, int]: check the tuple
                expected = typing.get_origin(expected)
            value = getattr(core, member)
            if not isinstance(value, expected):
                problems.append(f"{member}: {value!r} is not {expected}")
        elif callable(declared):
            want = list(inspect.signature(declared).parameters)[1:]  # without self
            have = list(inspect.signature(getattr(core, member)).parameters)
            if have != want:
                problems.append(f"{member}: parameters {have}, not {want}")
    return problems


def test_fake_core_is_a_client_view() -> None:
    core: ClientView = FakeCore(lambda: 0.0)  # mypy checks the protocol statically, too
    assert _view_mismatches(core) == []
    assert core.state is ConnectionState.PLAYING


def test_the_real_client_core_is_a_client_view() -> None:
    core = ClientCore(("127.0.0.1", 4000), server_label="localhost:4000", name="me")
    assert _view_mismatches(core) == []


def test_the_client_view_check_can_fail() -> None:
    class Broken(FakeCore):
        def steer(self, heading: Direction) -> None:  # type: ignore[override]
            pass

    broken = Broken(lambda: 0.0)
    broken.tick_rate = "fast"  # type: ignore[assignment]
    problems = _view_mismatches(broken)
    assert [p.split(":")[0] for p in problems] == ["tick_rate", "steer"]


def test_app_plays_steers_shows_help_and_quits() -> None:
    seen: dict[str, str] = {}

    async def script(app: GameApp, screen: RecordingScreen) -> None:
        await asyncio.sleep(0.4)
        seen["game"] = _text(screen)
        _keys(app, "up", "d", "j", "h")
        await asyncio.sleep(0.1)
        _keys(app, "?")
        await asyncio.sleep(0.1)
        seen["help"] = _text(screen)
        _keys(app, "esc")  # closes the help; the game goes on
        await asyncio.sleep(0.1)
        seen["after"] = _text(screen)
        seen["quit_after_esc"] = str(core.quit_requested)
        _keys(app, "?", "?")  # and ? opens and closes it
        _keys(app, "q")

    core = FakeCore(time.monotonic)  # the clock asyncio loops use on Unix
    code, _ = asyncio.run(_run_app_with_clock(core, script))
    assert code == 0
    assert core.quit_requested
    assert core.steered == [Direction.UP, Direction.RIGHT, Direction.DOWN, Direction.LEFT]
    game = seen["game"]
    assert "┌" + "─" * 40 + "┐" in game
    assert "Player" in game and "bot2" in game and "me" in game
    assert "ping 12 ms" in game
    assert "bot2 joined" in game
    assert "steer" in seen["help"] and "quit" in seen["help"]
    assert "Server key fingerprint:" in seen["help"]
    assert core.server_fingerprint is not None and core.server_fingerprint in seen["help"]
    assert "steer" not in seen["after"] and seen["quit_after_esc"] == "False"


def test_a_capped_view_narrows_the_board_column_and_brings_the_minimap() -> None:
    seen: dict[str, Any] = {}

    async def script(app: GameApp, screen: RecordingScreen) -> None:
        await asyncio.sleep(0.3)
        seen["view"] = app.board.viewport
        seen["layout"] = app._layout
        seen["screen"] = _text(screen)
        _keys(app, "q")

    # --max-view 12x12 on a 24 x 20 board: all 20 rows are sent, but not all 24 columns.
    core = FakeCore(time.monotonic, board=(24, 20))
    core.max_view = (12, 12)
    code, _ = asyncio.run(_run_app_with_clock(core, script))
    assert code == 0
    view = seen["view"]
    assert view is not None and (view.width, view.height) == (8, 20)
    assert seen["layout"] is not None and seen["layout"].minimap_shown
    top = seen["screen"].splitlines()[0]
    # The board's frame (8 cells of 2 columns, and 2) and the scoreboard right beside it.
    assert top[:18].strip("─┌┐╌·") == "" and top[18:].startswith("  Player"), top


def test_giving_up_ones_snake_to_watch_is_not_told_as_leaving() -> None:
    seen: dict[str, str] = {}

    async def script(app: GameApp, screen: RecordingScreen) -> None:
        await asyncio.sleep(0.2)
        # p pressed: SEATED has taken our snake (id 1) before its PLAYER LEFT is read.
        core.state, core.player_id = ConnectionState.SPECTATING, None
        core.events += [
            PlayerLeft(player_id=1, name="me-2", reason="spectating"),  # renamed by the server
            PlayerLeft(player_id=2, name="me", reason="spectating"),  # another "me" gives up
        ]
        await asyncio.sleep(0.3)
        seen["screen"] = _text(screen)
        _keys(app, "q")

    core = FakeCore(time.monotonic)
    code, _ = asyncio.run(_run_app_with_clock(core, script, size=(160, 24)))
    assert code == 0
    assert "me is watching now" in seen["screen"]  # player 2's, told
    assert "me-2" not in seen["screen"]  # ours, not told


def test_the_board_shows_no_more_than_the_area_the_server_sends() -> None:
    seen: dict[str, Any] = {}

    async def script(app: GameApp, screen: RecordingScreen) -> None:
        await asyncio.sleep(0.3)
        seen["capped"] = app.board.viewport
        core.max_view = (1024, 1024)
        await asyncio.sleep(0.2)
        seen["whole"] = app.board.viewport
        _keys(app, "q")

    core = FakeCore(time.monotonic, board=(20, 30))
    # A server capping views at 32 x 12: a 20 x 30 board fits a 80 x 40 screen, but the
    # area sent for a view of more than 8 rows does not always cover 30 rows; it covers
    # 20 columns whole.  So the camera shows 20 x 8.
    core.max_view = (32, 12)
    assert view_within(core.max_view) == (23, 8)
    code, _ = asyncio.run(_run_app_with_clock(core, script, size=(80, 40)))
    assert code == 0
    capped, whole = seen["capped"], seen["whole"]
    assert capped is not None and (capped.width, capped.height) == (20, 8)
    assert whole is not None and (whole.width, whole.height) == (20, 30)


def test_the_board_shows_an_axis_whole_where_the_area_sent_covers_it() -> None:
    seen: dict[str, Any] = {}

    async def script(app: GameApp, screen: RecordingScreen) -> None:
        await asyncio.sleep(0.3)
        seen["view"] = app.board.viewport
        _keys(app, "q")

    # The same cap on a 20 x 10 board: the area for a 12-row view covers all 10 rows,
    # so the whole board is sent, and shown.
    core = FakeCore(time.monotonic)
    core.max_view = (32, 12)
    code, _ = asyncio.run(_run_app_with_clock(core, script))
    assert code == 0
    view = seen["view"]
    assert view is not None and (view.width, view.height) == (20, 10)


async def _run_app_with_clock(
    core: FakeCore, script: Callable[..., object], **kwargs: Any
) -> tuple[int, str]:
    clock = asyncio.get_running_loop().time
    core._clock = clock
    core.start = clock()
    return await _run_app(core, script, clock=clock, **kwargs)


def test_app_spectating_follows_with_tab_and_switches_with_p() -> None:
    seen: dict[str, str] = {}
    core = FakeCore(time.monotonic)
    core.state, core.player_id, core.spectators = ConnectionState.SPECTATING, None, 2

    async def script(app: GameApp, screen: RecordingScreen) -> None:
        await asyncio.sleep(0.3)
        seen["watching"] = _text(screen)
        _keys(app, "tab")
        await asyncio.sleep(0.1)
        seen["next"] = _text(screen)
        _keys(app, "up")  # nobody to steer: the fake records it, the real core ignores it
        _keys(app, "p")
        await asyncio.sleep(0.05)
        core.state, core.player_id = ConnectionState.PLAYING, 1  # as SEATED would
        await asyncio.sleep(0.15)
        seen["playing"] = _text(screen)
        _keys(app, "tab")  # not spectating: Tab does nothing
        _keys(app, "p")
        _keys(app, "q")

    code, _ = asyncio.run(_run_app_with_clock(core, script))
    assert code == 0
    assert "watching bot2, the leader (Tab: next, p: play)" in seen["watching"]
    assert "2 watching" in seen["watching"]
    assert "ping 12 ms" in seen["watching"] and "┌" in seen["watching"]
    assert "▶bot2" in seen["watching"].replace(" ", "")  # the followed row is marked
    assert "watching me (Tab: next, p: play)" in seen["next"]  # the first by id
    assert "you are playing" in seen["playing"] and "(Tab: next" not in seen["playing"]
    assert core.followed == 1
    assert core.seat_requests == [None, None]


@pytest.mark.parametrize("ascii_mode", [False, True])
def test_help_fits_a_standard_terminal(ascii_mode: bool) -> None:
    cols, rows = help_size(ascii_mode)
    assert cols <= 80 and rows <= 24


def test_a_name_taken_and_made_unique_is_told() -> None:
    seen: dict[str, str] = {}

    async def script(app: GameApp, screen: RecordingScreen) -> None:
        await asyncio.sleep(0.1)
        core.state, core.name, core.renamed_from = ConnectionState.PLAYING, "Kaa-2", "Kaa"
        await asyncio.sleep(0.3)
        seen["game"] = _text(screen)
        _keys(app, "q")

    core = FakeCore(time.monotonic)
    core.state = ConnectionState.JOINING
    code, _ = asyncio.run(_run_app_with_clock(core, script))
    assert code == 0
    assert "Kaa was taken: you are Kaa-2" in seen["game"]


def test_help_in_a_terminal_too_small_for_it_says_so_and_how_to_close_it() -> None:
    seen: dict[str, str] = {}

    async def script(app: GameApp, screen: RecordingScreen) -> None:
        await asyncio.sleep(0.3)
        _keys(app, "?")
        await asyncio.sleep(0.1)
        seen["help"] = _text(screen)
        _keys(app, "esc")
        await asyncio.sleep(0.1)
        seen["game"] = _text(screen)
        _keys(app, "q")

    code, _ = asyncio.run(_run_app_with_clock(FakeCore(time.monotonic), script, size=(44, 12)))
    assert code == 0
    assert "for the help: ? or Esc closes it" in seen["help"]
    assert "Player" in seen["game"] and "for the help" not in seen["game"]


@pytest.mark.parametrize(
    ("state", "reason", "code", "title"),
    [
        (ConnectionState.LOST, "", 4, "Connection lost"),
        (ConnectionState.UNREACHABLE, "", 2, "Could not reach localhost:4000"),
        (ConnectionState.REJECTED, "server full", 3, "Rejected: server full"),
        (ConnectionState.SHUTDOWN, "maintenance", 0, "Server shut down"),
        (ConnectionState.KEY_CHANGED, "it proved X", 5, "The key of localhost:4000 has changed!"),
    ],
)
def test_app_terminal_states_show_message_then_exit(
    state: ConnectionState, reason: str, code: int, title: str
) -> None:
    core = FakeCore(lambda: 0.0)

    async def script(app: GameApp, screen: RecordingScreen) -> None:
        await asyncio.sleep(0.1)
        core.state, core.status_reason = state, reason
        await asyncio.sleep(0.15)
        assert title in _text(screen)

    got, _ = asyncio.run(_run_app_with_clock(core, script, linger=0.3))
    assert got == code


def test_a_reason_that_repeats_the_title_is_shown_once_and_kept_for_the_terminal() -> None:
    core = FakeCore(lambda: 0.0)
    seen: dict[str, Any] = {}

    async def script(app: GameApp, screen: RecordingScreen) -> None:
        await asyncio.sleep(0.1)
        core.state = ConnectionState.UNREACHABLE
        core.status_reason = "Could not reach localhost:4000: no answer in 5 s"
        await asyncio.sleep(0.15)
        seen["screen"], seen["farewell"] = _text(screen), app.farewell

    got, _ = asyncio.run(_run_app_with_clock(core, script, linger=0.3))
    assert got == 2
    assert seen["screen"].count("Could not reach localhost:4000") == 1, seen["screen"]
    assert "no answer in 5 s" in seen["screen"]
    assert seen["farewell"] == "Could not reach localhost:4000: no answer in 5 s"


def test_a_player_who_quits_gets_no_farewell_line() -> None:
    core = FakeCore(lambda: 0.0)
    seen: dict[str, Any] = {}

    async def script(app: GameApp, screen: RecordingScreen) -> None:
        await asyncio.sleep(0.1)
        _keys(app, "q")
        seen["app"] = app

    got, _ = asyncio.run(_run_app_with_clock(core, script))
    assert got == 0 and seen["app"].farewell is None


def test_app_notices_wait_for_the_game_then_show_on_the_message_line() -> None:
    core = FakeCore(lambda: 0.0, name=None)  # the name prompt is up first
    seen: list[str] = []

    async def script(app: GameApp, screen: RecordingScreen) -> None:
        app.notify("new server: its key is remembered")
        await asyncio.sleep(0.15)
        seen.append(_text(screen))
        core.state = ConnectionState.PLAYING
        _keys(app, "enter")
        await asyncio.sleep(0.2)
        seen.append(_text(screen))
        _keys(app, "q")

    asyncio.run(_run_app_with_clock(core, script))
    assert "Choose a player name" in seen[0] and "its key is remembered" not in seen[0]
    assert "new server: its key is remembered" in seen[1], seen[1]


def test_help_shows_the_fingerprint_or_that_it_is_not_known_yet() -> None:
    fingerprint = "SHA256:" + "a" * 43
    for fp, shown in ((fingerprint, fingerprint), (None, "(not known yet)")):
        for ascii_mode in (False, True):
            overlay = help_overlay(urwid.SolidFill(" "), ascii_mode=ascii_mode, fingerprint=fp)
            cols, rows = help_size(ascii_mode, fp)
            text = [line.decode() for line in overlay.render((80, 24)).text]
            assert any(shown in line for line in text), text
            assert cols <= 80 and rows <= 24


def test_app_any_key_leaves_a_final_status_early() -> None:
    core = FakeCore(lambda: 0.0)

    async def script(app: GameApp, screen: RecordingScreen) -> None:
        core.state = ConnectionState.LOST
        await asyncio.sleep(0.1)
        _keys(app, "x")

    got, _ = asyncio.run(_run_app_with_clock(core, script, linger=60.0))
    assert got == 4


def test_app_name_prompt_asks_again_after_rejection() -> None:
    core = FakeCore(lambda: 0.0, name=None)
    seen: list[str] = []

    def on_submit(c: FakeCore, name: str) -> None:
        if name == "taken":
            c.state, c.status_reason = ConnectionState.JOINING, ""
            c.state = ConnectionState.REJECTED
            c.status_reason, c.rejection_code = (
                "bad name: taken by the test",
                RejectionCode.BAD_NAME,
            )
        else:
            c.name, c.state = name, ConnectionState.PLAYING

    core.on_submit = on_submit

    async def script(app: GameApp, screen: RecordingScreen) -> None:
        await asyncio.sleep(0.1)
        seen.append(_text(screen))
        _keys(app, *["backspace"] * 10, *"taken", "enter")
        await asyncio.sleep(0.1)
        seen.append(_text(screen))
        _keys(app, *["backspace"] * 10, *"qwe", "enter")
        await asyncio.sleep(0.2)
        seen.append(_text(screen))
        _keys(app, "q")

    code, _ = asyncio.run(_run_app_with_clock(core, script, default_name="guest"))
    assert code == 0
    assert core.names == ["taken", "qwe"]
    assert "Choose a player name" in seen[0] and "Name: guest" in seen[0]
    assert "Rejected: bad name: taken by the test" in seen[1]
    assert "┌" in seen[2]  # playing


def test_app_too_small_terminal_shows_the_needed_size() -> None:
    core = FakeCore(lambda: 0.0)

    async def script(app: GameApp, screen: RecordingScreen) -> None:
        await asyncio.sleep(0.2)
        # Any board is seen through a camera: the need is MIN_GAME_SIZE (44x12), not the board's.
        assert "at least 44×12" in _text(screen)
        for size in ((1, 1), (3, 0), (0, 3), (20, 5), (43, 12), (44, 11)):
            canvas = app.top.render(size)
            assert (canvas.cols(), canvas.rows()) == size
            assert "44×12" in "".join(canvas.decoded_text) or min(size) < 2
        canvas = app.top.render((44, 12))
        assert "at least" not in "".join(canvas.decoded_text)
        _keys(app, "q")

    code, _ = asyncio.run(_run_app_with_clock(core, script, size=(40, 10)))
    assert code == 0


def test_default_game_fits_a_standard_terminal() -> None:
    # The promise: board, scoreboard, HUD and message line fit 80x24.
    # (Bigger boards fit too, through the camera; the default one fits whole.)
    cfg = WorldConfig()
    view, _min = build_game_view(
        Board(), Scoreboard(), Hud(), MessageLine(), (cfg.width, cfg.height)
    )
    cols, rows = view.natural_size
    assert cols <= 80 and rows <= 24, (cols, rows)


def test_attributed_rows_count_bytes_and_merge_neighbours() -> None:
    row, runs = attributed_row(
        [("border", "┌─"), ("border", "─┐"), ("map", ""), (None, " "), ("food", "░░"), (None, "x")]
    )
    assert row.decode("utf-8") == "┌──┐ ░░x"
    # Box-drawing and shade characters are 3 bytes each in UTF-8; runs count bytes.
    assert runs == [("border", 12), (None, 1), ("food", 6), (None, 1)]
    assert attributed_row([]) == (b"", [])
