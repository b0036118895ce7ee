"""The server side: a stateless handshake in front of many connections.

Theory of operation.  Datagrams from an address with an established
connection go to that connection.  Everything else must be a handshake
packet.  The server answers a CONNECT_REQUEST with a CHALLENGE token that
proves nothing but is cheap to check later, and allocates nothing; only a
CONNECT_RESPONSE that echoes a valid token for the same address and nonce
creates a connection.  A spoofed source address never sees its token, so it
cannot complete the handshake.  Handshake requests are padded to
HANDSHAKE_SIZE and every pre-verification reply is smaller, so the server
never sends an unverified address more bytes than it received from it.

The key exchange (Noise NX, ``_crypto.py``) runs only for a CONNECT_RESPONSE
whose token verified, and within the per-address handshake rate: a spoofed
or flooding source cannot make the server spend Diffie-Hellman work.  The
ACCEPT is kept per connection and resent byte for byte when the client asks
again, so a lost ACCEPT never costs a second exchange or a second key.
"""

from __future__ import annotations

import heapq
import itertools
import os
from collections import Counter, deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from protocol._connection import Connection, ConnectionConfig
from protocol._crypto import (
    CryptoPair,
    HandshakeError,
    generate_static_key,
    noise_respond,
    public_key,
)
from protocol._errors import NotConnected
from protocol._events import ConnectionEstablished, DisconnectCode, Event
from protocol._info import InfoConfig, InfoResponder
from protocol._ratelimit import AddressRateLimiter
from protocol._stats import ConnectionStats
from protocol._token import TokenMinter
from protocol._wire import (
    CHALLENGE_TOKEN_SIZE,
    EPHEMERAL_KEY_SIZE,
    HANDSHAKE_SIZE,
    MAX_DATAGRAM,
    NONCE_SIZE,
    PREFIX_SIZE,
    PROTOCOL_ID,
    PROTOCOL_VERSION,
    PacketKind,
    check_crc,
    encode_reason,
    handshake_prologue,
    packet_kind,
    packet_version,
    prefix,
    seal_crc,
)

__all__ = ["ServerConfig", "ServerEndpoint"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerConfig:
    """Limits of a server endpoint."""

    max_connections: int = 64
    token_lifetime: float = 10.0
    handshake_rate: float = 10.0
    """Handshake replies per second allowed to one unverified address."""
    handshake_burst: float = 20.0
    handshake_global_rate: float = 2000.0
    """Handshake replies per second allowed to all unverified addresses together."""
    rate_table_size: int = 8192
    static_key: bytes | None = None
    """The server's raw X25519 private key (32 bytes), proved to every client in the
    handshake.  None makes a fresh key per endpoint (the local game, tests)."""
    info: InfoConfig = field(default_factory=InfoConfig)
    """Rate limits of INFO replies (their own buckets, apart from the handshake's)."""
    connection: ConnectionConfig = field(default_factory=ConnectionConfig)


class ServerEndpoint:
    """Sans-IO server: feed datagrams and timer expiries in, pull events and datagrams out.

    ``secret`` keys the challenge tokens; ``ephemeral_keys`` makes the ephemeral
    X25519 private key of each key exchange.  Both are random unless given;
    tests fix them to reproduce the golden vectors.
    """

    def __init__(
        self,
        config: ServerConfig | None = None,
        secret: bytes | None = None,
        ephemeral_keys: Callable[[], bytes] = generate_static_key,
    ) -> None:
        self.config = config or ServerConfig()
        self._secret = secret or os.urandom(32)
        self._tokens = TokenMinter(self._secret, self.config.token_lifetime)
        self._static = self.config.static_key or generate_static_key()
        #: The public half of the server's static key (what clients pin or remember).
        self.public_key = public_key(self._static)
        self._ephemeral_keys = ephemeral_keys
        self._connections: dict[Hashable, Connection] = {}
        # Only connections touched since the last flush, or whose timer is due,
        # are visited: a datagram from one client costs O(1), not O(clients).
        # Timers sit in a heap of (time, tiebreak, peer), where an entry whose
        # time is no longer the peer's in _timers is stale and skipped; _order
        # is each peer's place in _connections, the order connections are
        # visited in (so simulations stay deterministic).
        self._dirty: set[Hashable] = set()
        self._timers: dict[Hashable, float] = {}
        self._timer_heap: list[tuple[float, int, Hashable]] = []
        self._tiebreak = itertools.count()
        self._order: dict[Hashable, int] = {}
        self._next_order = itertools.count()
        # Per connection: the client's nonce and the ACCEPT it was sent (for resends).
        self._accepts: dict[Hashable, tuple[bytes, bytes]] = {}
        self._events: deque[Event] = deque()
        self._outbox: list[tuple[bytes, Hashable]] = []
        cfg = self.config
        self._handshake_limit = AddressRateLimiter(
            cfg.handshake_rate, cfg.handshake_burst, cfg.handshake_global_rate, cfg.rate_table_size
        )
        self._now = 0.0
        #: Named counters of dropped or notable datagrams.
        self.counters: Counter[str] = Counter()
        #: Bytes received from, and sent to, addresses without a connection.
        self.unverified_bytes_in = 0
        self.unverified_bytes_out = 0
        #: Answers INFO queries; the application sets ``info.payload``.
        self.info = InfoResponder(self.counters, cfg.info)

    # --------------------------------------------------------------- public API

    @property
    def peers(self) -> list[Hashable]:
        return list(self._connections)

    def receive_datagram(self, data: bytes, addr: Hashable, now: float) -> None:
        """Process one datagram.  Never raises for anything the network sends."""
        self._now = now
        conn = self._connections.get(addr)
        if conn is None:
            self.unverified_bytes_in += len(data)
        if len(data) < PREFIX_SIZE:
            self.counters["too_short"] += 1
            return
        if len(data) > MAX_DATAGRAM:
            self.counters["oversized"] += 1
            return
        if data[0] != PROTOCOL_ID:
            self.counters["bad_protocol_id"] += 1
            return
        kind = packet_kind(data)
        if kind == PacketKind.INFO_REQUEST:
            # Stateless and of any version (see _info.py); never touches a connection.
            if conn is not None:
                self.unverified_bytes_in += len(data)
            reply = self.info.handle_request(data, addr, now)
            if reply is not None:
                self._reply_unverified(reply, addr, len(data))
            return
        if packet_version(data) != PROTOCOL_VERSION:
            if check_crc(bytes((data[0], (PROTOCOL_VERSION << 4) | kind)) + data[2:]):
                # Our own version with a flipped version bit: corruption, not a foreign client.
                self.counters["bad_check"] += 1
                return
            if conn is None and kind == PacketKind.CONNECT_REQUEST:
                self._deny(
                    data,
                    addr,
                    DisconnectCode.VERSION_MISMATCH,
                    f"version mismatch: server speaks protocol v{PROTOCOL_VERSION}",
                )
            self.counters["bad_version"] += 1
            return
        if kind not in (PacketKind.DATA, PacketKind.DISCONNECT) and not check_crc(data):
            self.counters["bad_check"] += 1
            return
        if conn is not None:
            if kind in (PacketKind.DATA, PacketKind.DISCONNECT):
                conn.receive_packet(data, now)
                self._dirty.add(addr)
                self._reap(conn)
            elif kind == PacketKind.CONNECT_RESPONSE:
                self._handle_response(data, addr, now, conn)
            elif kind == PacketKind.CONNECT_REQUEST:
                # A client restarted on the same address.  It needs a CHALLENGE to
                # reach the REPLACED path in _handle_response; the request may be
                # spoofed, so account for it like any unverified one.
                self.unverified_bytes_in += len(data)
                self._handle_request(data, addr, now)
            else:
                self.counters["unexpected_kind"] += 1
            return
        if kind == PacketKind.CONNECT_REQUEST:
            self._handle_request(data, addr, now)
        elif kind == PacketKind.CONNECT_RESPONSE:
            self._handle_response(data, addr, now, None)
        elif kind in (PacketKind.DATA, PacketKind.DISCONNECT):
            self.counters["unknown_source"] += 1
        else:
            self.counters["unexpected_kind"] += 1

    def send_reliable(self, peer: Hashable, data: bytes) -> int:
        """Queue a reliable message to ``peer``; returns its message id."""
        mid = self._conn(peer).send_reliable(data)
        self._dirty.add(peer)
        return mid

    def send_unreliable(self, peer: Hashable, data: bytes) -> int:
        """Queue an unreliable payload to ``peer``; returns its handle."""
        handle = self._conn(peer).send_unreliable(data)
        self._dirty.add(peer)
        return handle

    def pending_reliable(self, peer: Hashable) -> int:
        return self._conn(peer).pending_reliable

    def disconnect(
        self,
        peer: Hashable,
        code: DisconnectCode = DisconnectCode.NORMAL,
        reason: str = "disconnected by server",
    ) -> None:
        """Close one connection; a ConnectionTerminated event follows."""
        conn = self._connections.get(peer)
        if conn is not None:
            conn.disconnect(code, reason)
            self._retire(conn)

    def close(
        self, code: DisconnectCode = DisconnectCode.SHUTDOWN, reason: str = "server shutting down"
    ) -> None:
        """Disconnect everyone (the DISCONNECT packets still need sending)."""
        for peer in list(self._connections):
            self.disconnect(peer, code, reason)

    def stats(self, peer: Hashable, now: float) -> ConnectionStats:
        return self._conn(peer).stats(now)

    def connection(self, peer: Hashable) -> Connection:
        """The connection object itself (for tests and diagnostics)."""
        return self._conn(peer)

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Hashable]]:
        self._now = now
        out, self._outbox = self._outbox, []
        for peer in self._due(now):
            conn = self._connections[peer]
            out.extend((d, peer) for d in conn.datagrams_to_send(now))
            self._refresh_timer(conn)
        self._dirty.clear()
        return out

    def get_timer(self) -> float | None:
        if self._outbox or self._dirty:
            return self._now
        heap, timers = self._timer_heap, self._timers
        while heap:
            at, _, peer = heap[0]
            if timers.get(peer) == at:
                return at
            heapq.heappop(heap)  # stale
        return None

    def handle_timer(self, now: float) -> None:
        self._now = now
        for peer in self._due(now):
            conn = self._connections[peer]
            conn.handle_timer(now)
            self._dirty.add(peer)
            self._reap(conn)

    def _due(self, now: float) -> list[Hashable]:
        # In connection order, so simulations stay deterministic.
        order, timers, heap = self._order, self._timers, self._timer_heap
        due = {p for p in self._dirty if p in order}
        while heap and heap[0][0] <= now:
            at, _, peer = heapq.heappop(heap)
            if timers.get(peer) == at:
                due.add(peer)  # its timer goes back in when it is refreshed
        return sorted(due, key=order.__getitem__)

    def _refresh_timer(self, conn: Connection) -> None:
        t = conn.get_timer()
        peer = conn.peer
        if t is None:
            self._timers.pop(peer, None)
            return
        self._timers[peer] = t
        heap = self._timer_heap
        heapq.heappush(heap, (t, next(self._tiebreak), peer))
        if len(heap) > 4 * len(self._timers) + 64:
            # Mostly stale entries: rebuild from the live timers.
            heap[:] = [(at, next(self._tiebreak), p) for p, at in self._timers.items()]
            heapq.heapify(heap)

    def next_event(self) -> Event | None:
        return self._events.popleft() if self._events else None

    # ---------------------------------------------------------------- internals

    def _conn(self, peer: Hashable) -> Connection:
        conn = self._connections.get(peer)
        if conn is None:
            raise NotConnected(f"no connection to {peer!r}")
        return conn

    def _reap(self, conn: Connection) -> None:
        if conn.closed:
            self._retire(conn)

    def _retire(self, conn: Connection) -> None:
        # The DISCONNECT copies a closing connection still holds go out now.
        self._outbox.extend((d, conn.peer) for d in conn.datagrams_to_send(self._now))
        self._connections.pop(conn.peer, None)
        self._accepts.pop(conn.peer, None)
        self._timers.pop(conn.peer, None)
        self._order.pop(conn.peer, None)
        self._dirty.discard(conn.peer)

    def _allow_reply(self, addr: Hashable, now: float) -> bool:
        return self._handshake_limit.allow(addr, now) is None

    def _reply_unverified(self, packet: bytes, addr: Hashable, received: int) -> None:
        assert len(packet) <= received, "amplification guard"
        self.unverified_bytes_out += len(packet)
        self._outbox.append((packet, addr))

    def _deny(self, data: bytes, addr: Hashable, code: DisconnectCode, reason: str) -> None:
        if len(data) != HANDSHAKE_SIZE or not self._allow_reply(addr, self._now):
            self.counters["handshake_dropped"] += 1
            return
        nonce = data[PREFIX_SIZE : PREFIX_SIZE + NONCE_SIZE]
        packet = seal_crc(prefix(PacketKind.DENIED) + nonce + encode_reason(code, reason))
        self._reply_unverified(packet, addr, len(data))

    def _handle_request(self, data: bytes, addr: Hashable, now: float) -> None:
        if len(data) != HANDSHAKE_SIZE:
            self.counters["bad_handshake_size"] += 1
            return
        if not self._allow_reply(addr, now):
            self.counters["rate_limited"] += 1
            return
        nonce = data[PREFIX_SIZE : PREFIX_SIZE + NONCE_SIZE]
        token = self._tokens.mint(addr, nonce, now)
        self._reply_unverified(
            seal_crc(prefix(PacketKind.CHALLENGE) + nonce + token), addr, len(data)
        )

    def _handle_response(
        self, data: bytes, addr: Hashable, now: float, existing: Connection | None
    ) -> None:
        if len(data) != HANDSHAKE_SIZE:
            self.counters["bad_handshake_size"] += 1
            return
        start = PREFIX_SIZE + NONCE_SIZE
        nonce = data[PREFIX_SIZE:start]
        token = data[start : start + CHALLENGE_TOKEN_SIZE]
        message1 = data[
            start + CHALLENGE_TOKEN_SIZE : start + CHALLENGE_TOKEN_SIZE + EPHEMERAL_KEY_SIZE
        ]
        if not self._tokens.check(token, addr, nonce, now):
            self.counters["bad_token"] += 1
            return
        if existing is not None:
            sent = self._accepts.get(addr)
            if sent is not None and sent[0] == nonce:
                # Our ACCEPT was lost and the client asked again: the very same answer.
                self._outbox.append((sent[1], addr))
                return
        if len(self._connections) - (existing is not None) >= self.config.max_connections:
            self._deny(data, addr, DisconnectCode.SERVER_FULL, "server full")
            return
        # The key exchange costs two X25519 operations: rate-limited like any reply.
        if not self._allow_reply(addr, now):
            self.counters["rate_limited"] += 1
            return
        try:
            message2, keys = noise_respond(
                handshake_prologue(nonce, token), message1, self._static, self._ephemeral_keys()
            )
        except HandshakeError:
            self.counters["bad_handshake"] += 1  # a low-order ephemeral key
            return
        if existing is not None:
            # The same address started a new connection: the old one is over.
            self.disconnect(addr, DisconnectCode.REPLACED, "replaced by a new connection")
        conn = Connection(
            addr,
            CryptoPair.from_keys(keys),
            now,
            self._events,
            self.counters,
            self.config.connection,
        )
        if addr not in self._connections:
            self._order[addr] = next(self._next_order)
        self._connections[addr] = conn
        self._dirty.add(addr)
        accept = seal_crc(prefix(PacketKind.ACCEPT) + nonce + message2)
        self._accepts[addr] = (nonce, accept)
        self._outbox.append((accept, addr))
        self._events.append(ConnectionEstablished(peer=addr))
