"""The link model: what one direction of an impaired link does to one datagram.

One model serves both the in-memory :mod:`protocol.simulator` (tests,
benchmarks, soaks in virtual time) and the :mod:`netsnake.netem` relay (real
sockets).  Probabilities are fractions in ``[0, 1]`` and times are seconds;
the relay's command line takes percent and milliseconds and converts.

Theory of operation
-------------------
A :class:`LinkImpairment` models one direction of a link.  For every datagram
offered at time ``now`` it answers with the copies that arrive at the far end
and when: ``[]`` means lost, one entry means delivered, two mean duplicated.
It never reads a clock and never touches a socket, so a test can drive it with
a hand-stepped ``now`` and a seed.

The decision for one datagram, in order:

1. **Oversize**: over :data:`MAX_DATAGRAM` bytes is refused (UDP cannot carry it).
2. **Blackhole**: while set, everything is dropped, counted apart from random
   loss so that a simulated outage does not disturb the loss figures.
3. **Loss**: dropped with probability ``loss``.
4. **Duplicate**: a survivor is sent twice with probability ``duplicate``.
   Then, for each copy:
5. **Delay**: ``latency`` plus a jitter sample, uniform in ``±jitter`` or
   normal with standard deviation ``jitter`` (clamped so that nothing arrives
   before it was sent).
6. **Reorder**: with probability ``reorder`` the copy is *held back* by an
   extra ``reorder_delay``, or when that is None by 1–3 times the latency (at
   least 5 ms), so datagrams sent shortly after it overtake it.
7. **Order**: by default jitter reorders too, as with Linux ``tc netem``.  With
   ``keep_order`` it does not: a copy that is not held back arrives no earlier
   than the previous such copy, as through a queue on a real link, so that
   reordering is a separate, deliberate choice.  With uniform jitter every
   in-order arrival still lies in ``[now + latency - jitter, now + latency +
   jitter]``: the rule only raises a time to an earlier arrival, which itself
   was within its own, earlier bound.
8. **Corrupt**: with probability ``corrupt`` one random bit of the copy is flipped.

Every decision draws from the one ``random.Random`` in this fixed order, and a
draw is made even when its probability is zero, so a seed replays a run
exactly.  The order is pinned by a golden test: every seeded test, benchmark
and soak on the simulator depends on it.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, fields
from enum import StrEnum

__all__ = ["MAX_DATAGRAM", "Jitter", "LinkConfig", "LinkImpairment", "LinkStats"]

#: The largest datagram a link carries (the UDP length field's limit).
MAX_DATAGRAM = 65535

# A held-back copy with no reorder_delay waits 1-3 latencies, but at least this base.
_MIN_HOLD_BASE = 0.005


class Jitter(StrEnum):
    """How the jitter around ``latency`` is distributed."""

    #: Uniform in ``[-jitter, +jitter]``: bounded, easy to reason about.
    UNIFORM = "uniform"
    #: Normal with standard deviation ``jitter``: a heavier tail, as on real links.
    NORMAL = "normal"


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkConfig:
    """The impairments of one direction of a link.  All defaults mean "perfect link".

    Probabilities are fractions in ``[0, 1]``; times are seconds.
    """

    loss: float = 0.0
    latency: float = 0.0
    """One-way delay in seconds."""
    jitter: float = 0.0
    """Spread of the delay around ``latency``, in seconds (see ``jitter_dist``)."""
    jitter_dist: Jitter = Jitter.UNIFORM
    keep_order: bool = False
    """Jitter alone never reorders: only ``reorder`` makes a datagram overtake another."""
    duplicate: float = 0.0
    reorder: float = 0.0
    """Chance a copy is held back so that later datagrams overtake it."""
    reorder_delay: float | None = None
    """How long a held-back copy waits beyond its delay; None: 1-3 latencies (>= 5 ms)."""
    corrupt: float = 0.0
    """Chance one random bit of a copy is flipped."""

    def __post_init__(self) -> None:
        for name in ("loss", "duplicate", "reorder", "corrupt"):
            value = getattr(self, name)
            # `not lo <= value <= hi` also rejects NaN.
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a fraction in [0, 1], not {value!r}")
        for name in ("latency", "jitter", "reorder_delay"):
            value = getattr(self, name)
            if value is None and name == "reorder_delay":
                continue
            if not 0.0 <= value < math.inf:
                raise ValueError(f"{name} must be a finite number of seconds >= 0, not {value!r}")
        if not isinstance(self.jitter_dist, Jitter):
            raise ValueError(f"jitter_dist must be a Jitter, not {self.jitter_dist!r}")

    def summary(self) -> str:
        """A short human-readable description (percent and milliseconds), e.g. for a banner."""
        spread = "±" if self.jitter_dist is Jitter.UNIFORM else "σ"
        hold = "1-3x latency" if self.reorder_delay is None else f"{self.reorder_delay * 1000:g}ms"
        text = (
            f"loss={self.loss * 100:g}% latency={self.latency * 1000:g}ms "
            f"jitter={spread}{self.jitter * 1000:g}ms duplicate={self.duplicate * 100:g}% "
            f"reorder={self.reorder * 100:g}% (+{hold})"
        )
        if not self.keep_order and self.jitter:
            text += " jitter-reorders"
        if self.corrupt:
            text += f" corrupt={self.corrupt * 100:g}%"
        return text


@dataclass(slots=True)
class LinkStats:
    """Datagram counters for one direction (or, in the simulator, for the whole network).

    ``received``, ``dropped``, ``blackholed``, ``duplicated``, ``reordered``,
    ``corrupted`` and ``oversize`` are counted by :meth:`LinkImpairment.transmit`
    when a datagram comes in (``reordered`` and ``corrupted`` per copy);
    ``forwarded`` and ``send_errors`` by whoever delivers the copies, since only
    it knows whether a delivery happened.
    """

    received: int = 0
    forwarded: int = 0
    dropped: int = 0
    blackholed: int = 0
    duplicated: int = 0
    reordered: int = 0
    corrupted: int = 0
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

    ``config`` and ``blackhole`` may be changed at any time; they affect
    datagrams offered afterwards, not those already given arrival times.
    Several directions may share one ``rng`` and one ``stats`` (the simulator does).
    """

    config: LinkConfig
    rng: random.Random
    blackhole: bool = False
    stats: LinkStats = field(default_factory=LinkStats)
    # Arrival time of the latest in-order copy; with keep_order, later ones never beat it.
    _in_order_until: float = -math.inf

    def transmit(self, now: float, data: bytes) -> list[tuple[float, bytes]]:
        """The copies of ``data`` offered at ``now`` that arrive, as (arrival time, payload).

        Times are in seconds on the same clock as ``now``, sorted; a payload
        differs from ``data`` only when a bit was flipped (``corrupt``).
        """
        stats = self.stats
        stats.received += 1
        if len(data) > MAX_DATAGRAM:
            stats.oversize += 1
            return []
        if self.blackhole:
            stats.blackholed += 1
            return []
        cfg = self.config
        rng = self.rng
        if rng.random() < cfg.loss:
            stats.dropped += 1
            return []
        copies = 2 if rng.random() < cfg.duplicate else 1
        if copies == 2:
            stats.duplicated += 1
        out: list[tuple[float, bytes]] = []
        for _ in range(copies):
            if cfg.jitter_dist is Jitter.NORMAL:
                sample = rng.gauss(0.0, cfg.jitter)
            else:
                sample = rng.uniform(-cfg.jitter, cfg.jitter)
            delay = max(0.0, cfg.latency + sample)
            held_back = rng.random() < cfg.reorder
            if held_back:
                stats.reordered += 1
                if cfg.reorder_delay is None:
                    delay += max(cfg.latency, _MIN_HOLD_BASE) * rng.uniform(1.0, 3.0)
                else:
                    delay += cfg.reorder_delay
            arrival = now + delay
            if cfg.keep_order and not held_back:
                arrival = max(arrival, self._in_order_until)
                self._in_order_until = arrival
            payload = data
            if data and rng.random() < cfg.corrupt:
                bit = rng.randrange(len(data) * 8)
                flipped = bytearray(data)
                flipped[bit // 8] ^= 1 << (bit % 8)
                payload = bytes(flipped)
                stats.corrupted += 1
            out.append((arrival, payload))
        # Copies are identical but for corruption: report them in arrival order.
        out.sort(key=lambda copy: copy[0])
        return out
