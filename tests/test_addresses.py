"""Addresses as netsnake reads and writes them (netsnake.addresses).

``parse_host`` (the client's HOST, port optional) is tested with the client in
test_client_core.py; here the relay's required-port form and the formatters.
"""

from __future__ import annotations

import pytest

from netsnake.addresses import (
    format_address,
    format_host,
    format_peer,
    parse_host,
    parse_hostport,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:5000", ("127.0.0.1", 5000)),
        ("localhost:1", ("localhost", 1)),
        ("[::1]:5050", ("::1", 5050)),
        ("[fe80::1%lo]:65535", ("fe80::1%lo", 65535)),
    ],
)
def test_parse_hostport(text: str, expected: tuple[str, int]) -> None:
    assert parse_hostport(text) == expected


@pytest.mark.parametrize(
    "text", ["5000", "host", "::1:5000", "host:0", "host:70000", "[::1]", ":5"]
)
def test_parse_hostport_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_hostport(text)


def test_a_missing_port_is_named_when_one_is_required() -> None:
    with pytest.raises(ValueError, match=r"expected HOST:PORT or \[IPV6\]:PORT"):
        parse_hostport("[::1]")


@pytest.mark.parametrize(
    ("host", "port", "written"),
    [
        ("127.0.0.1", 5050, "127.0.0.1:5050"),
        ("example.org", 1, "example.org:1"),
        ("::1", 5050, "[::1]:5050"),
        ("fe80::1%lo", 65535, "[fe80::1%lo]:65535"),
    ],
)
def test_format_address_is_read_back_by_both_parsers(host: str, port: int, written: str) -> None:
    assert format_address(host, port) == written
    assert parse_hostport(written) == (host, port)
    assert parse_host(written, 1) == (host, port)


def test_format_host_brackets_only_ipv6() -> None:
    assert format_host("::") == "[::]"
    assert format_host("0.0.0.0") == "0.0.0.0"


def test_format_peer_takes_socket_addresses_and_labels() -> None:
    assert format_peer(("10.0.0.2", 4000)) == "10.0.0.2:4000"
    assert format_peer(("::1", 4000, 0, 0)) == "[::1]:4000"  # IPv6 sockname
    assert format_peer("client-3") == "client-3"
    assert format_peer(("a", "b", "c")) == "('a', 'b', 'c')"
