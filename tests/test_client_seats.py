"""The client core's seats: spectating, following a player, switching, and what it refuses.

A real :class:`ClientCore` against a real :class:`GameServer` on the seeded
simulated network; messages a hostile server might send are fed to the core
directly.
"""

from __future__ import annotations

import pytest

from netsnake.client.cli import build_parser
from netsnake.client.leader import LEADER_HOLD
from netsnake.client.state import ConnectionState as S
from netsnake.game.messages import (
    Accepted,
    Seat,
    Seated,
    Spectators,
    encode_message,
)
from netsnake.game.snapshot import ranked
from netsnake.server.game import ServerSettings
from netsnake.sim import SERVER_ADDR, GameSimulation, SimClient
from protocol import MessageReceived

pytestmark = pytest.mark.timeout(60)


def watching(seed: int = 1, bots: int = 3) -> tuple[GameSimulation, SimClient]:
    sim = GameSimulation(ServerSettings(tick_rate=10, bots=bots, seed=seed), seed=seed)
    eve = sim.add_client("eve", spectate=True)
    sim.run(2.0)
    assert eve.core.state is S.SPECTATING, (eve.core.state, eve.core.status_reason)
    return sim, eve


def feed(sim: GameSimulation, client: SimClient, *msgs: object) -> None:
    for msg in msgs:
        data = encode_message(msg)  # type: ignore[arg-type]
        client.core.handle_event(MessageReceived(peer=SERVER_ADDR, data=data), sim.now)


def test_a_spectator_follows_the_leader_until_told_otherwise() -> None:
    sim, eve = watching(seed=3)
    core = eve.core
    snap = core.latest_snapshot
    assert snap is not None and len(snap.players) == 3
    followed = snap.player(core.followed_id) if core.followed_id is not None else None
    assert followed is not None  # the leader (see the next test for which)
    assert core.view_id == core.followed_id  # the view highlights the followed snake
    assert core.player_id is None and core.own_player is None
    (held,) = sim.server._clients.values()
    assert held.follow == core.followed_id  # the server is told, and centres the area there


def test_a_spectator_stays_on_a_leader_through_ties_and_brief_overtakes() -> None:
    """Live, as in replays: the followed leader changes on a death, or once it has
    trailed someone by score for LEADER_HOLD s of play; the server follows along."""
    sim = GameSimulation(ServerSettings(tick_rate=10, bots=8, seed=21), seed=21)
    eve = sim.add_client("eve", spectate=True)
    core = eve.core
    while core.latest_snapshot is None:  # watch from the first snapshot: scores all 0
        sim.run(0.1)
    (held,) = sim.server._clients.values()
    hold_ticks = round(LEADER_HOLD * 10)
    assert all(p.score == 0 for p in core.latest_snapshot.players)
    switches = raw_switches = told = samples = 0
    last: int | None = None
    raw_last: int | None = None
    behind_since: int | None = None
    for _ in range(900):
        sim.run(0.1)
        snap = core.latest_snapshot
        followed = core.followed_id
        assert snap is not None and followed is not None
        samples += 1
        told += held.follow == followed
        living = [p for p in ranked(snap.players) if p.alive and p.body]
        raw = living[0].id if living else None
        raw_switches += raw is not None and raw_last is not None and raw != raw_last
        raw_last = raw
        old = snap.player(last) if last is not None else None
        if old is not None and living and living[0].score > old.score:
            behind_since = snap.tick if behind_since is None else behind_since
        else:
            behind_since = None
        if last is not None and followed != last:
            switches += 1
            now = snap.player(followed)
            if old is not None and old.alive and old.body:
                assert now is not None and now.score > old.score, snap.tick
                assert behind_since is not None, snap.tick
                assert snap.tick - behind_since >= hold_ticks - 2, snap.tick
            behind_since = None
        last = followed
    assert eve.hash_mismatches == 0
    print(f"switches {switches}, raw {raw_switches}, server told {told}/{samples}")
    assert 0 < switches < raw_switches, (switches, raw_switches)
    assert told >= 0.95 * samples, (told, samples)  # all but a round trip after each switch


def test_tab_follows_every_player_in_turn_then_the_leader_again() -> None:
    sim, eve = watching(seed=4)
    core = eve.core
    snap = core.latest_snapshot
    assert snap is not None
    ids = sorted(p.id for p in snap.players)
    leader = core.followed_id
    assert leader is not None
    seen = [core.follow_next() for _ in range(len(ids) + 1)]
    assert seen == [*ids, None]  # each player once, by id, then the leader
    assert core.followed_id == leader
    sim.run(0.5)
    (held,) = sim.server._clients.values()
    assert held.follow == leader  # the server follows the held leader again


def test_the_followed_player_leaving_hands_the_view_to_the_leader() -> None:
    sim = GameSimulation(ServerSettings(tick_rate=10, bots=1, seed=5), seed=5)
    ann = sim.add_client("ann")
    eve = sim.add_client("eve", spectate=True)
    sim.run(2.0)
    assert ann.core.player_id is not None
    while eve.core.followed_id != ann.core.player_id:
        eve.core.follow_next()
    ann.core.request_quit()
    sim.run(1.5)
    snap = eve.core.latest_snapshot
    assert snap is not None and [p.name for p in snap.players] == ["Kaa"]
    assert eve.core.followed_id == snap.players[0].id


def test_nothing_to_follow_in_an_empty_game() -> None:
    _sim, eve = watching(seed=6, bots=0)
    assert eve.core.followed_id is None and eve.core.follow_next() is None


def test_switching_to_play_and_back_moves_the_state_and_the_view() -> None:
    sim, eve = watching(seed=7)
    core = eve.core
    assert core.switch_seat()
    sim.run(1.0)
    assert core.state is S.PLAYING and core.player_id is not None
    assert core.view_id == core.player_id
    assert core.switch_seat()
    sim.run(1.0)
    assert core.state is S.SPECTATING and core.player_id is None
    assert core.unacked_inputs == 0
    assert eve.hash_mismatches == 0


def test_no_seat_to_switch_before_being_admitted() -> None:
    sim = GameSimulation(ServerSettings(tick_rate=10, seed=8), seed=8)
    c = sim.add_client("c")
    assert c.core.seat is None and not c.core.switch_seat()


def test_spectators_count_follows_the_server() -> None:
    sim, eve = watching(seed=9)
    assert eve.core.spectators == 1
    feed(sim, eve, Spectators(count=7))
    assert eve.core.spectators == 7


def test_seat_messages_that_make_no_sense_are_counted_not_obeyed() -> None:
    sim, eve = watching(seed=10)
    core = eve.core
    before = core.counters.bad_messages
    feed(
        sim,
        eve,
        # A player seat without a snake, and a spectator seat with one.
        Seated(seat=Seat.PLAYER, player_id=None, colour=0),
        Seated(seat=Seat.SPECTATOR, player_id=3, colour=0),
        # A second ACCEPTED, out of turn.
        Accepted(
            player_id=None,
            name="x",
            width=5,
            height=5,
            wrap=True,
            tick_rate=1.0,
            colour=0,
            seat=Seat.SPECTATOR,
        ),
    )
    assert core.state is S.SPECTATING and core.player_id is None
    assert core.counters.bad_messages == before + 3
    # SEATED before any seat was given is garbage too.
    sim2 = GameSimulation(ServerSettings(tick_rate=10, seed=11), seed=11)
    c = sim2.add_client("c")
    c.core.name = None
    sim2.run(1.0)
    assert c.core.state is S.JOINING
    feed(sim2, c, Seated(seat=Seat.PLAYER, player_id=1, colour=0))
    assert c.core.state is S.JOINING and c.core.counters.bad_messages == 1


def test_a_spectator_can_quit() -> None:
    sim, eve = watching(seed=12)
    eve.core.request_quit()
    assert eve.core.quitting
    sim.run(1.5)
    assert eve.core.state is S.CLOSED


def test_the_command_line_asks_to_spectate() -> None:
    assert build_parser().parse_args(["example.org", "--spectate"]).spectate
    assert not build_parser().parse_args(["example.org"]).spectate
