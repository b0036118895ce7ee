"""Link statistics a connection keeps for the UI and the benchmarks."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

__all__ = ["ConnectionStats", "LinkEstimator"]

_RATE_WINDOW = 2.0  # seconds of traffic averaged for the byte rates
_LOSS_WINDOW = 256  # packet outcomes averaged for the loss figure
_LOSS_IN_GAIN = 1 / 64  # smoothing of the inbound loss estimate (about 64 packets)


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionStats:
    """A point-in-time view of one connection's link quality."""

    rtt: float
    """Smoothed round-trip time in seconds (0 before the first sample)."""
    jitter: float
    """RTT variation in seconds (RFC 6298 ``rttvar``)."""
    loss: float
    """Fraction of our recent packets that were not acknowledged."""
    loss_in: float
    """Fraction of the peer's recent packets that never arrived (sequence gaps)."""
    bytes_in_per_s: float
    bytes_out_per_s: float
    packets_sent: int
    packets_received: int
    packets_acked: int
    packets_lost: int


class _RateMeter:
    __slots__ = ("_events", "_total")

    def __init__(self) -> None:
        self._events: deque[tuple[float, int]] = deque()
        self._total = 0

    def add(self, now: float, size: int) -> None:
        self._events.append((now, size))
        self._total += size
        self._trim(now)

    def _trim(self, now: float) -> None:
        events = self._events
        while events and events[0][0] < now - _RATE_WINDOW:
            self._total -= events.popleft()[1]

    def rate(self, now: float) -> float:
        self._trim(now)
        return self._total / _RATE_WINDOW


class LinkEstimator:
    """RTT (RFC 6298 smoothing), loss over a window, and byte rates."""

    def __init__(self) -> None:
        self.srtt = 0.0
        self.rttvar = 0.0
        self._have_rtt = False
        self._outcomes: deque[bool] = deque(maxlen=_LOSS_WINDOW)
        self._lost_in_window = 0
        self.loss_in = 0.0
        self._in = _RateMeter()
        self._out = _RateMeter()
        self.packets_sent = 0
        self.packets_received = 0
        self.packets_acked = 0
        self.packets_lost = 0

    def on_rtt_sample(self, sample: float) -> None:
        sample = max(0.0, sample)
        if not self._have_rtt:
            self.srtt, self.rttvar, self._have_rtt = sample, sample / 2, True
        else:
            self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - sample)
            self.srtt = 0.875 * self.srtt + 0.125 * sample

    def _outcome(self, lost: bool) -> None:
        if len(self._outcomes) == self._outcomes.maxlen and self._outcomes[0]:
            self._lost_in_window -= 1
        self._outcomes.append(lost)
        self._lost_in_window += lost

    def on_acked(self) -> None:
        self.packets_acked += 1
        self._outcome(False)

    def on_lost(self) -> None:
        self.packets_lost += 1
        self._outcome(True)

    def on_sent(self, now: float, size: int) -> None:
        self.packets_sent += 1
        self._out.add(now, size)

    def on_sequence(self, skipped: int, late: bool) -> None:
        """Track inbound loss from sequence numbers: ``skipped`` gaps before a
        newer packet, or a ``late`` packet filling a gap counted earlier."""
        gain = _LOSS_IN_GAIN
        if late:
            self.loss_in = max(0.0, self.loss_in - gain)
            return
        for _ in range(min(skipped, 64)):
            self.loss_in += gain * (1.0 - self.loss_in)
        self.loss_in -= gain * self.loss_in

    def on_received(self, now: float, size: int) -> None:
        self.packets_received += 1
        self._in.add(now, size)

    def snapshot(self, now: float) -> ConnectionStats:
        n = len(self._outcomes)
        return ConnectionStats(
            rtt=self.srtt,
            jitter=self.rttvar,
            loss=self._lost_in_window / n if n else 0.0,
            loss_in=self.loss_in,
            bytes_in_per_s=self._in.rate(now),
            bytes_out_per_s=self._out.rate(now),
            packets_sent=self.packets_sent,
            packets_received=self.packets_received,
            packets_acked=self.packets_acked,
            packets_lost=self.packets_lost,
        )
