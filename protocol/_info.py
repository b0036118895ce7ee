"""INFO: a stateless query for what a server is, and the sans-IO code on both ends.

Theory of operation.  A server browser must learn a server's name, load and
settings without joining it, from addresses the server has never verified,
and by broadcast or multicast.  So INFO is one datagram each way and no
state: the client sends an INFO_REQUEST with a random nonce, and the server
answers with an INFO_REPLY echoing the nonce and carrying an *opaque* payload
that the application supplies (``protocol/`` knows nothing of what is in it;
netsnake's game layer puts a msgpack map there, see ``docs/game-messages.rst``).
The client times the round trip per nonce, which gives the ping.

Abuse.  The source address of a request may be forged, so:

* **No amplification.**  A request is padded to exactly INFO_REQUEST_SIZE
  bytes, and a reply is at most that size (the payload is capped at
  MAX_INFO_PAYLOAD when the application sets it).  Requests of any other
  size are dropped unanswered.
* **Rate limits.**  Replies are limited per source address and overall by
  token buckets of their own, apart from the handshake's, so an INFO flood
  neither starves handshakes nor turns the server into a reflector of more
  than ``global_rate`` replies per second.  Every drop has a named counter.

Both layouts, like DENIED's, are fixed across protocol versions: a server
answers an INFO_REQUEST of any version nibble whose CRC-16 checks, and puts
its own version in the reply's, so a browser of one version can list servers
of any other and say which version each speaks.
"""

from __future__ import annotations

import os
from collections import Counter, deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from protocol._events import Event
from protocol._ratelimit import AddressRateLimiter
from protocol._wire import (
    NONCE_SIZE,
    PREFIX_SIZE,
    PROTOCOL_ID,
    PROTOCOL_VERSION,
    PacketKind,
    WireError,
    check_crc,
    packet_kind,
    packet_version,
    pad,
    prefix,
    seal_crc,
)

__all__ = [
    "INFO_REPLY_HEADER_SIZE",
    "INFO_REQUEST_SIZE",
    "MAX_INFO_PAYLOAD",
    "InfoAnswered",
    "InfoConfig",
    "InfoQuery",
    "InfoReply",
    "InfoResponder",
    "InfoUnanswered",
    "decode_info_reply",
    "decode_info_request",
    "encode_info_reply",
    "encode_info_request",
]

#: An INFO_REQUEST is exactly this size (zero-padded), and no reply is larger.
INFO_REQUEST_SIZE = 256
INFO_REPLY_HEADER_SIZE = PREFIX_SIZE + NONCE_SIZE  # 12
#: The largest payload an INFO_REPLY carries: the reply is then as large as the request.
MAX_INFO_PAYLOAD = INFO_REQUEST_SIZE - INFO_REPLY_HEADER_SIZE  # 244


# ------------------------------------------------------------------- wire format


def encode_info_request(nonce: bytes, version: int = PROTOCOL_VERSION) -> bytes:
    """An INFO_REQUEST: prefix, nonce, zero padding to INFO_REQUEST_SIZE."""
    if len(nonce) != NONCE_SIZE:
        raise ValueError(f"nonce must be {NONCE_SIZE} bytes")
    return seal_crc(pad(prefix(PacketKind.INFO_REQUEST, version) + nonce, INFO_REQUEST_SIZE))


def decode_info_request(data: bytes) -> bytes:
    """The nonce of an INFO_REQUEST of any version; raises WireError otherwise."""
    _check_kind(data, PacketKind.INFO_REQUEST)
    if len(data) != INFO_REQUEST_SIZE:
        raise WireError("INFO_REQUEST is not exactly INFO_REQUEST_SIZE bytes")
    return data[PREFIX_SIZE:INFO_REPLY_HEADER_SIZE]


def encode_info_reply(nonce: bytes, payload: bytes, version: int = PROTOCOL_VERSION) -> bytes:
    """An INFO_REPLY: prefix (the server's version), the request's nonce, the payload."""
    if len(nonce) != NONCE_SIZE:
        raise ValueError(f"nonce must be {NONCE_SIZE} bytes")
    if len(payload) > MAX_INFO_PAYLOAD:
        raise ValueError(f"INFO payload of {len(payload)} bytes exceeds {MAX_INFO_PAYLOAD}")
    return seal_crc(prefix(PacketKind.INFO_REPLY, version) + nonce + payload)


@dataclass(frozen=True, slots=True)
class InfoReply:
    """A decoded INFO_REPLY."""

    version: int
    nonce: bytes
    payload: bytes


def decode_info_reply(data: bytes) -> InfoReply:
    """Decode an INFO_REPLY of any version; raises WireError otherwise."""
    _check_kind(data, PacketKind.INFO_REPLY)
    if not INFO_REPLY_HEADER_SIZE <= len(data) <= INFO_REQUEST_SIZE:
        raise WireError("bad INFO_REPLY size")
    return InfoReply(
        packet_version(data),
        data[PREFIX_SIZE:INFO_REPLY_HEADER_SIZE],
        data[INFO_REPLY_HEADER_SIZE:],
    )


def _check_kind(data: bytes, kind: PacketKind) -> None:
    if len(data) < PREFIX_SIZE or data[0] != PROTOCOL_ID or packet_kind(data) != kind:
        raise WireError(f"not an {kind.name}")
    if not check_crc(data):
        raise WireError("bad CRC-16")


# ------------------------------------------------------------------ server side


@dataclass(frozen=True, slots=True, kw_only=True)
class InfoConfig:
    """Rate limits of INFO replies (separate from the handshake's)."""

    rate: float = 10.0
    """Replies per second to one source address."""
    burst: float = 20.0
    global_rate: float = 1000.0
    """Replies per second to all source addresses together."""
    rate_table_size: int = 8192


class InfoResponder:
    """Answers INFO_REQUESTs with the payload the application last set.

    The server endpoint hands it every datagram of kind INFO_REQUEST and sends
    what :meth:`handle_request` returns.  Drops are counted in ``counters``
    (the endpoint's): ``info_bad_size``, ``bad_check``, ``info_rate_limited``
    (per address) and ``info_overloaded`` (overall).
    """

    def __init__(self, counters: Counter[str], config: InfoConfig | None = None) -> None:
        self.config = config or InfoConfig()
        cfg = self.config
        self._limit = AddressRateLimiter(cfg.rate, cfg.burst, cfg.global_rate, cfg.rate_table_size)
        self._counters = counters
        self._payload = b""
        #: INFO_REPLYs sent (not a drop, so not in ``counters``).
        self.replies = 0

    @property
    def payload(self) -> bytes:
        """The opaque bytes every INFO_REPLY carries (empty until the application sets them)."""
        return self._payload

    @payload.setter
    def payload(self, value: bytes) -> None:
        if len(value) > MAX_INFO_PAYLOAD:
            raise ValueError(f"INFO payload of {len(value)} bytes exceeds {MAX_INFO_PAYLOAD}")
        self._payload = bytes(value)

    def handle_request(self, data: bytes, addr: Hashable, now: float) -> bytes | None:
        """The reply to one INFO_REQUEST datagram, or None (dropped and counted)."""
        if len(data) != INFO_REQUEST_SIZE:
            self._counters["info_bad_size"] += 1
            return None
        if not check_crc(data):
            self._counters["bad_check"] += 1
            return None
        refused = self._limit.allow(addr, now)
        if refused is not None:
            self._counters["info_rate_limited" if refused == "address" else "info_overloaded"] += 1
            return None
        self.replies += 1
        reply = encode_info_reply(data[PREFIX_SIZE:INFO_REPLY_HEADER_SIZE], self._payload)
        assert len(reply) <= len(data), "amplification guard"
        return reply


# ------------------------------------------------------------------ client side


@dataclass(frozen=True, slots=True, kw_only=True)
class InfoAnswered(Event):
    """A server at ``peer`` sent ``payload`` in answer to a query of ``target``.

    For a unicast query ``peer`` is normally ``target``; for a broadcast or
    multicast one, each answering server is its own ``peer``.  ``version`` is
    the protocol version the server speaks; ``rtt`` is seconds from sending the
    answered request to receiving the reply.
    """

    target: Hashable
    version: int
    payload: bytes
    rtt: float


@dataclass(frozen=True, slots=True, kw_only=True)
class InfoUnanswered(Event):
    """A unicast query of ``peer`` got no reply before its deadline."""


@dataclass(slots=True)
class _Query:
    target: Hashable
    discover: bool
    deadline: float
    next_send: float
    answered: bool = False


class InfoQuery:
    """Sans-IO INFO client: query targets, feed replies in, pull InfoAnswered events out.

    Each target is sent a request at once and again every ``resend_interval``
    until it answers (unicast) or until ``timeout`` (``discover=True``: a
    broadcast or multicast target, which any number of servers may answer;
    each source is reported once).  Every request has a fresh nonce, so a
    reply is timed against the very request it answers.
    """

    def __init__(
        self,
        *,
        timeout: float = 1.0,
        resend_interval: float = 0.25,
        nonces: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.timeout = timeout
        self.resend_interval = resend_interval
        self._nonces = nonces
        self._queries: list[_Query] = []
        self._sent: dict[bytes, tuple[_Query, float]] = {}
        self._seen: set[tuple[Hashable, Hashable]] = set()
        self._events: deque[Event] = deque()
        self._outbox: list[tuple[bytes, Hashable]] = []
        self._now = 0.0
        #: Named counters of dropped datagrams (``malformed``, ``bad_nonce``, ``duplicate``).
        self.counters: Counter[str] = Counter()

    def query(self, target: Hashable, now: float, *, discover: bool = False) -> None:
        """Start querying ``target`` (a broadcast or multicast address if ``discover``)."""
        q = _Query(target, discover, now + self.timeout, now)
        self._queries.append(q)
        self._send_due(now)

    @property
    def done(self) -> bool:
        """True when every query is answered or past its deadline and all events are pulled."""
        return not self._events and all(
            q.answered or q.next_send == float("inf") for q in self._queries
        )

    def receive_datagram(self, data: bytes, addr: Hashable, now: float) -> None:
        """Process one datagram.  Never raises for anything the network sends."""
        try:
            reply = decode_info_reply(data)
        except WireError:
            self.counters["malformed"] += 1
            return
        sent = self._sent.get(reply.nonce)
        if sent is None:
            self.counters["bad_nonce"] += 1
            return
        q, sent_at = sent
        if (q.target, addr) in self._seen or (q.answered and not q.discover):
            self.counters["duplicate"] += 1
            return
        self._seen.add((q.target, addr))
        if not q.discover:
            q.answered = True
        self._events.append(
            InfoAnswered(
                peer=addr,
                target=q.target,
                version=reply.version,
                payload=reply.payload,
                rtt=max(0.0, now - sent_at),
            )
        )

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Hashable]]:
        self._send_due(now)
        out, self._outbox = self._outbox, []
        return out

    def get_timer(self) -> float | None:
        if self._outbox:
            return self._now
        pending = [
            q.next_send for q in self._queries if not q.answered and q.next_send != float("inf")
        ]
        return min(pending, default=None)

    def handle_timer(self, now: float) -> None:
        self._send_due(now)

    def next_event(self) -> Event | None:
        return self._events.popleft() if self._events else None

    def _send_due(self, now: float) -> None:
        self._now = now
        for q in self._queries:
            if q.answered or q.next_send > now:
                continue
            if now >= q.deadline:
                q.next_send = float("inf")
                if not q.discover:
                    self._events.append(InfoUnanswered(peer=q.target))
                continue
            nonce = self._nonces(NONCE_SIZE)
            self._sent[nonce] = (q, now)
            self._outbox.append((encode_info_request(nonce), q.target))
            q.next_send = min(q.deadline, now + self.resend_interval)
