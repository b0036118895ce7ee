"""The client side: handshake with retries, then one connection to the server.

States (all transitions live in ``_TRANSITIONS``)::

    IDLE --connect()--> REQUESTING --CHALLENGE--> RESPONDING --ACCEPT--> CONNECTED
      any state --DENIED / timeout / DISCONNECT / disconnect()--> CLOSED
      RESPONDING --ACCEPT proving another key than the pinned one--> CLOSED

CONNECT_RESPONSE carries Noise NX message 1 (the client's ephemeral key) and
ACCEPT carries message 2 (see ``_crypto.py``); a client is CONNECTED only once
ACCEPT verified, which proves the server holds the static key it names.
"""

from __future__ import annotations

import enum
import os
from collections import Counter, deque
from collections.abc import Hashable
from dataclasses import dataclass, field

from protocol._connection import Connection, ConnectionConfig
from protocol._crypto import (
    CryptoPair,
    HandshakeError,
    NoiseInitiator,
    generate_static_key,
    key_fingerprint,
)
from protocol._errors import LocalProtocolError, NotConnected
from protocol._events import (
    ConnectionEstablished,
    ConnectionTerminated,
    DisconnectCode,
    Event,
)
from protocol._stats import ConnectionStats
from protocol._wire import (
    ACCEPT_SIZE,
    CHALLENGE_TOKEN_SIZE,
    MAX_DATAGRAM,
    NONCE_SIZE,
    PREFIX_SIZE,
    PROTOCOL_ID,
    PROTOCOL_VERSION,
    PacketKind,
    WireError,
    check_crc,
    decode_reason,
    handshake_prologue,
    packet_kind,
    packet_version,
    pad,
    prefix,
    seal_crc,
)

__all__ = ["ClientConfig", "ClientEndpoint", "ClientState"]


class ClientState(enum.Enum):
    IDLE = "idle"
    REQUESTING = "requesting"
    RESPONDING = "responding"
    CONNECTED = "connected"
    CLOSED = "closed"


_TRANSITIONS: dict[ClientState, frozenset[ClientState]] = {
    ClientState.IDLE: frozenset({ClientState.REQUESTING, ClientState.CLOSED}),
    ClientState.REQUESTING: frozenset({ClientState.RESPONDING, ClientState.CLOSED}),
    ClientState.RESPONDING: frozenset({ClientState.CONNECTED, ClientState.CLOSED}),
    ClientState.CONNECTED: frozenset({ClientState.CLOSED}),
    ClientState.CLOSED: frozenset(),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientConfig:
    """Handshake timers of a client endpoint."""

    handshake_resend: float = 0.25
    """Handshake packets are resent this often until answered."""
    connect_timeout: float = 5.0
    """Give up (UNREACHABLE) when the handshake has not completed after this long."""
    server_key: bytes | None = None
    """The server's static public key, if known (pinned): a server that proves another
    key is refused with SERVER_KEY_MISMATCH.  None accepts any key (trust on first use)."""
    connection: ConnectionConfig = field(default_factory=ConnectionConfig)


class ClientEndpoint:
    """Sans-IO client of one server address.

    ``nonce`` and ``ephemeral_key`` (a raw X25519 private key) are random unless
    given; tests fix them to reproduce the golden vectors.
    """

    def __init__(
        self,
        server: Hashable,
        config: ClientConfig | None = None,
        nonce: bytes | None = None,
        ephemeral_key: bytes | None = None,
    ) -> None:
        self.server = server
        self.config = config or ClientConfig()
        self.state = ClientState.IDLE
        self.nonce = nonce if nonce is not None else os.urandom(NONCE_SIZE)
        if len(self.nonce) != NONCE_SIZE:
            raise ValueError(f"nonce must be {NONCE_SIZE} bytes")
        self._ephemeral = ephemeral_key if ephemeral_key is not None else generate_static_key()
        #: The static public key the server proved in its ACCEPT (None before that).
        self.server_key: bytes | None = None
        self._token = b""
        self._noise: NoiseInitiator | None = None
        self._events: deque[Event] = deque()
        self._conn: Connection | None = None
        self._started = 0.0
        self._next_handshake = 0.0
        self._now = 0.0
        #: How many handshake packets were sent (the UI shows retries).
        self.handshake_attempts = 0
        self.counters: Counter[str] = Counter()

    def _enter(self, state: ClientState) -> None:
        if state not in _TRANSITIONS[self.state]:
            raise LocalProtocolError(f"cannot go from {self.state.value} to {state.value}")
        self.state = state

    # --------------------------------------------------------------- public API

    def connect(self, now: float) -> None:
        """Start the handshake; CONNECT_REQUEST goes out on ``datagrams_to_send``."""
        self._enter(ClientState.REQUESTING)
        self._started = self._next_handshake = self._now = now

    @property
    def connection(self) -> Connection:
        if self._conn is None or self.state is not ClientState.CONNECTED:
            raise NotConnected("not connected")
        return self._conn

    def send_reliable(self, data: bytes) -> int:
        return self.connection.send_reliable(data)

    def send_unreliable(self, data: bytes) -> int:
        return self.connection.send_unreliable(data)

    @property
    def pending_reliable(self) -> int:
        return self._conn.pending_reliable if self._conn is not None else 0

    def disconnect(
        self, code: DisconnectCode = DisconnectCode.NORMAL, reason: str = "client quit"
    ) -> None:
        """Close; DISCONNECT is sent redundantly if we were connected."""
        if self.state is ClientState.CLOSED:
            return
        if self._conn is not None:
            self._conn.disconnect(code, reason)
        else:
            self._events.append(
                ConnectionTerminated(peer=self.server, code=code, reason=reason, by_peer=False)
            )
        self._enter(ClientState.CLOSED)

    def stats(self, now: float) -> ConnectionStats | None:
        return self._conn.stats(now) if self._conn is not None else None

    def receive_datagram(self, data: bytes, addr: Hashable, now: float) -> None:
        """Process one datagram.  Never raises for anything the network sends."""
        self._now = now
        if addr != self.server:
            self.counters["unknown_source"] += 1
            return
        if len(data) < PREFIX_SIZE or len(data) > MAX_DATAGRAM:
            self.counters["bad_size"] += 1
            return
        if data[0] != PROTOCOL_ID:
            self.counters["bad_protocol_id"] += 1
            return
        kind = packet_kind(data)
        if kind not in (PacketKind.DATA, PacketKind.DISCONNECT) and not check_crc(data):
            self.counters["bad_check"] += 1
            return
        # DENIED keeps its layout in every version, so a mismatch can be explained.
        if kind == PacketKind.DENIED and self.state in (
            ClientState.REQUESTING,
            ClientState.RESPONDING,
        ):
            self._handle_denied(data)
            return
        if packet_version(data) != PROTOCOL_VERSION:
            self.counters["bad_version"] += 1
            return
        if self.state is ClientState.CONNECTED:
            assert self._conn is not None
            if kind in (PacketKind.DATA, PacketKind.DISCONNECT):
                self._conn.receive_packet(data, now)
                if self._conn.closed:
                    self._enter(ClientState.CLOSED)
            else:
                self.counters["unexpected_kind"] += 1
        elif kind == PacketKind.CHALLENGE and self.state is ClientState.REQUESTING:
            self._handle_challenge(data, now)
        elif kind == PacketKind.ACCEPT and self.state is ClientState.RESPONDING:
            self._handle_accept(data, now)
        else:
            self.counters["unexpected_kind"] += 1

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Hashable]]:
        self._now = now
        if self._conn is not None:
            return [(d, self.server) for d in self._conn.datagrams_to_send(now)]
        if self.state in (ClientState.REQUESTING, ClientState.RESPONDING) and (
            now >= self._next_handshake
        ):
            self._next_handshake = now + self.config.handshake_resend
            self.handshake_attempts += 1
            if self.state is ClientState.REQUESTING:
                packet = pad(prefix(PacketKind.CONNECT_REQUEST) + self.nonce)
            else:
                assert self._noise is not None
                packet = pad(
                    prefix(PacketKind.CONNECT_RESPONSE)
                    + self.nonce
                    + self._token
                    + self._noise.write_message1()
                )
            packet = seal_crc(packet)
            return [(packet, self.server)]
        return []

    def get_timer(self) -> float | None:
        if self._conn is not None:
            return self._conn.get_timer()
        if self.state in (ClientState.REQUESTING, ClientState.RESPONDING):
            return min(self._next_handshake, self._started + self.config.connect_timeout)
        return None

    def handle_timer(self, now: float) -> None:
        self._now = now
        if self._conn is not None:
            self._conn.handle_timer(now)
            if self._conn.closed and self.state is ClientState.CONNECTED:
                self._enter(ClientState.CLOSED)
        elif self.state in (ClientState.REQUESTING, ClientState.RESPONDING) and (
            now >= self._started + self.config.connect_timeout
        ):
            self._enter(ClientState.CLOSED)
            self._events.append(
                ConnectionTerminated(
                    peer=self.server,
                    code=DisconnectCode.UNREACHABLE,
                    reason="no answer from server",
                    by_peer=False,
                )
            )

    def next_event(self) -> Event | None:
        return self._events.popleft() if self._events else None

    # ---------------------------------------------------------------- internals

    def _nonce_ok(self, data: bytes) -> bool:
        if data[PREFIX_SIZE : PREFIX_SIZE + NONCE_SIZE] != self.nonce:
            self.counters["bad_nonce"] += 1
            return False
        return True

    def _handle_challenge(self, data: bytes, now: float) -> None:
        if len(data) != PREFIX_SIZE + NONCE_SIZE + CHALLENGE_TOKEN_SIZE:
            self.counters["malformed"] += 1
            return
        if not self._nonce_ok(data):
            return
        self._token = data[PREFIX_SIZE + NONCE_SIZE :]
        self._noise = NoiseInitiator(handshake_prologue(self.nonce, self._token), self._ephemeral)
        self._enter(ClientState.RESPONDING)
        self._next_handshake = now  # answer at once

    def _handle_accept(self, data: bytes, now: float) -> None:
        if len(data) != ACCEPT_SIZE:
            self.counters["malformed"] += 1
            return
        if not self._nonce_ok(data):
            return
        assert self._noise is not None
        try:
            keys = self._noise.read_message2(data[PREFIX_SIZE + NONCE_SIZE :])
        except HandshakeError:
            # Not sealed by whoever holds the key it names, or tampered past the CRC.
            self.counters["bad_handshake"] += 1
            return
        self.server_key = keys.server_static
        pinned = self.config.server_key
        if pinned is not None and pinned != keys.server_static:
            self._enter(ClientState.CLOSED)
            reason = (
                f"server key {key_fingerprint(keys.server_static)} does not match"
                f" the expected {key_fingerprint(pinned)}"
            )
            self._events.append(
                ConnectionTerminated(
                    peer=self.server,
                    code=DisconnectCode.SERVER_KEY_MISMATCH,
                    reason=reason,
                    by_peer=False,
                )
            )
            return
        self._conn = Connection(
            self.server,
            CryptoPair.from_keys(keys),
            now,
            self._events,
            self.counters,
            self.config.connection,
        )
        self._enter(ClientState.CONNECTED)
        self._events.append(ConnectionEstablished(peer=self.server, server_key=keys.server_static))

    def _handle_denied(self, data: bytes) -> None:
        if not self._nonce_ok(data):
            return
        try:
            code, reason = decode_reason(data, PREFIX_SIZE + NONCE_SIZE)
        except WireError:
            self.counters["malformed"] += 1
            return
        self._enter(ClientState.CLOSED)
        self._events.append(
            ConnectionTerminated(
                peer=self.server, code=DisconnectCode.parse(code), reason=reason, by_peer=True
            )
        )
