"""A lossy-link UDP relay: put a bad network between netsnake clients and a server.

:mod:`netsnake.netem.link` is the pure link model (what happens to one datagram);
:mod:`netsnake.netem.relay` moves real datagrams through it, and
:mod:`netsnake.netem.tcp_relay` delays TCP byte streams with the same model (``--tcp``).
Run it as ``python -m netsnake.netem LISTEN_PORT SERVER_HOST:PORT [options]``.
"""

from netsnake.netem.link import Jitter, LinkConfig, LinkImpairment, LinkStats
from netsnake.netem.relay import Relay, parse_hostport, start_relay
from netsnake.netem.tcp_relay import TcpRelay, TcpRelayStats, start_tcp_relay

__all__ = [
    "Jitter",
    "LinkConfig",
    "LinkImpairment",
    "LinkStats",
    "Relay",
    "TcpRelay",
    "TcpRelayStats",
    "parse_hostport",
    "start_relay",
    "start_tcp_relay",
]
