"""The server's idle-time collector: full collections between ticks, on schedule."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from netsnake.server.collector import IdleCollector


@pytest.fixture(autouse=True)
def _restore_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.set_threshold(*threshold)
    gc.unfreeze()


def test_it_takes_over_the_full_collections_and_gives_them_back() -> None:
    before = gc.get_threshold()
    collector = IdleCollector(5)
    collector.start()
    young, middle, oldest = gc.get_threshold()
    assert (young, middle) == before[:2]
    assert oldest > 1_000_000  # the automatic full collection never comes
    collector.stop()
    assert gc.get_threshold() == before


def test_the_first_tick_freezes_then_it_collects_every_n_ticks() -> None:
    collector = IdleCollector(3)
    collector.start()
    assert collector.after_tick(0.05) is False  # the first tick: freeze only
    assert gc.get_freeze_count() > 0
    ran = [collector.after_tick(0.05) for _ in range(9)]
    collector.stop()
    assert ran == [False, False, True] * 3
    assert collector.collections == 3
    assert 0 < collector.longest <= collector.total_time


def _full_collections_during(work: int) -> int:
    """How many automatic full collections ``work`` long-lived objects set off."""
    before = gc.get_stats()[2]["collections"]
    kept = [[i] for i in range(work)]  # lists are tracked: they fill the old generations
    after = gc.get_stats()[2]["collections"]
    del kept
    return int(after - before)


def test_the_automatic_full_collection_stops_and_ours_collects_cycles() -> None:
    # As a control, the same work sets off automatic full collections without us.
    assert _full_collections_during(1_000_000) > 0

    class Node:
        def __init__(self) -> None:
            self.other: Node | None = None

    collector = IdleCollector(1)
    collector.start()
    try:
        collector.after_tick(0.05)  # the first tick freezes
        a, b = Node(), Node()
        a.other, b.other = b, a
        gc.collect(1)  # the pair survives into the oldest generation, which is now ours
        del a, b  # a cycle there: only a full collection frees it
        assert _full_collections_during(1_000_000) == 0
        assert [o for o in gc.get_objects() if type(o) is Node]  # unreachable, still there
        assert collector.after_tick(0.05) is True
    finally:
        collector.stop()
    assert not [o for o in gc.get_objects() if type(o) is Node]


def test_two_collectors_share_the_settings_the_last_to_stop_restores_them() -> None:
    before = gc.get_threshold()
    first, second = IdleCollector(5), IdleCollector(5)
    first.start()
    second.start()
    first.stop()
    assert gc.get_threshold()[2] > 1_000_000  # the second still runs
    first.stop()  # stopping twice changes nothing
    assert gc.get_threshold()[2] > 1_000_000
    second.stop()
    assert gc.get_threshold() == before


def test_each_stats_interval_gets_its_own_figures() -> None:
    collector = IdleCollector(1)
    collector.start()
    for _ in range(4):
        collector.after_tick(0.05)
    collector.stop()
    count, longest = collector.take_interval()
    assert count == 3 and longest > 0
    assert collector.take_interval() == (0, 0.0)


def test_a_busy_tick_postpones_the_collection_but_not_for_ever() -> None:
    collector = IdleCollector(2, max_wait=5)
    collector.start()
    collector.after_tick(0.05)
    collector._last_cost = 0.010  # a full collection took 10 ms last time
    ran = [collector.after_tick(0.001) for _ in range(6)]  # 1 ms left each tick
    collector.stop()
    # Due at the 2nd tick, put off while there is no room, forced at the 5th.
    assert ran == [False, False, False, False, True, False]


def test_every_must_be_a_tick_at_least() -> None:
    with pytest.raises(ValueError):
        IdleCollector(0)
