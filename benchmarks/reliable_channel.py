"""Reliable-channel latency and per-packet overhead on the simulated link.

Run it from the repository root::

    python benchmarks/reliable_channel.py
    python benchmarks/reliable_channel.py --messages 1000 --seed 3 --json out.json

Theory of operation
-------------------
A real :class:`ServerEndpoint` and :class:`ClientEndpoint` run on the seeded
:mod:`protocol.simulator` network in virtual time, with 50 ms ± 20 ms one-way
latency and 0, 10, 20, 30 and 50 % loss each way.  Traffic is shaped like a
game: at 20 Hz the client sends an unreliable input (8 bytes) and the server
an unreliable snapshot (40 bytes); on top of that each side sends reliable
control messages of 16-64 bytes at random ticks, ``--rate`` per second on
average, until ``--messages`` have been sent each way.

* **Latency** is virtual time from ``send_reliable`` to the peer's
  ``MessageReceived``; the endpoints are wrapped so events are stamped the
  moment a datagram is processed, not at the next tick.
* **Overhead** is measured on every DATA datagram actually sent: its frames
  are decoded, and ``header`` is the datagram length minus all encoded
  frames (the DATA header), ``frame headers`` the frame bytes minus the
  application bytes they carry (the 2-byte ACK_DELAY frame counts here).
* **Bound** is ``3 × RTT + 200 ms`` with RTT the connection's own smoothed
  estimate at the end of the run.

Targets (exit status 1 if any fails): 100 % delivered at 20 % loss; p99
latency within the bound at loss ≤ 20 %; DATA header ≤ 12 bytes per packet.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from protocol import (
    ClientConfig,
    ClientEndpoint,
    ClientState,
    Event,
    MessageReceived,
    ServerEndpoint,
)
from protocol._wire import (
    ACK_DELAY_FRAME_SIZE,
    FRAGMENT_FRAME_OVERHEAD,
    RELIABLE_FRAME_OVERHEAD,
    UNRELIABLE_FRAME_OVERHEAD,
    FrameType,
    PacketKind,
    decode_frames,
    packet_kind,
)
from protocol.simulator import LinkConfig, SimulatedNetwork, run_network

SERVER = ("server", 1)
CLIENT = ("client", 2)
TICK = 1 / 20
LOSSES = (0.0, 0.1, 0.2, 0.3, 0.5)
LATENCY = 0.050
JITTER = 0.020
DRAIN_SECONDS = 15.0
TARGET_LOSS = 0.2
MAX_HEADER_BYTES = 12


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    lo = math.floor(rank)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo)


class Probe:
    """Wraps an endpoint: stamps its events on arrival and measures what it sends."""

    def __init__(self, endpoint: ServerEndpoint | ClientEndpoint) -> None:
        self.endpoint = endpoint
        self.received: dict[bytes, float] = {}  # message -> arrival time
        self.packets = 0
        self.header_bytes = 0
        self.frame_header_bytes = 0
        self.payload_bytes = 0

    def _collect(self, now: float) -> None:
        while (event := self.endpoint.next_event()) is not None:
            self.on_event(event, now)

    def on_event(self, event: Event, now: float) -> None:
        if isinstance(event, MessageReceived):
            assert event.data not in self.received, "delivered twice"
            self.received[event.data] = now

    def receive_datagram(self, data: bytes, addr: Hashable, now: float) -> None:
        self.endpoint.receive_datagram(data, addr, now)
        self._collect(now)

    def handle_timer(self, now: float) -> None:
        self.endpoint.handle_timer(now)
        self._collect(now)

    def get_timer(self) -> float | None:
        return self.endpoint.get_timer()

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Hashable]]:
        out = self.endpoint.datagrams_to_send(now)
        for data, _ in out:
            if packet_kind(data) != PacketKind.DATA:
                continue
            frames = decode_frames(data)
            carried = sum(len(f.data) for f in frames)
            frame_bytes = sum(_encoded_size(f.type, len(f.data)) for f in frames)
            self.packets += 1
            self.header_bytes += len(data) - frame_bytes
            self.frame_header_bytes += frame_bytes - carried
            self.payload_bytes += carried
        return out


_FRAME_OVERHEAD = {
    FrameType.RELIABLE: RELIABLE_FRAME_OVERHEAD,
    FrameType.UNRELIABLE: UNRELIABLE_FRAME_OVERHEAD,
    FrameType.FRAGMENT: FRAGMENT_FRAME_OVERHEAD,
    FrameType.ACK_DELAY: ACK_DELAY_FRAME_SIZE,
}


def _encoded_size(frame_type: FrameType, data_len: int) -> int:
    return _FRAME_OVERHEAD[frame_type] + data_len


@dataclass(frozen=True)
class Row:
    loss: float
    sent: int
    delivered_pct: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    rtt_ms: float
    bound_ms: float
    packets: int
    header_bytes_per_packet: float
    frame_header_bytes_per_packet: float
    payload_bytes_per_packet: float


def run(loss: float, messages: int, rate: float, seed: int) -> Row:
    rng = random.Random(seed)
    net = SimulatedNetwork(seed, LinkConfig(loss=loss, latency=LATENCY, jitter=JITTER))
    server = ServerEndpoint(secret=rng.randbytes(32))
    client = ClientEndpoint(
        SERVER, config=ClientConfig(connect_timeout=60.0), nonce=rng.randbytes(8)
    )
    server_probe, client_probe = Probe(server), Probe(client)
    client.connect(0.0)
    now = 0.0
    while client.state is not ClientState.CONNECTED or not server.peers:
        if now > 60.0:
            raise SystemExit(f"handshake did not complete at {loss:.0%} loss")
        now = run_network(net, {SERVER: server_probe, CLIENT: client_probe}, now, now + 0.5)

    sent_at: dict[bytes, float] = {}
    up = down = 0
    send_chance = rate * TICK

    def control_message(direction: str, i: int) -> bytes:
        return f"{direction} {i} ".encode() + bytes(rng.randint(8, 56))

    def tick(t: float) -> None:
        nonlocal up, down
        client.send_unreliable(bytes(8))
        server.send_unreliable(CLIENT, bytes(40))
        if up < messages and rng.random() < send_chance:
            msg = control_message("up", up)
            client.send_reliable(msg)
            sent_at[msg] = t
            up += 1
        if down < messages and rng.random() < send_chance:
            msg = control_message("down", down)
            server.send_reliable(CLIENT, msg)
            sent_at[msg] = t
            down += 1

    # Measure steady state only: forget the handshake's packets.
    for probe in (server_probe, client_probe):
        probe.packets = probe.header_bytes = probe.frame_header_bytes = probe.payload_bytes = 0
    duration = messages / rate * 1.5
    end = run_network(
        net,
        {SERVER: server_probe, CLIENT: client_probe},
        now,
        now + duration,
        step=TICK,
        on_step=tick,
    )
    while up < messages or down < messages:
        end = run_network(
            net,
            {SERVER: server_probe, CLIENT: client_probe},
            end,
            end + 5.0,
            step=TICK,
            on_step=tick,
        )
    end = run_network(
        net,
        {SERVER: server_probe, CLIENT: client_probe},
        end,
        end + DRAIN_SECONDS,
        step=TICK,
        on_step=tick,
    )

    arrivals = {**server_probe.received, **client_probe.received}
    latencies = [arrivals[m] - t for m, t in sent_at.items() if m in arrivals]
    client_stats = client.stats(end)
    assert client_stats is not None
    rtt = max(client_stats.rtt, server.stats(CLIENT, end).rtt)
    packets = server_probe.packets + client_probe.packets
    return Row(
        loss=loss,
        sent=len(sent_at),
        delivered_pct=100.0 * len(latencies) / len(sent_at),
        p50_ms=1000 * percentile(latencies, 50),
        p99_ms=1000 * percentile(latencies, 99),
        max_ms=1000 * max(latencies),
        rtt_ms=1000 * rtt,
        bound_ms=1000 * (3 * rtt + 0.2),
        packets=packets,
        header_bytes_per_packet=(server_probe.header_bytes + client_probe.header_bytes) / packets,
        frame_header_bytes_per_packet=(
            server_probe.frame_header_bytes + client_probe.frame_header_bytes
        )
        / packets,
        payload_bytes_per_packet=(server_probe.payload_bytes + client_probe.payload_bytes)
        / packets,
    )


def check(rows: Sequence[Row]) -> list[tuple[str, bool]]:
    at_target = [r for r in rows if r.loss == TARGET_LOSS]
    return [
        (
            f"100% delivered at {TARGET_LOSS:.0%} loss",
            all(r.delivered_pct == 100.0 for r in at_target),
        ),
        (
            f"p99 <= 3xRTT + 200 ms at loss <= {TARGET_LOSS:.0%}",
            all(r.p99_ms <= r.bound_ms for r in rows if r.loss <= TARGET_LOSS),
        ),
        (
            f"DATA header <= {MAX_HEADER_BYTES} bytes/packet",
            all(r.header_bytes_per_packet <= MAX_HEADER_BYTES for r in rows),
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--messages",
        type=int,
        default=300,
        help="reliable messages sent each way per loss level (default 300)",
    )
    parser.add_argument(
        "--rate", type=float, default=4.0, help="reliable messages per second each way (default 4)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results here")
    args = parser.parse_args(argv)
    if args.messages < 1 or args.rate <= 0:
        parser.error("--messages and --rate must be positive")

    print(
        f"reliable channel, {args.messages} messages each way at {args.rate:g}/s, "
        f"20 Hz unreliable traffic both ways, one-way latency "
        f"{LATENCY * 1000:.0f} ± {JITTER * 1000:.0f} ms, seed {args.seed}"
    )
    header = (
        f"{'loss':>5} {'delivered %':>11} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
        f"{'3xRTT+200':>9} {'header B/pkt':>12} {'frame hdr B/pkt':>15} "
        f"{'payload B/pkt':>13} {'packets':>8}"
    )
    print(header)
    print("-" * len(header))
    rows = []
    for loss in LOSSES:
        row = run(loss, args.messages, args.rate, args.seed)
        rows.append(row)
        print(
            f"{row.loss:>5.0%} {row.delivered_pct:>11.1f} {row.p50_ms:>7.0f} "
            f"{row.p99_ms:>7.0f} {row.max_ms:>7.0f} {row.bound_ms:>9.0f} "
            f"{row.header_bytes_per_packet:>12.1f} {row.frame_header_bytes_per_packet:>15.1f} "
            f"{row.payload_bytes_per_packet:>13.1f} {row.packets:>8}"
        )
    results = check(rows)
    print()
    for name, ok in results:
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "seed": args.seed,
                    "messages": args.messages,
                    "rate": args.rate,
                    "latency_s": LATENCY,
                    "jitter_s": JITTER,
                    "rows": [asdict(r) for r in rows],
                    "targets": {name: ok for name, ok in results},
                },
                indent=2,
            )
            + "\n"
        )
    return 0 if all(ok for _, ok in results) else 1


if __name__ == "__main__":
    sys.exit(main())
