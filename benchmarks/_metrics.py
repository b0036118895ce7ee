"""Measuring helpers shared by the packet-loss benchmark's transports.

Everything here is pure bookkeeping: callers pass ``now`` (``time.monotonic``
or ``loop.time()``, the same clock on Linux) so the same code measures the
netsnake client, the tutorial's TCP client and ENet alike.

* :class:`DisplayTracker` turns 30 fps samples of "server tick estimate" and
  "displayed tick" into staleness (lag in ticks) and freezes (how long the
  displayed integer tick stood still).
* :class:`ServerClock` estimates the server's current tick from arrival times,
  the way the netsnake client's snapshot buffer does (a minimum filter on
  ``arrival - tick / rate``), for clients that have no such buffer.
* :class:`InputLedger` remembers when each turn was sent and matches the
  server's input trace against it.
* :class:`RunResult` is one row of the report and one object of ``--json``
  (documented in ``docs/benchmark-schema.rst``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

__all__ = [
    "DisplayTracker",
    "InputLedger",
    "RunResult",
    "ServerClock",
    "ms",
    "percentile",
    "read_input_trace",
    "rounded",
]


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) by linear interpolation; None for no values."""
    if not values:
        return None
    if not 0 <= q <= 100:
        raise ValueError(f"q must be in [0, 100], got {q!r}")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    lo = math.floor(rank)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo)


def rounded(value: float | None, digits: int = 2) -> float | None:
    """``round(value, digits)``, passing None through (for JSON output)."""
    return None if value is None else round(value, digits)


class DisplayTracker:
    """Staleness and freezes of what one client displays, from periodic samples.

    Call :meth:`sample` at the display rate (30 fps) between :meth:`start` and
    :meth:`stop`.  A *freeze* is an interval during which the displayed
    integer tick did not change; its length is measured between the samples
    that saw the tick change, so it is quantised to the sampling period.
    """

    def __init__(self) -> None:
        self.lags: list[float] = []
        self.freezes: list[float] = []
        self._shown: int | None = None
        self._since: float | None = None
        self._active = False

    def start(self, now: float) -> None:
        """Begin recording (earlier samples only warm the display up)."""
        self._active = True
        self._since = now

    def stop(self, now: float) -> None:
        """Stop recording; an ongoing freeze counts up to ``now``."""
        if self._active and self._since is not None:
            self.freezes.append(now - self._since)
        self._active = False

    def sample(self, now: float, server_tick: float | None, display_tick: float | None) -> None:
        """One display frame: the server's estimated tick and the tick on screen."""
        if display_tick is None:
            return
        shown = math.floor(display_tick)
        if self._shown is None or shown != self._shown:
            if self._active and self._since is not None and self._shown is not None:
                self.freezes.append(now - self._since)
            self._shown = shown
            self._since = now
        if self._active and server_tick is not None:
            self.lags.append(server_tick - display_tick)

    @property
    def longest_freeze(self) -> float | None:
        """The longest freeze in seconds, or None if nothing was recorded."""
        return max(self.freezes) if self.freezes else None


class ServerClock:
    """Estimates the server's current tick from when ticks arrive.

    The least delayed arrival is the best estimate of the offset between the
    local clock and the server's tick clock, so keep the minimum of
    ``arrival - tick / rate`` (a run is short: no drift handling needed).
    """

    def __init__(self, tick_rate: float) -> None:
        self._rate = tick_rate
        self._offset: float | None = None

    def observe(self, tick: int, now: float) -> None:
        """Tick ``tick`` arrived at ``now``."""
        sample = now - tick / self._rate
        if self._offset is None or sample < self._offset:
            self._offset = sample

    def server_tick(self, now: float) -> float | None:
        """The tick the server is estimated to be at, at ``now``."""
        return None if self._offset is None else (now - self._offset) * self._rate


def read_input_trace(path: Path) -> dict[tuple[str, int], float]:
    """The server's input trace: ``(name, seq) -> receive time``; bad lines are skipped.

    The first receipt of a ``(name, seq)`` wins (servers log each seq once).
    """
    received: dict[tuple[str, int], float] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return received
    for line in text.splitlines():
        try:
            entry = json.loads(line)
            key = (str(entry["name"]), int(entry["seq"]))
            t = float(entry["t"])
        except (ValueError, KeyError, TypeError):
            continue  # a line cut short by the server being stopped mid-write
        received.setdefault(key, t)
    return received


@dataclass
class InputLedger:
    """When each client sent each turn, to match against the server's trace."""

    sent: dict[tuple[str, int], float] = field(default_factory=dict)

    def record(self, name: str, seq: int, now: float) -> None:
        """``name`` sent turn ``seq`` at ``now``."""
        self.sent[(name, seq)] = now

    def match(
        self, received: dict[tuple[str, int], float], start: float, end: float
    ) -> tuple[int, int, list[float]]:
        """Turns sent in ``[start, end)``: (sent, applied, latencies in seconds)."""
        sent = applied = 0
        latencies: list[float] = []
        for key, t_sent in self.sent.items():
            if not start <= t_sent < end:
                continue
            sent += 1
            t_recv = received.get(key)
            if t_recv is not None:
                applied += 1
                latencies.append(t_recv - t_sent)
        return sent, applied, latencies


@dataclass
class RunResult:
    """One transport at one loss rate: a table row and a ``--json`` run object.

    ``None`` means "not applicable to this transport" or "nothing measured".
    Fractions are 0..1; times in milliseconds unless the name says otherwise.
    """

    transport: str
    loss: float
    loss_mechanism: str
    latency_ms: float
    jitter_ms: float
    duration_s: float
    clients: int
    mismatches: int | None = None
    resyncs: int | None = None
    snapshots: int | None = None
    clients_lost: int | None = None
    staleness_p50_ticks: float | None = None
    staleness_p99_ticks: float | None = None
    render_delay_p50_ticks: float | None = None
    render_delay_max_ticks: float | None = None
    longest_freeze_ms: float | None = None
    freeze_p99_ms: float | None = None
    inputs_sent: int | None = None
    inputs_applied: float | None = None
    input_ms_p50: float | None = None
    input_ms_p99: float | None = None
    join_cycles: int = 0
    joins_ok: float | None = None
    join_ms_p50: float | None = None
    join_ms_p99: float | None = None
    join_msg_ms_p50: float | None = None
    join_msg_ms_p99: float | None = None
    quits_ok: float | None = None
    quit_seen_ms_p50: float | None = None
    quit_seen_ms_p99: float | None = None
    down_bytes_per_client_s: float | None = None
    up_bytes_per_client_s: float | None = None
    datagram_bytes_mean: float | None = None
    datagram_bytes_p99: float | None = None
    full_share: float | None = None
    packets_dropped: int | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """A plain dict for ``json.dump``."""
        return asdict(self)

    @classmethod
    def field_names(cls) -> set[str]:
        """Every field's name (workers report a subset of them)."""
        return {f.name for f in fields(cls)}


def ms(values: Iterable[float]) -> list[float]:
    """Seconds to milliseconds."""
    return [v * 1000 for v in values]
