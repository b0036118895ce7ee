"""The reliable ordered channel for control messages.

Theory of operation: each message gets a 16-bit id.  The sender keeps every
unacknowledged message in a bounded queue and piggybacks it on outgoing DATA
packets, at most once per resend interval.  Each sent packet records the ids
it carried; when the peer acknowledges that packet, those messages leave the
queue.  No timers of their own: reliability is bookkeeping on packet acks.

The receiver delivers in id order exactly once: ids behind ``next_id`` are
duplicates, ids ahead are parked until the gap fills.  Because the sender's
queue never holds more than ``window`` messages, ids more than ``window``
ahead cannot be honest and are dropped.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from dataclasses import dataclass

from protocol._errors import MessageTooLarge, QueueFull
from protocol._sequence import seq_diff, seq_next
from protocol._wire import MAX_RELIABLE_MESSAGE

__all__ = ["ReliableReceiver", "ReliableSender"]

RELIABLE_WINDOW = 256


@dataclass(slots=True)
class _Pending:
    data: bytes
    last_sent: float | None = None


class ReliableSender:
    """Queue of reliable messages awaiting acknowledgement."""

    def __init__(self, max_queue: int = RELIABLE_WINDOW, resend_interval: float = 0.05) -> None:
        if not 1 <= max_queue <= RELIABLE_WINDOW:
            raise ValueError(f"max_queue must be 1..{RELIABLE_WINDOW}")
        self.max_queue = max_queue
        self.resend_interval = resend_interval
        self._next_id = 0
        self._pending: OrderedDict[int, _Pending] = OrderedDict()

    def __len__(self) -> int:
        return len(self._pending)

    def send(self, data: bytes) -> int:
        """Queue ``data``; returns its message id.  Raises on oversize or a full queue."""
        if len(data) > MAX_RELIABLE_MESSAGE:
            raise MessageTooLarge(
                f"reliable message of {len(data)} bytes exceeds {MAX_RELIABLE_MESSAGE}"
            )
        if len(self._pending) >= self.max_queue:
            raise QueueFull(f"reliable queue full ({self.max_queue} unacknowledged messages)")
        mid = self._next_id
        self._next_id = seq_next(mid)
        self._pending[mid] = _Pending(bytes(data))
        return mid

    def due(self, now: float) -> list[tuple[int, bytes]]:
        """Messages to put on the wire now, oldest first."""
        interval = self.resend_interval
        return [
            (mid, p.data)
            for mid, p in self._pending.items()
            if p.last_sent is None or now >= p.last_sent + interval
        ]

    def mark_sent(self, mid: int, now: float) -> None:
        p = self._pending.get(mid)
        if p is not None:
            p.last_sent = now

    def ack(self, mid: int) -> None:
        self._pending.pop(mid, None)

    def next_due_time(self) -> float | None:
        """When the oldest already-sent message becomes due again (None if nothing waits)."""
        times = [p.last_sent for p in self._pending.values()]
        if not times:
            return None
        if any(t is None for t in times):
            return float("-inf")
        return min(t for t in times if t is not None) + self.resend_interval


class ReliableReceiver:
    """Reorders incoming reliable messages and drops duplicates."""

    def __init__(self, counters: Counter[str] | None = None) -> None:
        self._next_id = 0
        self._parked: dict[int, bytes] = {}
        # Drops are counted only here, under reliable_<name>, in the endpoint's counters.
        self._counters: Counter[str] = counters if counters is not None else Counter()

    def receive(self, mid: int, data: bytes) -> list[bytes]:
        """Accept one message; returns those now deliverable, in order."""
        ahead = seq_diff(mid, self._next_id)
        if ahead < 0 or mid in self._parked:
            self._counters["reliable_duplicate"] += 1
            return []
        if ahead >= RELIABLE_WINDOW:
            self._counters["reliable_out_of_window"] += 1
            return []
        self._parked[mid] = data
        ready: list[bytes] = []
        while self._next_id in self._parked:
            ready.append(self._parked.pop(self._next_id))
            self._next_id = seq_next(self._next_id)
        return ready

    @property
    def parked(self) -> int:
        return len(self._parked)
