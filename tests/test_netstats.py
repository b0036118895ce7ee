"""The net graph's model: each snapshot tick's fate (on time, late, held, lost).

Scripted tests push snapshots into a real :class:`SnapshotBuffer` at chosen
virtual times and draw frames at 30 fps, so each fate is produced by the
playback it describes; a simulated-network test then checks the fates a real
client core reports against what it actually received.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netsnake.client.interpolation import SnapshotBuffer
from netsnake.client.netstats import FINAL_FATES, NetStats, TickFate
from netsnake.client.state import ConnectionState
from netsnake.game.snapshot import Snapshot
from netsnake.server.game import ServerSettings
from netsnake.sim import GameSimulation, patient_client_config
from protocol.simulator import LinkConfig

RATE = 10.0
LATENCY = 0.05
FPS = 30


def snap(tick: int) -> Snapshot:
    return Snapshot(tick=tick, width=8, height=4, wrap=False, players=(), food=())


def normal(tick: int) -> float:
    """When tick ``tick`` arrives on a steady link."""
    return tick / RATE + LATENCY


def play(
    arrivals: dict[int, float | None], until: float, *, delay: float = 0.2
) -> tuple[NetStats, SnapshotBuffer]:
    """Deliver each tick at its arrival time (``None``: lost) and draw frames until ``until``."""
    buf = SnapshotBuffer(RATE, render_delay=delay)
    stats = NetStats()
    due = sorted((at, tick) for tick, at in arrivals.items() if at is not None)
    frame = 0
    while (now := frame / FPS) <= until:
        while due and due[0][0] <= now:
            at, tick = due.pop(0)
            stats.on_snapshot(
                tick,
                at,
                size=40 + tick,
                full=tick == 0,
                ping_ms=100.0,
                render_delay_ms=delay * 1000,
            )
            buf.push(snap(tick), at)
        stats.sample(buf, now)
        frame += 1
    return stats, buf


def fates(stats: NetStats) -> dict[int, TickFate]:
    return {r.tick: r.fate for r in stats.records()}


def steady(last: int = 80) -> dict[int, float | None]:
    return {t: normal(t) for t in range(last + 1)}


def test_a_steady_link_is_all_on_time_then_buffered() -> None:
    stats, buf = play(steady(), until=6.0)
    f = fates(stats)
    shown = max(t for t, fate in f.items() if fate in FINAL_FATES)
    assert 55 <= shown <= 58  # about 2 ticks (the render delay) behind the server at 6 s
    assert all(f[t] is TickFate.ON_TIME for t in range(shown + 1))
    # ahead of playback: arrived and waiting (tick 59 arrived at 5.95 s)
    assert max(f) == 59
    assert {f[t] for t in range(shown + 1, 60)} == {TickFate.BUFFERED}
    assert buf.frames_held == 0


def test_a_tick_that_never_comes_is_lost_and_drawn_rebuilt() -> None:
    arrivals = steady()
    arrivals[30] = None
    stats, _ = play(arrivals, until=5.0)
    f = fates(stats)
    assert f[30] is TickFate.LOST
    assert f[29] is f[31] is TickFate.ON_TIME
    assert [t for t in range(45) if f[t] is not TickFate.ON_TIME] == [30]
    record = stats.records()[30]
    assert record.arrived_at is None and record.size is None and record.needed


def test_a_tick_overtaken_and_then_arriving_before_it_is_reached_is_late() -> None:
    # Playback needs 30 from about 3.15 s (when it reaches 29); 31 is there by
    # then, so it draws towards a stand-in for 30 until 30 arrives at 3.2 s.
    arrivals = steady()
    arrivals[30] = 3.2
    stats, buf = play(arrivals, until=5.0)
    f = fates(stats)
    assert f[30] is TickFate.LATE
    assert [t for t in range(45) if f[t] is not TickFate.ON_TIME] == [30]
    assert buf.frames_held == 0 and buf.late_drops == 0


def test_a_stall_holds_playback_on_the_tick_it_waited_for() -> None:
    # Nothing after 29 until a burst at 3.45 s: playback stops at 29.
    arrivals = steady()
    for t in range(30, 34):
        arrivals[t] = 3.45
    stats, buf = play(arrivals, until=5.0)
    f = fates(stats)
    assert buf.frames_held > 0
    assert f[30] is TickFate.HELD
    # the rest of the burst was there before playback needed it
    assert [t for t in range(45) if f[t] is not TickFate.ON_TIME] == [30]
    assert stats.records()[30].waited


def test_a_hold_ended_by_a_later_tick_is_lost_not_held() -> None:
    arrivals = steady()
    arrivals[30] = None
    for t in range(31, 34):
        arrivals[t] = 3.45
    stats, buf = play(arrivals, until=5.0)
    f = fates(stats)
    assert buf.frames_held > 0
    assert f[30] is TickFate.LOST
    assert stats.records()[30].waited  # it was waited for, but drawn rebuilt
    assert [t for t in range(45) if f[t] is not TickFate.ON_TIME] == [30]


def test_a_straggler_after_its_tick_was_drawn_stays_lost() -> None:
    arrivals = steady()
    arrivals[30] = 3.6  # playback reached 30 (rebuilt) at about 3.25 s
    stats, buf = play(arrivals, until=5.0)
    assert fates(stats)[30] is TickFate.LOST
    assert stats.stragglers == 1 and buf.late_drops == 1
    assert stats.records()[30].arrived_at == pytest.approx(3.6)


def test_a_backlog_jumped_over_after_a_long_stall_is_late() -> None:
    # A 4 s stall: everything sent meanwhile arrives at 7.5 s, and playback
    # (over 3 s behind) jumps to the newest tick instead of replaying it all.
    arrivals = steady(120)
    for t in range(30, 75):
        arrivals[t] = 7.5
    stats, buf = play(arrivals, until=9.0)
    f = fates(stats)
    assert buf.snaps == 1
    assert f[30] is TickFate.HELD
    jumped = [t for t in range(31, 75) if f[t] is TickFate.LATE]
    assert jumped and jumped == list(range(31, jumped[-1] + 1))
    assert all(f[t] is TickFate.ON_TIME for t in range(jumped[-1] + 1, 80))


def test_counts_sizes_and_delays_are_kept_per_tick() -> None:
    arrivals = steady()
    arrivals[30] = None
    arrivals[40] = 4.2  # late (needed from about 4.15 s)
    stats, _ = play(arrivals, until=6.0)
    data = stats.data()
    counts = data.counts()
    assert counts[TickFate.LOST] == 1 and counts[TickFate.LATE] == 1
    assert sum(counts.values()) == len(data.records)
    assert data.counts(last=0) == dict.fromkeys(TickFate, 0)
    r = data.records[12]
    assert (r.tick, r.size, r.ping_ms, r.render_delay_ms, r.full) == (12, 52, 100.0, 200.0, False)
    assert data.records[0].full
    assert data.records[30].render_delay_ms == 200.0  # the delay when it was needed
    assert data.corrections is None  # nothing predicts: no corrections to show


def test_corrections_go_to_the_newest_tick_received() -> None:
    stats = NetStats()
    for t in range(5):
        stats.on_snapshot(t, t / RATE, size=10, full=False, ping_ms=None, render_delay_ms=None)
    stats.note_corrections(0)
    assert stats.data().corrections == 0
    stats.note_corrections(2)
    stats.on_snapshot(6, 0.6, size=10, full=False, ping_ms=None, render_delay_ms=None)
    stats.note_corrections(3)
    assert [(r.tick, r.corrections) for r in stats.records() if r.corrections] == [(4, 2), (6, 1)]
    assert stats.data().corrections == 3
    assert stats.records()[-2].fate is TickFate.MISSING  # tick 5 never came (yet)


def test_duplicates_and_ticks_older_than_the_history_are_ignored() -> None:
    stats = NetStats(capacity=8)
    for t in range(20):
        stats.on_snapshot(t, t / RATE, size=10, full=False, ping_ms=None, render_delay_ms=None)
    before = stats.records()
    stats.on_snapshot(19, 9.0, size=99, full=True, ping_ms=None, render_delay_ms=None)
    stats.on_snapshot(3, 9.0, size=99, full=True, ping_ms=None, render_delay_ms=None)
    assert stats.records() == before
    assert stats.stale == 1
    assert [r.tick for r in before] == list(range(12, 20))


def test_capacity_must_hold_two_ticks() -> None:
    with pytest.raises(ValueError):
        NetStats(capacity=1)


def _check_invariants(stats: NetStats, capacity: int) -> None:
    records = stats.records()
    assert len(records) <= capacity
    if records:
        first = records[0].tick
        assert [r.tick for r in records] == list(range(first, first + len(records)))
    for r in records:
        if r.arrived_at is None:
            assert r.fate in (TickFate.LOST, TickFate.MISSING)
        else:
            assert r.fate is not TickFate.MISSING


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    loss=st.floats(0.0, 0.6),
    jitter=st.floats(0.0, 0.3),
)
def test_any_link_keeps_the_ring_bounded_and_fates_consistent(
    seed: int, loss: float, jitter: float
) -> None:
    rng = random.Random(seed)
    arrivals: dict[int, float | None] = {
        t: None if rng.random() < loss else normal(t) + rng.uniform(0, jitter) for t in range(90)
    }
    stats, _ = play(arrivals, until=9.5, delay=0.15)
    records = {r.tick: r for r in stats.records()}
    for tick, r in records.items():
        at = arrivals.get(tick)
        if r.fate in FINAL_FATES and r.fate is not TickFate.LOST:
            assert at is not None and r.arrived_at == pytest.approx(at)
        if at is None:
            assert r.fate in (TickFate.LOST, TickFate.MISSING)
        if r.fate is TickFate.HELD:
            assert r.waited
        if r.fate is TickFate.ON_TIME:
            assert not r.needed
    _check_invariants(stats, 256)


@settings(max_examples=60, deadline=None)
@given(ops=st.lists(st.tuples(st.booleans(), st.integers(-(2**31), 2**31)), max_size=200))
def test_hostile_ticks_never_break_the_ring(ops: list[tuple[bool, int]]) -> None:
    stats = NetStats(capacity=16)
    for is_frame, tick in ops:
        if is_frame:
            stats.on_frame(tick, held=tick % 2 == 0, render_delay_ms=100.0)
        else:
            stats.on_snapshot(tick, 0.0, size=1, full=False, ping_ms=None, render_delay_ms=None)
        _check_invariants(stats, 16)


# --------------------------------------------------------------------------- a real client


@pytest.mark.timeout(60)
def test_fates_on_a_lossy_simulated_link_match_what_the_client_received() -> None:
    # A real server and client core over a seeded link losing a fifth of the
    # datagrams, drawn once per tick; the graph's fates must agree with the
    # ticks the core actually accepted.
    seed = 2026
    print(f"seed {seed}")
    rate = 10
    sim = GameSimulation(
        ServerSettings(tick_rate=rate, seed=seed, bots=2),
        seed=seed,
        link=LinkConfig(loss=0.2, latency=0.05, jitter=0.01),
    )
    client = sim.add_client("viewer", steer=False, config=patient_client_config())
    for _ in range(25 * rate * 3):  # 30 frames a second
        sim.run(1 / (3 * rate))
        client.core.frame(sim.now)
    assert client.core.state is ConnectionState.PLAYING
    received = set(client.ticks_seen)
    stats = client.core.netstats
    settled = [r for r in stats.records() if r.fate in FINAL_FATES]
    assert len(settled) > 150
    for r in settled:
        if r.tick not in received:
            assert r.fate is TickFate.LOST and r.arrived_at is None, r
        elif r.fate is TickFate.LOST:
            assert r.arrived_at is not None  # a straggler: came after it was drawn
        else:
            assert r.arrived_at is not None and r.size is not None and r.size > 0, r
            assert r.ping_ms is not None and 50 < r.ping_ms < 400, r
    lost = sum(r.fate is TickFate.LOST for r in settled) / len(settled)
    on_time = sum(r.fate is TickFate.ON_TIME for r in settled) / len(settled)
    print(f"lost {lost:.1%}, on time {on_time:.1%}, counts {stats.data().counts()}")
    assert 0.1 < lost < 0.45, lost
    assert on_time > 0.5, on_time
    assert stats.stragglers == sum(
        r.fate is TickFate.LOST and r.arrived_at is not None for r in stats.records()
    )
    # the HUD hands the same records to the view
    info = client.core.hud(sim.now)
    assert info.net is not None and info.net.records == stats.records()


@pytest.mark.parametrize("predict", [True, False])
def test_prediction_corrections_reach_the_graph(predict: bool) -> None:
    seed = 7
    rate = 10
    sim = GameSimulation(
        ServerSettings(tick_rate=rate, seed=seed, bots=3),
        seed=seed,
        link=LinkConfig(loss=0.1, latency=0.06, jitter=0.03),
    )
    client = sim.add_client("me", predict=predict, config=patient_client_config())
    for _ in range(15 * rate * 3):
        sim.run(1 / (3 * rate))
        client.core.frame(sim.now)
    data = client.core.hud(sim.now).net
    assert data is not None
    if not predict:
        assert data.corrections is None
        return
    total = client.core.counters.corrections
    print(f"corrections {total}")
    assert data.corrections == total
    # each one is put on the tick that brought it (all 150 ticks are in the ring)
    assert sum(r.corrections for r in data.records) == total
