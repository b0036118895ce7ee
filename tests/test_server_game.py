"""The sans-IO GameServer on the seeded simulated network, in virtual time.

Everything runs through :class:`netsnake.sim.GameSimulation`: a real
:class:`GameServer` and real :class:`ClientCore` objects exchanging datagrams
over :class:`protocol.simulator.SimulatedNetwork`; every snapshot a client
rebuilds is checked against the server's own hash of that tick.
"""

from __future__ import annotations

import dataclasses

import msgpack
import pytest

from netsnake import GAME_VERSION
from netsnake.game.direction import Direction
from netsnake.game.events import GameEvent, PlayerJoined, PlayerLeft
from netsnake.game.messages import (
    Accepted,
    Input,
    Join,
    Resync,
    SnapshotMessage,
    encode_message,
)
from netsnake.game.snapshot import snapshot_hash
from netsnake.game.snapshot_codec import encode_delta
from netsnake.game.world import WorldConfig
from netsnake.server.game import BOT_NAMES, ServerSettings
from netsnake.sim import GameSimulation, SimClient, patient_client_config
from protocol import PayloadReceived
from protocol.simulator import LinkConfig

pytestmark = pytest.mark.timeout(60)

PLAYING = "playing"


def playing(client: SimClient) -> bool:
    return client.core.state.value == PLAYING


def drained(sim: GameSimulation) -> dict[str, list[GameEvent]]:
    """Every client's events since the last call, by name."""
    return {str(c.core.name): c.core.drain_events() for c in sim.clients}


# --------------------------------------------------------------------------- joining


def test_join_is_accepted_with_the_game_settings() -> None:
    seed = 11
    world = WorldConfig(width=30, height=22, wrap=True)
    sim = GameSimulation(ServerSettings(tick_rate=15, world=world, bots=1, seed=seed), seed=seed)
    ann = sim.add_client("  ann ")
    sim.run(1.0)
    core = ann.core
    assert core.state.value == PLAYING, f"seed {seed}: {core.state} {core.status_reason}"
    assert core.name == "ann"  # trimmed by the server's name rules
    assert core.board == (30, 22, True)
    assert core.tick_rate == 15
    assert core.player_id is not None
    snap = core.latest_snapshot
    assert snap is not None and (snap.width, snap.height, snap.wrap) == (30, 22, True)
    me = snap.player(core.player_id)
    assert me is not None and me.name == "ann" and me.colour == core.colour
    bot_colours = {p.colour for p in snap.players if p.id != core.player_id}
    assert core.colour not in bot_colours  # colours are spread out
    assert (sim.server.players, sim.server.humans) == (2, 1)
    assert sim.server.counters.joins == 1
    assert ann.hash_mismatches == 0 and ann.hash_checks > 5


def test_duplicate_join_is_ignored() -> None:
    sim = GameSimulation(ServerSettings(tick_rate=10), seed=2)
    a = sim.add_client("a", steer=False)
    sim.run(1.0)
    a.core.endpoint.send_reliable(encode_message(Join(name="other", version=1)))
    sim.run(0.5)
    assert sim.server.counters.dropped["duplicate_join"] == 1
    assert (sim.server.players, a.core.name) == (1, "a")


# ------------------------------------------------------------------- delta baselines


def test_deltas_follow_acks_and_clients_share_encodings() -> None:
    """At 0% loss every client acks the same tick, so each tick is encoded once for all."""
    seed = 5
    sim = GameSimulation(
        ServerSettings(tick_rate=10, seed=seed), seed=seed, link=LinkConfig(latency=0.02)
    )
    clients = [sim.add_client(f"p{i}") for i in range(8)]
    sim.run(3.0)
    assert all(map(playing, clients))
    history, counters = sim.server.history, sim.server.counters
    encodes, hits = history.encodes, history.cache_hits
    fulls, deltas, ticks = counters.full_snapshots, counters.delta_snapshots, counters.ticks
    sim.run(10.0)
    n = counters.ticks - ticks
    assert 99 <= n <= 101  # float steps may land one tick either side
    assert counters.full_snapshots == fulls, f"seed {seed}: full snapshots after warm-up"
    assert counters.delta_snapshots - deltas == 8 * n
    per_tick = (history.encodes - encodes) / n
    assert per_tick <= 1.05, f"seed {seed}: {per_tick:.2f} encodes per tick"
    assert history.cache_hits - hits >= 7 * n * 0.95
    for c in clients:
        assert c.hash_mismatches == 0 and c.core.counters.mismatches == 0
        assert c.core.counters.full <= 2, c.core.counters
        assert c.core.counters.delta >= 100


def test_deltas_survive_loss_without_falling_back_to_full() -> None:
    seed = 8
    sim = GameSimulation(
        ServerSettings(tick_rate=10, seed=seed),
        seed=seed,
        link=LinkConfig(loss=0.2, latency=0.03, jitter=0.01),
    )
    clients = [sim.add_client(f"p{i}", config=patient_client_config()) for i in range(4)]
    sim.run(20.0)
    counters = sim.server.counters
    assert all(map(playing, clients))
    # An ack for any recent tick is a usable baseline, so loss does not force fulls.
    assert counters.full_snapshots <= 4 * 3, f"seed {seed}: {counters}"
    assert counters.delta_snapshots > 4 * 150
    assert all(c.hash_mismatches == 0 for c in clients)


# ---------------------------------------------------------------------------- resync


def test_client_without_the_baseline_asks_for_a_resync_and_gets_a_full_snapshot() -> None:
    seed = 3
    sim = GameSimulation(ServerSettings(tick_rate=10, bots=2, seed=seed), seed=seed)
    a = sim.add_client("a")
    sim.run(2.0)
    core, counters = a.core, sim.server.counters
    assert core.state.value == PLAYING
    fulls_sent, fulls_seen = counters.full_snapshots, core.counters.full
    # A delta against a tick this client never saw, as the server would send it.
    base = sim.server.snapshot
    far_base = dataclasses.replace(base, tick=base.tick + 1000)
    far = dataclasses.replace(base, tick=base.tick + 1001)
    msg = SnapshotMessage(
        state_hash=snapshot_hash(far),
        input_ack=-1,
        inputs_pending=0,
        payload=encode_delta(far, far_base),
    )
    core.handle_event(PayloadReceived(peer=core.endpoint.server, data=encode_message(msg)), sim.now)
    assert (core.counters.missing_baseline, core.counters.resyncs) == (1, 1)
    sim.run(1.0)
    assert counters.full_snapshots == fulls_sent + 1, "one full snapshot answers the resync"
    assert core.counters.full == fulls_seen + 1
    assert core.counters.resyncs == 1 and core.counters.mismatches == 0
    delta_before = core.counters.delta
    sim.run(1.0)
    assert core.counters.delta >= delta_before + 8, "deltas resume after the full snapshot"
    assert a.hash_mismatches == 0


def test_resync_message_resets_the_baseline() -> None:
    sim = GameSimulation(ServerSettings(tick_rate=10), seed=4)
    a = sim.add_client("a")
    sim.run(2.0)
    fulls = sim.server.counters.full_snapshots
    for _ in range(3):
        a.core.endpoint.send_reliable(encode_message(Resync()))
        sim.run(0.5)
    assert sim.server.counters.full_snapshots == fulls + 3
    assert a.hash_mismatches == 0 and a.core.counters.mismatches == 0


# ---------------------------------------------------------------------------- inputs


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_inputs_are_applied_once_and_in_order_despite_duplicates_and_reordering(seed: int) -> None:
    sim = GameSimulation(
        ServerSettings(tick_rate=10, world=WorldConfig(wrap=True), seed=seed),
        seed=seed,
        link=LinkConfig(loss=0.2, latency=0.03, jitter=0.03, duplicate=0.3, reorder=0.3),
    )
    a = sim.add_client("a", steer=False, config=patient_client_config())
    sim.run(3.0)
    assert a.core.state.value == PLAYING, f"seed {seed}"
    pid = a.core.player_id
    world = sim.server.world
    applied: list[Direction] = []
    real_queue_turn = world.queue_turn

    def recording_queue_turn(player_id: int, direction: Direction) -> bool:
        # A spy: the real world still queues the turn.
        if player_id == pid:
            applied.append(direction)
        return real_queue_turn(player_id, direction)

    world.queue_turn = recording_queue_turn  # type: ignore[method-assign]
    turns = [Direction((i * 7 + seed) % 4) for i in range(20)]
    # Like the client: every datagram repeats all turns sent so far, from sequence 0.
    for i in range(len(turns)):
        a.core.endpoint.send_unreliable(
            encode_message(Input(first_seq=0, turns=tuple(turns[: i + 1]), stamps=(0,) * (i + 1)))
        )
        sim.run(0.05)
    for _ in range(10):  # the last datagram must get through the 20% loss
        a.core.endpoint.send_unreliable(
            encode_message(Input(first_seq=0, turns=tuple(turns), stamps=(0,) * len(turns)))
        )
        sim.run(0.1)
    assert applied == turns, f"seed {seed}"
    counters = sim.server.counters
    assert counters.turns_received == len(turns)
    assert counters.turns_duplicate > len(turns), "repeats were counted as duplicates"


def test_inputs_from_players_that_have_not_joined_are_ignored() -> None:
    sim = GameSimulation(ServerSettings(tick_rate=10, bots=1), seed=6)
    lurker = sim.add_client("lurker", steer=False)
    lurker.core.name = None  # connects, never joins
    sim.run(1.0)
    lurker.core.endpoint.send_unreliable(
        encode_message(Input(first_seq=0, turns=(Direction.UP, Direction.LEFT), stamps=(0, 0)))
    )
    sim.run(0.5)
    assert sim.server.counters.turns_received == 0


# ---------------------------------------------------------------------- bots and room


def test_bots_leave_for_humans_and_return_when_they_go() -> None:
    seed = 9
    sim = GameSimulation(ServerSettings(tick_rate=10, max_players=3, bots=3, seed=seed), seed=seed)
    assert sim.server.players == 3
    first = sim.add_client("first")
    sim.run(1.0)
    drained(sim)
    second = sim.add_client("second")
    sim.run(1.0)
    assert (sim.server.players, sim.server.humans) == (3, 2)
    events = first.core.drain_events()
    left = [e for e in events if isinstance(e, PlayerLeft)]
    assert len(left) == 1 and left[0].reason == "making room" and left[0].name in BOT_NAMES
    assert any(isinstance(e, PlayerJoined) and e.name == "second" for e in events)
    snap = first.core.latest_snapshot
    assert snap is not None and len(snap.players) == 3

    second.core.request_quit()
    sim.run(1.5)
    assert second.core.state.value == "closed"
    events = first.core.drain_events()
    assert any(
        isinstance(e, PlayerLeft) and e.name == "second" and e.reason == "quit" for e in events
    )
    assert any(isinstance(e, PlayerJoined) and e.name in BOT_NAMES for e in events)
    assert (sim.server.players, sim.server.humans) == (3, 1)


def test_full_server_without_bots_rejects() -> None:
    sim = GameSimulation(ServerSettings(tick_rate=10, max_players=2), seed=1)
    a, b = sim.add_client("a"), sim.add_client("b")
    sim.run(1.0)
    c = sim.add_client("c")
    sim.run(1.0)
    assert [x.core.state.value for x in (a, b, c)] == [PLAYING, PLAYING, "rejected"]
    assert c.core.rejection_code == "full" and "full" in c.core.status_reason
    assert sim.server.counters.rejections == 1


def test_connection_that_never_joins_is_closed_after_the_join_timeout() -> None:
    sim = GameSimulation(ServerSettings(tick_rate=10, join_timeout=2.0), seed=7)
    player = sim.add_client("player")
    idle = sim.add_client("idle", steer=False)
    idle.core.name = None  # sits at the name prompt
    sim.run(1.5)
    assert idle.core.state.value == "joining"
    assert len(sim.endpoint.peers) == 2
    sim.run(2.0)
    assert idle.core.state.value == "lost"
    assert "did not join in time" in idle.core.status_reason
    assert sim.endpoint.peers == [player.addr]
    assert player.core.state.value == PLAYING


# ------------------------------------------------------------------ hostile clients


def test_client_sending_garbage_is_contained() -> None:
    seed = 12
    sim = GameSimulation(ServerSettings(tick_rate=10, bots=1, seed=seed), seed=seed)
    honest = sim.add_client("honest")
    mallory = sim.add_client("mallory", steer=False)
    sim.run(1.5)
    assert mallory.core.state.value == PLAYING
    ep = mallory.core.endpoint
    reliable_junk = [
        b"\xc1",  # never valid msgpack
        msgpack.packb([99]),  # unknown message type
        msgpack.packb([1, "x"]),  # JOIN with a field missing
        msgpack.packb([30, 0, b"\x07"]),  # INPUT with a bad direction
        encode_message(
            Accepted(player_id=1, name="x", width=8, height=8, wrap=False, tick_rate=10, colour=0)
        ),  # server-only message
        msgpack.packb({"a": 1}),
    ]
    unreliable_junk = [b"", b"\xff" * 100, msgpack.packb([1, "x", 1]), encode_message(Resync())]
    seen = honest.core.counters.snapshots
    for _ in range(5):
        for data in reliable_junk:
            ep.send_reliable(data)
        for data in unreliable_junk:
            ep.send_unreliable(data)
        sim.run(0.3)
    sim.run(1.0)
    counters = sim.server.counters
    assert counters.handler_errors == 0
    assert counters.bad_messages >= 5 * 5, counters
    assert counters.dropped["unexpected_message"] == 5
    assert counters.dropped["unexpected_unreliable"] >= 5
    assert honest.core.state.value == PLAYING
    assert honest.core.counters.snapshots >= seen + 25
    assert honest.hash_mismatches == 0 and honest.core.counters.mismatches == 0
    # Mallory's own game is unharmed too: it still receives and verifies snapshots.
    assert mallory.core.state.value == PLAYING and mallory.hash_mismatches == 0


def test_garbage_instead_of_a_join_is_answered_with_a_name_rejection() -> None:
    sim = GameSimulation(ServerSettings(tick_rate=10), seed=13)
    c = sim.add_client("c", steer=False)
    c.core.name = None
    sim.run(1.0)
    # A JOIN with a number as its name.
    c.core.endpoint.send_reliable(msgpack.packb([1, 12345, GAME_VERSION, 0]))
    sim.run(0.5)
    assert c.core.state.value == "rejected" and c.core.rejection_code == "bad-name"
    c.core.submit_name("fixed")
    sim.run(0.5)
    assert c.core.state.value == PLAYING and c.core.name == "fixed"


# ------------------------------------------------------------------------ lossy soak


@pytest.mark.parametrize("loss", [0.0, 0.2, 0.5])
def test_no_mismatches_on_a_lossy_link(loss: float) -> None:
    seed = 21
    link = LinkConfig(loss=loss, latency=0.05, jitter=0.02, duplicate=0.05, reorder=0.05)
    sim = GameSimulation(ServerSettings(tick_rate=10, bots=2, seed=seed), seed=seed, link=link)
    clients = [sim.add_client(f"p{i}", config=patient_client_config()) for i in range(4)]
    sim.run(30.0)
    where = f"seed {seed}, loss {loss}"
    for c in clients:
        assert playing(c), f"{where}: {c.core.state} {c.core.status_reason}"
        assert c.hash_mismatches == 0 and c.core.counters.mismatches == 0, where
        assert c.core.counters.decode_errors == 0, where
        # Roughly (1 - loss) of 300 ticks arrive; require a clear majority of that.
        assert c.hash_checks >= 0.6 * (1 - loss) * 280, (where, c.hash_checks)
    sent = sum(c.core.counters.turns_sent for c in clients)
    pending = sum(c.core.unacked_inputs for c in clients)
    received = sim.server.counters.turns_received
    assert sent - pending <= received <= sent, (where, sent, pending, received)
