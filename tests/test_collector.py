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


def test_it_collects_cycles_the_automatic_collector_now_leaves() -> None:
    class Node:
        def __init__(self) -> None:
            self.other: Node | None = None

    collector = IdleCollector(1)
    collector.start()
    collector.after_tick(0.05)
    a, b = Node(), Node()
    a.other, b.other = b, a
    gc.collect(1)  # the cycle reaches the oldest generation, which is now ours
    del a, b
    assert [o for o in gc.get_objects() if type(o) is Node]  # unreachable, still there
    assert collector.after_tick(0.05) is True
    collector.stop()
    assert not [o for o in gc.get_objects() if type(o) is Node]


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
