"""A few simulated minutes of ``benchmarks/soak.py``, for CI (well under 30 s of wall time).

The full run (one simulated hour, crossing the 16-bit sequence wrap) is
``python benchmarks/soak.py``; this one checks the same properties on a
shorter game with the same hostile link: 10 % loss, 5 % duplicates, 5 %
reordering, 1 % corrupted datagrams.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# benchmarks/ is not an installed package; make it importable however pytest is started.
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.soak import SoakConfig, format_report, run_soak  # noqa: E402

SEED = 11


def test_short_soak_on_a_hostile_link() -> None:
    cfg = SoakConfig(minutes=2.0, clients=6, tick_rate=20.0, seed=SEED, sample_every=5.0)
    result = run_soak(cfg)
    report = f"seed {SEED}\n{format_report(result)}"
    assert result.hash_checks > 6 * 20 * 60, report  # most of the game was checked
    assert result.mismatches == 0, report
    assert result.reliable_delivered > 0, report
    assert result.reliable_wrong_content == 0, report
    # Bounded buffers: nothing near the protocol's hard caps in a healthy game.
    sizes = result.max_sizes
    assert sizes["client.history"] <= 80, report
    assert sizes["client.render_buffer"] <= 64, report
    assert sizes["server.conn.reliable_out"] <= 64, report
    assert sizes["server.conn.fragment_groups"] <= 4, report
    assert sizes["server.history.encoded"] <= 64 * 8, report
    assert not result.stalled, report


def test_short_soak_without_corruption_delivers_every_reliable_message() -> None:
    cfg = SoakConfig(
        minutes=1.0, clients=4, tick_rate=20.0, seed=SEED, corrupt=0.0, sample_every=5.0
    )
    result = run_soak(cfg)
    report = f"seed {SEED}\n{format_report(result)}"
    assert result.mismatches == 0, report
    assert result.reliable_lost == 0, report
    assert result.reliable_wrong_content == 0, report
    assert result.reliable_delivered + result.reliable_in_flight == result.reliable_sent, report
    assert sum(result.ended.values()) == 0, report


def test_short_soak_on_a_big_arena_crosses_areas_exactly() -> None:
    """Clients with small views on a board far bigger: snakes come into and leave
    every client's area all the time, and every snapshot still matches."""
    cfg = SoakConfig(
        minutes=1.0,
        clients=5,
        bots=14,
        width=96,
        height=64,
        view=(20, 10),
        tick_rate=20.0,
        seed=SEED,
        sample_every=5.0,
    )
    result = run_soak(cfg)
    report = f"seed {SEED}\n{format_report(result)}"
    assert result.mismatches == 0 and result.refused == 0, report
    assert result.hash_checks > 5 * 20 * 40, report
    assert result.partial_snapshots > result.hash_checks // 2, report
    assert result.area_entered > 50 and result.area_left > 50, report
