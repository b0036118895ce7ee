"""An established connection on the seeded simulated link, with a virtual clock.

Sequence wrap, the reliable channel under loss and corruption, fragmentation,
bounded memory under forged fragments, forged acks, send-time errors,
keep-alives, the ACK_DELAY frame and statistics.
"""

from __future__ import annotations

import itertools
import random
import struct
from collections import Counter, deque
from collections.abc import Callable, Hashable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import (
    DATA_HEADER_SIZE,
    MAX_RELIABLE_MESSAGE,
    ClientConfig,
    ClientEndpoint,
    ClientState,
    ConnectionTerminated,
    CryptoPair,
    Event,
    MessageReceived,
    MessageTooLarge,
    NotConnected,
    PayloadAcked,
    PayloadLost,
    PayloadReceived,
    QueueFull,
    ServerEndpoint,
    seq_diff,
    seq_greater,
    seq_next,
)
from protocol._connection import Connection
from protocol._wire import (
    MAX_FRAGMENT_DATA,
    MAX_FRAGMENTS,
    DataHeader,
    Frame,
    FrameType,
    PacketKind,
    decode_data_header,
    decode_frames,
    encode_data_header,
    encode_fragment_frame,
    encode_unreliable_frame,
    packet_kind,
    packet_sequence,
)
from protocol.simulator import LinkConfig, SimulatedNetwork, run_network
from tests.sealing import PeerView

SERVER = ("server", 1)
CLIENT = ("client", 2)
TICK = 0.05


class Pair:
    """A server and one client on a simulated network, events collected per tick."""

    def __init__(self, seed: int, link: LinkConfig) -> None:
        rng = random.Random(seed)
        self.net = SimulatedNetwork(seed, link)
        self.server = ServerEndpoint(secret=rng.randbytes(32))
        self.client = ClientEndpoint(
            SERVER, config=ClientConfig(connect_timeout=60.0), nonce=rng.randbytes(8)
        )
        self.server_events: list[Event] = []
        self.client_events: list[Event] = []
        self.now = 0.0

    def drain(self) -> None:
        while (e := self.server.next_event()) is not None:
            self.server_events.append(e)
        while (e := self.client.next_event()) is not None:
            self.client_events.append(e)

    def run(
        self,
        seconds: float,
        on_tick: Callable[[float], None] | None = None,
        *,
        tick: float = TICK,
        on_deliver: Callable[[Hashable, Hashable, bytes], None] | None = None,
    ) -> None:
        def step(now: float) -> None:
            self.drain()
            if on_tick is not None:
                on_tick(now)

        self.now = run_network(
            self.net,
            {SERVER: self.server, CLIENT: self.client},
            self.now,
            self.now + seconds,
            step=tick,
            on_step=step,
            on_deliver=on_deliver,
        )
        self.drain()

    def connect(self) -> None:
        self.client.connect(self.now)
        for _ in range(600):
            self.run(0.1)
            if self.client.state is ClientState.CONNECTED and self.server.peers:
                return
        raise AssertionError("handshake did not complete")


def outcomes(events: list[Event]) -> Counter[int]:
    """How many PayloadAcked/PayloadLost events each handle got."""
    return Counter(e.handle for e in events if isinstance(e, PayloadAcked | PayloadLost))


def acked(events: list[Event]) -> set[int]:
    return {e.handle for e in events if isinstance(e, PayloadAcked)}


def lost(events: list[Event]) -> set[int]:
    return {e.handle for e in events if isinstance(e, PayloadLost)}


def terminations(events: list[Event]) -> list[ConnectionTerminated]:
    return [e for e in events if isinstance(e, ConnectionTerminated)]


# ------------------------------------------------------------- sequence numbers


@settings(derandomize=True, max_examples=300)
@given(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF))
def test_seq_diff_and_greater_agree(a: int, b: int) -> None:
    d = seq_diff(a, b)
    assert -0x8000 <= d <= 0x7FFF
    assert (b + d) & 0xFFFF == a
    assert seq_greater(a, b) == (d > 0)
    if d != -0x8000:
        assert seq_diff(b, a) == -d
    assert not (seq_greater(a, b) and seq_greater(b, a))
    if a != b and d != -0x8000:
        assert seq_greater(a, b) != seq_greater(b, a)


@settings(derandomize=True, max_examples=300)
@given(st.integers(0, 0xFFFF), st.integers(1, 0x7FFF))
def test_newer_is_newer_across_the_wrap(a: int, k: int) -> None:
    b = (a + k) & 0xFFFF
    assert seq_greater(b, a)
    assert not seq_greater(a, b)
    assert seq_diff(b, a) == k
    assert seq_next(0xFFFF) == 0


# ------------------------------------------------------------------ wrap soak


def test_sequence_numbers_wrap_and_acks_stay_right() -> None:
    """> 70,000 packets each way: every payload resolves once, acks are truthful."""
    pair = Pair(7, LinkConfig(loss=0.02, latency=0.02, jitter=0.002, duplicate=0.02))
    pair.connect()
    client, server = pair.client, pair.server
    big = 1100  # one payload per packet, so packets = payloads
    per_tick = 8
    sent_c = sent_s = 0
    reliable_sent = 0
    seqs_seen: list[int] = []
    received_c: set[int] = set()  # payload ids the server received from the client
    received_s: set[int] = set()
    reliable_got: list[bytes] = []
    header = struct.Struct(">I")

    def on_deliver(src: Hashable, dst: Hashable, data: bytes) -> None:
        if src == CLIENT and packet_kind(data) == PacketKind.DATA:
            seqs_seen.append(packet_sequence(data))

    def collect() -> None:
        for e in pair.server_events:
            if isinstance(e, PayloadReceived):
                received_c.add(header.unpack_from(e.data)[0])
            elif isinstance(e, MessageReceived):
                reliable_got.append(e.data)
        for e in pair.client_events:
            if isinstance(e, PayloadReceived):
                received_s.add(header.unpack_from(e.data)[0])
        del pair.server_events[:]  # keep memory flat; outcomes are tallied below
        del pair.client_events[:]

    tally_c: Counter[int] = Counter()
    tally_s: Counter[int] = Counter()
    acked_c: set[int] = set()
    acked_s: set[int] = set()

    def tally() -> None:
        tally_c.update(outcomes(pair.client_events))
        tally_s.update(outcomes(pair.server_events))
        acked_c.update(acked(pair.client_events))
        acked_s.update(acked(pair.server_events))
        for e in pair.server_events:
            assert not isinstance(e, ConnectionTerminated), e
        collect()

    def on_tick(now: float) -> None:
        nonlocal sent_c, sent_s, reliable_sent
        tally()
        if sent_c >= 72_000:
            return
        for _ in range(per_tick):
            assert client.send_unreliable(header.pack(sent_c) + bytes(big)) == sent_c
            assert server.send_unreliable(CLIENT, header.pack(sent_s) + bytes(big)) == sent_s
            sent_c += 1
            sent_s += 1
        if client.pending_reliable < 64:
            client.send_reliable(b"r%d" % reliable_sent)
            reliable_sent += 1

    pair.run(72_000 / per_tick * 0.02 + 3.0, on_tick, tick=0.02, on_deliver=on_deliver)
    tally()

    # The client's sequence really went past 65535 and wrapped to 0.
    assert len(seqs_seen) > 70_000
    assert max(seqs_seen) == 0xFFFF
    wraps = sum(1 for a, b in itertools.pairwise(seqs_seen) if a > 60000 and b < 5000)
    assert wraps >= 1
    # Every payload got exactly one outcome, and no ack was a lie.
    assert tally_c == Counter(range(sent_c)) and tally_s == Counter(range(sent_s))
    assert acked_c <= received_c and acked_s <= received_s
    assert len(acked_c) > 0.95 * sent_c and len(acked_s) > 0.95 * sent_s
    # Reliable delivery carried on straight through the wrap.
    assert reliable_got == [b"r%d" % i for i in range(reliable_sent)]
    assert reliable_sent > 5000 and client.pending_reliable == 0
    assert server.stats(CLIENT, pair.now).packets_received > 65_536


# ------------------------------------------------------------- reliable channel


def _reliable_traffic(pair: Pair, n: int) -> Callable[[float], None]:
    """A tick that sends ``n`` numbered reliable messages each way (a few a tick,
    never more than 200 unacknowledged) over game-like unreliable traffic."""
    sent = {"up": 0, "down": 0}

    def on_tick(now: float) -> None:
        for _ in range(4):
            if sent["up"] < n and pair.client.pending_reliable < 200:
                pair.client.send_reliable(b"up %d" % sent["up"])
                sent["up"] += 1
            if sent["down"] < n and pair.server.pending_reliable(CLIENT) < 200:
                pair.server.send_reliable(CLIENT, b"down %d" % sent["down"])
                sent["down"] += 1
        pair.client.send_unreliable(b"input")
        pair.server.send_unreliable(CLIENT, b"snapshot" * 5)

    return on_tick


@pytest.mark.parametrize("loss", [0.0, 0.1, 0.3, 0.5])
def test_reliable_delivers_exactly_once_in_order(loss: float) -> None:
    link = LinkConfig(loss=loss, latency=0.05, jitter=0.02, duplicate=0.1, reorder=0.1)
    pair = Pair(int(loss * 100) + 1, link)
    pair.connect()
    n = 1000
    on_tick = _reliable_traffic(pair, n)

    pair.run(150.0, on_tick)
    got_up = [e.data for e in pair.server_events if isinstance(e, MessageReceived)]
    got_down = [e.data for e in pair.client_events if isinstance(e, MessageReceived)]
    assert got_up == [b"up %d" % i for i in range(n)]
    assert got_down == [b"down %d" % i for i in range(n)]
    assert pair.net.counters.duplicated > 0 and pair.net.counters.reordered > 0
    if loss:
        assert pair.server.counters["reliable_duplicate"] > 0
    assert not terminations(pair.server_events + pair.client_events)


def test_corruption_no_longer_loses_reliable_messages() -> None:
    """A link flipping one bit in 5% of datagrams: every flip is caught by the check,
    so a corrupted ack can no longer falsely acknowledge a packet and lose a message."""
    link = LinkConfig(
        loss=0.1, latency=0.05, jitter=0.02, duplicate=0.05, reorder=0.05, corrupt=0.05
    )
    pair = Pair(77, link)
    pair.connect()
    # Let the handshake's datagrams land, so the counts below cover the same datagrams.
    pair.net.blackholed.update((SERVER, CLIENT))
    pair.run(1.0)
    assert pair.net.in_flight == 0
    pair.net.blackholed.clear()
    corrupted_before = pair.net.counters.corrupted
    dropped_before = pair.server.counters + pair.client.counters
    n = 1000
    on_tick = _reliable_traffic(pair, n)

    pair.run(120.0, on_tick)
    # Stop sending and let what is in flight arrive (well within the silence timeout).
    pair.net.blackholed.update((SERVER, CLIENT))
    pair.run(1.0)
    assert pair.net.in_flight == 0
    got_up = [e.data for e in pair.server_events if isinstance(e, MessageReceived)]
    got_down = [e.data for e in pair.client_events if isinstance(e, MessageReceived)]
    assert got_up == [b"up %d" % i for i in range(n)]
    assert got_down == [b"down %d" % i for i in range(n)]
    assert pair.client.pending_reliable == 0 and pair.server.pending_reliable(CLIENT) == 0
    assert not terminations(pair.server_events + pair.client_events)
    # The corruption was real, and every datagram corrupted once connected was caught by
    # its check (or its protocol id or version nibble), none decoded.
    corrupted = pair.net.counters.corrupted - corrupted_before
    dropped = pair.server.counters + pair.client.counters - dropped_before
    assert corrupted > 300
    assert dropped["bad_check"] + dropped["bad_protocol_id"] + dropped["bad_version"] == corrupted
    assert dropped["bad_check"] > 0 and dropped["malformed"] == 0


def test_send_time_errors() -> None:
    pair = Pair(3, LinkConfig())
    pair.connect()
    client = pair.client
    with pytest.raises(MessageTooLarge):
        client.send_reliable(bytes(MAX_RELIABLE_MESSAGE + 1))
    client.send_reliable(bytes(MAX_RELIABLE_MESSAGE))
    largest = MAX_FRAGMENTS * MAX_FRAGMENT_DATA
    with pytest.raises(MessageTooLarge):
        client.send_unreliable(bytes(largest + 1))
    client.send_unreliable(bytes(largest))
    with pytest.raises(NotConnected):
        pair.server.send_reliable(("nobody", 9), b"x")
    # Nothing is acknowledged while the server is unreachable: the queue fills.
    pair.net.blackholed.add(SERVER)
    for _ in range(255):  # one message is already queued
        client.send_reliable(b"m")
    with pytest.raises(QueueFull):
        client.send_reliable(b"one too many")
    assert client.pending_reliable == 256


# ------------------------------------------------------------------ fragments


@pytest.mark.parametrize(("size", "loss"), [(5_000, 0.3), (18_000, 0.1)])
def test_fragmented_payloads_survive_loss(size: int, loss: float) -> None:
    pair = Pair(
        size, LinkConfig(loss=loss, latency=0.03, jitter=0.01, duplicate=0.05, reorder=0.05)
    )
    pair.connect()
    sent: dict[int, bytes] = {}

    def payload(i: int) -> bytes:
        return random.Random(i).randbytes(size)

    def on_tick(now: float) -> None:
        if len(sent) < 100:
            h = pair.client.send_unreliable(payload(len(sent)))
            sent[h] = payload(len(sent))

    pair.run(15.0, on_tick)
    received = [e.data for e in pair.server_events if isinstance(e, PayloadReceived)]
    by_content = {data: h for h, data in sent.items()}
    assert len(received) >= 10
    for data in received:
        assert data in by_content  # intact: byte-identical to something sent
    delivered = {by_content[d] for d in received}
    assert len(delivered) == len(received)  # link duplicates never deliver a payload twice
    # Exactly one outcome per handle, and an ack never names an undelivered payload.
    assert outcomes(pair.client_events) == Counter(sent.keys())
    assert acked(pair.client_events) <= delivered
    assert lost(pair.client_events)  # with this much loss some must fail


def test_forged_fragments_cannot_grow_memory() -> None:
    pair = Pair(5, LinkConfig())
    pair.connect()
    conn = pair.server.connection(CLIENT)
    rng = random.Random(99)
    now = pair.now
    bound = conn.config.reassembly_groups * MAX_FRAGMENTS * MAX_FRAGMENT_DATA
    most_groups = 0
    client_side = PeerView(conn)
    for seq in range(5_000):
        frames = b""
        for _ in range(rng.randint(1, 3)):
            count = rng.randint(2, MAX_FRAGMENTS)
            length = rng.choice([1, rng.randint(1, 300)])
            frames += encode_fragment_frame(
                rng.randrange(0x10000), rng.randrange(count), count, rng.randbytes(length)
            )
        # Forged by someone holding the keys: the peer itself.
        packet = client_side.seal(encode_data_header(DataHeader(seq & 0xFFFF, 0xFFFF, 0)) + frames)
        now += 0.001
        pair.server.receive_datagram(packet, CLIENT, now)
        sizes = conn.debug_sizes
        assert sizes["fragment_groups"] <= conn.config.reassembly_groups
        assert sizes["fragment_bytes"] <= bound
        most_groups = max(most_groups, sizes["fragment_groups"])
    # Full-size forged fragments too: still at most 4 groups' worth.
    for seq in range(5_000, 6_000):
        frame = encode_fragment_frame(seq, 0, MAX_FRAGMENTS, bytes(MAX_FRAGMENT_DATA))
        now += 0.001
        pair.server.receive_datagram(
            client_side.seal(encode_data_header(DataHeader(seq, 0xFFFF, 0)) + frame),
            CLIENT,
            now,
        )
        assert conn.debug_sizes["fragment_bytes"] <= bound
    assert conn.debug_sizes["fragment_groups"] <= conn.config.reassembly_groups
    # The forgeries really reached the reassembler: the bound was tested, not bypassed.
    assert most_groups == conn.config.reassembly_groups
    assert conn.debug_sizes["fragment_bytes"] >= MAX_FRAGMENT_DATA
    assert pair.server.counters["bad_check"] == 0
    # The evictions show in the endpoint's named counters (the stats line).
    assert pair.server.counters["fragment_evicted"] > 1000
    # After the expiry time nothing is left, and that is counted too.
    expired_before = pair.server.counters["fragment_expired"]
    pair.server.handle_timer(now + conn.config.reassembly_expiry + 0.01)
    assert conn.debug_sizes["fragment_groups"] == 0
    assert conn.debug_sizes["fragment_bytes"] == 0
    assert (
        pair.server.counters["fragment_expired"] == expired_before + conn.config.reassembly_groups
    )


def test_forged_acks_with_guessed_keys_resolve_nothing() -> None:
    """Someone spoofing the client's address, without the keys, acks the server's
    packets (which the client never received): nothing is acknowledged."""
    pair = Pair(9, LinkConfig(latency=0.02))
    pair.connect()
    conn = pair.server.connection(CLIENT)
    handles = {pair.server.send_unreliable(CLIENT, bytes(600)) for _ in range(20)}
    sent = pair.server.datagrams_to_send(pair.now)  # never delivered
    seqs = [packet_sequence(d) for d, _ in sent]
    assert len(seqs) == 20 and all(seq_diff(b, a) == 1 for a, b in itertools.pairwise(seqs))
    ack, bits = seqs[-1], (1 << (len(seqs) - 1)) - 1  # names every one of them
    rng = random.Random(4)
    before = conn.stats(pair.now).packets_received
    for i in range(1000):
        forged = encode_data_header(DataHeader(0x4000 + i, ack, bits))
        guess = PeerView(CryptoPair(rng.randbytes(32), rng.randbytes(32)))
        pair.server.receive_datagram(guess.seal(forged), CLIENT, pair.now)
    # Each guess would pass with probability 2**-128: all 1,000 are refused.
    assert pair.server.counters["bad_check"] == 1000
    assert conn.stats(pair.now).packets_received == before
    pair.drain()
    assert outcomes(pair.server_events) == Counter()
    # The same ack under the real keys acknowledges them all: the forgeries were
    # refused for their keys alone.
    real = encode_data_header(DataHeader(0x4000, ack, bits))
    pair.server.receive_datagram(PeerView(conn).seal(real), CLIENT, pair.now)
    pair.drain()
    assert acked(pair.server_events) == handles


# --------------------------------------------------------------- ACK_DELAY


_KEY_A, _KEY_B = bytes(range(32)), bytes(range(32, 64))


def _manual_pair() -> tuple[Connection, Connection]:
    a = Connection("b", CryptoPair(_KEY_A, _KEY_B), 0.0, deque(), Counter())
    b = Connection("a", CryptoPair(_KEY_B, _KEY_A), 0.0, deque(), Counter())
    return a, b


def _opened(packet: bytes) -> bytes:
    """Open a packet of a _manual_pair connection with a fresh view of its keys."""
    for keys in ((_KEY_A, _KEY_B), (_KEY_B, _KEY_A)):
        view = PeerView(CryptoPair(*keys))
        try:
            return view.open(packet)
        except AssertionError:
            continue
    raise AssertionError("not a packet of the manual pair")


def _frames_of(packet: bytes) -> list[Frame]:
    return decode_frames(_opened(packet))


def test_ack_delay_frame_is_sent_first_and_only_when_meaningful() -> None:
    a, b = _manual_pair()
    a.send_unreliable(b"ping")
    (first,) = a.datagrams_to_send(0.0)
    # Nothing received yet: no ACK_DELAY frame.
    assert [f.type for f in _frames_of(first)] == [FrameType.UNRELIABLE]
    b.receive_packet(first, 0.010)
    b.send_unreliable(b"pong")
    (reply,) = b.datagrams_to_send(0.010)  # answered at once: under 1 ms, no frame
    assert [f.type for f in _frames_of(reply)] == [FrameType.UNRELIABLE]
    assert decode_data_header(_opened(reply)).ack == 0
    b.send_unreliable(b"later")
    (later,) = b.datagrams_to_send(0.1374)  # 127.4 ms after receiving seq 0
    assert _frames_of(later) == [
        Frame(FrameType.ACK_DELAY, b"", ack_delay_ms=127),
        Frame(FrameType.UNRELIABLE, b"later"),
    ]
    b.send_unreliable(b"much later")
    (late,) = b.datagrams_to_send(0.9)  # saturates at 255 ms
    assert _frames_of(late)[0] == Frame(FrameType.ACK_DELAY, b"", ack_delay_ms=255)
    # The frame fits even when the frames fill the whole budget.
    b.send_unreliable(bytes(MAX_FRAGMENT_DATA + 4))  # exactly MAX_UNRELIABLE_PAYLOAD
    (full,) = b.datagrams_to_send(0.95)
    assert len(full) == 1200 and _frames_of(full)[0].type is FrameType.ACK_DELAY


def test_rtt_excludes_the_peers_ack_delay() -> None:
    """Path RTT is 100 ms; the peer holds each ack for 80 ms on top."""
    a, b = _manual_pair()
    now = 0.0
    for _ in range(20):
        a.send_unreliable(b"input")
        (out,) = a.datagrams_to_send(now)
        b.receive_packet(out, now + 0.05)
        b.send_unreliable(b"snapshot")
        (back,) = b.datagrams_to_send(now + 0.13)  # held 80 ms
        assert _frames_of(back)[0] == Frame(FrameType.ACK_DELAY, b"", ack_delay_ms=80)
        a.receive_packet(back, now + 0.18)
        now += 0.2
    assert a.stats(now).rtt == pytest.approx(0.1, abs=0.002)
    # Without the frame, the same exchange measures the peer's pacing as path delay.
    c, d = _manual_pair()
    now = 0.0
    for _ in range(20):
        c.send_unreliable(b"input")
        (out,) = c.datagrams_to_send(now)
        d.receive_packet(out, now + 0.05)
        d.send_unreliable(b"snapshot")
        (back,) = d.datagrams_to_send(now + 0.13)
        header = _opened(back)[:DATA_HEADER_SIZE]
        rest = b"".join(encode_unreliable_frame(f.data) for f in _frames_of(back)[1:])
        c.receive_packet(PeerView(c).seal(header + rest), now + 0.18)
        now += 0.2
    assert c.stats(now).rtt == pytest.approx(0.18, abs=0.002)


# ------------------------------------------------------------ idle and stats


def test_keepalives_keep_an_idle_connection_open() -> None:
    pair = Pair(21, LinkConfig(loss=0.2, latency=0.05, jitter=0.01))
    pair.connect()
    before = pair.server.stats(CLIENT, pair.now).packets_received
    pair.run(60.0)
    assert not terminations(pair.server_events + pair.client_events)
    assert pair.client.state is ClientState.CONNECTED and pair.server.peers == [CLIENT]
    stats = pair.client.stats(pair.now)
    assert stats is not None
    # About 4 keep-alives a second each way, 20% lost: ~190 in 60 s.
    assert pair.server.stats(CLIENT, pair.now).packets_received - before > 150
    assert stats.packets_received > 150
    # And the silence timeout is real: cut the link and both sides notice.
    pair.net.blackholed.add(CLIENT)
    pair.run(6.0)
    assert [e.code.name for e in terminations(pair.client_events)] == ["TIMEOUT"]
    assert [e.code.name for e in terminations(pair.server_events)] == ["TIMEOUT"]


@pytest.mark.parametrize("loss", [0.05, 0.2])
def test_stats_are_plausible(loss: float) -> None:
    latency = 0.05
    pair = Pair(31, LinkConfig(loss=loss, latency=latency, jitter=0.005))
    pair.connect()

    def on_tick(now: float) -> None:
        pair.client.send_unreliable(b"input")
        pair.server.send_unreliable(CLIENT, bytes(40))

    pair.run(30.0, on_tick)
    client_stats = pair.client.stats(pair.now)
    assert client_stats is not None
    for stats in (client_stats, pair.server.stats(CLIENT, pair.now)):
        assert 2 * latency * 0.85 <= stats.rtt <= 2 * latency * 1.25, stats
        assert stats.jitter < 0.02
        assert abs(stats.loss - loss) < 0.07, stats
        # Inbound loss is read from sequence gaps; it is smoothed over ~64 packets.
        assert abs(stats.loss_in - loss) < 0.1, stats
        assert stats.packets_lost > 0
        assert stats.bytes_in_per_s > 0 and stats.bytes_out_per_s > 0
        # ~20 packets/s plus acks: on the order of 1 kB/s each way.
        assert 200 < stats.bytes_out_per_s < 5000


def test_rtt_is_measured_for_a_side_that_only_acks() -> None:
    # A client that never steers sends only ack packets; the server's data
    # packets ack those, so the client still knows its ping.  Empty packets are
    # never acked for their own sake, so they must not count as lost either.
    latency = 0.05
    pair = Pair(37, LinkConfig(latency=latency, jitter=0.005))
    pair.connect()

    def on_tick(now: float) -> None:
        pair.server.send_unreliable(CLIENT, bytes(40))

    pair.run(10.0, on_tick)
    stats = pair.client.stats(pair.now)
    assert stats is not None
    assert 2 * latency * 0.85 <= stats.rtt <= 2 * latency * 1.25, stats
    assert stats.loss == 0.0 and stats.packets_lost == 0, stats


# ------------------------------------------------------------- server timers


def test_the_server_visits_what_a_full_scan_would_in_connection_order() -> None:
    """The server keeps its connections' timers in a heap instead of scanning
    every connection per datagram.  On a lossy network with a dozen clients
    sending, going quiet, leaving and reconnecting from the same address,
    each visit list equals the old full scan (every connection touched since
    the last flush or whose timer is due, in connection order), and stale
    heap entries stay bounded."""
    rng = random.Random(21)
    net = SimulatedNetwork(21, LinkConfig(loss=0.1, latency=0.02, jitter=0.005))
    server = ServerEndpoint(secret=rng.randbytes(32))
    addrs = [("c", i) for i in range(12)]
    clients = {a: ClientEndpoint(SERVER, nonce=rng.randbytes(8)) for a in addrs}
    endpoints: dict[Hashable, object] = {SERVER: server, **clients}
    visits = 0
    heap_peak = 0
    scan = server._due

    def checked_due(now: float) -> list[Hashable]:
        nonlocal visits, heap_peak
        conns, dirty, timers = server._connections, server._dirty, server._timers
        expected = [p for p in conns if p in dirty or timers.get(p, now + 1) <= now]
        got = scan(now)
        assert got == expected
        visits += len(got)
        heap_peak = max(heap_peak, len(server._timer_heap) - 4 * len(timers))
        return got

    server._due = checked_due  # type: ignore[method-assign]
    now = 0.0
    for c in clients.values():
        c.connect(now)

    def step(t: float) -> None:
        for e in [server.next_event() for _ in range(64)]:
            if e is None:
                break
        for c in list(clients.values()):
            while c.next_event() is not None:
                pass
            if c.state is ClientState.CONNECTED and rng.random() < 0.5:
                c.send_unreliable(b"x" * rng.randrange(1, 200))
            if c.state is ClientState.CONNECTED and rng.random() < 0.05:
                c.send_reliable(b"r")
        if rng.random() < 0.02:
            a = rng.choice(addrs)
            if clients[a].state is ClientState.CONNECTED:
                clients[a].disconnect()
        if rng.random() < 0.02:
            # A client restarts on the same address: the server replaces the connection.
            a = rng.choice(addrs)
            fresh = ClientEndpoint(SERVER, nonce=rng.randbytes(8))
            fresh.connect(t)
            clients[a] = endpoints[a] = fresh  # type: ignore[assignment]
        for peer in list(server.peers):
            if rng.random() < 0.3:
                server.send_unreliable(peer, b"s" * rng.randrange(1, 300))

    now = run_network(net, endpoints, now, 30.0, step=0.05, on_step=step)  # type: ignore[arg-type]
    assert visits > 5000
    assert heap_peak <= 64
    assert len(server.peers) >= 6, (visits, heap_peak)
    # Refreshing one timer over and over leaves stale entries behind: rebuilt, not piled up.
    conn = server.connection(server.peers[0])
    for _ in range(1000):
        server._refresh_timer(conn)
    assert len(server._timer_heap) <= 4 * len(server._timers) + 64
