"""The handshake and connection lifecycle: spoofing, amplification, denial, timeouts,
disconnects, a lost ACCEPT and the handshake rate limit."""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Hashable

from protocol import (
    HANDSHAKE_SIZE,
    PROTOCOL_VERSION,
    ClientConfig,
    ClientEndpoint,
    ClientState,
    ConnectionEstablished,
    ConnectionTerminated,
    CryptoPair,
    DisconnectCode,
    Event,
    ServerConfig,
    ServerEndpoint,
    public_key,
)
from protocol._wire import (
    PacketKind,
    check_crc,
    encode_reason,
    keyed_prefix,
    packet_kind,
    pad,
    prefix,
    seal_crc,
)
from protocol.simulator import LinkConfig, SimulatedNetwork, run_network
from tests.sealing import PeerView, same_keys

SERVER = ("203.0.113.1", 7777)
CLIENT = ("198.51.100.2", 5000)
VICTIM = ("198.51.100.99", 6000)
ATTACKER = ("192.0.2.66", 6666)


def drain(endpoint: ServerEndpoint | ClientEndpoint) -> list[Event]:
    events = []
    while (e := endpoint.next_event()) is not None:
        events.append(e)
    return events


def state(client: ClientEndpoint) -> ClientState:
    """The client's state, read afresh (keeps mypy from narrowing it across runs)."""
    return client.state


def terminations(events: list[Event]) -> list[ConnectionTerminated]:
    return [e for e in events if isinstance(e, ConnectionTerminated)]


def request(nonce: bytes, version: int = PROTOCOL_VERSION) -> bytes:
    return seal_crc(pad(prefix(PacketKind.CONNECT_REQUEST, version) + nonce))


def response(nonce: bytes, token: bytes) -> bytes:
    """A CONNECT_RESPONSE carrying a real ephemeral key (Noise message 1)."""
    ephemeral = public_key(hashlib.sha256(nonce + token).digest())
    return seal_crc(pad(prefix(PacketKind.CONNECT_RESPONSE) + nonce + token + ephemeral))


def challenge_token(server: ServerEndpoint, nonce: bytes, addr: Hashable, now: float) -> bytes:
    """Ask ``server`` for a token the honest way, from ``addr``."""
    server.receive_datagram(request(nonce), addr, now)
    (reply,) = [d for d, dst in server.datagrams_to_send(now) if dst == addr]
    assert packet_kind(reply) == PacketKind.CHALLENGE and check_crc(reply)
    return reply[12:32]


class Sim:
    """Server and clients on a seeded simulated network."""

    def __init__(
        self, seed: int, link: LinkConfig | None = None, server_config: ServerConfig | None = None
    ) -> None:
        self.rng = random.Random(seed)
        self.net = SimulatedNetwork(seed, link)
        self.server = ServerEndpoint(server_config, secret=self.rng.randbytes(32))
        self.endpoints: dict[Hashable, ServerEndpoint | ClientEndpoint] = {SERVER: self.server}
        self.events: dict[Hashable, list[Event]] = {SERVER: []}
        self.now = 0.0

    def add_client(self, addr: Hashable, config: ClientConfig | None = None) -> ClientEndpoint:
        client = ClientEndpoint(SERVER, config=config, nonce=self.rng.randbytes(8))
        self.endpoints[addr] = client
        self.events[addr] = []
        return client

    def run(self, seconds: float) -> None:
        def collect(now: float) -> None:
            for addr, ep in self.endpoints.items():
                self.events[addr].extend(drain(ep))

        self.now = run_network(
            self.net, dict(self.endpoints), self.now, self.now + seconds, step=0.05, on_step=collect
        )
        collect(self.now)

    def connect(self, addr: Hashable) -> ClientEndpoint:
        client = self.add_client(addr)
        client.connect(self.now)
        self.run(1.0)
        assert client.state is ClientState.CONNECTED
        return client


# --------------------------------------------------------------- spoofing


def test_forged_source_address_cannot_complete_the_handshake() -> None:
    server = ServerEndpoint(secret=bytes(32))
    rng = random.Random(1)
    now = 50.0
    nonce = rng.randbytes(8)
    # The attacker claims to be the victim: the CHALLENGE goes to the victim, not to it.
    server.receive_datagram(request(nonce), VICTIM, now)
    replies = server.datagrams_to_send(now)
    assert [dst for _, dst in replies] == [VICTIM]
    # So it must guess tokens, in the right bucket even; none works.
    bucket = replies[0][0][12:16]
    for _ in range(2000):
        server.receive_datagram(response(nonce, bucket + rng.randbytes(16)), VICTIM, now)
        server.receive_datagram(response(nonce, rng.randbytes(20)), VICTIM, now)
    # A genuine token minted for the attacker's own address is no good for the victim's,
    # nor with another nonce from its own address.
    token = challenge_token(server, nonce, ATTACKER, now)
    server.receive_datagram(response(nonce, token), VICTIM, now)
    server.receive_datagram(response(rng.randbytes(8), token), ATTACKER, now)
    # A token from another server (another secret) is refused too.
    other = ServerEndpoint(secret=bytes(range(32)))
    server.receive_datagram(
        response(nonce, challenge_token(other, nonce, VICTIM, now)), VICTIM, now
    )
    assert server.peers == []
    assert drain(server) == []
    assert server.counters["bad_token"] == 4003
    assert all(
        dst != VICTIM or packet_kind(d) == PacketKind.CHALLENGE
        for d, dst in server.datagrams_to_send(now)
    )
    # The token itself does work from the right address: the checks above were not vacuous.
    server.receive_datagram(response(nonce, token), ATTACKER, now + 1)
    assert server.peers == [ATTACKER]


def test_tokens_expire() -> None:
    server = ServerEndpoint(secret=bytes(32))
    nonce = b"12345678"
    token = challenge_token(server, nonce, CLIENT, 105.0)
    server.receive_datagram(response(nonce, token), CLIENT, 125.0)  # two buckets later
    assert server.counters["bad_token"] == 1 and server.peers == []
    token = challenge_token(server, nonce, CLIENT, 105.0)
    server.receive_datagram(response(nonce, token), CLIENT, 119.9)  # the next bucket: fine
    assert server.peers == [CLIENT]


# --------------------------------------------------------- amplification


def test_unverified_addresses_never_get_more_bytes_than_they_sent() -> None:
    server = ServerEndpoint(secret=bytes(32))
    rng = random.Random(2)
    sent_to: Counter[Hashable] = Counter()
    received_from: Counter[Hashable] = Counter()
    addrs = [(f"198.51.100.{i}", 1000 + i) for i in range(50)]
    now = 0.0
    for _i in range(20_000):
        now += 0.0005
        addr = rng.choice(addrs)
        roll = rng.random()
        if roll < 0.4:
            data = request(rng.randbytes(8))
        elif roll < 0.55:
            data = request(rng.randbytes(8), version=rng.choice([0, 1, 9]))  # DENIED is bigger
        elif roll < 0.7:
            data = response(rng.randbytes(8), rng.randbytes(20))
        else:  # wrong sizes, including tiny and just-short handshake packets
            kind = rng.choice([PacketKind.CONNECT_REQUEST, PacketKind.CONNECT_RESPONSE])
            size = rng.choice([3, 4, 11, HANDSHAKE_SIZE - 1, HANDSHAKE_SIZE + 1, 1200])
            data = (prefix(kind, rng.choice([1, 2])) + rng.randbytes(size))[:size]
            if size >= 4:  # a valid CRC, so the size rule is what refuses it
                data = seal_crc(data)
        received_from[addr] += len(data)
        server.receive_datagram(data, addr, now)
        for reply, dst in server.datagrams_to_send(now):
            sent_to[dst] += len(reply)
    assert server.peers == []
    assert server.unverified_bytes_in == sum(received_from.values())
    assert server.unverified_bytes_out == sum(sent_to.values())
    assert 0 < server.unverified_bytes_out <= server.unverified_bytes_in
    for addr in addrs:
        assert sent_to[addr] <= received_from[addr]
    # And the flood was mostly refused by the rate limit, not answered.
    assert server.counters["rate_limited"] > 0
    assert server.counters["bad_handshake_size"] > 0
    assert server.unverified_bytes_out / server.unverified_bytes_in < 0.2


def test_wrong_size_handshakes_get_no_reply() -> None:
    server = ServerEndpoint(secret=bytes(32))
    for size in (3, 4, 11, 100, HANDSHAKE_SIZE - 1, HANDSHAKE_SIZE + 1):
        for kind in (PacketKind.CONNECT_REQUEST, PacketKind.CONNECT_RESPONSE):
            for version in (1, 2):
                data = (prefix(kind, version) + bytes(size))[:size]
                if size >= 4:  # a valid CRC, so the size rule is what refuses it
                    data = seal_crc(data)
                server.receive_datagram(data, CLIENT, 1.0)
    assert server.datagrams_to_send(1.0) == []
    assert server.unverified_bytes_out == 0
    # Refused for their size (or version), not for a bad check.
    assert server.counters["bad_handshake_size"] == 2 * 5
    assert server.counters["bad_check"] == 0


# ------------------------------------------------------- denial and timeouts


class FutureClientLink:
    """Stands between a v2 server and the network and rewrites every incoming
    version nibble to 3 and reseals the CRC, so the server sees a client
    speaking protocol v3 (whose check bytes a v2 server does not verify)."""

    def __init__(self, server: ServerEndpoint) -> None:
        self.server = server

    def receive_datagram(self, data: bytes, addr: Hashable, now: float) -> None:
        rewritten = seal_crc(data[:1] + bytes(((3 << 4) | (data[1] & 0x0F),)) + data[2:])
        self.server.receive_datagram(rewritten, addr, now)

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Hashable]]:
        return self.server.datagrams_to_send(now)

    def get_timer(self) -> float | None:
        return self.server.get_timer()

    def handle_timer(self, now: float) -> None:
        self.server.handle_timer(now)


def test_version_mismatch_is_explained_to_the_client() -> None:
    net = SimulatedNetwork(3, LinkConfig(latency=0.01))
    server = ServerEndpoint(secret=bytes(32))
    client = ClientEndpoint(SERVER, nonce=b"abcdefgh")
    client.connect(0.0)
    run_network(net, {SERVER: FutureClientLink(server), CLIENT: client}, 0.0, 1.0)
    assert client.state is ClientState.CLOSED
    (event,) = drain(client)
    assert isinstance(event, ConnectionTerminated)
    assert event.code is DisconnectCode.VERSION_MISMATCH and event.by_peer
    assert event.reason == "version mismatch: server speaks protocol v2"
    assert server.counters["bad_version"] >= 1 and server.peers == []


def test_denied_from_a_newer_server_is_understood() -> None:
    # DENIED keeps its layout in every version: a v2 client reads a v7 server's refusal.
    client = ClientEndpoint(SERVER, nonce=b"abcdefgh")
    client.connect(0.0)
    denied = seal_crc(
        prefix(PacketKind.DENIED, version=7)
        + b"abcdefgh"
        + encode_reason(
            DisconnectCode.VERSION_MISMATCH, "server speaks protocol v7, please upgrade"
        )
    )
    # With a broken CRC it is not believed, whatever its version.
    corrupted = denied[:2] + bytes((denied[2] ^ 1, denied[3])) + denied[4:]
    client.receive_datagram(corrupted, SERVER, 0.1)
    assert client.state is ClientState.REQUESTING and client.counters["bad_check"] == 1
    client.receive_datagram(denied, SERVER, 0.1)
    assert terminations(drain(client)) == [
        ConnectionTerminated(
            peer=SERVER,
            code=DisconnectCode.VERSION_MISMATCH,
            reason="server speaks protocol v7, please upgrade",
            by_peer=True,
        )
    ]
    # Another version's non-DENIED packets are dropped, not misread.
    other = ClientEndpoint(SERVER, nonce=b"abcdefgh")
    other.connect(0.0)
    other.receive_datagram(
        seal_crc(prefix(PacketKind.CHALLENGE, version=7) + b"abcdefgh" + bytes(20)), SERVER, 0.1
    )
    assert other.state is ClientState.REQUESTING and other.counters["bad_version"] == 1


def test_server_full() -> None:
    sim = Sim(4, LinkConfig(latency=0.02), ServerConfig(max_connections=1))
    sim.connect(CLIENT)
    second = sim.add_client(VICTIM)
    second.connect(sim.now)
    sim.run(1.0)
    assert second.state is ClientState.CLOSED
    assert terminations(sim.events[VICTIM]) == [
        ConnectionTerminated(
            peer=SERVER, code=DisconnectCode.SERVER_FULL, reason="server full", by_peer=True
        )
    ]
    assert sim.server.peers == [CLIENT]


def test_connect_timeout_is_unreachable() -> None:
    sim = Sim(5, LinkConfig(latency=0.02))
    sim.net.blackholed.add(SERVER)
    client = sim.add_client(CLIENT)
    client.connect(0.0)
    sim.run(4.9)
    assert state(client) is ClientState.REQUESTING
    sim.run(0.2)
    assert state(client) is ClientState.CLOSED
    (event,) = terminations(sim.events[CLIENT])
    assert event.code is DisconnectCode.UNREACHABLE and not event.by_peer
    assert 19 <= client.handshake_attempts <= 21  # every 0.25 s for 5 s


def test_peer_silence_times_out_both_sides() -> None:
    sim = Sim(6, LinkConfig(latency=0.02))
    client = sim.connect(CLIENT)
    sim.net.blackholed.add(CLIENT)
    sim.run(4.5)
    assert state(client) is ClientState.CONNECTED and sim.server.peers == [CLIENT]
    sim.run(1.0)
    for addr in (SERVER, CLIENT):
        (event,) = terminations(sim.events[addr])
        assert event.code is DisconnectCode.TIMEOUT and not event.by_peer
    assert state(client) is ClientState.CLOSED and sim.server.peers == []


# ---------------------------------------------------------------- disconnect


def test_disconnect_gets_through_half_the_time_lost_in_most_runs() -> None:
    arrived = Counter[str]()
    for seed in range(50):
        for side in ("client", "server"):
            sim = Sim(100 + seed, LinkConfig(latency=0.03, jitter=0.01))
            client = sim.connect(CLIENT)
            lossy = LinkConfig(loss=0.5, latency=0.03, jitter=0.01)
            sim.net.set_link(CLIENT, SERVER, lossy)
            sim.net.set_link(SERVER, CLIENT, lossy)
            if side == "client":
                client.disconnect(DisconnectCode.NORMAL, "bye")
                receiver = SERVER
            else:
                sim.server.disconnect(CLIENT, DisconnectCode.SHUTDOWN, "maintenance")
                receiver = CLIENT
            sim.run(1.0)  # well before the 5 s silence timeout
            got = terminations(sim.events[receiver])
            if got:
                assert got[0].by_peer
                assert got[0].code is (
                    DisconnectCode.NORMAL if side == "client" else DisconnectCode.SHUTDOWN
                )
                arrived[side] += 1
    # Three copies at 50% loss each arrive 87.5% of the time.
    assert arrived["client"] >= 40 and arrived["server"] >= 40
    assert arrived["client"] < 50 or arrived["server"] < 50  # the loss really was there


def test_disconnect_with_wrong_keys_is_ignored() -> None:
    sim = Sim(7, LinkConfig(latency=0.02))
    client = sim.connect(CLIENT)
    body = keyed_prefix(PacketKind.DISCONNECT, 0x100) + encode_reason(0, "forged")
    wrong = PeerView(CryptoPair(bytes(32), bytes(32)))
    forged = wrong.seal(body, 0x100)
    real = PeerView(sim.server.connection(CLIENT)).seal(body, 0x100)
    assert forged != real and forged[:4] == real[:4]
    sim.server.receive_datagram(forged, CLIENT, sim.now)
    client.receive_datagram(forged, SERVER, sim.now)
    sim.server.receive_datagram(forged, ATTACKER, sim.now)
    sim.server.receive_datagram(body, CLIENT, sim.now)  # not sealed at all
    assert sim.server.counters["bad_check"] == 2 and client.counters["bad_check"] == 1
    assert sim.server.counters["unknown_source"] == 1
    sim.run(1.0)
    assert sim.server.peers == [CLIENT] and client.state is ClientState.CONNECTED
    assert terminations(sim.events[SERVER] + sim.events[CLIENT]) == []
    # The real keys work, which shows the forged one was refused for its keys alone.
    sim.server.receive_datagram(real, CLIENT, sim.now)
    assert sim.server.peers == []


# -------------------------------------------------------- lost ACCEPT, replace


def test_lost_accept_recovers_without_a_second_connection() -> None:
    server = ServerEndpoint(secret=bytes(32))
    client = ClientEndpoint(SERVER, nonce=b"lostacpt")
    client.connect(0.0)
    (req,) = client.datagrams_to_send(0.0)
    server.receive_datagram(req[0], CLIENT, 0.01)
    (chal,) = server.datagrams_to_send(0.01)
    client.receive_datagram(chal[0], SERVER, 0.02)
    (resp,) = client.datagrams_to_send(0.02)
    server.receive_datagram(resp[0], CLIENT, 0.03)
    (first_accept,) = server.datagrams_to_send(0.03)  # lost on the way
    assert client.datagrams_to_send(0.1) == []  # not yet time to resend
    (again,) = client.datagrams_to_send(0.27)
    assert again[0] == resp[0]
    server.receive_datagram(again[0], CLIENT, 0.28)
    out = server.datagrams_to_send(0.28)
    accepts = [d for d, _ in out if packet_kind(d) == PacketKind.ACCEPT]
    assert accepts == [first_accept[0]]  # the same ACCEPT, not a new key exchange
    assert server.peers == [CLIENT]
    assert [type(e) for e in drain(server)] == [ConnectionEstablished]
    client.receive_datagram(accepts[0], SERVER, 0.29)
    assert client.state is ClientState.CONNECTED
    assert same_keys(client.connection, server.connection(CLIENT))


def test_lost_accepts_recover_on_a_lossy_link() -> None:
    for seed in range(20):
        sim = Sim(200 + seed, LinkConfig(loss=0.3, latency=0.03))
        client = sim.add_client(CLIENT, ClientConfig(connect_timeout=30.0))
        client.connect(0.0)
        sim.run(10.0)
        assert client.state is ClientState.CONNECTED
        assert [type(e) for e in sim.events[SERVER]] == [ConnectionEstablished]
        assert same_keys(client.connection, sim.server.connection(CLIENT))


def test_a_restarted_client_replaces_its_old_connection() -> None:
    sim = Sim(8, LinkConfig(latency=0.02))
    sim.connect(CLIENT)
    sim.connect(CLIENT)  # a new ClientEndpoint (new nonce) at the same address
    (event,) = terminations(sim.events[SERVER])
    assert event.code is DisconnectCode.REPLACED
    assert sim.server.peers == [CLIENT]
    assert sum(isinstance(e, ConnectionEstablished) for e in sim.events[SERVER]) == 2


# ------------------------------------------------------------------ rate limit


def test_per_address_handshake_rate_limit() -> None:
    server = ServerEndpoint(secret=bytes(32))
    config = server.config

    def challenges(addr: Hashable, count: int, now: float) -> int:
        for i in range(count):
            server.receive_datagram(request(i.to_bytes(8, "big")), addr, now)
        return sum(1 for _, dst in server.datagrams_to_send(now) if dst == addr)

    assert challenges(ATTACKER, 100, 1.0) == config.handshake_burst
    assert server.counters["rate_limited"] == 100 - config.handshake_burst
    assert challenges(CLIENT, 5, 1.0) == 5  # another address is not affected
    assert challenges(ATTACKER, 100, 2.0) == config.handshake_rate  # refilled for one second
    assert challenges(ATTACKER, 100, 2.0) == 0
