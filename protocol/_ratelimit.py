"""Token buckets per source address and overall, for replies to unverified addresses.

The handshake and the INFO query answer datagrams whose source address may be
forged.  Each reply is allowed by two token buckets: one for the source
address (so one address cannot use up the server's replies) and one for all
addresses together (so a flood from many forged addresses cannot turn the
server into a reflector of unlimited bandwidth).  Per-address state is kept
for the ``table_size`` most recently seen addresses only, so memory stays
bounded whatever the attacker sends.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

__all__ = ["AddressRateLimiter", "TokenBucket"]


class TokenBucket:
    """``rate`` tokens per second up to ``burst``; each allowed event takes one."""

    __slots__ = ("stamp", "tokens")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens = tokens
        self.stamp = stamp

    def take(self, now: float, rate: float, burst: float) -> bool:
        """Refill for the time since the last call, then take a token if there is one."""
        self.tokens = min(burst, self.tokens + max(0.0, now - self.stamp) * rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class AddressRateLimiter:
    """Per-address and global token buckets; :meth:`allow` says which one refused."""

    def __init__(
        self, rate: float, burst: float, global_rate: float, table_size: int = 8192
    ) -> None:
        if rate <= 0 or burst < 1 or global_rate <= 0 or table_size < 1:
            raise ValueError("rates must be positive, burst and table size at least 1")
        self.rate = rate
        self.burst = burst
        self.global_rate = global_rate
        self.table_size = table_size
        self._buckets: OrderedDict[Hashable, TokenBucket] = OrderedDict()
        self._global: TokenBucket | None = None

    def allow(self, addr: Hashable, now: float) -> str | None:
        """None if a reply to ``addr`` is allowed now, else ``"address"`` or ``"global"``."""
        if self._global is None:
            self._global = TokenBucket(self.global_rate, now)
        bucket = self._buckets.get(addr)
        if bucket is None:
            bucket = self._buckets[addr] = TokenBucket(self.burst, now)
            if len(self._buckets) > self.table_size:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(addr)
        if not bucket.take(now, self.rate, self.burst):
            return "address"
        if not self._global.take(now, self.global_rate, self.global_rate):
            return "global"
        return None

    def __len__(self) -> int:
        return len(self._buckets)
