"""Gap filling and the render-delay buffer, against a real world simulation and a virtual clock.

The buffer is fed through a seeded simulated link (latency, jitter, loss
bursts, reordering, duplicates, stalls) and sampled at 30 fps on a hand-stepped
clock.  The properties checked are the ones the player sees: the display
never goes backwards, never skips a tick (so a snake's head visits every
cell of its path on screen), and the buffer recovers from stalls.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass, replace

import pytest

from netsnake.client.interpolation import RenderFrame, SnapshotBuffer, fill_gap
from netsnake.game.bots import steer_bots
from netsnake.game.direction import Direction, step_direction
from netsnake.game.snapshot import PlayerState, Snapshot
from netsnake.game.world import World, WorldConfig

TICK_RATE = 20.0
FPS = 30.0


def simulate(
    ticks: int,
    seed: int,
    *,
    players: int = 8,
    width: int = 30,
    height: int = 20,
    wrap: bool = False,
) -> list[Snapshot]:
    """Snapshots of ticks 0..ticks of a real world played by bots."""
    world = World(WorldConfig(width=width, height=height, wrap=wrap), seed)
    for i in range(players):
        world.add_player(i + 1, f"bot{i}", i % 16)
    rng = random.Random(seed)
    snaps = [world.snapshot()]
    for _ in range(ticks):
        steer_bots(world, rng)
        world.step()
        snaps.append(world.snapshot())
    return snaps


@pytest.fixture(scope="module")
def game() -> list[Snapshot]:
    return simulate(600, seed=7)


@pytest.fixture(scope="module")
def wrap_game() -> list[Snapshot]:
    return simulate(400, seed=11, players=6, width=16, height=12, wrap=True)


def _same_life(snaps: list[Snapshot], pid: int) -> bool:
    """Whether ``pid`` is alive in every snapshot of ``snaps`` (one life: no respawn inside)."""
    return all((p := s.player(pid)) is not None and p.alive for s in snaps)


def _ate_only_known_food(snaps: list[Snapshot], pid: int) -> bool:
    """Whether the gap's growth of ``pid`` can be told from its ends alone.

    That needs every food ``pid`` ate in the gap to be there already in
    ``snaps[0]``, and no known food on its path to have been eaten by someone
    else first (the ends cannot tell who ate it, so that is ambiguous).
    """
    first_food = set(snaps[0].food)
    for before, after in itertools.pairwise(snaps):
        p = after.player(pid)
        assert p is not None
        head = p.body[0]
        if head in before.food and head not in first_food:
            return False
        if head in first_food and head not in before.food:
            return False
    return True


# --------------------------------------------------------------------------- fill_gap


@pytest.mark.parametrize("fixture", ["game", "wrap_game"])
@pytest.mark.parametrize("gap", [2, 3, 5, 8])
def test_fill_gap_rebuilds_exact_snakes(
    request: pytest.FixtureRequest, fixture: str, gap: int
) -> None:
    snaps: list[Snapshot] = request.getfixturevalue(fixture)
    exact = checked = 0
    for start in range(0, len(snaps) - gap, 3):
        older, newer = snaps[start], snaps[start + gap]
        real = snaps[start + 1 : start + gap]
        filled = fill_gap(older, newer)
        assert [s.tick for s in filled] == [s.tick for s in real]
        for s in filled:
            assert [p.id for p in s.players] == sorted(p.id for p in s.players)
        for p in newer.players:
            window = snaps[start : start + gap + 1]
            if not _same_life(window, p.id):
                continue
            heads = [older.player(p.id).body[0]]  # type: ignore[union-attr]
            for s in filled:
                q = s.player(p.id)
                assert q is not None and q.alive
                heads.append(q.body[0])
            heads.append(p.body[0])
            # never a skipped cell, whatever is known
            for a, b in itertools.pairwise(heads):
                assert step_direction(a, b, newer.width, newer.height, newer.wrap) is not None
            lengths = [len(s.player(p.id).body) for s in filled]  # type: ignore[union-attr]
            assert lengths == sorted(lengths)
            checked += 1
            if len(p.body) > gap and _ate_only_known_food(window, p.id):
                for s, r in zip(filled, real, strict=True):
                    got, want = s.player(p.id), r.player(p.id)
                    assert got is not None and want is not None
                    # scores deliberately switch at `newer`; the snake itself is exact
                    assert (got.body, got.direction) == (want.body, want.direction), (
                        start,
                        p.id,
                        s.tick,
                    )
                    assert got.score == older.player(p.id).score  # type: ignore[union-attr]
                exact += 1
    assert checked > 50 and exact > 20


def test_fill_gap_short_snake_gets_a_plausible_path() -> None:
    def state(body: tuple[tuple[int, int], ...], d: Direction) -> PlayerState:
        return PlayerState(
            id=1, name="a", colour=0, alive=True, direction=d, body=body, score=0, best=0, kills=0
        )

    old = Snapshot(
        tick=10,
        width=20,
        height=20,
        wrap=False,
        players=(state(((5, 5), (4, 5)), Direction.RIGHT),),
        food=(),
    )
    new = Snapshot(
        tick=16,
        width=20,
        height=20,
        wrap=False,
        players=(state(((8, 8), (8, 7)), Direction.DOWN),),
        food=(),
    )
    filled = fill_gap(old, new)
    heads = [(5, 5)] + [s.players[0].body[0] for s in filled] + [(8, 8)]
    assert len(heads) == 7
    for a, b in itertools.pairwise(heads):
        assert step_direction(a, b, 20, 20, False) is not None
    assert filled[-1].players[0].body[0] == (8, 7)  # the known part of the path


def test_fill_gap_switches_at_newer_for_death_and_join(game: list[Snapshot]) -> None:
    older = game[100]
    dead = [
        replace(p, alive=False, body=(), respawn_ticks=30) if p.id == 1 else p
        for p in game[104].players
    ]
    newer = replace(game[104], players=(*dead, replace(game[104].players[0], id=99)))
    filled = fill_gap(older, newer)
    assert len(filled) == 3
    for s in filled:
        assert s.player(1) == older.player(1)  # held until the gap ends
        assert s.player(99) is None  # joined: appears with `newer`
        assert s.tick > older.tick


def test_fill_gap_nothing_to_fill(game: list[Snapshot]) -> None:
    assert fill_gap(game[5], game[6]) == []
    assert fill_gap(game[5], game[5]) == []


# --------------------------------------------------------------------------- the buffer


@dataclass
class Link:
    """A seeded one-way link: latency, jitter, loss bursts, duplicates, stalls."""

    latency: float = 0.05
    jitter: float = 0.0
    loss: float = 0.0
    burst: int = 1
    duplicate: float = 0.0
    stall: tuple[float, float] | None = None  # send times held back until the end
    seed: int = 1

    def arrivals(self, snaps: list[Snapshot]) -> list[tuple[float, Snapshot]]:
        rng = random.Random(self.seed)
        out: list[tuple[float, Snapshot]] = []
        drop = 0
        for s in snaps:
            sent = s.tick / TICK_RATE
            if drop:
                drop -= 1
                continue
            if rng.random() < self.loss:
                drop = rng.randint(1, self.burst) - 1
                continue
            arrive = (
                sent + self.latency + rng.expovariate(1 / self.jitter) * 0.5
                if self.jitter
                else sent + self.latency
            )
            if self.stall and self.stall[0] <= sent < self.stall[1]:
                arrive = max(arrive, self.stall[1] + self.latency)
            out.append((arrive, s))
            if rng.random() < self.duplicate:
                out.append((arrive + rng.uniform(0, 0.1), s))
        out.sort(key=lambda a: a[0])
        return out


def play(
    snaps: list[Snapshot], link: Link, buffer: SnapshotBuffer, until: float | None = None
) -> list[RenderFrame]:
    """Deliver ``snaps`` over ``link`` into ``buffer``, sampling at 30 fps on a virtual clock."""
    arrivals = link.arrivals(snaps)
    end = until if until is not None else snaps[-1].tick / TICK_RATE + 0.5
    frames: list[RenderFrame] = []
    i = 0
    for n in range(int(end * FPS)):
        now = n / FPS
        while i < len(arrivals) and arrivals[i][0] <= now:
            buffer.push(arrivals[i][1], arrivals[i][0])
            i += 1
        frame = buffer.sample(now)
        if frame is not None:
            frames.append(frame)
    return frames


def check_smooth(frames: list[RenderFrame], real: list[Snapshot], *, exact_heads: bool) -> None:
    """Monotonic display, one tick at a time, every head cell of every live snake shown."""
    assert frames
    for f0, f1 in itertools.pairwise(frames):
        assert f1.display_tick >= f0.display_tick
        assert f1.prev.tick - f0.prev.tick in (0, 1), (f0.display_tick, f1.display_tick)
    for f in frames:
        assert f.next is f.prev or f.next.tick == f.prev.tick + 1
        assert 0.0 <= f.alpha <= 1.0
        assert f.display_tick == pytest.approx(f.prev.tick + f.alpha)
    shown = {f.prev.tick: f.prev for f in frames}
    ticks = sorted(shown)
    assert ticks == list(range(ticks[0], ticks[-1] + 1))  # every tick displayed
    by_tick = {s.tick: s for s in real}
    window = [by_tick[t] for t in ticks]
    for p in window[0].players:
        if not _same_life(window, p.id):
            continue
        heads = [shown[t].player(p.id).body[0] for t in ticks]  # type: ignore[union-attr]
        for a, b in itertools.pairwise(heads):
            assert step_direction(a, b, real[0].width, real[0].height, real[0].wrap) is not None
        if exact_heads:
            assert heads == [
                by_tick[t].player(p.id).body[0]  # type: ignore[union-attr]
                for t in ticks
            ]


def test_clean_link_plays_every_tick_without_holding(game: list[Snapshot]) -> None:
    buffer = SnapshotBuffer(TICK_RATE)
    frames = play(game[:200], Link(), buffer, until=199 / TICK_RATE)
    check_smooth(frames, game, exact_heads=True)
    # with the data flowing (the stream is not over), playback never waits for it
    assert buffer.frames_held == 0
    assert buffer.render_delay == pytest.approx(2 / TICK_RATE, abs=0.02)


def test_jitter_reordering_and_duplicates(game: list[Snapshot]) -> None:
    buffer = SnapshotBuffer(TICK_RATE)
    link = Link(jitter=0.04, duplicate=0.1, seed=3)
    frames = play(game[:400], link, buffer)
    check_smooth(frames, game, exact_heads=True)
    assert buffer.duplicates > 10
    # the delay adapted to the jitter and the buffer rarely ran dry
    assert buffer.render_delay > 2 / TICK_RATE + 0.02
    assert buffer.frames_held < len(frames) * 0.05


def test_single_losses_are_rebuilt_exactly(game: list[Snapshot]) -> None:
    buffer = SnapshotBuffer(TICK_RATE)
    frames = play(game[:400], Link(loss=0.1, jitter=0.01, seed=5), buffer)
    check_smooth(frames, game, exact_heads=True)


def test_loss_bursts_never_skip_cells(game: list[Snapshot]) -> None:
    buffer = SnapshotBuffer(TICK_RATE)
    frames = play(game, Link(loss=0.08, burst=6, jitter=0.02, seed=9), buffer)
    check_smooth(frames, game, exact_heads=False)
    assert buffer.render_delay > 2 / TICK_RATE  # loss adds cushion


def test_wrap_board(wrap_game: list[Snapshot]) -> None:
    buffer = SnapshotBuffer(TICK_RATE)
    frames = play(wrap_game, Link(loss=0.1, burst=3, jitter=0.03, seed=2), buffer)
    check_smooth(frames, wrap_game, exact_heads=False)


def test_stall_then_burst_catches_up_smoothly(game: list[Snapshot]) -> None:
    buffer = SnapshotBuffer(TICK_RATE)
    frames = play(game[:300], Link(stall=(4.0, 5.0), seed=4), buffer, until=15.5)
    check_smooth(frames, game, exact_heads=True)
    assert buffer.frames_held > 10  # it waited during the stall
    assert buffer.snaps == 0
    # within a few seconds of the burst it is back to the normal delay
    lag = [(f.display_tick, n / FPS) for n, f in enumerate(frames)]
    late = [d for d, t in lag if 9.0 < t < 14.0]
    for d, t in [(d, t) for d, t in lag if 9.0 < t < 14.0]:
        assert t * TICK_RATE - d == pytest.approx((0.05 + buffer.render_delay) * TICK_RATE, abs=1.5)
    assert late


def test_long_stall_snaps_forward(game: list[Snapshot]) -> None:
    buffer = SnapshotBuffer(TICK_RATE)
    frames = play(game[:400], Link(stall=(3.0, 9.0), seed=4), buffer, until=14.0)
    ticks = [f.display_tick for f in frames]
    assert ticks == sorted(ticks)
    assert buffer.snaps == 1


def test_duplicates_and_late_packets_are_counted(game: list[Snapshot]) -> None:
    buffer = SnapshotBuffer(TICK_RATE, render_delay=0.1)
    for s in game[:10]:
        buffer.push(s, s.tick / TICK_RATE)
    buffer.push(game[5], 1.0)
    assert buffer.duplicates == 1
    frame = buffer.sample(0.9)
    assert frame is not None and frame.prev.tick >= 7
    late = replace(game[3], players=())
    buffer.push(late, 0.95)  # tick 3 is history by now (it was pruned)
    assert buffer.late_drops == 1
    assert buffer.latest_tick == 9
    assert buffer.render_delay == 0.1


def test_playback_never_passes_latest_and_holds(game: list[Snapshot]) -> None:
    buffer = SnapshotBuffer(TICK_RATE, render_delay=0.0)
    buffer.push(game[0], 0.0)
    first = buffer.sample(0.0)
    assert first is not None and first.prev is first.next
    held = buffer.sample(1.0)
    assert held is not None and held.display_tick == 0.0 and held.next is held.prev
    assert buffer.frames_held >= 1
    buffer.push(game[1], 1.0)
    moving = buffer.sample(1.02)
    assert moving is not None and 0.0 < moving.display_tick <= 1.0
    assert buffer.buffered_ticks == pytest.approx(1.0 - moving.display_tick)


def test_update_network_raises_the_delay_within_bounds() -> None:
    buffer = SnapshotBuffer(TICK_RATE)
    base = buffer.render_delay
    buffer.update_network(jitter_s=0.03, loss=0.0)
    with_jitter = buffer.render_delay
    buffer.update_network(jitter_s=0.03, loss=0.1)
    assert base < with_jitter < buffer.render_delay
    buffer.update_network(jitter_s=5.0, loss=1.0)
    assert buffer.render_delay == pytest.approx(0.5 + 2 / TICK_RATE)
    assert math.isfinite(buffer.render_delay)


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        SnapshotBuffer(0)
    with pytest.raises(ValueError):
        SnapshotBuffer(20, render_delay=-1)
    assert SnapshotBuffer(20).sample(1.0) is None
