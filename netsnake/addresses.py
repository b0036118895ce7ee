"""How netsnake reads and writes network addresses: one parser, one formatter.

Read: ``host``, ``1.2.3.4``, ``::1``, ``host:port``, ``[::1]:port``.  Written:
``host:port``, or ``[host]:port`` when the host is an IPv6 address (it has a
colon), so that the port can be told apart.  The client's HOST argument, the
relay's SERVER argument and every log line go through here.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Hashable

__all__ = [
    "format_address",
    "format_host",
    "format_peer",
    "normalize_host",
    "parse_host",
    "parse_hostport",
]


def parse_host(text: str, default_port: int | None) -> tuple[str, int]:
    """Split ``text`` into (host, port); raises ValueError with a readable reason.

    Without a port in ``text`` the port is ``default_port``; when that is None a
    port is required.  Brackets are only needed around an IPv6 host with a port.
    """
    text = text.strip()
    if not text:
        raise ValueError("empty host")
    host, port_text = text, None
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError(f"missing ']' in {text!r}")
        host, rest = text[1:end], text[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"unexpected {rest!r} after ']'")
            port_text = rest[1:]
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    # Two or more colons without brackets: a bare IPv6 address.
    if not host:
        raise ValueError(f"no host in {text!r}")
    if any(c.isspace() for c in host):
        raise ValueError(f"bad host {host!r}")
    if port_text is None:
        if default_port is None:
            raise ValueError(f"expected HOST:PORT or [IPV6]:PORT, got {text!r}")
        return host, default_port
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"bad port {port_text!r}")
    return host, int(port_text)


def parse_hostport(text: str) -> tuple[str, int]:
    """Split ``HOST:PORT`` or ``[IPV6]:PORT`` into ``(host, port)``; the port is required.

    Raises ValueError, as :func:`parse_host` does.
    """
    return parse_host(text, None)


def format_host(host: str) -> str:
    """``host`` as it is written before ``:port``: bracketed when it is an IPv6 address."""
    return f"[{host}]" if ":" in host else host


def format_address(host: str, port: int) -> str:
    """``host:port``, or ``[host]:port`` for IPv6: what :func:`parse_host` reads back."""
    return f"{format_host(host)}:{port}"


def format_peer(peer: Hashable) -> str:
    """A socket address (``(host, port)`` or IPv6's 4-tuple) for a log line.

    Anything else, such as the simulator's address labels, is shown as ``str(peer)``.
    """
    if isinstance(peer, tuple) and len(peer) in (2, 4):
        return format_address(str(peer[0]), peer[1])
    return str(peer)


def normalize_host(host: str) -> str:
    """One spelling per host: IP addresses in their compressed form, names in lower case
    (so that ``[0::1]:5050`` and ``[::1]:5050`` are remembered as one server)."""
    try:
        return ipaddress.ip_address(host).compressed
    except ValueError:
        return host.lower()
