"""LAN discovery (``netsnake-client --list`` with no host) in network namespaces made here.

Three throwaway namespaces form a private LAN: the client's holds a bridge,
and a veth pair joins it to each server's namespace.  Nothing else is on it,
so the IPv4 broadcasts and the IPv6 ff02::1 multicasts never leave the
machine (or even these namespaces).  Needs Linux, root and ``ip``; elsewhere
the tests skip and say why.

On the LAN:

* ``v4only``: a server on ``0.0.0.0`` and the default port (IPv4 only);
* ``elsewhere``: one on ``0.0.0.0`` and another port, which discovery must
  not find (it asks the default port);
* ``dual``: a dual-stack server on ``::`` and the default port, which must be
  found over IPv4 broadcast and over IPv6 multicast, and listed once.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import pytest
from helpers_proc import REPO, ServerProcess

_PREFIX = f"nsdisc-{os.getpid()}"
NAMESPACES = {"client": f"{_PREFIX}-c", "s1": f"{_PREFIX}-1", "s2": f"{_PREFIX}-2"}
ADDRESSES = {"client": "10.77.0.1", "s1": "10.77.0.2", "s2": "10.77.0.3"}
PORT = 5050


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


def _sysctl(ns: str, setting: str) -> None:
    subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw", setting], check=True, timeout=10)


def _teardown() -> None:
    for ns in NAMESPACES.values():
        subprocess.run(["ip", "netns", "delete", ns], capture_output=True, timeout=10, check=False)


def _setup() -> None:
    for ns in NAMESPACES.values():
        _ip("netns", "add", ns)
        _ip("-n", ns, "link", "set", "lo", "up")
        # Link-local addresses usable at once: no duplicate address detection on a private LAN.
        _sysctl(ns, "net.ipv6.conf.all.accept_dad=0")
        _sysctl(ns, "net.ipv6.conf.default.accept_dad=0")
    c = NAMESPACES["client"]
    _ip("-n", c, "link", "add", "br0", "type", "bridge")
    for side in ("s1", "s2"):
        ns = NAMESPACES[side]
        _ip("-n", c, "link", "add", f"to-{side}", "type", "veth", "peer", "eth0", "netns", ns)
        _ip("-n", c, "link", "set", f"to-{side}", "master", "br0", "up")
        _ip("-n", ns, "addr", "add", f"{ADDRESSES[side]}/24", "brd", "+", "dev", "eth0")
        _ip("-n", ns, "link", "set", "eth0", "up")
    _ip("-n", c, "addr", "add", f"{ADDRESSES['client']}/24", "brd", "+", "dev", "br0")
    _ip("-n", c, "link", "set", "br0", "up")


@functools.cache
def _available() -> tuple[bool, str]:
    if not sys.platform.startswith("linux"):
        return False, f"network namespaces need Linux, this is {sys.platform}"
    if os.geteuid() != 0:
        return False, "network namespaces need root"
    if shutil.which("ip") is None:
        return False, "`ip` not found (Debian: apt-get install -y iproute2)"
    try:
        _setup()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        return False, f"cannot make the namespaces: {exc}"
    finally:
        _teardown()
    return True, "ok"


pytestmark = pytest.mark.skipif(not _available()[0], reason=_available()[1])


def _server(ns: str, *args: str) -> ServerProcess:
    server = ServerProcess(*args)
    server.argv = ["ip", "netns", "exec", NAMESPACES[ns], *server.argv]
    return server.start()


@pytest.fixture(scope="module")
def lan() -> Iterator[None]:
    _teardown()
    _setup()
    servers: list[ServerProcess] = []
    try:
        common = ("--port", str(PORT), "--bots", "1")
        servers.append(_server("s1", "--host", "0.0.0.0", "--server-name", "v4only", *common))
        servers.append(
            _server("s1", "--host", "0.0.0.0", "--port", "5051", "--server-name", "elsewhere")
        )
        servers.append(_server("s2", "--host", "::", "--server-name", "dual", *common))
        yield
    finally:
        for server in servers:
            server.kill()
        _teardown()


# Runs inside the client's namespace: discovery limited to one family, timed.
_DISCOVER = textwrap.dedent(
    """
    import socket, sys, time
    from netsnake.client.listing import list_servers
    families = {"4": [socket.AF_INET], "6": [socket.AF_INET6], "46": None}[sys.argv[1]]
    start = time.monotonic()
    rows = list_servers([], 5050, **({"families": families} if families else {}))
    took = time.monotonic() - start
    for r in rows:
        print(r.info.name if r.info else r.problem, r.address, sep="\\t")
    print("took", took, sep="\\t")
    """
)


def _in_client_ns(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        ["ip", "netns", "exec", NAMESPACES["client"], sys.executable, *argv],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=REPO,
        env=env,
        check=False,
    )


def _discover(families: str) -> tuple[dict[str, str], float]:
    done = _in_client_ns("-c", _DISCOVER, families)
    assert done.returncode == 0, done.stderr
    lines = [line.split("\t") for line in done.stdout.splitlines()]
    assert lines[-1][0] == "took"
    return {name: address for name, address in lines[:-1]}, float(lines[-1][1])


def test_ipv4_broadcast_finds_the_servers_on_the_default_port(lan: None) -> None:
    found, took = _discover("4")
    assert found == {"v4only": f"{ADDRESSES['s1']}:{PORT}", "dual": f"{ADDRESSES['s2']}:{PORT}"}
    assert took < 1.0


def test_ipv6_link_local_multicast_finds_the_dual_stack_server(lan: None) -> None:
    found, took = _discover("6")
    assert list(found) == ["dual"]
    assert found["dual"].startswith("[fe80::") and found["dual"].endswith(f"]:{PORT}")
    assert took < 1.0


def test_both_families_list_each_server_once(lan: None) -> None:
    found, took = _discover("46")
    assert sorted(found) == ["dual", "v4only"]
    assert took < 1.0


def test_the_command_lists_the_lan_and_exits_0(lan: None) -> None:
    started = time.monotonic()
    done = _in_client_ns("-m", "netsnake.client.cli", "--list")
    assert done.returncode == 0, done.stderr
    names = [line.split()[0] for line in done.stdout.splitlines()[1:]]
    assert names == ["dual", "v4only"]
    assert "elsewhere" not in done.stdout
    assert time.monotonic() - started < 5.0
