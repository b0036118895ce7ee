"""Hostile traffic against a live server while real clients play: the attack benchmark.

Run it from the repository root::

    python benchmarks/abuse.py --quick            # 50,000 hostile datagrams
    python benchmarks/abuse.py                    # 1,000,000 (several minutes)

Theory of operation
-------------------
A real ``netsnake-server`` runs as a subprocess on loopback (stats line every
second, input trace on).  Four :class:`~netsnake.client.headless.HeadlessBot`
clients join in this process; the first, the *victim*, goes through a tiny
capturing UDP proxy, so the benchmark holds real packets of a real client
(handshake and DATA) to mutate and to replay.

Phases: **baseline** (legitimate play only), **replay check** (the victim's
packets replayed slowly from other source ports, so the kernel drops none and
the server's ``unknown_source``/``bad_token`` counters must grow by exactly
the number sent), **right-source check** (from the victim's own address, the
proxy's socket: bit-flipped copies of the victim's sealed DATA packets, each of
which must fail to open and be counted, then verbatim replays of them, each of
which must be counted as a duplicate, stale or unopenable packet), **attack**
(hostile sender processes at full speed), **after**.  The sender processes,
one per attack kind, are:

``random``      datagrams of every size 0..1500, then larger ones up to 65507
``mutate``      truncations and bit flips of captured packets, wrong protocol
                ids and versions, unknown packet kinds (unverified sources)
``flood``       CONNECT_REQUESTs from 64 source ports
``info``        INFO_REQUESTs from 64 source ports, each with a fresh nonce, and
                one in 16 cut or padded to a random size 0..1200 (re-sealed):
                the server's replies must total no more bytes than the
                requests (amplification <= 1), and the rate limits must hold
``replay``      the victim's captured packets from other source ports
``bombs``       a connected client (a real ClientEndpoint, so the bytes reach
                the game layer) sending msgpack bombs (huge declared array,
                map, str and bin lengths, deep nesting, ext types) reliably and
                unreliably, plus wrong-version and unknown-kind packets from
                its verified address
``fragments``   a connected client whose real DATA packets carry forged
                fragment frames: out-of-range index/count, lengths, and
                never-completed sets over many group ids

Every unverified socket counts the bytes it sends and receives: the server's
amplification factor is received / sent and must be at most 1.  Senders run
at ``nice +10`` so that, on a small machine, the attack takes spare CPU rather
than the server's (a real attacker brings its own CPU).

Legitimate clients' snapshot rate and staleness (time since the newest
snapshot, sampled every 10 ms) are compared between baseline and attack.  The
server's RSS is read from ``/proc/PID/status`` and its socket's kernel drops
from ``/proc/net/udp``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from netsnake.client.headless import HeadlessBot
from netsnake.client.state import ConnectionState
from protocol import INFO_REQUEST_SIZE, ClientEndpoint, ClientState
from protocol._info import encode_info_request
from protocol._wire import (
    HANDSHAKE_SIZE,
    MAX_FRAGMENT_DATA,
    PROTOCOL_VERSION,
    PacketKind,
    encode_fragment_frame,
    pad,
    prefix,
    seal_crc,
)

try:  # the packet kind's place on the wire (a nibble of byte 1 since the checked prefix)
    from protocol._wire import packet_kind as _packet_kind
except ImportError:  # pragma: no cover - the 3-byte prefix of protocol v1 drafts

    def _packet_kind(data: bytes) -> int:
        return data[2]


__all__ = ["AbuseResult", "main", "run_abuse"]

HOST = "127.0.0.1"
KINDS = ("random", "mutate", "flood", "info", "replay", "bombs", "fragments")
# Share of the hostile datagrams each kind sends.
SHARES = {
    "random": 0.25,
    "mutate": 0.20,
    "flood": 0.15,
    "info": 0.10,
    "replay": 0.10,
    "bombs": 0.10,
    "fragments": 0.10,
}
MAX_UDP = 65507

# -- msgpack bombs: tiny datagrams that declare huge or deep values ---------------------------

BOMBS: tuple[bytes, ...] = (
    b"\xdd\xff\xff\xff\xff",  # array32 of 4 billion items
    b"\xdf\xff\xff\xff\xff",  # map32 of 4 billion pairs
    b"\xdb\xff\xff\xff\xff",  # str32 of 4 GB
    b"\xc6\xff\xff\xff\xff",  # bin32 of 4 GB
    b"\xc9\xff\xff\xff\xff\x01",  # ext32 of 4 GB
    b"\xdc\xff\xff" + b"\xc0" * 16,  # array16 of 65535 declared, 16 present
    b"\x91" * 1000 + b"\x00",  # 1000 nested arrays
    b"\x81\x00" * 500 + b"\x00",  # 500 nested maps
    b"\x93\x01" + b"\xdd\x7f\xff\xff\xff",  # a message whose second field is a bomb
    b"\x93\x28\x00\xc6\xff\xff\xff\xff",  # SNAPSHOT with a 4 GB payload
    b"\x93\x01\xda\x27\x10" + b"A" * 900,  # JOIN with a declared 10 KB name, truncated
    b"\x93\x1e\x00\xc4\x20" + bytes(range(4, 36)),  # INPUT with bad directions
    b"\x94\x28\xce\xff\xff\xff\xff\xff\xc4\x03\x91\x91\x91",  # SNAPSHOT: bad input_ack
    b"\xd4\x01\x00",  # fixext
    b"\xc1",  # never-used byte
    b"",
)


# -- sender processes -------------------------------------------------------------------------


@dataclass
class SenderReport:
    """What one sender process did (sent back through a queue)."""

    kind: str
    datagrams: int = 0
    bytes_sent: int = 0
    unverified_sent: int = 0
    unverified_received: int = 0
    replies: int = 0
    seconds: float = 0.0
    reconnects: int = 0
    notes: list[str] = field(default_factory=list)


class _Unverified:
    """A few plain sockets that count what they send and what comes back."""

    def __init__(self, count: int, report: SenderReport) -> None:
        self.socks = []
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
            s.bind((HOST, 0))
            s.setblocking(False)
            self.socks.append(s)
        self.report = report
        self._i = 0

    def send(self, data: bytes, server: tuple[str, int]) -> None:
        s = self.socks[self._i % len(self.socks)]
        self._i += 1
        try:
            s.sendto(data, server)
        except (BlockingIOError, OSError):
            return  # our own buffer is full: drop, as a flood would
        self.report.datagrams += 1
        self.report.bytes_sent += len(data)
        self.report.unverified_sent += len(data)
        if self._i % 32 == 0:
            self.drain()

    def drain(self) -> None:
        for s in self.socks:
            while True:
                try:
                    data = s.recv(65535)
                except (BlockingIOError, OSError):
                    break
                self.report.replies += 1
                self.report.unverified_received += len(data)

    def close(self) -> None:
        self.drain()
        for s in self.socks:
            s.close()


def _mutations(rng: random.Random, packet: bytes) -> bytes:
    choice = rng.randrange(7)
    if choice == 0 and packet:
        return packet[: rng.randrange(len(packet))]  # truncation
    buf = bytearray(packet or b"\x00")
    if choice == 1:
        return bytes((rng.randrange(256),)) + bytes(buf[1:])  # protocol id
    if choice == 2 and len(buf) > 1:
        buf[1] = (rng.choice((0, 1, 3, 15)) << 4) | (buf[1] & 0x0F)  # another version
        return bytes(buf)
    if choice == 3 and len(buf) > 1:
        buf[1] = (buf[1] & 0xF0) | rng.choice((0, 8, 9, 15))  # unknown packet kind
        return bytes(buf)
    for _ in range(rng.randint(1, 8)):  # bit flips
        bit = rng.randrange(len(buf) * 8)
        buf[bit // 8] ^= 1 << (bit % 8)
    return bytes(buf)


def _run_unverified(
    kind: str,
    budget: int,
    server: tuple[str, int],
    seed: int,
    captured: list[bytes],
    report: SenderReport,
) -> None:
    rng = random.Random(seed)
    socks = _Unverified(64 if kind in ("flood", "info", "replay") else 8, report)
    # Real, well-formed CONNECT_REQUESTs (the client endpoint seals them as the wire
    # wants); each is valid from any address, so a few hundred are cycled.
    requests = [_connect_request(server, rng.randbytes(8)) for _ in range(256)]
    try:
        i = 0
        while report.datagrams < budget:
            if kind == "random":
                # Every size 0..1500 in turn, then an occasional larger one up to 65507.
                size = i % 1501 if i % 50 else rng.randint(1501, MAX_UDP)
                socks.send(rng.randbytes(size), server)
            elif kind == "mutate":
                socks.send(_mutations(rng, rng.choice(captured)), server)
            elif kind == "flood":
                socks.send(requests[i % len(requests)], server)
            elif kind == "info":
                info = encode_info_request(rng.randbytes(8))
                if i % 16 == 15:  # any size: only exactly INFO_REQUEST_SIZE may be answered
                    size = rng.randrange(1201)
                    info = (info + bytes(max(0, size - INFO_REQUEST_SIZE)))[:size]
                    info = seal_crc(info) if size >= 4 else info
                socks.send(info, server)
            elif kind == "replay":
                socks.send(captured[i % len(captured)], server)
            i += 1
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            socks.drain()
            time.sleep(0.05)
    finally:
        socks.close()


def _connect_request(server: tuple[str, int], nonce: bytes) -> bytes:
    ep = ClientEndpoint(server, nonce=nonce)
    ep.connect(0.0)
    return ep.datagrams_to_send(0.0)[0][0]


class _HostileClient:
    """A real ClientEndpoint on a blocking-free socket, pumped by hand."""

    def __init__(self, server: tuple[str, int], seed: int, report: SenderReport) -> None:
        self.server = server
        self.report = report
        self.rng = random.Random(seed)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        self.sock.bind((HOST, 0))
        self.sock.setblocking(False)
        self.endpoint = self._new_endpoint()

    def _new_endpoint(self) -> ClientEndpoint:
        ep = ClientEndpoint(self.server, nonce=self.rng.randbytes(8))
        ep.connect(time.monotonic())
        return ep

    def ensure_connected(self, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.endpoint.state is ClientState.CONNECTED:
                return True
            if self.endpoint.state is ClientState.CLOSED:
                self.report.reconnects += 1
                self.endpoint = self._new_endpoint()
            self.pump([])
            time.sleep(0.01)
        return False

    def pump(self, extra: list[bytes]) -> None:
        now = time.monotonic()
        while True:
            try:
                data, addr = self.sock.recvfrom(65535)
            except (BlockingIOError, OSError):
                break
            self.endpoint.receive_datagram(data, (addr[0], addr[1]), now)
        timer = self.endpoint.get_timer()
        if timer is not None and timer <= now:
            self.endpoint.handle_timer(now)
        while self.endpoint.next_event() is not None:
            pass
        out = [d for d, _ in self.endpoint.datagrams_to_send(now)]
        for data in out + extra:
            try:
                self.sock.sendto(data, self.server)
            except (BlockingIOError, OSError):
                continue
            self.report.datagrams += 1
            self.report.bytes_sent += len(data)


def _forged_fragments(rng: random.Random) -> bytes:
    """One or two fragment frames that are invalid or will never complete."""
    group = rng.randrange(0x10000)
    choice = rng.randrange(5)
    if choice == 0:  # index beyond count
        return encode_fragment_frame(group, 5, 3, b"x" * 10)
    if choice == 1:  # count out of range (0, 1, 17, 255)
        return encode_fragment_frame(group, 0, rng.choice((0, 1, 17, 255)), b"x")
    if choice == 2:  # declared length beyond the packet
        frame = bytearray(encode_fragment_frame(group, 0, 2, b"x" * 8))
        frame[5:7] = (MAX_FRAGMENT_DATA + 100).to_bytes(2, "big")
        return bytes(frame)
    if choice == 3:  # zero-length fragment
        return encode_fragment_frame(group, 0, 2, b"")
    # A never-completed set: the first fragment of 16, a big one.
    return encode_fragment_frame(group, 0, 16, rng.randbytes(rng.randint(1, 1000)))


def _run_connected(
    kind: str, budget: int, server: tuple[str, int], seed: int, report: SenderReport
) -> None:
    client = _HostileClient(server, seed, report)
    rng = client.rng
    if not client.ensure_connected():
        report.notes.append("could not connect")
        return
    i = 0
    while report.datagrams < budget:
        if client.endpoint.state is not ClientState.CONNECTED and not client.ensure_connected():
            report.notes.append("lost the connection for good")
            break
        conn = client.endpoint.connection
        extra: list[bytes] = []
        if kind == "bombs":
            bomb = BOMBS[i % len(BOMBS)]
            if i % 20 == 0 and conn.pending_reliable < 200:
                conn.send_reliable(bomb)
            else:
                conn.send_unreliable(bomb)
            if i % 50 == 0:
                # Wrong version and unknown kinds from our verified address.
                extra.append(prefix(PacketKind.DATA, PROTOCOL_VERSION + 1) + rng.randbytes(20))
                extra.append(
                    prefix(cast(PacketKind, rng.choice((0, 8, 9, 15)))) + rng.randbytes(20)
                )
                extra.append(
                    pad(
                        prefix(PacketKind.CONNECT_REQUEST, PROTOCOL_VERSION + 7) + rng.randbytes(8),
                        HANDSHAKE_SIZE,
                    )
                )
        else:
            # A modified client: forged frames go straight into the connection's
            # outgoing frame queue, so they ride in correctly sequenced (and, where the
            # wire has one, correctly checked) DATA packets of a verified address.
            conn._unreliable_out.append((1_000_000_000 + i, _forged_fragments(rng)))
        client.pump(extra)
        i += 1
    client.sock.close()


def _sender(
    kind: str,
    budget: int,
    server: tuple[str, int],
    seed: int,
    captured: list[bytes],
    out: Any,
    ready: Any,
    go: Any,
) -> None:
    """Entry point of one sender process: get ready, wait for ``go``, send ``budget``."""
    with contextlib.suppress(OSError):
        os.nice(10)
    report = SenderReport(kind)
    ready.put(kind)
    go.wait()
    started = time.monotonic()
    try:
        if kind in ("bombs", "fragments"):
            _run_connected(kind, budget, server, seed, report)
        else:
            _run_unverified(kind, budget, server, seed, captured, report)
    except Exception as exc:  # report, so the parent can say what broke
        report.notes.append(f"sender failed: {exc!r}")
    report.seconds = time.monotonic() - started
    out.put(report)


# -- the capturing proxy in front of the victim -----------------------------------------------


class _CaptureProxy(asyncio.DatagramProtocol):
    """Relays one client to the server and keeps copies of its packets."""

    def __init__(self, server: tuple[str, int]) -> None:
        self.server = server
        self.client: tuple[str, int] | None = None
        self.upstream: asyncio.DatagramTransport | None = None
        self.downstream: asyncio.DatagramTransport | None = None
        self.from_client: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.downstream = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.client = (addr[0], addr[1])
        if len(self.from_client) < 400:
            self.from_client.append(data)
        if self.upstream is not None:
            self.upstream.sendto(data)

    def back(self, data: bytes) -> None:
        if self.downstream is not None and self.client is not None:
            self.downstream.sendto(data, self.client)


class _Upstream(asyncio.DatagramProtocol):
    def __init__(self, proxy: _CaptureProxy) -> None:
        self.proxy = proxy

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.proxy.back(data)


async def _start_proxy(server: tuple[str, int]) -> tuple[_CaptureProxy, tuple[str, int]]:
    loop = asyncio.get_running_loop()
    proxy = _CaptureProxy(server)
    down, _ = await loop.create_datagram_endpoint(lambda: proxy, local_addr=(HOST, 0))
    up, _ = await loop.create_datagram_endpoint(lambda: _Upstream(proxy), remote_addr=server)
    proxy.upstream = up
    addr = down.get_extra_info("sockname")
    return proxy, (addr[0], addr[1])


# -- measuring the legitimate clients ---------------------------------------------------------


@dataclass
class _Phase:
    name: str
    start: float = 0.0
    end: float = 0.0
    snapshots: int = 0
    staleness: list[float] = field(default_factory=list)


class _Watch:
    """Snapshot arrivals and staleness of the legitimate clients."""

    def __init__(self, bots: list[HeadlessBot]) -> None:
        self.bots = bots
        self.last_arrival: dict[int, float] = {}
        self.counts = [0] * len(bots)
        self.phase: _Phase | None = None
        for i, bot in enumerate(bots):
            bot.core.snapshot_listeners.append(self._listener(i))

    def _listener(self, i: int) -> Callable[[Any, float], None]:
        def on_snapshot(snapshot: Any, now: float) -> None:
            self.last_arrival[i] = now
            self.counts[i] += 1
            if self.phase is not None:
                self.phase.snapshots += 1

        return on_snapshot

    async def sample_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(0.01)
            now = loop.time()
            if self.phase is not None:
                for i in range(len(self.bots)):
                    if i in self.last_arrival:
                        self.phase.staleness.append(now - self.last_arrival[i])

    def begin(self, name: str) -> _Phase:
        self.phase = _Phase(name, start=asyncio.get_running_loop().time())
        return self.phase

    def end(self) -> _Phase:
        assert self.phase is not None
        phase = self.phase
        phase.end = asyncio.get_running_loop().time()
        self.phase = None
        return phase


def _newest_tick(bot: HeadlessBot) -> int:
    snap = bot.core.latest_snapshot
    return snap.tick if snap is not None else 0


def _p99(values: list[float]) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


# -- the server subprocess --------------------------------------------------------------------


class _Server:
    def __init__(self, tick_rate: float, workdir: Path) -> None:
        self.log_path = workdir / "server.log"
        self.trace_path = workdir / "inputs.jsonl"
        self.log = open(self.log_path, "w")  # noqa: SIM115
        exe = Path(sys.executable).with_name("netsnake-server")
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "netsnake.server.cli"]
        self.proc = subprocess.Popen(
            [
                *cmd,
                "--host",
                HOST,
                "--port",
                "0",
                "--tick-rate",
                f"{tick_rate:g}",
                "--stats-interval",
                "1",
                "--input-trace",
                str(self.trace_path),
                "--seed",
                "7",
            ],
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        self.tick_rate = tick_rate

    async def address(self, timeout: float = 10.0) -> tuple[str, int]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(r"listening on \S+ port (\d+)", self.log_path.read_text())
            if m:
                return HOST, int(m.group(1))
            if self.proc.poll() is not None:
                break
            await asyncio.sleep(0.05)
        raise RuntimeError(f"server did not start:\n{self.log_path.read_text()}")

    def rss_kb(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def kernel_drops(self, port: int) -> int:
        # /proc/net/udp: local_address is hex ip:port; the last column is drops.
        for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
            cols = line.split()
            if int(cols[1].split(":")[1], 16) == port:
                return int(cols[-1])
        return -1

    def counters(self) -> dict[str, int]:
        """The drop counters of the newest stats line (cumulative)."""
        lines = [ln for ln in self.log_path.read_text().splitlines() if " stats " in ln]
        if not lines:
            return {}
        tail = lines[-1].split("dropped: ", 1)[-1]
        return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", tail)}

    def stats_lines(self) -> list[str]:
        return [ln for ln in self.log_path.read_text().splitlines() if " stats " in ln]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(2)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


# -- the run ----------------------------------------------------------------------------------


@dataclass
class AbuseResult:
    """The measurements printed as the table; tests and the report read the fields."""

    datagrams: int = 0
    attack_seconds: float = 0.0
    by_kind: dict[str, SenderReport] = field(default_factory=dict)
    server_alive: bool = False
    server_serving: bool = False
    exit_code: int | None = None
    tracebacks: int = 0
    error_lines: int = 0
    replay_sent: int = 0
    replay_refused: int = 0
    victim_ok: bool = False
    victim_notes: str = ""
    unverified_sent: int = 0
    unverified_received: int = 0
    rate_before: float = 0.0
    rate_during: float = 0.0
    rate_after: float = 0.0
    p99_before: float = 0.0
    p99_during: float = 0.0
    rss_before_kb: int = 0
    rss_after_kb: int = 0
    kernel_drops: int = 0
    server_counters: dict[str, int] = field(default_factory=dict)
    tick_rate: float = 10.0
    peak_server_rate: str = ""
    bots_playing_after: int = 0
    server_tick_rate: float = 0.0
    replay_kinds: str = ""
    flipped_sent: int = 0
    flipped_refused: int = 0
    flipped_counters: str = ""
    own_replay_sent: int = 0
    own_replay_refused: int = 0
    own_replay_counters: str = ""
    after_tick_rate: float = 0.0
    tick_p99_ms: float = 0.0
    overruns: int = 0

    @property
    def amplification(self) -> float:
        return self.unverified_received / max(1, self.unverified_sent)


async def _replay_check(
    server: _Server, addr: tuple[str, int], captured: list[bytes], count: int
) -> tuple[int, int]:
    """Replay slowly from other ports; returns (sent, refused as spoofed)."""
    before = server.counters()
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(20)]
    sent = 0
    try:
        for i in range(count):
            s = socks[i % len(socks)]
            s.sendto(captured[i % len(captured)], addr)
            sent += 1
            if i % 50 == 49:
                await asyncio.sleep(0.02)
    finally:
        for s in socks:
            s.close()
    await asyncio.sleep(2.5)  # two stats lines later
    after = server.counters()
    keys = (
        "unknown_source",
        "bad_token",
        "bad_handshake_size",
        "rate_limited",
        "unexpected_kind",
        "too_short",
        "handshake_dropped",
    )
    refused = sum(after.get(k, 0) - before.get(k, 0) for k in keys)
    # CONNECT_REQUESTs in the capture get a CHALLENGE (unverified, nothing accepted).
    return sent, refused


def _delta(before: dict[str, int], after: dict[str, int], keys: tuple[str, ...]) -> Counter[str]:
    return Counter(
        {k: after.get(k, 0) - before.get(k, 0) for k in keys if after.get(k, 0) > before.get(k, 0)}
    )


async def _right_source_check(
    server: _Server, proxy: _CaptureProxy, sealed: list[bytes], count: int, seed: int
) -> tuple[int, Counter[str], int, Counter[str]]:
    """From the victim's own address (the proxy's socket to the server): ``count``
    copies of its sealed DATA packets with one random bit flipped, then ``count``
    verbatim replays.  Returns (flipped sent, their drop counters, replays sent,
    their drop counters); every datagram must land in one of the counters."""
    assert proxy.upstream is not None
    rng = random.Random(seed)
    first = server.counters()
    for i in range(count):
        packet = bytearray(sealed[i % len(sealed)])
        bit = rng.randrange(len(packet) * 8)
        packet[bit // 8] ^= 1 << (bit % 8)
        proxy.upstream.sendto(bytes(packet))
        if i % 50 == 49:
            await asyncio.sleep(0.02)
    await asyncio.sleep(2.5)  # two stats lines later
    second = server.counters()
    for i in range(count):
        proxy.upstream.sendto(sealed[i % len(sealed)])
        if i % 50 == 49:
            await asyncio.sleep(0.02)
    await asyncio.sleep(2.5)
    third = server.counters()
    flipped = _delta(first, second, ("bad_check", "bad_protocol_id", "bad_version"))
    replayed = _delta(second, third, ("duplicate", "stale", "bad_check"))
    return count, flipped, count, replayed


async def run_abuse(
    total: int,
    *,
    tick_rate: float = 10.0,
    baseline: float = 10.0,
    seed: int = 1,
    log: Callable[[str], None] = print,
) -> AbuseResult:
    """Run the whole benchmark and return its measurements."""
    result = AbuseResult(tick_rate=tick_rate)
    loop = asyncio.get_running_loop()
    with tempfile.TemporaryDirectory(prefix="netsnake-abuse-") as tmp:
        server = _Server(tick_rate, Path(tmp))
        bots: list[HeadlessBot] = []
        try:
            addr = await server.address()
            log(f"server pid {server.proc.pid} on {addr[0]}:{addr[1]}")
            proxy, proxy_addr = await _start_proxy(addr)
            victim = await HeadlessBot.join(*proxy_addr, "victim", seed=seed)
            bots.append(victim)
            for i in range(3):
                bots.append(await HeadlessBot.join(*addr, f"player{i}", seed=seed + 1 + i))
            victim_id = victim.core.player_id
            watch = _Watch(bots)
            sampler = asyncio.create_task(watch.sample_forever())
            await asyncio.sleep(2.0)  # warm up: allocations, the first stats lines
            result.rss_before_kb = server.rss_kb()
            watch.begin("baseline")
            await asyncio.sleep(baseline)
            before = watch.end()
            captured = list(proxy.from_client)
            log(f"captured {len(captured)} packets of the victim; baseline done")

            # CONNECT_REQUESTs are left out: anyone may send one and get a CHALLENGE.
            replayable = [
                d for d in captured if len(d) > 2 and _packet_kind(d) != PacketKind.CONNECT_REQUEST
            ]
            kinds = Counter(PacketKind(_packet_kind(d)).name for d in replayable)
            result.replay_kinds = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
            result.replay_sent, result.replay_refused = await _replay_check(
                server, addr, replayable, 2000
            )
            log(f"replay check: {result.replay_sent} sent, {result.replay_refused} refused")
            sealed = [d for d in captured if len(d) > 2 and _packet_kind(d) == PacketKind.DATA]
            sent, flipped, replays, replayed = await _right_source_check(
                server, proxy, sealed, 2000, seed
            )
            result.flipped_sent, result.flipped_refused = sent, sum(flipped.values())
            result.flipped_counters = ", ".join(f"{k}={v}" for k, v in sorted(flipped.items()))
            result.own_replay_sent, result.own_replay_refused = replays, sum(replayed.values())
            result.own_replay_counters = ", ".join(f"{k}={v}" for k, v in sorted(replayed.items()))
            log(
                f"right-source check: {sent} bit-flipped, {result.flipped_refused} dropped; "
                f"{replays} replayed, {result.own_replay_refused} dropped"
            )

            ctx = mp.get_context("spawn")
            queue, ready, go = ctx.Queue(), ctx.Queue(), ctx.Event()
            procs = [
                ctx.Process(
                    target=_sender,
                    args=(
                        kind,
                        int(total * SHARES[kind]),
                        addr,
                        seed + n,
                        captured,
                        queue,
                        ready,
                        go,
                    ),
                    daemon=True,
                )
                for n, kind in enumerate(KINDS)
            ]
            for p in procs:
                p.start()
            for _ in procs:  # imports done, sockets open: start together
                await loop.run_in_executor(None, ready.get, True, 60.0)
            drops_before = server.kernel_drops(addr[1])
            tick_before = _newest_tick(victim)
            watch.begin("attack")
            t0 = loop.time()
            go.set()
            reports: list[SenderReport] = []
            while len(reports) < len(procs):
                try:
                    reports.append(await loop.run_in_executor(None, queue.get, True, 1.0))
                except Exception:  # queue.Empty on timeout: check the senders still run
                    if not any(p.is_alive() for p in procs) and queue.empty():
                        break
            during = watch.end()
            result.attack_seconds = loop.time() - t0
            result.server_tick_rate = (_newest_tick(victim) - tick_before) / result.attack_seconds
            for p in procs:
                p.join(5)
            result.kernel_drops = server.kernel_drops(addr[1]) - drops_before
            for r in reports:
                result.by_kind[r.kind] = r
                result.datagrams += r.datagrams
                result.unverified_sent += r.unverified_sent
                result.unverified_received += r.unverified_received
            tick_after = _newest_tick(victim)
            watch.begin("after")
            await asyncio.sleep(3.0)
            after = watch.end()
            result.after_tick_rate = (_newest_tick(victim) - tick_after) / (after.end - after.start)
            sampler.cancel()
            result.rss_after_kb = server.rss_kb()
            stats = server.stats_lines()
            rates = [float(m.group(1)) for ln in stats if (m := re.search(r"in (\d+) dgram/s", ln))]
            p99s = [float(m.group(1)) for ln in stats if (m := re.search(r"p99 ([\d.]+) ms", ln))]
            result.tick_p99_ms = max(p99s, default=0.0)
            overruns = [int(m.group(1)) for ln in stats if (m := re.search(r"overruns (\d+)", ln))]
            result.overruns = max(overruns, default=0)
            result.peak_server_rate = f"{max(rates, default=0):.0f} dgram/s"

            per_bot = len(bots)
            result.rate_before = before.snapshots / per_bot / (before.end - before.start)
            result.rate_during = during.snapshots / per_bot / max(1e-9, during.end - during.start)
            result.rate_after = after.snapshots / per_bot / (after.end - after.start)
            result.p99_before = _p99(before.staleness)
            result.p99_during = _p99(during.staleness)
            result.bots_playing_after = sum(
                1 for b in bots if b.core.state is ConnectionState.PLAYING
            )

            notes = []
            if victim.core.state is not ConnectionState.PLAYING:
                notes.append(f"victim is {victim.core.state.value}")
            if victim.core.player_id != victim_id:
                notes.append("victim's player id changed")
            seqs = [
                int(m.group(1))
                for m in re.finditer(
                    r'"name": "victim", "seq": (\d+)', server.trace_path.read_text()
                )
            ]
            if seqs != sorted(set(seqs)) or (seqs and seqs[-1] >= victim.core.counters.turns_sent):
                notes.append("server applied victim inputs the victim never sent")
            result.victim_ok = not notes
            result.victim_notes = "; ".join(notes) or (
                f"still playing as player {victim_id}, {len(seqs)} turns applied, all its own"
            )

            result.server_alive = server.proc.poll() is None
            try:
                probe = await HeadlessBot.join(*addr, "probe", seed=99, timeout=5.0)
                await asyncio.sleep(1.0)
                result.server_serving = probe.core.counters.snapshots > 0
                await probe.quit()
            except RuntimeError as exc:
                log(f"probe failed: {exc}")
            result.server_counters = server.counters()
        finally:
            for bot in bots:
                with contextlib.suppress(Exception):
                    await bot.close()
            result.exit_code = server.stop()
            text = server.log_path.read_text()
            result.tracebacks = text.count("Traceback")
            result.error_lines = sum(1 for ln in text.splitlines() if "  ERROR  " in ln)
            if result.tracebacks or result.error_lines:
                log(
                    "server log excerpt:\n"
                    + "\n".join(
                        ln for ln in text.splitlines() if "ERROR" in ln or "Traceback" in ln
                    )[:4000]
                )
    return result


def format_table(r: AbuseResult) -> str:
    """The table ``main`` prints, with a verdict per requirement."""
    tick_ms = 1000 / r.tick_rate

    def ok(flag: bool) -> str:
        return "ok" if flag else "FAIL"

    rows: list[tuple[str, str, str]] = []
    rows.append(
        (
            "hostile datagrams sent",
            f"{r.datagrams:,} in {r.attack_seconds:.1f} s "
            f"({r.datagrams / max(1e-9, r.attack_seconds):,.0f}/s)",
            "",
        )
    )
    for kind, rep in r.by_kind.items():
        extra = f", {rep.reconnects} reconnects" if rep.reconnects else ""
        extra += f", {'; '.join(rep.notes)}" if rep.notes else ""
        rows.append(
            (
                f"  {kind}",
                f"{rep.datagrams:,} ({rep.bytes_sent / 1e6:.1f} MB) in {rep.seconds:.1f} s{extra}",
                "",
            )
        )
    rows.append(("server datagram rate (peak stats line)", r.peak_server_rate, ""))
    rows.append(
        (
            "server ticks during the attack",
            f"{r.server_tick_rate:.2f}/s (nominal {r.tick_rate:g}), {r.after_tick_rate:.2f}/s "
            f"after; worst tick p99 {r.tick_p99_ms:.1f} ms, overruns {r.overruns}",
            "",
        )
    )
    rows.append(("kernel drops at the server socket", f"{r.kernel_drops:,}", ""))
    crash_ok = r.server_alive and r.server_serving and r.exit_code == 0
    rows.append(
        (
            "server crashes",
            f"alive={r.server_alive} serving={r.server_serving} exit code={r.exit_code}",
            ok(crash_ok),
        )
    )
    rows.append(
        (
            "exceptions escaping handlers",
            f"{r.tracebacks} tracebacks, {r.error_lines} ERROR lines",
            ok(r.tracebacks == r.error_lines == 0),
        )
    )
    accepted = r.replay_sent - r.replay_refused
    rows.append(
        (
            "packets accepted from spoofed sources",
            f"{max(0, accepted)} of {r.replay_sent} replayed (refused {r.replay_refused})",
            ok(accepted <= 0),
        )
    )
    rows.append(
        (
            "bit-flipped sealed packets from the victim's address",
            f"{r.flipped_sent} sent, {r.flipped_refused} dropped and counted "
            f"({r.flipped_counters})",
            ok(r.flipped_sent > 0 and r.flipped_refused == r.flipped_sent),
        )
    )
    rows.append(
        (
            "replays from the victim's own address",
            f"{r.own_replay_sent} sent, {r.own_replay_refused} dropped and counted "
            f"({r.own_replay_counters})",
            ok(r.own_replay_sent > 0 and r.own_replay_refused == r.own_replay_sent),
        )
    )
    rows.append(("victim of the replays", r.victim_notes, ok(r.victim_ok)))
    info = r.by_kind.get("info")
    if info is not None:
        info_amp = info.unverified_received / max(1, info.unverified_sent)
        rows.append(
            (
                "INFO flood: replies, amplification",
                f"{info.replies:,} replies to {info.datagrams:,} requests; "
                f"{info.unverified_received:,} / {info.unverified_sent:,} B = {info_amp:.4f}",
                ok(info_amp <= 1.0),
            )
        )
    rows.append(
        (
            "amplification (bytes to unverified / from)",
            f"{r.unverified_received:,} / {r.unverified_sent:,} = {r.amplification:.4f}",
            ok(r.amplification <= 1.0),
        )
    )
    kept = r.rate_during / max(1e-9, r.rate_before)
    rows.append(
        (
            "legit snapshot rate (per client)",
            f"{r.rate_before:.2f}/s before, "
            f"{r.rate_during:.2f}/s during ({kept:.0%}), {r.rate_after:.2f}/s after",
            ok(kept >= 0.9),
        )
    )
    worse = (r.p99_during - r.p99_before) * 1000
    rows.append(
        (
            "legit p99 staleness",
            f"{r.p99_before * 1000:.0f} ms before, "
            f"{r.p99_during * 1000:.0f} ms during (+{worse:.0f} ms; a tick is "
            f"{tick_ms:.0f} ms)",
            ok(worse <= tick_ms),
        )
    )
    rows.append(
        (
            "legit clients still playing",
            f"{r.bots_playing_after} of 4",
            ok(r.bots_playing_after == 4),
        )
    )
    growth = (r.rss_after_kb - r.rss_before_kb) / 1024
    rows.append(
        (
            "server RSS",
            f"{r.rss_before_kb / 1024:.1f} MB -> {r.rss_after_kb / 1024:.1f} MB (+{growth:.1f} MB)",
            ok(growth < 20),
        )
    )
    counters = ", ".join(f"{k}={v}" for k, v in sorted(r.server_counters.items()))
    width = max(len(a) for a, _, _ in rows)
    lines = [f"{a:<{width}}  {c:<4}  {b}" for a, b, c in rows]
    lines.append(f"server drop counters: {counters}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table; exit 1 if a hard requirement failed."""
    p = argparse.ArgumentParser(description="hostile traffic against a live netsnake server")
    p.add_argument("--datagrams", type=int, default=1_000_000)
    p.add_argument("--quick", action="store_true", help="50,000 datagrams, short baseline")
    p.add_argument("--tick-rate", type=float, default=10.0)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args(argv)
    total = 50_000 if a.quick else a.datagrams
    result = asyncio.run(
        run_abuse(
            total,
            tick_rate=a.tick_rate,
            seed=a.seed,
            baseline=5.0 if a.quick else 10.0,
            log=lambda s: print(s, flush=True),
        )
    )
    print(format_table(result))
    hard = (
        result.server_alive
        and result.tracebacks == 0
        and result.error_lines == 0
        and result.amplification <= 1.0
        and result.replay_refused >= result.replay_sent
        and result.flipped_sent > 0
        and result.flipped_refused == result.flipped_sent
        and result.own_replay_sent > 0
        and result.own_replay_refused == result.own_replay_sent
        and result.victim_ok
    )
    return 0 if hard else 1


if __name__ == "__main__":
    sys.exit(main())
