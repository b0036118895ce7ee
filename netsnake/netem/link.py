"""The pure half of :mod:`netsnake.netem`: what an impaired link does to one datagram.

Theory of operation
-------------------
A :class:`LinkImpairment` models one direction of a link.  For every datagram
offered at time ``now`` it answers with the times at which copies of it arrive
at the far end: ``[]`` means lost, one time means delivered, two means
duplicated.  It never reads a clock and never touches a socket, so a test can
drive it with a hand-stepped ``now`` and a seed and check the statistics.

The decision for one datagram, in order:

1. **Blackhole**: while set, everything is dropped (and counted apart from
   random loss, so a simulated outage does not disturb the loss figures).
2. **Loss**: dropped with probability ``loss_pct``.
3. **Duplicate**: a survivor is sent twice with probability ``duplicate_pct``;
   each copy gets its own delay sample, the copy never arrives before the
   original.
4. **Delay**: ``latency_ms`` plus a jitter sample, either uniform in
   ``±jitter_ms`` or normal with standard deviation ``jitter_ms`` (clamped so
   that nothing arrives before it was sent).
5. **Order**: jitter alone never reorders.  Real jitter is mostly queueing,
   which keeps order, and a reorder counter is only meaningful when reordering
   is a separate, deliberate choice.  So an in-order datagram arrives no earlier
   than the previous in-order one.  With probability ``reorder_pct`` a datagram
   is instead *held back* by an extra ``reorder_delay_ms`` and left out of that
   ordering, so datagrams sent shortly after it overtake it.

With uniform jitter every in-order arrival lies in
``[now + latency - jitter, now + latency + jitter]``: the ordering rule only
raises a time to an earlier arrival, which itself was within its own, earlier
bound.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, fields
from enum import StrEnum

__all__ = ["MAX_DATAGRAM", "Jitter", "LinkConfig", "LinkImpairment", "LinkStats"]

#: The largest datagram the relay forwards (the UDP length field's limit).
MAX_DATAGRAM = 65535


class Jitter(StrEnum):
    """How the jitter around ``latency_ms`` is distributed."""

    #: Uniform in ``[-jitter_ms, +jitter_ms]``: bounded, easy to reason about.
    UNIFORM = "uniform"
    #: Normal with standard deviation ``jitter_ms``: a heavier tail, as on real links.
    NORMAL = "normal"


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkConfig:
    """The impairments of one direction of a link.  All defaults mean "perfect link".

    Percentages are 0–100; times are milliseconds.
    """

    loss_pct: float = 0.0
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    jitter: Jitter = Jitter.UNIFORM
    duplicate_pct: float = 0.0
    reorder_pct: float = 0.0
    #: How long a reordered datagram is held back beyond its normal delay.
    reorder_delay_ms: float = 30.0

    def __post_init__(self) -> None:
        for name in ("loss_pct", "duplicate_pct", "reorder_pct"):
            value = getattr(self, name)
            if not 0.0 <= value <= 100.0:
                raise ValueError(f"{name} must be between 0 and 100, not {value!r}")
        for name in ("latency_ms", "jitter_ms", "reorder_delay_ms"):
            value = getattr(self, name)
            # `not value >= 0` also rejects NaN.
            if not value >= 0.0 or value == float("inf"):
                raise ValueError(f"{name} must be a finite number >= 0, not {value!r}")
        if not isinstance(self.jitter, Jitter):
            raise ValueError(f"jitter must be a Jitter, not {self.jitter!r}")

    def summary(self) -> str:
        """A short human-readable description, e.g. for a startup message."""
        spread = "±" if self.jitter is Jitter.UNIFORM else "σ"
        return (
            f"loss={self.loss_pct:g}% latency={self.latency_ms:g}ms "
            f"jitter={spread}{self.jitter_ms:g}ms duplicate={self.duplicate_pct:g}% "
            f"reorder={self.reorder_pct:g}% (+{self.reorder_delay_ms:g}ms)"
        )


@dataclass(slots=True)
class LinkStats:
    """Datagram counters for one direction.

    ``received``, ``dropped``, ``blackholed``, ``duplicated`` and ``reordered``
    are counted by :meth:`LinkImpairment.decide` when a datagram comes in;
    ``forwarded`` and ``send_errors`` by whoever actually sends the copies
    (the relay), since only it knows whether a send happened.  ``oversize``
    counts datagrams refused for exceeding :data:`MAX_DATAGRAM`.
    """

    received: int = 0
    forwarded: int = 0
    dropped: int = 0
    blackholed: int = 0
    duplicated: int = 0
    reordered: int = 0
    oversize: int = 0
    send_errors: int = 0

    def copy(self) -> LinkStats:
        """An independent snapshot of the counters."""
        return LinkStats(**{f.name: getattr(self, f.name) for f in fields(self)})

    def summary(self) -> str:
        """The counters as ``name=value`` pairs on one line."""
        return " ".join(f"{f.name}={getattr(self, f.name)}" for f in fields(self))


@dataclass(slots=True)
class LinkImpairment:
    """One direction of an impaired link, driven by a seeded ``random.Random``.

    ``blackhole`` may be flipped at any time; it affects datagrams offered
    afterwards, not those already given delivery times.
    """

    config: LinkConfig
    rng: random.Random
    blackhole: bool = False
    stats: LinkStats = field(default_factory=LinkStats)
    # Arrival time of the latest in-order datagram; later in-order ones never beat it.
    _in_order_until: float = float("-inf")

    def decide(self, now: float, size: int) -> list[float]:
        """Return the arrival times of a datagram of ``size`` bytes offered at ``now``.

        Times are in seconds on the same clock as ``now``.  The list is sorted;
        empty means the datagram is lost, two entries mean it was duplicated.
        """
        if size < 0:
            raise ValueError(f"size must be >= 0, not {size}")
        stats = self.stats
        stats.received += 1
        if size > MAX_DATAGRAM:
            stats.oversize += 1
            return []
        if self.blackhole:
            stats.blackholed += 1
            return []
        cfg = self.config
        rng = self.rng
        if cfg.loss_pct and rng.random() * 100.0 < cfg.loss_pct:
            stats.dropped += 1
            return []
        copies = 1
        if cfg.duplicate_pct and rng.random() * 100.0 < cfg.duplicate_pct:
            copies = 2
            stats.duplicated += 1
        held_back = bool(cfg.reorder_pct) and rng.random() * 100.0 < cfg.reorder_pct
        if held_back:
            stats.reordered += 1

        times: list[float] = []
        for _ in range(copies):
            arrival = now + self._delay()
            if held_back:
                arrival += cfg.reorder_delay_ms / 1000.0
                if times:
                    arrival = max(arrival, times[-1])
            else:
                arrival = max(arrival, self._in_order_until)
                self._in_order_until = arrival
            times.append(arrival)
        return times

    def _delay(self) -> float:
        """One sample of latency plus jitter, in seconds, never negative."""
        cfg = self.config
        delay_ms = cfg.latency_ms
        if cfg.jitter_ms:
            if cfg.jitter is Jitter.NORMAL:
                delay_ms += self.rng.gauss(0.0, cfg.jitter_ms)
            else:
                delay_ms += self.rng.uniform(-cfg.jitter_ms, cfg.jitter_ms)
        return max(delay_ms, 0.0) / 1000.0
