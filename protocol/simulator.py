"""An in-memory, seeded network with a virtual clock, for tests and benchmarks.

Nothing here reads a clock: the caller moves ``now`` forward.  Each direction
(source address -> destination address) has its own :class:`LinkConfig`, and
what it does to a datagram is decided by the one link model,
:class:`LinkImpairment`, shared with the :mod:`netsnake.netem` relay.  All
directions draw from one seeded RNG, so a run is reproducible from its seed.

:func:`run_network` drives any number of sans-IO endpoints over the network
until a deadline, which is all most tests need.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from protocol._link import MAX_DATAGRAM, Jitter, LinkConfig, LinkImpairment, LinkStats

__all__ = [
    "MAX_DATAGRAM",
    "Endpoint",
    "Jitter",
    "LinkConfig",
    "LinkImpairment",
    "LinkStats",
    "SimulatedNetwork",
    "run_network",
]


@dataclass(order=True, slots=True)
class _InFlight:
    deliver_at: float
    order: int
    src: Hashable = field(compare=False)
    dst: Hashable = field(compare=False)
    data: bytes = field(compare=False)


class SimulatedNetwork:
    """Datagrams in flight between addresses, delivered in virtual time."""

    def __init__(self, seed: int, default: LinkConfig | None = None) -> None:
        self.seed = seed
        self._rng = random.Random(seed)
        self._default = default or LinkConfig()
        self._links: dict[tuple[Hashable, Hashable], LinkConfig] = {}
        # One link model per direction in use, all sharing the RNG and the counters.
        self._directions: dict[tuple[Hashable, Hashable], LinkImpairment] = {}
        self._queue: list[_InFlight] = []
        self._order = 0
        self.counters = LinkStats()
        """Every direction's counters together; ``forwarded`` counts deliveries."""
        self.blackholed: set[Hashable] = set()
        """Addresses whose traffic (both ways) is silently dropped."""

    def set_link(self, src: Hashable, dst: Hashable, config: LinkConfig) -> None:
        self._links[(src, dst)] = config
        direction = self._directions.get((src, dst))
        if direction is not None:
            direction.config = config

    def link(self, src: Hashable, dst: Hashable) -> LinkConfig:
        return self._links.get((src, dst), self._default)

    def send(self, src: Hashable, dst: Hashable, data: bytes, now: float) -> None:
        """Put one datagram on the wire at time ``now``."""
        direction = self._directions.get((src, dst))
        if direction is None:
            direction = LinkImpairment(self.link(src, dst), self._rng, stats=self.counters)
            self._directions[(src, dst)] = direction
        direction.blackhole = src in self.blackholed or dst in self.blackholed
        for arrival, payload in direction.transmit(now, data):
            self._order += 1
            heapq.heappush(self._queue, _InFlight(arrival, self._order, src, dst, payload))

    def next_delivery(self) -> float | None:
        return self._queue[0].deliver_at if self._queue else None

    def deliver_due(self, now: float) -> list[tuple[Hashable, Hashable, bytes]]:
        """Pop every datagram due by ``now`` as (src, dst, data), in delivery order."""
        out = []
        while self._queue and self._queue[0].deliver_at <= now:
            item = heapq.heappop(self._queue)
            out.append((item.src, item.dst, item.data))
        self.counters.forwarded += len(out)
        return out

    @property
    def in_flight(self) -> int:
        return len(self._queue)


class Endpoint(Protocol):
    """The sans-IO interface shared by ClientEndpoint and ServerEndpoint."""

    def receive_datagram(self, data: bytes, addr: Hashable, now: float) -> None: ...
    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Hashable]]: ...
    def get_timer(self) -> float | None: ...
    def handle_timer(self, now: float) -> None: ...


def run_network(
    network: SimulatedNetwork,
    endpoints: dict[Hashable, Endpoint],
    start: float,
    until: float,
    *,
    step: float | None = None,
    on_step: Callable[[float], None] | None = None,
    on_deliver: Callable[[Hashable, Hashable, bytes], None] | None = None,
    first_step: float | None = None,
) -> float:
    """Advance virtual time from ``start`` to ``until``, moving datagrams and timers.

    ``endpoints`` maps each endpoint's own address to it.  When ``step`` is
    given, ``on_step(now)`` runs every ``step`` seconds (the application's
    tick), after which every endpoint is flushed; the first at ``first_step``
    (default ``start``), so a caller running in slices can keep one schedule.
    Returns the final time.
    """
    now = start
    next_step = (start if first_step is None else max(start, first_step)) if step else None

    def flush(ids: Iterable[Hashable]) -> None:
        for addr in ids:
            for data, dst in endpoints[addr].datagrams_to_send(now):
                network.send(addr, dst, data, now)

    flush(endpoints)
    stuck = 0
    while now < until:
        candidates = [until]
        nd = network.next_delivery()
        if nd is not None:
            candidates.append(nd)
        for ep in endpoints.values():
            t = ep.get_timer()
            if t is not None:
                candidates.append(t)
        if next_step is not None:
            candidates.append(next_step)
        target = max(now, min(candidates))
        stuck = stuck + 1 if target == now else 0
        if stuck > 10_000:
            raise RuntimeError(f"simulation made no progress at t={now}")
        now = target
        touched: dict[Hashable, None] = {}  # ordered, so runs repeat under any hash seed
        for src, dst, data in network.deliver_due(now):
            target_ep = endpoints.get(dst)
            if target_ep is None:
                continue
            if on_deliver is not None:
                on_deliver(src, dst, data)
            target_ep.receive_datagram(data, src, now)
            touched[dst] = None
        for addr, ep in endpoints.items():
            t = ep.get_timer()
            if t is not None and t <= now:
                ep.handle_timer(now)
                touched[addr] = None
        if next_step is not None and now >= next_step:
            if on_step is not None:
                on_step(now)
            next_step += step  # type: ignore[operator]
            touched.update(dict.fromkeys(endpoints))
        flush(touched)
        if now >= until:
            break
    return now
