"""netsnake's wire protocol: sans-IO, game-agnostic, over UDP datagrams.

Feed datagrams and timer expiries in with ``receive_datagram(data, addr, now)``
and ``handle_timer(now)``; pull ``next_event()`` and ``datagrams_to_send(now)``
out; sleep until ``get_timer()``.  No sockets, clocks or asyncio in here.
The byte-level specification is ``protocol/PROTOCOL.rst``.

Every packet after the handshake is sealed (AES-256-GCM under keys from a Noise
NX exchange); the server proves a static X25519 key (``ServerConfig.static_key``,
``ServerEndpoint.public_key``) which a client may pin (``ClientConfig.server_key``)
or learn on first use (``ConnectionEstablished.server_key``).
"""

from protocol._client import ClientConfig, ClientEndpoint, ClientState
from protocol._codec import (
    CodecLimits,
    DecodeError,
    Packer,
    expect_bytes,
    expect_int,
    expect_list,
    expect_str,
    unpack_untrusted,
)
from protocol._connection import Connection, ConnectionConfig
from protocol._crypto import CryptoPair, generate_static_key, key_fingerprint, public_key
from protocol._errors import LocalProtocolError, MessageTooLarge, NotConnected, QueueFull
from protocol._events import (
    ConnectionEstablished,
    ConnectionTerminated,
    DisconnectCode,
    Event,
    MessageReceived,
    PayloadAcked,
    PayloadLost,
    PayloadReceived,
)
from protocol._info import (
    INFO_REQUEST_SIZE,
    MAX_INFO_PAYLOAD,
    InfoAnswered,
    InfoConfig,
    InfoQuery,
    InfoResponder,
    InfoUnanswered,
)
from protocol._sequence import seq_diff, seq_greater, seq_next
from protocol._server import ServerConfig, ServerEndpoint
from protocol._stats import ConnectionStats
from protocol._wire import (
    DATA_HEADER_SIZE,
    HANDSHAKE_SIZE,
    MAX_DATAGRAM,
    MAX_RELIABLE_MESSAGE,
    PROTOCOL_VERSION,
)

__all__ = [
    "DATA_HEADER_SIZE",
    "HANDSHAKE_SIZE",
    "INFO_REQUEST_SIZE",
    "MAX_DATAGRAM",
    "MAX_INFO_PAYLOAD",
    "MAX_RELIABLE_MESSAGE",
    "PROTOCOL_VERSION",
    "ClientConfig",
    "ClientEndpoint",
    "ClientState",
    "CodecLimits",
    "Connection",
    "ConnectionConfig",
    "ConnectionEstablished",
    "ConnectionStats",
    "ConnectionTerminated",
    "CryptoPair",
    "DecodeError",
    "DisconnectCode",
    "Event",
    "InfoAnswered",
    "InfoConfig",
    "InfoQuery",
    "InfoResponder",
    "InfoUnanswered",
    "LocalProtocolError",
    "MessageReceived",
    "MessageTooLarge",
    "NotConnected",
    "Packer",
    "PayloadAcked",
    "PayloadLost",
    "PayloadReceived",
    "QueueFull",
    "ServerConfig",
    "ServerEndpoint",
    "expect_bytes",
    "expect_int",
    "expect_list",
    "expect_str",
    "generate_static_key",
    "key_fingerprint",
    "public_key",
    "seq_diff",
    "seq_greater",
    "seq_next",
    "unpack_untrusted",
]
