"""Parsing the HOST argument: ``host``, ``1.2.3.4``, ``::1``, ``host:port``, ``[::1]:port``."""

from __future__ import annotations

import ipaddress

__all__ = ["format_address", "normalize_host", "parse_host"]


def parse_host(text: str, default_port: int) -> tuple[str, int]:
    """Split ``text`` into (host, port); raises ValueError with a readable reason."""
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
    port = default_port
    if port_text is not None:
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise ValueError(f"bad port {port_text!r}")
        port = int(port_text)
    return host, port


def format_address(host: str, port: int) -> str:
    """``host:port``, with an IPv6 address in brackets (``[::1]:5050``), as parse_host reads it."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def normalize_host(host: str) -> str:
    """One spelling per host: IP addresses in their compressed form, names in lower case."""
    try:
        return ipaddress.ip_address(host).compressed
    except ValueError:
        return host.lower()
