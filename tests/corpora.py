"""Seeded inputs shared by several test modules: random games, encodings of
them with their baselines, and arbitrary msgpack values."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import strategies as st

from netsnake.game.direction import Direction
from netsnake.game.limits import MAX_NAME_LENGTH
from netsnake.game.snapshot import Snapshot
from netsnake.game.snapshot_codec import encode_delta, encode_full
from netsnake.game.world import World, WorldConfig


def random_game(
    config: WorldConfig, seed: int, players: int, ticks: int, churn: float = 0.05
) -> list[Snapshot]:
    """Random turns, joins and leaves; every snapshot from tick 0 on."""
    rng = random.Random(seed)
    world = World(config, seed)
    for pid in range(players):
        world.add_player(pid, f"player {pid}", pid % 256)
    snapshots = [world.snapshot()]
    for _ in range(ticks):
        for pid in world.player_ids:
            if rng.random() < 0.25:
                world.queue_turn(pid, Direction(rng.randrange(4)))
        roll = rng.random()
        if roll < churn / 2 and world.player_ids:
            world.remove_player(rng.choice(world.player_ids))
        elif roll < churn:
            pid = rng.randrange(players + 4)
            if not world.has_player(pid):
                world.add_player(pid, "é" * rng.randrange(MAX_NAME_LENGTH + 1), rng.randrange(256))
        world.step()
        snapshots.append(world.snapshot())
    return snapshots


def snapshot_corpus(seed: int) -> list[tuple[bytes, Snapshot]]:
    """Valid encodings of a random game, with the baselines they need."""
    snapshots = random_game(WorldConfig(width=12, height=10), seed, players=5, ticks=40)
    corpus = [(encode_full(snapshots[-1]), snapshots[0])]
    for i in range(1, len(snapshots), 3):
        corpus.append((encode_delta(snapshots[i], snapshots[i - 1]), snapshots[i - 1]))
        if i > 6:
            corpus.append((encode_delta(snapshots[i], snapshots[i - 6]), snapshots[i - 6]))
    return corpus


msgpack_values: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.text(max_size=20)
    | st.binary(max_size=20)
    | st.floats(allow_nan=False),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=5), children, max_size=5)
    ),
    max_leaves=20,
)
