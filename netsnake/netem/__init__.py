"""A lossy-link UDP relay: put a bad network between netsnake clients and a server.

What happens to one datagram is decided by the link model in
:mod:`protocol.simulator` (:class:`LinkConfig`, :class:`LinkImpairment`), the
same one the in-memory simulator uses; :mod:`netsnake.netem.relay` moves real
datagrams through it, and :mod:`netsnake.netem.tcp_relay` delays TCP byte
streams with the same model (``--tcp``).  Run it as
``python -m netsnake.netem LISTEN_PORT SERVER_HOST:PORT [options]``.
"""

from netsnake.netem.relay import Relay, parse_hostport, relay_link, start_relay
from netsnake.netem.tcp_relay import TcpRelay, TcpRelayStats, start_tcp_relay
from protocol.simulator import Jitter, LinkConfig, LinkImpairment, LinkStats

__all__ = [
    "Jitter",
    "LinkConfig",
    "LinkImpairment",
    "LinkStats",
    "Relay",
    "TcpRelay",
    "TcpRelayStats",
    "parse_hostport",
    "relay_link",
    "start_relay",
    "start_tcp_relay",
]
