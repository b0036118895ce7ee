"""LeaderHold: whom a spectator's camera follows when nobody is chosen (replays and live)."""

from __future__ import annotations

from netsnake.client.leader import LEADER_HOLD, Contender, LeaderHold


def c(pid: int, score: int, living: bool = True) -> Contender:
    return Contender(pid, score, living)


def test_the_first_pick_is_the_best_living_player() -> None:
    hold = LeaderHold()
    assert hold.pick([c(1, 9, living=False), c(2, 5), c(3, 4)], 0.0) == 2
    assert hold.leader == 2


def test_a_tie_never_moves_the_camera() -> None:
    hold = LeaderHold()
    assert hold.pick([c(1, 5), c(2, 4)], 0.0) == 1
    # 2 draws level and is ranked first (by kills, length or id): still 1, for as long as it lasts.
    for t in range(100):
        assert hold.pick([c(2, 5), c(1, 5)], t) == 1


def test_an_overtaken_leader_is_held_for_the_hold_then_left() -> None:
    hold = LeaderHold()
    hold.pick([c(1, 5), c(2, 4)], 10.0)
    assert hold.pick([c(2, 6), c(1, 5)], 11.0) == 1  # overtaken at 11 s
    assert hold.pick([c(2, 6), c(1, 5)], 11.0 + LEADER_HOLD - 0.01) == 1
    assert hold.pick([c(2, 6), c(1, 5)], 11.0 + LEADER_HOLD) == 2
    assert hold.leader == 2


def test_catching_up_again_restarts_the_hold() -> None:
    hold = LeaderHold()
    hold.pick([c(1, 5), c(2, 4)], 0.0)
    assert hold.pick([c(2, 6), c(1, 5)], 1.0) == 1  # overtaken at 1 s
    assert hold.pick([c(1, 6), c(2, 6)], 2.0) == 1  # level again: the clock stops
    assert hold.pick([c(2, 7), c(1, 6)], 3.5) == 1  # overtaken anew at 3.5 s
    assert hold.pick([c(2, 7), c(1, 6)], 3.5 + LEADER_HOLD - 0.01) == 1
    assert hold.pick([c(2, 7), c(1, 6)], 3.5 + LEADER_HOLD) == 2


def test_a_dead_or_departed_leader_gives_way_at_once() -> None:
    hold = LeaderHold()
    hold.pick([c(1, 5), c(2, 4), c(3, 1)], 0.0)
    assert hold.pick([c(1, 5, living=False), c(2, 4), c(3, 1)], 0.1) == 2
    assert hold.pick([c(3, 1)], 0.2) == 3  # 2 left the game


def test_with_nobody_living_the_best_of_the_dead_is_shown_but_not_held() -> None:
    hold = LeaderHold()
    hold.pick([c(1, 5), c(2, 4)], 0.0)
    assert hold.pick([c(2, 4, living=False), c(1, 3, living=False)], 0.1) == 2
    assert hold.leader == 1
    assert hold.pick([], 0.2) is None


def test_reset_forgets_the_leader() -> None:
    hold = LeaderHold()
    hold.pick([c(1, 5), c(2, 5)], 0.0)
    hold.reset()
    assert hold.leader is None
    assert hold.pick([c(2, 5), c(1, 5)], 0.1) == 2
