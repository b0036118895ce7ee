"""How long drawing one frame of the full game screen takes.

A real World played by 16 bots advances at 20 ticks/s on a virtual clock;
frames are sampled from a SnapshotBuffer at 30 fps (so most frames are
interpolated).  Each timed frame updates the widgets, renders the whole
screen (board, scoreboard, HUD, message line) as urwid's MainLoop would and
turns the canvas into bytes the way a screen walks it (``canvas.content()``).
The bots' thinking and the world step are not timed.

For comparison, a naive board (one ``urwid.Text`` per row with markup,
rebuilt each frame) is timed at 120×50.

Big boards (issue 15's camera): a 200×150 board drawn whole (the only way
before the camera, in a 426×154 terminal) against the same board in an 80×24
terminal, where the board draws only the camera's 26×20-cell viewport and the
minimap shows the whole arena; the default 26×20 board in 80×24 is the
yardstick the big board must not be slower than.

Run: ``python benchmarks/render.py [--frames N]``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable, Hashable

import urwid

from netsnake.client.hud import HudInfo
from netsnake.client.interpolation import RenderFrame, SnapshotBuffer
from netsnake.game.bots import steer_bots
from netsnake.game.snapshot import Snapshot
from netsnake.ui.app import build_game_view
from netsnake.ui.board import Board
from netsnake.ui.palette import snake_attr
from netsnake.ui.panels import Hud, MessageLine, Scoreboard

TICK_RATE = 20.0
FPS = 30.0
PLAYERS = 16


def frames(width: int, height: int, count: int, seed: int = 1) -> list[RenderFrame]:
    """``count`` frames at 30 fps of a 16-bot game on a ``width``×``height`` board."""
    from netsnake.game.world import World, WorldConfig

    world = World(WorldConfig(width=width, height=height), seed)
    for pid in range(1, PLAYERS + 1):
        world.add_player(pid, f"bot{pid}", pid - 1)
    rng = random.Random(seed)
    buffer = SnapshotBuffer(TICK_RATE, render_delay=2 / TICK_RATE)
    out: list[RenderFrame] = []
    for n in range(count + 60):
        now = n / FPS
        while world.tick <= now * TICK_RATE:
            steer_bots(world, rng)
            world.step()
            buffer.push(world.snapshot(), world.tick / TICK_RATE)
        frame = buffer.sample(now)
        if frame is not None and n >= 60:  # skip the start-up
            out.append(frame)
    return out[:count]


def to_bytes(canvas: urwid.Canvas) -> int:
    """Walk the canvas as a screen does when drawing it; returns the byte count."""
    total = 0
    for row in canvas.content():
        total += len(b"".join(text for _attr, _cs, text in row))
    return total


def time_frames(
    draw: Callable[[RenderFrame, float], urwid.Canvas], frame_list: list[RenderFrame]
) -> tuple[list[float], float]:
    """Per-frame wall times (ms) and the CPU % at 30 fps."""
    times: list[float] = []
    cpu0 = time.process_time()
    for i, frame in enumerate(frame_list):
        t0 = time.perf_counter()
        to_bytes(draw(frame, i / FPS))
        times.append((time.perf_counter() - t0) * 1000)
    cpu = time.process_time() - cpu0
    return times, 100 * cpu / (len(frame_list) / FPS)


def game_screen(
    snapshot: Snapshot, ascii_mode: bool, screen: tuple[int, int] | None = None
) -> Callable[[RenderFrame, float], urwid.Canvas]:
    """A draw function for the real game screen in a ``screen`` (cols, rows)
    terminal; ``None``: one just big enough for the whole board."""
    board = Board(ascii_mode=ascii_mode)
    scoreboard = Scoreboard(ascii_mode=ascii_mode)
    hud = Hud(ascii_mode=ascii_mode)
    messages = MessageLine()
    messages.post("bot3 was eaten by bot7", 0.0)
    view, _min = build_game_view(
        board, scoreboard, hud, messages, (snapshot.width, snapshot.height)
    )
    size = screen or view.natural_size

    def draw(frame: RenderFrame, now: float) -> urwid.Canvas:
        board.set_frame(frame, my_id=1, now=now)
        scoreboard.update(frame.prev.players, 1)
        view.minimap.update(frame.prev, 1)
        hud.update(
            HudInfo(
                ping_ms=23,
                loss_pct=0.5,
                down_kbps=4.2,
                up_kbps=0.3,
                server_tick=frame.prev.tick,
                render_delay_ms=100,
            )
        )
        messages.update(now)
        canvas: urwid.Canvas = view.render(size, focus=True)
        return canvas

    return draw


def naive_board(frame: RenderFrame, now: float) -> urwid.Canvas:
    """The obvious way: a Text per row with (attr, text) markup, rebuilt every frame."""
    snap = frame.prev
    grid: list[list[tuple[Hashable, str]]] = [
        [("board", "  ")] * snap.width for _ in range(snap.height)
    ]
    for x, y in snap.food:
        grid[y][x] = ("food", "▐▌")
    for p in snap.players:
        for i, (x, y) in enumerate(p.body):
            grid[y][x] = (snake_attr(p.colour, "head" if i == 0 else ""), "▶ " if i == 0 else "██")
    rows: list[urwid.Widget] = [urwid.Text(list(row), wrap="clip") for row in grid]
    box = urwid.LineBox(urwid.Pile(rows))
    canvas: urwid.Canvas = box.render((snap.width * 2 + 2,))
    return canvas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=600)
    args = parser.parse_args()
    print(
        f"{PLAYERS} snakes, {TICK_RATE:g} ticks/s, rendered at {FPS:g} fps, "
        f"{args.frames} frames each"
    )
    print(
        f"{'board':>8} {'mode':<14} {'screen':>8} {'median ms':>10} {'p99 ms':>8} "
        f"{'CPU % @30fps':>13}"
    )
    small = (80, 24)
    for width, height in ((40, 20), (120, 50), (26, 20), (200, 150)):
        frame_list = frames(width, height, args.frames)
        first = frame_list[0].prev
        cases: list[tuple[str, Callable[[RenderFrame, float], urwid.Canvas]]] = []
        if (width, height) != (26, 20):
            cases += [
                ("block", game_screen(first, False)),
                ("ascii", game_screen(first, True)),
            ]
        if (width, height) == (120, 50):
            cases.append(("naive Text/row", naive_board))
        if (width, height) in ((26, 20), (200, 150)):
            cases += [
                ("block 80x24", game_screen(first, False, small)),
                ("ascii 80x24", game_screen(first, True, small)),
            ]
        for name, draw in cases:
            times, cpu = time_frames(draw, frame_list)
            canvas = draw(frame_list[-1], 0.0)
            p99 = statistics.quantiles(times, n=100)[98]
            print(
                f"{width:>4}x{height:<3} {name:<14} {canvas.cols():>4}x{canvas.rows():<3} "
                f"{statistics.median(times):>10.3f} {p99:>8.3f} {cpu:>13.1f}"
            )


if __name__ == "__main__":
    main()
