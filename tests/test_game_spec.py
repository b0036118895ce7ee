"""docs/game-messages.rst against the code, and a client written from it alone.

The golden examples are read out of the spec and checked byte for byte both
ways (reference encoder and decoder) with their world hashes; the independent
client of ``tests/spec_client.py``, which imports nothing of netsnake, decodes
the same examples and then plays a real seeded game on a lossy simulated
network: handshake, JOIN, every snapshot (fulls, deltas, baselines skipped by
loss) with every world hash checked, steering, events and a clean QUIT.
"""

from __future__ import annotations

import ast
import random
import re
import zlib
from pathlib import Path

import msgpack
import pytest

from netsnake.game.events import PlayerLeft
from netsnake.game.messages import MESSAGE_TYPES, decode_message
from netsnake.game.snapshot import Snapshot, player_digest, snapshot_hash
from netsnake.game.snapshot_codec import decode_snapshot
from netsnake.game.world import WorldConfig
from netsnake.server.game import ServerSettings
from netsnake.sim import SERVER_ADDR, GameSimulation
from protocol import DisconnectCode
from protocol.simulator import LinkConfig
from tests import spec_client
from tests.game_spec_examples import (
    MESSAGE_EXAMPLES,
    SNAPSHOT_EXAMPLES,
    WRAP_BASE,
    MessageExample,
    SnapshotExample,
)

pytestmark = pytest.mark.timeout(120)

SPEC = Path(__file__).parent.parent / "docs" / "game-messages.rst"

_EXAMPLE = re.compile(
    r"^``(?P<name>[a-z0-9-]+)`` \((?P<size>\d+) bytes?(?:, world hash ``(?P<hash>[0-9a-f]{8})``)?"
    r"\)::\n\n(?P<hex>(?:    [0-9a-f ]+\n)+)",
    re.MULTILINE,
)


def spec_examples() -> dict[str, tuple[bytes, int | None]]:
    """Every ``name`` (N bytes[, world hash ``h``]):: block of the spec."""
    examples: dict[str, tuple[bytes, int | None]] = {}
    for m in _EXAMPLE.finditer(SPEC.read_text(encoding="utf-8")):
        data = bytes.fromhex(m["hex"])
        assert len(data) == int(m["size"]), f"{m['name']}: {len(data)} bytes, spec says {m['size']}"
        assert m["name"] not in examples, f"duplicate example {m['name']}"
        examples[m["name"]] = (data, None if m["hash"] is None else int(m["hash"], 16))
    return examples


EXAMPLES = spec_examples()


def as_spec_world(s: Snapshot) -> spec_client.World:
    players = {
        p.id: spec_client.Player(
            id=p.id,
            name=p.name,
            colour=p.colour,
            alive=p.alive,
            direction=int(p.direction),
            body=list(p.body),
            score=p.score,
            best=p.best,
            kills=p.kills,
            respawn=p.respawn_ticks,
        )
        for p in s.players
    }
    return spec_client.World(s.tick, s.width, s.height, s.wrap, players, list(s.food))


def test_the_spec_shows_exactly_the_examples_of_the_table() -> None:
    names = [e.name for e in SNAPSHOT_EXAMPLES] + [e.name for e in MESSAGE_EXAMPLES]
    assert sorted(EXAMPLES) == sorted([*names, "hash-input-wrap", "digest-input-w"])


@pytest.mark.parametrize("example", SNAPSHOT_EXAMPLES, ids=lambda e: e.name)
def test_snapshot_examples_encode_decode_and_hash(example: SnapshotExample) -> None:
    data, world_hash = EXAMPLES[example.name]
    snap, baseline = example.snapshot, example.baseline
    assert example.data.hex(" ") == data.hex(" ")
    assert decode_snapshot(data, baseline) == snap
    assert snapshot_hash(snap) == world_hash
    # The spec-only decoder reads the same bytes to the same world and hash.
    history = {} if baseline is None else {baseline.tick: as_spec_world(baseline)}
    decoded = spec_client.decode_snapshot(data, history)
    assert decoded == as_spec_world(snap)
    assert spec_client.world_hash(decoded) == world_hash


@pytest.mark.parametrize("example", MESSAGE_EXAMPLES, ids=lambda e: e.name)
def test_message_examples_encode_and_decode(example: MessageExample) -> None:
    data, _ = EXAMPLES[example.name]
    assert example.data.hex(" ") == data.hex(" ")
    assert decode_message(data) == example.message


def test_every_message_type_has_an_example() -> None:
    assert {row.cls for row in MESSAGE_TYPES} <= {type(e.message) for e in MESSAGE_EXAMPLES}


def test_the_snapshot_message_example_carries_the_delta_move_example() -> None:
    message = msgpack.unpackb(EXAMPLES["snapshot"][0])
    assert message[4] == EXAMPLES["delta-move"][0]
    assert message[1] == EXAMPLES["delta-move"][1]


def test_the_hash_input_examples_are_what_the_crcs_cover() -> None:
    data, _ = EXAMPLES["hash-input-wrap"]
    assert zlib.crc32(data) == snapshot_hash(WRAP_BASE)
    assert spec_client.hash_input(as_spec_world(WRAP_BASE)) == data
    digest, _ = EXAMPLES["digest-input-w"]
    assert zlib.crc32(digest) == player_digest(WRAP_BASE.players[0])
    assert data[9:13] == zlib.crc32(digest).to_bytes(4, "big")
    assert spec_client.digest_input(as_spec_world(WRAP_BASE).players[0]) == digest


# ------------------------------------------------ a client from the spec, in a real game


@pytest.mark.parametrize(
    ("width", "height", "wrap", "bots"),
    [(26, 20, False, 3), (300, 40, True, 24)],
    ids=["small-whole-board", "wide-wrap-arena"],
)
def test_a_client_from_the_spec_alone_plays_a_lossy_game_and_verifies_every_hash(
    width: int, height: int, wrap: bool, bots: int
) -> None:
    """The second board is 300 cells wide (two-byte coordinates) and far larger
    than the client's view: it gets area snapshots, where snakes and food come
    and go as added and removed."""
    seed = 13
    print(f"seed {seed}")
    sim = GameSimulation(
        ServerSettings(
            tick_rate=10,
            seed=seed,
            bots=bots,
            max_players=max(16, bots + 2),
            world=WorldConfig(width=width, height=height, wrap=wrap),
        ),
        seed=seed,
        link=LinkConfig(loss=0.2, latency=0.03, jitter=0.02),
    )
    watcher = sim.add_client("watcher", steer=False)
    addr = ("10.0.9.1", 45000)
    client = spec_client.SpecClient(SERVER_ADDR, "spec", bytes(range(8)))
    sim.add_endpoint(addr, client.endpoint, client.handle_event)
    client.start(sim.now)
    rng = random.Random(seed)
    steered = 0
    partial = 0
    for _ in range(300):  # 30 s of play
        sim.run(0.1)
        client.poll(sim.now)
        if rng.random() < 0.3 and client.steer(rng.randrange(4)):
            steered += 1
        # Every world the client rebuilt is what the server sent it, cell for cell.
        for tick, _hash in client.verified[-3:]:
            sent = sim.server.sent_snapshot(addr, tick)
            if sent is not None:
                assert client.history[tick] == as_spec_world(sent)
                world = sim.server.history.get(tick)
                partial += world is not None and len(sent.players) < len(world.players)
    print(
        f"fulls {client.fulls} deltas {client.deltas} skipped {client.skipped_baselines}"
        f" resyncs {client.resyncs} steered {steered} partial areas {partial}"
    )
    assert client.accepted is not None and client.player_id is not None
    assert client.failures == []
    assert client.fulls >= 1 and client.deltas > 100
    assert client.skipped_baselines > 10  # loss made deltas against older baselines
    assert len(client.verified) > 150
    assert steered > 10 and len(client.unacked) < 5
    kinds = {e[0] for e in client.events}
    assert spec_client.DIED in kinds and spec_client.RESPAWNED in kinds
    assert spec_client.ROSTER in kinds and client.scores is not None
    assert client.complete_scores >= 2
    assert set(client.names) == {p.id for p in sim.server.snapshot.players}
    if width > 100:
        assert partial > 50  # the area held only some of the players
        assert client.overviews >= 5

    # QUIT: the server removes the player at once and answers with DISCONNECT.
    watcher.core.drain_events()
    client.quit(sim.now)
    for _ in range(20):
        sim.run(0.05)
        client.poll(sim.now)
        if client.closed_by is not None:
            break
    closed = client.closed_by
    assert closed is not None and closed.by_peer
    assert (closed.code, closed.reason) == (DisconnectCode.NORMAL, "goodbye")
    assert sim.server.humans == 1
    sim.run(1.0)  # the LEFT to the watcher is reliable: repeated through the loss
    assert [
        (e.name, e.reason) for e in watcher.core.drain_events() if isinstance(e, PlayerLeft)
    ] == [("spec", "quit")]


@pytest.mark.parametrize("latency", [0.01, 0.15, 0.4])
def test_a_client_that_lost_its_baselines_recovers_with_one_resync(latency: float) -> None:
    """The server sends fulls for every tick after the RESYNC arrived, until one is acked.

    With a round trip longer than a tick, snapshots sent before the RESYNC
    arrived (deltas the client cannot decode) are acknowledged after it: they
    must not become baselines again, or the client waits for its RESYNC retry.
    """
    sim = GameSimulation(
        ServerSettings(tick_rate=10, seed=5, bots=2), seed=5, link=LinkConfig(latency=latency)
    )
    client = spec_client.SpecClient(SERVER_ADDR, "spec", bytes(8))
    sim.add_endpoint(("10.0.9.1", 45000), client.endpoint, client.handle_event)
    client.start(sim.now)
    sim.run(5.0)
    assert client.deltas > 5 and client.failures == []
    fulls, verified = client.fulls, len(client.verified)
    client.forget_baselines()
    sim.run(2 * latency + 0.5)
    assert client.resyncs == 1
    assert client.fulls > fulls  # the RESYNC brought a full snapshot
    sim.run(3.0)
    assert client.resyncs == 1 and client.failures == []
    assert len(client.verified) - verified >= 30 - 2 * 10 * latency - 5
    assert client.deltas > 5 and client.history


def test_the_spec_client_imports_nothing_of_netsnake() -> None:
    """Its independence is the point: only msgpack, the stdlib and the transport."""
    tree = ast.parse(Path(spec_client.__file__).read_text(encoding="utf-8"))
    imported = {
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    roots = {name.split(".")[0] for name in imported}
    assert roots <= {"__future__", "struct", "zlib", "collections", "dataclasses", "typing"} | {
        "msgpack",
        "protocol",
    }, roots
