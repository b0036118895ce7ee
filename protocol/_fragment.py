"""Splitting large unreliable payloads into fragments, and putting them back.

Memory is bounded by construction: at most ``max_groups`` partial payloads of
at most MAX_FRAGMENTS fragments each; the oldest partial group is evicted
when a new one starts, and partial groups expire after ``expiry`` seconds.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from protocol._sequence import seq_diff
from protocol._wire import MAX_FRAGMENT_DATA, MAX_FRAGMENTS

__all__ = ["Reassembler", "split_payload"]


def split_payload(data: bytes) -> list[bytes]:
    """Cut ``data`` into chunks of at most MAX_FRAGMENT_DATA bytes (caller checks the count)."""
    return [data[i : i + MAX_FRAGMENT_DATA] for i in range(0, len(data), MAX_FRAGMENT_DATA)]


@dataclass(slots=True)
class _Partial:
    count: int
    started: float
    parts: dict[int, bytes] = field(default_factory=dict)


class Reassembler:
    """Collects fragments by group id; yields whole payloads."""

    def __init__(
        self, max_groups: int = 4, expiry: float = 1.0, counters: Counter[str] | None = None
    ) -> None:
        self.max_groups = max_groups
        # Drops are counted only here, under fragment_<name>, in the endpoint's counters.
        self._counters: Counter[str] = counters if counters is not None else Counter()
        self.expiry = expiry
        self._groups: dict[int, _Partial] = {}
        self._newest: int | None = None

    def add(self, group: int, index: int, count: int, data: bytes, now: float) -> bytes | None:
        """Add one fragment (already range-checked by the wire decoder)."""
        assert 2 <= count <= MAX_FRAGMENTS and index < count
        self.expire(now)
        partial = self._groups.get(group)
        if partial is None:
            # A group far behind the newest one is a replay or garbage, not news.
            if self._newest is not None and seq_diff(group, self._newest) < -64:
                self._counters["fragment_stale"] += 1
                return None
            if len(self._groups) >= self.max_groups:
                oldest = min(self._groups, key=lambda g: self._groups[g].started)
                del self._groups[oldest]
                self._counters["fragment_evicted"] += 1
            partial = self._groups[group] = _Partial(count, now)
            if self._newest is None or seq_diff(group, self._newest) > 0:
                self._newest = group
        elif partial.count != count:
            self._counters["fragment_inconsistent"] += 1
            return None
        partial.parts[index] = data
        if len(partial.parts) < count:
            return None
        del self._groups[group]
        return b"".join(partial.parts[i] for i in range(count))

    def expire(self, now: float) -> None:
        for g in [g for g, p in self._groups.items() if now >= p.started + self.expiry]:
            del self._groups[g]
            self._counters["fragment_expired"] += 1

    def next_expiry(self) -> float | None:
        if not self._groups:
            return None
        return min(p.started for p in self._groups.values()) + self.expiry

    @property
    def buffered_bytes(self) -> int:
        return sum(len(d) for p in self._groups.values() for d in p.parts.values())

    @property
    def partial_groups(self) -> int:
        return len(self._groups)
