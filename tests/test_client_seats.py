"""The client core's seats: spectating, following a player, switching, and what it refuses.

A real :class:`ClientCore` against a real :class:`GameServer` on the seeded
simulated network; messages a hostile server might send are fed to the core
directly.
"""

from __future__ import annotations

import pytest

from netsnake.client.cli import build_parser
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
from tests.leader_audit import LeaderAudit

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
    sim = GameSimulation(ServerSettings(tick_rate=10, bots=3, seed=3), seed=3)
    first = sim.add_client("eve", spectate=True)
    while first.core.latest_snapshot is None:
        sim.run(0.05)
    best = next(p for p in ranked(first.core.latest_snapshot.players) if p.alive and p.body)
    assert first.core.followed_id == best.id  # the first pick: the best living snake

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
    assert all(p.score == 0 for p in core.latest_snapshot.players)
    audit = LeaderAudit(10, slack=2)
    told = samples = 0
    for _ in range(900):
        sim.run(0.1)
        snap = core.latest_snapshot
        followed = core.followed_id
        assert snap is not None and followed is not None
        samples += 1
        told += held.follow == followed
        audit.observe(snap, followed)
    assert eve.hash_mismatches == 0
    switches, raw = audit.switches, audit.raw_switches
    print(f"switches {switches}, raw {raw}, server told {told}/{samples}")
    assert 0 < switches < raw, (switches, raw)
    assert told >= 0.95 * samples, (told, samples)  # all but a round trip after each switch


def test_tab_follows_every_player_in_turn_then_the_leader_again() -> None:
    sim, eve = watching(seed=4)
    core = eve.core
    snap = core.latest_snapshot
    assert snap is not None
    ids = sorted(p.id for p in snap.players)
    assert core.follows_leader and core.followed_id is not None
    seen = []
    for _ in range(len(ids) + 1):
        seen.append(core.follow_next())
        sim.run(3.0)  # the game goes on; the lead may change hands meanwhile
        assert core.follows_leader == (seen[-1] is None)
    assert seen == [*ids, None]  # each player once, by id, then the leader
    # The leader as it is now, not whoever led when Tab was first pressed: the best
    # living snake the moment we went back (and held since, if overtaken).
    snap = core.latest_snapshot
    assert snap is not None
    followed = snap.player(core.followed_id) if core.followed_id is not None else None
    assert followed is not None and followed.alive
    (held,) = sim.server._clients.values()
    assert held.follow == core.followed_id  # the server follows that leader too


def test_going_back_to_the_leader_takes_whoever_leads_then() -> None:
    sim, eve = watching(seed=4)
    core = eve.core
    for _ in range(50):  # a Tab choice held while the game goes on ...
        core.set_follow(min(p.id for p in sim.server.snapshot.players))
        sim.run(0.2)
        core.set_follow(None)  # ... then back to the leader: picked afresh
        snap = core.latest_snapshot
        assert snap is not None
        living = [p for p in ranked(core.scoreboard(snap)) if p.alive]
        assert core.followed_id == living[0].id
        assert core._view_sent is not None and core._view_sent.follow == core.followed_id


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
    assert eve.core.followed_id == snap.players[0].id and eve.core.follows_leader
    # The server is told too: it is not left following an id a newcomer may get.
    (held,) = (c for c in sim.server._clients.values() if c.name == "eve")
    assert held.follow == snap.players[0].id


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


def test_a_taken_name_is_made_unique_and_the_client_knows_what_it_asked_for() -> None:
    sim = GameSimulation(ServerSettings(tick_rate=10, bots=1, seed=6), seed=6)
    kaa = sim.add_client("Kaa")  # the bot's name
    ann = sim.add_client("ann")
    sim.run(2.0)
    assert (kaa.core.name, kaa.core.renamed_from) == ("Kaa-2", "Kaa")
    assert (ann.core.name, ann.core.renamed_from) == ("ann", None)
