"""A whole game on the simulated network: real server and client cores, virtual time.

:class:`GameSimulation` wires a :class:`~netsnake.server.game.GameServer` and
any number of bot-steered :class:`~netsnake.client.core.ClientCore` objects
through :class:`protocol.simulator.SimulatedNetwork`.  Nothing reads a clock,
so a run is exactly reproducible from its seed; tests and the soak use it to
check every reconstructed snapshot against the server's world.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from netsnake.client.core import ClientCore
from netsnake.client.state import ConnectionState
from netsnake.game.bots import steer_client
from netsnake.game.snapshot import Snapshot
from netsnake.server.game import GameServer, ServerSettings
from protocol import ClientConfig, ClientEndpoint, Event, ServerConfig, ServerEndpoint
from protocol.simulator import Endpoint, LinkConfig, SimulatedNetwork, run_network

__all__ = ["GameSimulation", "SimClient"]

SERVER_ADDR = ("10.0.0.1", 5050)


class _EventPump:
    """Hands an endpoint's events to the application as soon as they appear,
    as the asyncio adapter does."""

    def __init__(
        self,
        endpoint: Endpoint,
        next_event: Callable[[], Event | None],
        on_event: Callable[[Event, float], None],
    ) -> None:
        self._ep = endpoint
        self._next_event = next_event
        self._on_event = on_event

    def _drain(self, now: float) -> None:
        while (event := self._next_event()) is not None:
            self._on_event(event, now)

    def receive_datagram(self, data: bytes, addr: Hashable, now: float) -> None:
        self._ep.receive_datagram(data, addr, now)
        self._drain(now)

    def handle_timer(self, now: float) -> None:
        self._ep.handle_timer(now)
        self._drain(now)

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Hashable]]:
        return self._ep.datagrams_to_send(now)

    def get_timer(self) -> float | None:
        return self._ep.get_timer()


@dataclass
class SimClient:
    """One simulated player and what it observed."""

    addr: Hashable
    core: ClientCore
    steer: bool = True
    hash_checks: int = 0
    hash_mismatches: int = 0
    ticks_seen: list[int] = field(default_factory=list)


class GameSimulation:
    """A server and bot clients on one seeded lossy network."""

    def __init__(
        self,
        settings: ServerSettings,
        *,
        seed: int,
        link: LinkConfig | None = None,
        check_sent: bool = True,
    ) -> None:
        """``check_sent``: compare every snapshot a client decodes with the one the
        server sent it (the server then keeps them all for the history window);
        without it clients still check each snapshot's hash themselves, and the
        server keeps only possible baselines, as a real one does."""
        self.settings = settings
        self._check_sent = check_sent
        self.network = SimulatedNetwork(seed, link or LinkConfig())
        self.endpoint = ServerEndpoint(
            ServerConfig(max_connections=settings.max_connections),
            secret=random.Random(seed).randbytes(32),
        )
        self.server = GameServer(settings, self.endpoint, keep_sent=check_sent)
        self.now = 0.0
        self.clients: list[SimClient] = []
        self._rng = random.Random(seed ^ 0x5EED)
        self._endpoints: dict[Hashable, Endpoint] = {
            SERVER_ADDR: _EventPump(
                self.endpoint, self.endpoint.next_event, self.server.handle_event
            )
        }
        #: Called with (source, destination, datagram) for every datagram delivered:
        #: a capture of the game's traffic, as a sniffer on the path would see it.
        self.on_deliver: Callable[[Hashable, Hashable, bytes], None] | None = None
        self._next_tick = 0.0  # ticks keep one schedule however run() is sliced

    def add_client(
        self,
        name: str,
        *,
        steer: bool = True,
        config: ClientConfig | None = None,
        spectate: bool = False,
        predict: bool = True,
    ) -> SimClient:
        """A client that starts connecting now (it joins as the simulation runs)."""
        addr = (f"10.0.1.{len(self.clients) + 1}", 40000 + len(self.clients))
        core = ClientCore(
            SERVER_ADDR,
            server_label="sim",
            name=name,
            config=config,
            nonce=self._rng.randbytes(8),
            spectate=spectate,
            predict=predict,
        )
        client = SimClient(addr, core, steer)
        core.snapshot_listeners.append(lambda s, now: self._check(client, s))
        core.start(self.now)
        self.clients.append(client)
        self._endpoints[addr] = _EventPump(
            core.endpoint, core.endpoint.next_event, core.handle_event
        )
        return client

    def add_endpoint(
        self, addr: Hashable, endpoint: ClientEndpoint, on_event: Callable[[Event, float], None]
    ) -> None:
        """Put any other sans-IO client endpoint on the network at ``addr``.

        Its events go to ``on_event`` as they appear; a client written from
        the spec alone (``tests/spec_client.py``) plays the game this way.
        """
        if addr in self._endpoints:
            raise ValueError(f"{addr!r} is already on the network")
        self._endpoints[addr] = _EventPump(endpoint, endpoint.next_event, on_event)

    def _check(self, client: SimClient, snapshot: Snapshot) -> None:
        client.hash_checks += 1
        client.ticks_seen.append(snapshot.tick)
        if len(client.ticks_seen) > 4096:
            del client.ticks_seen[:2048]
        # Each client holds its own area of the world: compare with exactly what
        # the server sent it for that tick.  Equal snapshots have equal hashes
        # (snapshot_hash reads only fields that == compares), and the core has
        # already checked this one's hash against the server's state_hash.
        expected = self.server.sent_snapshot(client.addr, snapshot.tick)
        if self._check_sent and (expected is None or expected != snapshot):
            client.hash_mismatches += 1
        if client.steer:
            steer_client(client.core, snapshot, self._rng)

    def _on_tick(self, now: float) -> None:
        self._next_tick = now + 1.0 / self.settings.tick_rate
        self.server.tick(now)
        for c in self.clients:
            c.core.poll(now)

    def run(self, seconds: float) -> None:
        """Advance virtual time by ``seconds`` (ticks, datagrams and timers)."""
        until = self.now + seconds
        self.now = run_network(
            self.network,
            self._endpoints,
            self.now,
            until,
            step=1.0 / self.settings.tick_rate,
            on_step=self._on_tick,
            on_deliver=self.on_deliver,
            first_step=self._next_tick,
        )

    def playing(self) -> list[SimClient]:
        return [c for c in self.clients if c.core.state is ConnectionState.PLAYING]


def patient_client_config() -> ClientConfig:
    """Generous connect timeout for very lossy simulated links."""
    return ClientConfig(connect_timeout=30.0)
