"""One established connection: sequencing, acks, delivery records, channels.

Theory of operation (after Glenn Fiedler's "reliable" and aioquic):

* Every DATA packet gets the next 16-bit sequence number and carries an ack
  (the newest sequence we received) plus 32 ack bits for the 32 before it,
  so each ack is repeated in up to 33 packets and survives heavy loss.
* Each packet we send leaves a delivery record: which reliable message ids
  and which unreliable payload handles it carried.  When an ack names that
  packet the record resolves as ACKED; when it falls 33 sequences behind the
  newest ack, or stays unanswered past the loss timeout, it resolves as LOST.
  Reliable messages leave the send queue when acked and are otherwise resent
  on later packets; unreliable payloads surface as PayloadAcked/PayloadLost
  so the application can pick delta baselines.
* Every packet is sealed by the connection's CryptoPair (``_crypto.py``): the
  sequence on the wire is the low 16 bits of a 64-bit packet counter that is
  also the AEAD nonce.  A receiver rebuilds the counter from the sequence and
  the newest counter it verified, opens the packet, and only then looks at it.
* Packets are deduplicated over a 1024-counter window; anything older is
  stale.  Because the counter is rebuilt rather than wrapped, a packet
  replayed after the sequence wrapped fails to open instead of looking new.
  A packet is validated completely before any of it is applied.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Hashable
from dataclasses import dataclass

from protocol._crypto import MAX_PACKET_COUNTER, CryptoPair
from protocol._errors import MessageTooLarge
from protocol._events import (
    ConnectionTerminated,
    DisconnectCode,
    Event,
    MessageReceived,
    PayloadAcked,
    PayloadLost,
    PayloadReceived,
)
from protocol._fragment import Reassembler, split_payload
from protocol._reliable import ReliableReceiver, ReliableSender
from protocol._sequence import SEQ_MASK, expand_sequence, seq_diff, seq_next
from protocol._stats import ConnectionStats, LinkEstimator
from protocol._wire import (
    FRAME_BUDGET,
    MAX_FRAGMENT_DATA,
    MAX_FRAGMENTS,
    MAX_UNRELIABLE_PAYLOAD,
    PREFIX_SIZE,
    SEALED_HEADER_SIZE,
    DataHeader,
    FrameType,
    PacketKind,
    WireError,
    decode_data_header,
    decode_frames,
    decode_reason,
    encode_ack_delay_frame,
    encode_ack_fields,
    encode_fragment_frame,
    encode_reason,
    encode_reliable_frame,
    encode_unreliable_frame,
    keyed_prefix,
    packet_kind,
    packet_sequence,
)

__all__ = ["Connection", "ConnectionConfig"]

_DEDUP_WINDOW = 1024
_MAX_IN_FLIGHT = 1024
#: A connection ends once its packet counter gets this close to the last usable
#: nonce (never in practice: 2**64 packets), keeping room for a DISCONNECT.
_COUNTER_END = MAX_PACKET_COUNTER - 0x10000


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionConfig:
    """Timers and bounds of a connection (seconds, counts)."""

    timeout: float = 5.0
    """Silence after which the peer is considered gone."""
    keepalive_interval: float = 0.25
    """An empty DATA packet goes out when nothing else was sent for this long."""
    ack_delay: float = 0.02
    """How long an ack may wait for a packet to ride on (0 when reliable data arrived)."""
    resend_interval: float = 0.05
    """A reliable message is resent at most this often until acked."""
    min_loss_timeout: float = 1.0
    """An unacknowledged packet is presumed lost after max(this, 2·RTT + 4·rttvar)."""
    max_reliable_queue: int = 256
    disconnect_copies: int = 3
    """DISCONNECT packets are sent this many times, since they are not acked."""
    reassembly_groups: int = 4
    reassembly_expiry: float = 1.0


@dataclass(slots=True)
class _SentPacket:
    sent: float
    size: int
    reliable: tuple[int, ...]
    payloads: tuple[int, ...]
    counted: bool
    """Whether it carried frames: only those count towards the loss figure."""


class Connection:
    """The per-peer state machine used by both ClientEndpoint and ServerEndpoint."""

    def __init__(
        self,
        peer: Hashable,
        crypto: CryptoPair,
        now: float,
        events: deque[Event],
        counters: Counter[str],
        config: ConnectionConfig | None = None,
    ) -> None:
        self.peer = peer
        #: Seals this side's packets and opens the peer's.
        self.crypto = crypto
        self.config = config or ConnectionConfig()
        self.closed = False
        self._events = events
        self._counters = counters
        self._link = LinkEstimator()
        self._now = now
        # Sending side.
        self._send_counter = 0  # the next packet's counter; its low 16 bits are the sequence
        self._in_flight: dict[int, _SentPacket] = {}
        self._newest_acked: int | None = None
        self._last_send = now
        self._reliable_out = ReliableSender(
            self.config.max_reliable_queue, self.config.resend_interval
        )
        self._unreliable_out: list[tuple[int, bytes]] = []  # (handle, encoded frame)
        self._next_handle = 0
        self._fragment_parts_left: dict[int, int] = {}
        self._failed_fragments: set[int] = set()  # fragmented handles already reported lost
        self._next_group = 0
        self._outbox: list[bytes] = []
        # Receiving side.
        self._last_recv = now
        self._recv_latest = -1  # newest packet counter received (-1: none yet)
        self._recv_latest_time = now
        self._recv_bits = 0
        self._seen: list[int] = [-1] * _DEDUP_WINDOW
        self._ack_due: float | None = None
        self._reliable_in = ReliableReceiver(counters)
        self._reassembler = Reassembler(
            self.config.reassembly_groups, self.config.reassembly_expiry, counters
        )

    # ----------------------------------------------------------------- sending

    def send_reliable(self, data: bytes) -> int:
        """Queue a reliable message; returns its message id."""
        return self._reliable_out.send(data)

    def send_unreliable(self, data: bytes) -> int:
        """Queue an unreliable payload for the next packet; returns its handle."""
        max_size = MAX_FRAGMENTS * MAX_FRAGMENT_DATA
        if len(data) > max_size:
            raise MessageTooLarge(f"payload of {len(data)} bytes exceeds {max_size}")
        handle = self._next_handle
        self._next_handle += 1
        if len(data) <= MAX_UNRELIABLE_PAYLOAD:
            self._unreliable_out.append((handle, encode_unreliable_frame(data)))
            return handle
        chunks = split_payload(data)
        group = self._next_group
        self._next_group = seq_next(group)
        self._fragment_parts_left[handle] = len(chunks)
        for i, chunk in enumerate(chunks):
            self._unreliable_out.append(
                (handle, encode_fragment_frame(group, i, len(chunks), chunk))
            )
        return handle

    @property
    def pending_reliable(self) -> int:
        """Reliable messages sent but not yet acknowledged."""
        return len(self._reliable_out)

    def disconnect(self, code: DisconnectCode, reason: str, *, notify: bool = True) -> None:
        """Close now; DISCONNECT goes out on the next ``datagrams_to_send``."""
        if self.closed:
            return
        packet = self._seal(PacketKind.DISCONNECT, encode_reason(code, reason))
        self._outbox.extend([packet] * self.config.disconnect_copies)
        self._close(code, reason, by_peer=False, notify=notify)

    def _seal(self, kind: PacketKind, body: bytes) -> bytes:
        """Seal one packet under the next counter (so no nonce is ever used twice)."""
        counter = self._send_counter
        self._send_counter = counter + 1
        return self.crypto.seal(keyed_prefix(kind, counter & SEQ_MASK), body, counter)

    def _close(self, code: DisconnectCode, reason: str, *, by_peer: bool, notify: bool) -> None:
        self.closed = True
        self._unreliable_out.clear()
        if notify:
            self._events.append(
                ConnectionTerminated(peer=self.peer, code=code, reason=reason, by_peer=by_peer)
            )

    def datagrams_to_send(self, now: float) -> list[bytes]:
        """Packets due now: queued payloads, reliable (re)sends, acks, keep-alives."""
        self._now = now
        out, self._outbox = self._outbox, []
        if self.closed:
            return out
        if self._send_counter >= _COUNTER_END:
            self.disconnect(DisconnectCode.PROTOCOL_ERROR, "packet counter exhausted")
            out, self._outbox = self._outbox, []
            return out
        reliable = self._reliable_out.due(now)
        unreliable, self._unreliable_out = self._unreliable_out, []
        frames: list[bytes] = []
        mids: list[int] = []
        handles: list[int] = []
        size = 0

        def flush() -> None:
            nonlocal frames, mids, handles, size
            out.append(self._emit(now, frames, mids, handles))
            frames, mids, handles, size = [], [], [], 0

        for mid, data in reliable:
            frame = encode_reliable_frame(mid, data)
            if size + len(frame) > FRAME_BUDGET:
                flush()
            frames.append(frame)
            mids.append(mid)
            size += len(frame)
            self._reliable_out.mark_sent(mid, now)
        for handle, frame in unreliable:
            if size + len(frame) > FRAME_BUDGET:
                flush()
            frames.append(frame)
            handles.append(handle)
            size += len(frame)
        if (
            frames
            or (self._ack_due is not None and now >= self._ack_due)
            or (now >= self._last_send + self.config.keepalive_interval)
        ):
            flush()
        return out

    def _emit(self, now: float, frames: list[bytes], mids: list[int], handles: list[int]) -> bytes:
        seq = self._send_counter & SEQ_MASK
        if self._recv_latest < 0:
            ack, delay = SEQ_MASK, b""
        else:
            ack = self._recv_latest & SEQ_MASK
            # Tell the peer how long its packet waited here, so its RTT excludes our pacing.
            delay_ms = round((now - self._recv_latest_time) * 1000)
            delay = encode_ack_delay_frame(delay_ms) if delay_ms >= 1 else b""
        # The prefix (with seq) is added by _seal, in the clear; the acks are sealed.
        acks = encode_ack_fields(ack, self._recv_bits)
        packet = self._seal(PacketKind.DATA, acks + delay + b"".join(frames))
        if seq in self._in_flight:  # wrapped onto a record never resolved
            self._resolve_lost(seq)
        # Empty packets get a record too (a later ack of them is an RTT sample),
        # but the peer owes them no ack, so they do not count towards loss.
        self._in_flight[seq] = _SentPacket(
            now, len(packet), tuple(mids), tuple(handles), counted=bool(frames)
        )
        if len(self._in_flight) > _MAX_IN_FLIGHT:
            self._resolve_lost(next(iter(self._in_flight)))
        self._link.on_sent(now, len(packet))
        self._last_send = now
        self._ack_due = None
        return packet

    # --------------------------------------------------------------- receiving

    def receive_packet(self, packet: bytes, now: float) -> None:
        """Handle a DATA or DISCONNECT packet already matched to this peer."""
        self._now = now
        if self.closed:
            return
        counter = expand_sequence(self._recv_latest + 1, packet_sequence(packet))
        body = self.crypto.open_(packet, SEALED_HEADER_SIZE, counter)
        if body is None:  # tampered, forged, of another connection, or a replay from a lap ago
            self._counters["bad_check"] += 1
            return
        opened = packet[:SEALED_HEADER_SIZE] + body
        if packet_kind(packet) == PacketKind.DISCONNECT:
            self._receive_disconnect(opened)
            return
        try:
            header = decode_data_header(opened)
            frames = decode_frames(opened)
        except WireError:
            self._counters["malformed"] += 1
            return
        if self._recv_latest - counter >= _DEDUP_WINDOW:
            self._counters["stale"] += 1
            return
        if self._seen[counter % _DEDUP_WINDOW] == counter:
            self._counters["duplicate"] += 1
            return
        self._record_received(counter, now)
        self._link.on_received(now, len(packet))
        self._last_recv = now
        ack_delay_ms = next((f.ack_delay_ms for f in frames if f.type == FrameType.ACK_DELAY), 0)
        self._process_acks(header, ack_delay_ms, now)
        has_reliable = False
        for frame in frames:
            if frame.type == FrameType.RELIABLE:
                has_reliable = True
                for data in self._reliable_in.receive(frame.message_id, frame.data):
                    self._events.append(MessageReceived(peer=self.peer, data=data))
            elif frame.type == FrameType.UNRELIABLE:
                self._events.append(PayloadReceived(peer=self.peer, data=frame.data))
            elif frame.type == FrameType.FRAGMENT:
                whole = self._reassembler.add(
                    frame.group, frame.index, frame.count, frame.data, now
                )
                if whole is not None:
                    self._events.append(PayloadReceived(peer=self.peer, data=whole))
        if all(f.type == FrameType.ACK_DELAY for f in frames):
            return  # an ack-only or keep-alive packet needs no ack of its own
        due = now if has_reliable else now + self.config.ack_delay
        if self._ack_due is None or due < self._ack_due:
            self._ack_due = due

    def _receive_disconnect(self, packet: bytes) -> None:
        try:
            code, reason = decode_reason(packet, PREFIX_SIZE)
        except WireError:
            self._counters["malformed"] += 1
            return
        self._close(DisconnectCode.parse(code), reason, by_peer=True, notify=True)

    def _record_received(self, counter: int, now: float) -> None:
        latest = self._recv_latest
        if latest < 0:
            self._recv_latest, self._recv_bits, self._recv_latest_time = counter, 0, now
        else:
            d = counter - latest
            if d > 0:
                self._link.on_sequence(d - 1, late=False)
                # Forget the window slots we skipped over so they don't look seen.
                for i in range(1, min(d, _DEDUP_WINDOW)):
                    self._seen[(latest + i) % _DEDUP_WINDOW] = -1
                bits = (self._recv_bits << d) | (1 << (d - 1)) if d <= 32 else 0
                self._recv_bits = bits & 0xFFFFFFFF
                self._recv_latest, self._recv_latest_time = counter, now
            else:
                self._link.on_sequence(0, late=True)
                if -d <= 32:
                    self._recv_bits |= 1 << (-d - 1)
        self._seen[counter % _DEDUP_WINDOW] = counter

    def _process_acks(self, header: DataHeader, ack_delay_ms: int, now: float) -> None:
        ack = header.ack
        newest = self._in_flight.get(ack)
        if newest is not None:
            self._link.on_rtt_sample(now - newest.sent - ack_delay_ms / 1000)
        if newest is not None and (
            self._newest_acked is None or seq_diff(ack, self._newest_acked) > 0
        ):
            self._newest_acked = ack
        self._resolve_acked(ack)
        bits = header.ack_bits
        in_flight = self._in_flight
        if bits and 0 < len(in_flight) <= 32:
            # Only what is still in flight can be newly acked: usually a few
            # packets, fewer lookups than one per bit set.
            acked = []
            for seq in in_flight:
                behind = (ack - seq) & SEQ_MASK
                if 1 <= behind <= 32 and bits >> (behind - 1) & 1:
                    acked.append(behind)
            for behind in sorted(acked):  # newest first, as the bits are read
                self._resolve_acked((ack - behind) & SEQ_MASK)
        elif bits and in_flight:
            i = 0
            while bits:
                if bits & 1:
                    self._resolve_acked((ack - 1 - i) & SEQ_MASK)
                bits >>= 1
                i += 1
        self._detect_losses(now)

    def _resolve_acked(self, seq: int) -> None:
        rec = self._in_flight.pop(seq, None)
        if rec is None:
            return
        if rec.counted:
            self._link.on_acked()
        for mid in rec.reliable:
            self._reliable_out.ack(mid)
        for handle in rec.payloads:
            left = self._fragment_parts_left.get(handle)
            if left is None:
                if handle not in self._failed_fragments:
                    self._events.append(PayloadAcked(peer=self.peer, handle=handle))
            elif left <= 1:
                del self._fragment_parts_left[handle]
                self._events.append(PayloadAcked(peer=self.peer, handle=handle))
            else:
                self._fragment_parts_left[handle] = left - 1

    def _resolve_lost(self, seq: int) -> None:
        rec = self._in_flight.pop(seq)
        if rec.counted:
            self._link.on_lost()
        for handle in rec.payloads:
            if handle in self._fragment_parts_left:
                del self._fragment_parts_left[handle]
                self._failed_fragments.add(handle)
                self._events.append(PayloadLost(peer=self.peer, handle=handle))
            elif handle not in self._failed_fragments:
                self._events.append(PayloadLost(peer=self.peer, handle=handle))

    def _loss_timeout(self) -> float:
        link = self._link
        return max(self.config.min_loss_timeout, 2 * link.srtt + 4 * link.rttvar)

    def _detect_losses(self, now: float) -> None:
        timeout = self._loss_timeout()
        newest = self._newest_acked
        while self._in_flight:
            seq, rec = next(iter(self._in_flight.items()))
            too_old = newest is not None and seq_diff(newest, seq) > 32
            if too_old or now >= rec.sent + timeout:
                self._resolve_lost(seq)
            else:
                break
        if len(self._failed_fragments) > 64:
            # Handles only grow; anything this far back can no longer be acked.
            floor = self._next_handle - 4 * _MAX_IN_FLIGHT
            self._failed_fragments = {h for h in self._failed_fragments if h >= floor}

    # ------------------------------------------------------------------ timers

    def get_timer(self) -> float | None:
        """The next time ``handle_timer``/``datagrams_to_send`` has work to do."""
        if self.closed:
            return self._now if self._outbox else None
        if self._outbox or self._unreliable_out:
            return self._now
        times = [
            self._last_recv + self.config.timeout,
            self._last_send + self.config.keepalive_interval,
        ]
        if self._ack_due is not None:
            times.append(self._ack_due)
        resend = self._reliable_out.next_due_time()
        if resend is not None:
            times.append(max(resend, self._now))
        if self._in_flight:
            times.append(next(iter(self._in_flight.values())).sent + self._loss_timeout())
        expiry = self._reassembler.next_expiry()
        if expiry is not None:
            times.append(expiry)
        return min(times)

    def handle_timer(self, now: float) -> None:
        """Run timeouts: peer silence, packet loss, stale fragments."""
        self._now = now
        if self.closed:
            return
        if now >= self._last_recv + self.config.timeout:
            self._close(DisconnectCode.TIMEOUT, "connection timed out", by_peer=False, notify=True)
            return
        self._detect_losses(now)
        self._reassembler.expire(now)

    # ------------------------------------------------------------------- stats

    def stats(self, now: float) -> ConnectionStats:
        return self._link.snapshot(now)

    @property
    def debug_sizes(self) -> dict[str, int]:
        """Sizes of every buffer, for soak tests that check nothing grows without bound."""
        return {
            "in_flight": len(self._in_flight),
            "reliable_out": len(self._reliable_out),
            "reliable_parked": self._reliable_in.parked,
            "fragment_groups": self._reassembler.partial_groups,
            "fragment_bytes": self._reassembler.buffered_bytes,
            "fragment_parts_left": len(self._fragment_parts_left),
            "failed_fragments": len(self._failed_fragments),
            "unreliable_out": len(self._unreliable_out),
        }
