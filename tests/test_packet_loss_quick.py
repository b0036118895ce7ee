"""The packet-loss benchmark's netsnake part, briefly, at 0 % and 20 % loss: correctness only.

Real processes on loopback: a netsnake server, the netem relay and the
benchmark's worker with bot clients.  Loss comes from nftables in a network
namespace when we are root (else from the relay).  Timings are printed, never
asserted: the machine is shared.  The relay and the world are seeded
(``SEED``); kernel drops are not, so a failure prints the seed and the rows.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.packet_loss import (  # noqa: E402
    BenchOptions,
    check_failures,
    format_table,
    run_benchmark,
)

SEED = 7


@pytest.mark.timeout(150)
def test_netsnake_is_correct_at_0_and_20_percent_loss() -> None:
    opts = BenchOptions(
        transports=("netsnake",),
        losses=(0.0, 0.20),
        clients=4,
        duration=4.0,
        cycles=2,
        seed=SEED,
    )
    log: list[str] = []
    results = run_benchmark(opts, log.append)
    report = f"seed {SEED}\n" + "\n".join(log) + "\n" + format_table(results)
    print(report)
    assert [(r.transport, r.loss) for r in results] == [("netsnake", 0.0), ("netsnake", 0.2)]
    for r in results:
        assert r.loss_mechanism != "failed", report
        # Every snapshot rebuilt by every client matched the server's state hash.
        assert r.mismatches == 0, report
        assert r.snapshots is not None and r.snapshots > 0, report
        assert r.clients_lost == 0, report
        assert r.join_cycles == 2 and r.joins_ok == 1.0, report
        assert r.quits_ok == 1.0, report
        # The input ledger really matched turns against the server's trace.
        assert r.inputs_sent is not None and r.inputs_sent > 0, report
    assert check_failures(results) == [], report
