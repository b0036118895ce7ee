"""ClientCore's connection states and input delivery, on the simulated network; parse_host.

The cores talk to a real :class:`GameServer` through
:class:`netsnake.sim.GameSimulation`, in virtual time from a fixed seed.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from netsnake.addresses import parse_host
from netsnake.client.core import CLIENT_TIMEOUT, default_client_config
from netsnake.client.state import TERMINAL_STATES, TRANSITIONS, ConnectionState, IllegalTransition
from netsnake.game.direction import Direction
from netsnake.game.events import PlayerLeft, ServerShuttingDown
from netsnake.game.messages import (
    MAX_INPUT_TURNS,
    Accepted,
    Rejected,
    RejectionCode,
    encode_message,
)
from netsnake.game.names import NameError_
from netsnake.game.world import MAX_QUEUED_TURNS, WorldConfig
from netsnake.server.game import ServerSettings
from netsnake.sim import SERVER_ADDR, GameSimulation, SimClient, patient_client_config
from protocol import (
    ClientConfig,
    DisconnectCode,
    MessageReceived,
    generate_static_key,
    key_fingerprint,
    public_key,
)
from protocol.simulator import LinkConfig

pytestmark = pytest.mark.timeout(60)

S = ConnectionState


def game(seed: int = 1, link: LinkConfig | None = None, **settings: object) -> GameSimulation:
    return GameSimulation(
        ServerSettings(tick_rate=10, seed=seed, **settings),  # type: ignore[arg-type]
        seed=seed,
        link=link,
    )


def state(client: SimClient) -> ConnectionState:
    """The client's state (a call, so type checkers do not pin it between sim steps)."""
    return client.core.state


def joined(sim: GameSimulation, name: str = "p", **kwargs: object) -> SimClient:
    client = sim.add_client(name, **kwargs)  # type: ignore[arg-type]
    sim.run(1.0)
    assert state(client) is S.PLAYING, (client.core.state, client.core.status_reason)
    return client


# --------------------------------------------------------------------------- states


def test_connecting_to_nobody_ends_unreachable() -> None:
    sim = game()
    sim.network.blackholed.add(SERVER_ADDR)
    c = sim.add_client("p", config=ClientConfig(connect_timeout=2.0))
    sim.run(1.0)
    assert state(c) is S.CONNECTING
    sim.run(1.5)
    assert state(c) is S.UNREACHABLE
    assert c.core.status_reason.startswith("Could not reach sim: no answer in ")
    assert c.core.connect_attempts >= 5  # it kept retrying the handshake
    assert c.core.steer(Direction.UP) is None


def test_bad_name_is_rejected_and_can_be_retried() -> None:
    sim = game()
    c = sim.add_client("\x1b[2Jevil")
    sim.run(1.0)
    core = c.core
    assert state(c) is S.REJECTED
    assert core.rejection_code == "bad-name"
    assert "control or invisible" in core.status_reason
    assert core.name is None
    # A bad name at the prompt is refused locally, with the same rules.
    assert core.name_rule_error("") == "the name is empty"
    with pytest.raises(NameError_):
        core.submit_name("x" * 40)
    assert state(c) is S.REJECTED
    core.submit_name(" okay ")
    assert state(c) is S.JOINING
    sim.run(1.0)
    assert state(c) is S.PLAYING and core.name == "okay" and core.status_reason == ""


def test_full_server_rejects_and_the_name_cannot_fix_it() -> None:
    sim = game(max_players=1)
    joined(sim, "a")
    b = sim.add_client("b")
    sim.run(1.0)
    assert state(b) is S.REJECTED and b.core.rejection_code == "full"
    b.core.submit_name("other")  # only a bad-name rejection reopens the join
    sim.run(0.5)
    assert state(b) is S.REJECTED


def test_server_silence_ends_lost() -> None:
    sim = game()
    c = joined(sim)
    sim.network.blackholed.add(SERVER_ADDR)
    sim.run(CLIENT_TIMEOUT - 0.5)
    assert state(c) is S.PLAYING  # the client's 4 s timeout has not expired yet
    sim.run(1.0)
    assert state(c) is S.LOST  # so a player hears of it within 5 s
    assert c.core.status_reason == "the server stopped answering"


def test_server_shutdown_message_then_disconnect_ends_shutdown() -> None:
    sim = game()
    c = joined(sim)
    sim.server.shutdown("maintenance")
    sim.run(0.5)
    assert state(c) is S.SHUTDOWN and c.core.status_reason == "maintenance"
    assert any(isinstance(e, ServerShuttingDown) for e in c.core.drain_events())
    sim.endpoint.close()
    sim.run(0.5)
    assert state(c) is S.SHUTDOWN and c.core.status_reason == "maintenance"


def test_clients_leaving_a_server_that_shuts_down_are_logged_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="game")
    sim = game()
    c = joined(sim)
    sim.server.shutdown()
    sim.run(0.5)
    assert state(c) is S.SHUTDOWN and c.core.status_reason == "stopped by its operator"
    c.core.endpoint.disconnect(DisconnectCode.NORMAL, "bye")  # the client closing on its way out
    sim.run(0.5)
    left = [r.getMessage() for r in caplog.records if " left (" in r.getMessage()]
    assert left and all(m.endswith("left (server shutting down)") for m in left), left


def test_server_disconnect_with_shutdown_code_alone_ends_shutdown() -> None:
    sim = game()
    c = joined(sim)
    sim.endpoint.close(DisconnectCode.SHUTDOWN, "going away")
    sim.run(0.5)
    assert state(c) is S.SHUTDOWN and c.core.status_reason == "going away"


def test_quit_is_answered_by_the_servers_disconnect() -> None:
    """docs/game-messages.rst, "Quitting": the server removes the seat at once and
    closes with DISCONNECT NORMAL "goodbye"; the client ends on that, sending none."""
    sim = game(bots=1)
    leaver = joined(sim, "leaver")
    stayer = joined(sim, "stayer")
    stayer.core.drain_events()
    disconnects: list[tuple[object, bytes]] = []
    sim.on_deliver = lambda src, dst, data: (
        disconnects.append((src, data)) if data[1] & 0x0F == 7 else None
    )
    leaver.core.request_quit()
    assert leaver.core.quitting and state(leaver) is S.PLAYING
    sim.run(0.2)  # one round trip and a tick, far inside the 1 s wait
    assert state(leaver) is S.CLOSED and not leaver.core.quitting
    assert {src for src, _ in disconnects} == {SERVER_ADDR}  # the client sent none
    assert sim.server.humans == 1
    assert [
        (e.name, e.reason) for e in stayer.core.drain_events() if isinstance(e, PlayerLeft)
    ] == [("leaver", "quit")]


def test_quit_gives_up_waiting_when_the_server_is_gone() -> None:
    sim = game()
    c = joined(sim)
    sim.network.blackholed.add(SERVER_ADDR)
    c.core.request_quit()
    sim.run(0.5)
    assert state(c) is S.PLAYING  # still waiting for the server's DISCONNECT
    sim.run(1.0)
    assert state(c) is S.CLOSED


def test_quit_while_connecting_closes_at_once() -> None:
    sim = game()
    sim.network.blackholed.add(SERVER_ADDR)
    c = sim.add_client("p")
    sim.run(0.3)
    c.core.request_quit()
    assert state(c) is S.CLOSED
    sim.run(6.0)  # the connect timeout must not turn CLOSED into UNREACHABLE
    assert state(c) is S.CLOSED


def test_terminal_states() -> None:
    assert S.PLAYING not in TERMINAL_STATES and S.JOINING not in TERMINAL_STATES
    assert S.SPECTATING not in TERMINAL_STATES
    assert {
        S.LOST,
        S.SHUTDOWN,
        S.CLOSED,
        S.REJECTED,
        S.UNREACHABLE,
        S.KEY_CHANGED,
    } == TERMINAL_STATES


# ------------------------------------------------------------------ server identity


def test_the_key_the_server_proves_is_known_after_the_handshake() -> None:
    sim = game()
    c = joined(sim)
    assert c.core.server_key == sim.endpoint.public_key
    assert c.core.server_fingerprint == key_fingerprint(sim.endpoint.public_key)


def test_the_pinned_key_lets_the_client_play() -> None:
    sim = game()
    pinned = replace(default_client_config(), server_key=sim.endpoint.public_key)
    c = joined(sim, config=pinned)
    assert c.core.server_key == sim.endpoint.public_key


def test_another_key_than_the_pinned_one_ends_key_changed() -> None:
    sim = game()
    remembered = public_key(generate_static_key())
    c = sim.add_client("p", config=replace(default_client_config(), server_key=remembered))
    sim.run(1.0)
    core = c.core
    assert state(c) is S.KEY_CHANGED
    assert core.server_key == sim.endpoint.public_key  # what it proved, to report and trust
    assert core.status_reason == (
        f"it proved {key_fingerprint(sim.endpoint.public_key)}\n"
        f"but {key_fingerprint(remembered)} was expected"
    )
    assert sim.server.humans == 0  # it never joined
    sim.run(6.0)
    assert state(c) is S.KEY_CHANGED  # and nothing later turns it into another ending


# --------------------------------------------------------------------------- inputs


def test_terminal_states_can_only_be_left_by_closing() -> None:
    for terminal in TERMINAL_STATES - {S.REJECTED}:
        assert TRANSITIONS[terminal] <= {S.CLOSED}, terminal
    assert TRANSITIONS[S.CLOSED] == frozenset()
    # A seat is reached only through JOINING (or a retried join after a
    # rejection), or by switching from the other seat.
    assert {s for s, targets in TRANSITIONS.items() if S.PLAYING in targets} == {
        S.JOINING,
        S.REJECTED,
        S.SPECTATING,
    }
    assert {s for s, targets in TRANSITIONS.items() if S.SPECTATING in targets} == {
        S.JOINING,
        S.REJECTED,
        S.PLAYING,
    }


def test_illegal_state_changes_are_refused() -> None:
    sim = game()
    c = joined(sim)
    with pytest.raises(IllegalTransition, match="from playing to unreachable"):
        c.core.mark_unreachable("unknown host")
    assert state(c) is S.PLAYING
    with pytest.raises(AttributeError):
        c.core.state = S.CLOSED  # type: ignore[misc]


def test_answers_to_a_join_out_of_turn_are_counted_not_obeyed() -> None:
    sim = game()
    c = joined(sim)
    core = c.core
    before = core.counters.bad_messages
    for msg in (
        Rejected(code=RejectionCode.FULL, reason="out of turn"),
        Accepted(player_id=9, name="x", width=5, height=5, wrap=True, tick_rate=1.0, colour=1),
    ):
        core.handle_event(MessageReceived(peer=SERVER_ADDR, data=encode_message(msg)), sim.now)
    assert state(c) is S.PLAYING and core.player_id != 9 and core.status_reason == ""
    assert core.counters.bad_messages == before + 2


def test_steer_ignores_turns_that_the_server_would_ignore() -> None:
    sim = game(world=WorldConfig(wrap=True))
    c = joined(sim, steer=False)
    me = c.core.own_player
    assert me is not None and me.alive
    assert c.core.steer(me.direction) is None
    assert c.core.steer(me.direction.opposite) is None
    right = Direction((me.direction + 1) % 4)
    assert c.core.steer(right) == 0
    assert c.core.steer(right) is None  # same as the pending turn
    assert c.core.pending_direction is right
    assert c.core.steer(Direction((right + 1) % 4)) == 1


def test_unacknowledged_turns_are_capped_by_what_one_input_carries_not_the_world_queue() -> None:
    sim = game(world=WorldConfig(wrap=True))
    c = joined(sim, steer=False)
    me = c.core.own_player
    assert me is not None and me.alive
    sim.network.blackholed.add(SERVER_ADDR)  # nothing is acknowledged from now on
    accepted = 0
    for _ in range(MAX_INPUT_TURNS + 5):
        pending = c.core.pending_direction
        reference = me.direction if pending is None else pending
        if c.core.steer(Direction((reference + 1) % 4)) is not None:
            accepted += 1
    # More than the world's MAX_QUEUED_TURNS: some may already have been applied.
    assert accepted == MAX_INPUT_TURNS > MAX_QUEUED_TURNS
    assert c.core.unacked_inputs == MAX_INPUT_TURNS


@pytest.mark.parametrize("seed", [31, 32])
def test_turns_are_repeated_until_acknowledged_at_50_percent_loss(seed: int) -> None:
    sim = game(
        seed=seed,
        world=WorldConfig(wrap=True),
        link=LinkConfig(loss=0.5, latency=0.04, jitter=0.02),
    )
    c = sim.add_client("p", steer=False, config=patient_client_config())
    sim.run(4.0)
    core = c.core
    assert state(c) is S.PLAYING, f"seed {seed}: {core.state}"
    turns = 0
    heading: Direction | None = None  # the last turn made: the core's reference too
    for i in range(60):
        me = c.core.own_player
        if me is not None and heading is None:
            heading = me.direction
        # Alternate right and left turns so the snake zigzags and never bites itself.
        if me is not None and me.alive and heading is not None and core.unacked_inputs < 3:
            turn = Direction((heading + (1 if i % 2 else 3)) % 4)
            if core.steer(turn) is not None:
                turns += 1
                heading = turn
        sim.run(0.3)
    sim.run(5.0)
    where = f"seed {seed}"
    assert turns >= 30, where
    assert core.counters.turns_sent == turns
    assert core.unacked_inputs == 0, where
    assert sim.server.counters.turns_received == turns, where
    # Half the INPUT datagrams were lost, so each turn had to ride in several of them.
    assert core.counters.input_datagrams > turns, where
    assert sim.server.counters.turns_duplicate > 0, where
    assert c.hash_mismatches == 0 and core.counters.mismatches == 0, where


# ------------------------------------------------------------------------- parse_host


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("example.org", ("example.org", 5050)),
        ("  example.org  ", ("example.org", 5050)),
        ("192.168.1.20", ("192.168.1.20", 5050)),
        ("192.168.1.20:6000", ("192.168.1.20", 6000)),
        ("host:1", ("host", 1)),
        ("host:65535", ("host", 65535)),
        ("::1", ("::1", 5050)),
        ("fe80::1:2", ("fe80::1:2", 5050)),
        ("[::1]", ("::1", 5050)),
        ("[::1]:7000", ("::1", 7000)),
        ("[2001:db8::5]:5051", ("2001:db8::5", 5051)),
    ],
)
def test_parse_host(text: str, expected: tuple[str, int]) -> None:
    assert parse_host(text, 5050) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        ":5050",
        "host:0",
        "host:",
        "[::1]:",
        "host:65536",
        "host:-1",
        "host:port",
        "[::1",
        "[::1]5050",
        "[]:5050",
        "bad host",
        "host:50 50",
    ],
)
def test_parse_host_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_host(text, 5050)
