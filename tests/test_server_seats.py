"""Seats: a connection is admitted as a player (with a snake) or a spectator (without).

Real :class:`GameServer` and :class:`ClientCore` objects on the seeded
simulated network (:class:`netsnake.sim.GameSimulation`), in virtual time.
Spectators must get every snapshot a player gets (checked against the
server's hashes), never count against ``max_players``, and be limited by
``max_spectators``; SWITCH moves a connection both ways.
"""

from __future__ import annotations

import logging

import msgpack
import pytest

from netsnake.client.state import ConnectionState as S
from netsnake.game.direction import Direction
from netsnake.game.events import PlayerJoined, PlayerLeft
from netsnake.game.messages import (
    Input,
    RejectionCode,
    Seat,
    Seated,
    SwitchSeat,
    encode_message,
)
from netsnake.server.cli import parse_args
from netsnake.server.game import SPARE_CONNECTIONS, ServerSettings
from netsnake.sim import SERVER_ADDR, GameSimulation, SimClient
from protocol.simulator import LinkConfig

pytestmark = pytest.mark.timeout(60)


def state(c: SimClient) -> S:
    return c.core.state


def test_a_spectator_is_admitted_without_a_snake_and_gets_every_snapshot() -> None:
    seed = 31
    sim = GameSimulation(ServerSettings(tick_rate=10, bots=2, seed=seed), seed=seed)
    ann = sim.add_client("ann")
    eve = sim.add_client("eve", spectate=True)
    sim.run(3.0)
    assert state(eve) is S.SPECTATING, (eve.core.state, eve.core.status_reason)
    assert state(ann) is S.PLAYING
    assert eve.core.player_id is None and eve.core.seat is Seat.SPECTATOR
    assert (sim.server.players, sim.server.humans, sim.server.spectators) == (3, 1, 1)
    snap = eve.core.latest_snapshot
    assert snap is not None and {p.name for p in snap.players} == {"ann", "Kaa", "Nagini"}
    # Snapshots reach the spectator like any player, each checked against the server.
    assert eve.hash_checks >= 25 and eve.hash_mismatches == 0, f"seed {seed}"
    assert eve.core.frame(sim.now) is not None
    # Everyone hears how many are watching.
    assert ann.core.spectators == 1 and eve.core.spectators == 1


def test_spectators_do_not_count_against_max_players() -> None:
    sim = GameSimulation(ServerSettings(tick_rate=10, max_players=2, seed=1), seed=1)
    players = [sim.add_client(f"p{i}") for i in range(2)]
    watchers = [sim.add_client(f"w{i}", spectate=True) for i in range(3)]
    sim.run(2.0)
    assert [state(c) for c in players] == [S.PLAYING] * 2
    assert [state(c) for c in watchers] == [S.SPECTATING] * 3
    assert (sim.server.players, sim.server.spectators) == (2, 3)
    # A third player is still refused: the seats are full.
    late = sim.add_client("late")
    sim.run(1.0)
    assert state(late) is S.REJECTED and late.core.rejection_code is RejectionCode.FULL
    assert late.core.status_reason == "server full (2 players); you can watch with --spectate"


def test_a_full_spectator_list_gets_a_clear_rejection() -> None:
    sim = GameSimulation(ServerSettings(tick_rate=10, max_spectators=1, seed=2), seed=2)
    first = sim.add_client("first", spectate=True)
    sim.run(1.0)
    second = sim.add_client("second", spectate=True)
    sim.run(1.0)
    assert state(first) is S.SPECTATING
    assert state(second) is S.REJECTED
    assert second.core.rejection_code is RejectionCode.SPECTATORS_FULL
    assert second.core.status_reason == "no spectator seat left (1 watching)"
    # A player seat is still there for the asking.
    player = sim.add_client("player")
    sim.run(1.0)
    assert state(player) is S.PLAYING


def test_no_spectators_at_all_when_max_spectators_is_zero() -> None:
    sim = GameSimulation(ServerSettings(tick_rate=10, max_spectators=0, seed=3), seed=3)
    eve = sim.add_client("eve", spectate=True)
    sim.run(1.0)
    assert eve.core.rejection_code is RejectionCode.SPECTATORS_FULL


def test_a_spectator_takes_a_free_seat_and_the_others_see_a_new_player() -> None:
    seed = 4
    sim = GameSimulation(ServerSettings(tick_rate=10, seed=seed), seed=seed)
    ann = sim.add_client("ann")
    eve = sim.add_client("eve", spectate=True, steer=False)
    sim.run(1.5)
    ann.core.drain_events()
    assert ann.core.spectators == 1
    assert eve.core.switch_seat()  # the other seat: play
    sim.run(1.0)
    assert state(eve) is S.PLAYING and eve.core.player_id is not None
    assert eve.core.seat is Seat.PLAYER and eve.core.requested_seat is Seat.PLAYER
    assert (sim.server.humans, sim.server.spectators) == (2, 0)
    snap = eve.core.latest_snapshot
    me = snap.player(eve.core.player_id) if snap is not None else None
    assert me is not None and me.name == "eve" and me.colour == eve.core.colour
    joined = [e for e in ann.core.drain_events() if isinstance(e, PlayerJoined)]
    assert [e.name for e in joined] == ["eve"]
    assert ann.core.spectators == 0 and eve.core.spectators == 0
    # The new snake steers like any other.
    assert eve.core.steer(Direction.UP if me.direction.value % 2 else Direction.LEFT) is not None
    sim.run(1.0)
    assert sim.server.counters.turns_received >= 1
    assert eve.hash_mismatches == 0, f"seed {seed}"


def test_a_player_gives_up_the_snake_to_watch_and_a_bot_takes_the_seat() -> None:
    seed = 5
    sim = GameSimulation(ServerSettings(tick_rate=10, max_players=2, bots=2, seed=seed), seed=seed)
    ann = sim.add_client("ann", steer=False)
    bob = sim.add_client("bob")
    sim.run(1.5)
    assert sim.server.players == 2 and sim.server.humans == 2  # both bots made room
    assert ann.core.switch_seat(Seat.SPECTATOR)
    sim.run(1.0)
    assert state(ann) is S.SPECTATING and ann.core.player_id is None
    assert (sim.server.humans, sim.server.spectators, sim.server.players) == (1, 1, 2)
    snap = ann.core.latest_snapshot
    assert snap is not None and {p.name for p in snap.players} == {"bob", "Kaa"}  # a bot sat down
    left = [e for e in bob.core.drain_events() if isinstance(e, PlayerLeft)]
    assert [(e.name, e.reason) for e in left] == [("ann", "spectating")]
    assert bob.core.spectators == 1
    # A spectator's turns go nowhere.
    assert ann.core.steer(Direction.UP) is None
    # And back again: the bot makes room once more.
    assert ann.core.switch_seat(Seat.PLAYER)
    sim.run(1.0)
    assert state(ann) is S.PLAYING and sim.server.humans == 2
    assert sim.server.counters.seat_switches == 2
    assert ann.hash_mismatches == 0 and bob.hash_mismatches == 0, f"seed {seed}"


def test_switching_to_play_on_a_full_server_is_refused_with_a_reason() -> None:
    sim = GameSimulation(ServerSettings(tick_rate=10, max_players=1, seed=6), seed=6)
    ann = sim.add_client("ann")
    eve = sim.add_client("eve", spectate=True)
    sim.run(1.5)
    eve.core.drain_events()
    assert eve.core.switch_seat(Seat.PLAYER)
    sim.run(1.0)
    assert state(eve) is S.SPECTATING and eve.core.player_id is None
    refusals = [e for e in eve.core.drain_events() if isinstance(e, Seated)]
    assert [e.refusal for e in refusals] == ["server full (1 player)"]
    assert state(ann) is S.PLAYING and sim.server.players == 1
    # When the seat frees up, the same request succeeds.
    ann.core.request_quit()
    sim.run(1.5)
    eve.core.switch_seat(Seat.PLAYER)
    sim.run(1.0)
    assert state(eve) is S.PLAYING


def test_switching_to_watch_needs_a_spectator_seat() -> None:
    sim = GameSimulation(ServerSettings(tick_rate=10, max_spectators=0, seed=7), seed=7)
    ann = sim.add_client("ann")
    sim.run(1.0)
    ann.core.switch_seat(Seat.SPECTATOR)
    sim.run(1.0)
    assert state(ann) is S.PLAYING and ann.core.player_id is not None
    refusals = [e for e in ann.core.drain_events() if isinstance(e, Seated)]
    assert [e.refusal for e in refusals] == ["no spectator seat left (0 watching)"]


def test_asking_for_the_seat_already_held_changes_nothing() -> None:
    sim = GameSimulation(ServerSettings(tick_rate=10, seed=8), seed=8)
    ann = sim.add_client("ann", steer=False)
    sim.run(1.0)
    pid = ann.core.player_id
    ann.core.switch_seat(Seat.PLAYER)
    sim.run(0.5)
    assert state(ann) is S.PLAYING and ann.core.player_id == pid
    assert sim.server.counters.seat_switches == 0 and sim.server.players == 1


def test_a_spectator_leaving_is_logged_and_counted_down(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="game")
    sim = GameSimulation(ServerSettings(tick_rate=10, bots=1, seed=9), seed=9)
    ann = sim.add_client("ann")
    eve = sim.add_client("eve", spectate=True)
    sim.run(1.5)
    assert ann.core.spectators == 1
    eve.core.request_quit()
    sim.run(1.5)
    assert state(eve) is S.CLOSED
    assert sim.server.spectators == 0 and ann.core.spectators == 0
    assert sim.server.players == 2  # nobody's snake went with the spectator
    # No one was told a player left.
    assert not [e for e in ann.core.drain_events() if isinstance(e, PlayerLeft)]
    messages = [r.getMessage() for r in caplog.records if r.name == "game"]
    assert any(m.startswith("eve is spectating, from ") for m in messages), messages
    assert "spectator eve left (quit)" in messages


def test_a_spectator_timing_out_is_removed() -> None:
    sim = GameSimulation(ServerSettings(tick_rate=10, seed=10), seed=10)
    ann = sim.add_client("ann")
    eve = sim.add_client("eve", spectate=True)
    sim.run(1.5)
    assert sim.server.spectators == 1
    # Eve's machine goes silent: the server's timeout ends the seat.
    for src, dst in ((eve.addr, SERVER_ADDR), (SERVER_ADDR, eve.addr)):
        sim.network.set_link(src, dst, LinkConfig(loss=1.0))
    sim.run(15.0)
    assert sim.server.spectators == 0 and ann.core.spectators == 0
    assert state(ann) is S.PLAYING


def test_seat_messages_before_joining_and_inputs_without_a_snake_are_dropped() -> None:
    sim = GameSimulation(ServerSettings(tick_rate=10, seed=11), seed=11)
    eve = sim.add_client("eve", spectate=True, steer=False)
    nameless = sim.add_client("x", steer=False)
    nameless.core.name = None  # connects, never joins
    sim.run(1.0)
    nameless.core.endpoint.send_reliable(encode_message(SwitchSeat(seat=Seat.PLAYER)))
    eve.core.endpoint.send_unreliable(
        encode_message(Input(first_seq=0, turns=(Direction.UP, Direction.LEFT), stamps=(0, 0)))
    )
    sim.run(1.0)
    dropped = sim.server.counters.dropped
    assert dropped["switch_before_join"] == 1
    assert dropped["input_without_snake"] >= 1
    assert sim.server.counters.turns_received == 0 and sim.server.players == 0
    assert sim.server.counters.handler_errors == 0


def test_a_join_from_an_older_game_version_is_told_so() -> None:
    sim = GameSimulation(ServerSettings(tick_rate=10, seed=12), seed=12)
    old = sim.add_client("old", steer=False)
    old.core.name = None
    sim.run(1.0)
    old.core.endpoint.send_reliable(msgpack.packb([1, "old", 1]))  # version 1 had no seat
    sim.run(0.5)
    assert state(old) is S.REJECTED and old.core.rejection_code is RejectionCode.VERSION
    assert "client 1" in old.core.status_reason


def test_the_command_line_sets_the_spectator_limit() -> None:
    _, settings = parse_args(["--max-spectators", "3"])
    assert settings.max_spectators == 3
    _, default = parse_args([])
    assert default.max_spectators == 16
    # Every seat has a protocol connection, and a few spare to be told "full".
    assert default.max_connections == 16 + 16 + SPARE_CONNECTIONS


def test_giving_up_a_dead_snake_and_taking_one_again_waits_out_the_respawn() -> None:
    """``p`` twice while dead is no way round the respawn time: the new snake starts
    dead and respawns on the tick the old one would have."""
    sim = GameSimulation(ServerSettings(tick_rate=10, seed=5), seed=5)
    walker = sim.add_client("walker", steer=False)  # straight on, into a wall
    world = sim.server.world
    for _ in range(300):
        sim.run(0.1)
        pid = walker.core.player_id
        snake = world.snapshot().player(pid) if pid is not None else None
        if snake is not None and not snake.alive and snake.respawn_ticks > 3:
            break
    else:
        raise AssertionError("the walker never died")
    due = world.tick + snake.respawn_ticks
    assert walker.core.switch_seat(Seat.SPECTATOR)
    sim.run(0.05)
    assert state(walker) is S.SPECTATING
    assert walker.core.switch_seat(Seat.PLAYER)
    seen_dead = 0
    while world.tick < due + 3:
        sim.run(0.01)
        pid = walker.core.player_id
        snake = (
            world.snapshot().player(pid) if pid is not None and state(walker) is S.PLAYING else None
        )
        if snake is None:
            continue
        if world.tick < due:
            assert not snake.alive, (world.tick, due)
            seen_dead += 1
        elif world.tick == due:
            assert snake.alive, (world.tick, due)
    assert seen_dead > 0  # the seat was taken back before the respawn was due
