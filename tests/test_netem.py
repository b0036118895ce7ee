"""The lossy-link relay: real loopback sockets, then the CLI.

The link model it applies is shared with the simulator and tested in test_link_model.py.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import threading
from typing import Any, cast

import pytest
from helpers_netem import netem, run_async
from netcheck import ipv6_loopback_works

from netsnake.netem import Relay, relay_link, start_relay
from netsnake.netem import relay as relay_module
from protocol.simulator import LinkConfig

# -- real loopback sockets --------------------------------------------------------------------


class Endpoint(asyncio.DatagramProtocol):
    """A UDP socket that records what it receives; the echo server echoes it back too.

    Sends go straight to the socket: asyncio's ``sendto`` drops empty payloads.
    """

    def __init__(self, sock: socket.socket, echo: bool = False) -> None:
        self.sock = sock
        self.echo = echo
        self.received: list[tuple[bytes, Any]] = []
        self.arrived = asyncio.Event()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.received.append((data, addr))
        self.arrived.set()
        if self.echo:
            self.sock.sendto(data, addr)

    def send(self, data: bytes) -> None:
        self.sock.send(data)

    @property
    def address(self) -> Any:
        return self.sock.getsockname()

    async def wait_for(self, count: int, timeout: float = 2.0) -> None:
        async def enough() -> None:
            while len(self.received) < count:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(enough(), timeout)

    def close(self) -> None:
        assert self.transport is not None
        self.transport.close()


async def open_endpoint(
    *, local: tuple[str, int] | None = None, remote: Any = None, echo: bool = False
) -> Endpoint:
    loop = asyncio.get_running_loop()
    family = socket.AF_INET6 if ":" in str((local or remote)[0]) else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.setblocking(False)
    if local is not None:
        sock.bind(local)
    if remote is not None:
        sock.connect(remote)
    _, protocol = await loop.create_datagram_endpoint(lambda: Endpoint(sock, echo), sock=sock)
    return protocol


async def send_paced(client: Endpoint, payloads: list[bytes]) -> None:
    # Small bursts keep loopback socket buffers from overflowing and adding their own loss.
    for i, data in enumerate(payloads):
        client.send(data)
        if i % 50 == 49:
            await asyncio.sleep(0.002)


def test_perfect_relay_delivers_all_and_hides_client_address() -> None:
    async def body() -> None:
        server = await open_endpoint(local=("127.0.0.1", 0), echo=True)
        async with await start_relay(("127.0.0.1", 0), server.address, seed=1) as relay:
            client = await open_endpoint(remote=relay.address)
            payloads = [b"msg-%d" % i for i in range(300)]
            await send_paced(client, payloads)
            await client.wait_for(300)
            assert sorted(d for d, _ in client.received) == sorted(payloads)
            sources = {addr for _, addr in server.received}
            assert len(sources) == 1
            assert sources != {client.address}
            stats = relay.stats
            assert stats.up.forwarded == stats.down.forwarded == 300
            assert stats.clients == 1
            client.close()
        server.close()

    run_async(body)


def test_each_client_gets_its_own_upstream_and_only_its_replies() -> None:
    async def body() -> None:
        server = await open_endpoint(local=("127.0.0.1", 0), echo=True)
        async with await start_relay(("127.0.0.1", 0), server.address, seed=1) as relay:
            a = await open_endpoint(remote=relay.address)
            b = await open_endpoint(remote=relay.address)
            for i in range(20):
                a.send(b"a%d" % i)
                b.send(b"b%d" % i)
            await a.wait_for(20)
            await b.wait_for(20)
            assert all(d.startswith(b"a") for d, _ in a.received)
            assert all(d.startswith(b"b") for d, _ in b.received)
            assert len({addr for _, addr in server.received}) == 2
            assert relay.stats.clients == 2
            a.close()
            b.close()
        server.close()

    run_async(body)


def test_half_loss_delivers_about_half() -> None:
    async def body() -> None:
        server = await open_endpoint(local=("127.0.0.1", 0), echo=True)
        up = LinkConfig(loss=0.5)
        async with await start_relay(("127.0.0.1", 0), server.address, up, seed=4) as relay:
            client = await open_endpoint(remote=relay.address)
            await send_paced(client, [b"%d" % i for i in range(1000)])
            await asyncio.sleep(0.3)
            delivered = len(client.received)
            assert 400 < delivered < 600
            stats = relay.stats
            assert stats.up.received == 1000
            assert stats.up.dropped + stats.up.forwarded == 1000
            assert delivered == stats.up.forwarded
            client.close()
        server.close()

    run_async(body)


def test_latency_is_applied_both_ways() -> None:
    async def body() -> None:
        loop = asyncio.get_running_loop()
        server = await open_endpoint(local=("127.0.0.1", 0), echo=True)
        config = LinkConfig(latency=0.1)
        async with await start_relay(("127.0.0.1", 0), server.address, config, config) as relay:
            client = await open_endpoint(remote=relay.address)
            sent = loop.time()
            client.send(b"ping")
            await client.wait_for(1)
            rtt = loop.time() - sent
            assert 0.19 < rtt < 0.6
            client.close()
        server.close()

    run_async(body)


def test_blackhole_stops_then_resumes() -> None:
    async def body() -> None:
        server = await open_endpoint(local=("127.0.0.1", 0), echo=True)
        async with await start_relay(("127.0.0.1", 0), server.address, seed=1) as relay:
            client = await open_endpoint(remote=relay.address)
            client.send(b"before")
            await client.wait_for(1)
            relay.blackhole = True
            assert relay.blackhole
            for i in range(20):
                client.send(b"lost%d" % i)
            await asyncio.sleep(0.2)
            assert len(client.received) == 1
            assert len(server.received) == 1
            relay.blackhole = False
            client.send(b"after")
            await client.wait_for(2)
            assert client.received[-1][0] == b"after"
            assert relay.stats.up.blackholed == 20
            client.close()
        server.close()

    run_async(body)


def test_odd_payloads_are_relayed_untouched() -> None:
    async def body() -> None:
        server = await open_endpoint(local=("127.0.0.1", 0), echo=True)
        async with await start_relay(("127.0.0.1", 0), server.address, seed=1) as relay:
            client = await open_endpoint(remote=relay.address)
            payloads = [b"", b"\xff" * 3, os.urandom(60_000)]
            for data in payloads:
                client.send(data)
            await client.wait_for(3)
            assert sorted(d for d, _ in client.received) == sorted(payloads)
            client.close()
        server.close()

    run_async(body)


def test_idle_mapping_is_dropped_and_reopened() -> None:
    async def body() -> None:
        server = await open_endpoint(local=("127.0.0.1", 0), echo=True)
        relay = await start_relay(("127.0.0.1", 0), server.address, idle_timeout=0.2)
        client = await open_endpoint(remote=relay.address)
        client.send(b"one")
        await client.wait_for(1)
        assert relay.stats.clients == 1
        await asyncio.sleep(0.6)
        assert relay.stats.clients == 0
        client.send(b"two")
        await client.wait_for(2)
        # A fresh mapping means a fresh upstream port, as a NAT would give.
        assert server.received[0][1] != server.received[1][1]
        relay.close()
        assert relay.closed
        relay.close()  # idempotent
        client.close()
        server.close()

    run_async(body)


def test_dead_server_does_not_break_the_relay() -> None:
    async def body() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            dead = probe.getsockname()
        async with await start_relay(("127.0.0.1", 0), dead) as relay:
            client = await open_endpoint(remote=relay.address)
            for _ in range(5):
                client.send(b"anyone?")
                await asyncio.sleep(0.02)
            assert relay.stats.up.forwarded == 5
            assert not relay.closed
            client.close()

    run_async(body)


def test_max_clients_refuses_extra_sources() -> None:
    async def body() -> None:
        server = await open_endpoint(local=("127.0.0.1", 0), echo=True)
        async with await start_relay(("127.0.0.1", 0), server.address, max_clients=1) as relay:
            a = await open_endpoint(remote=relay.address)
            b = await open_endpoint(remote=relay.address)
            a.send(b"a")
            await a.wait_for(1)
            b.send(b"b")
            await asyncio.sleep(0.1)
            assert b.received == []
            assert relay.stats.refused_clients == 1
            a.close()
            b.close()
        server.close()

    run_async(body)


@pytest.mark.skipif(not ipv6_loopback_works(), reason="no IPv6 loopback (::1) on this machine")
def test_ipv6_loopback() -> None:
    async def body() -> None:
        server = await open_endpoint(local=("::1", 0), echo=True)
        async with await start_relay(("::1", 0), ("::1", server.address[1])) as relay:
            assert relay.address[0] == "::1"
            client = await open_endpoint(remote=relay.address[:2])
            client.send(b"v6")
            await client.wait_for(1)
            assert client.received[0][0] == b"v6"
            client.close()
        server.close()

    run_async(body)


def test_start_relay_rejects_misuse() -> None:
    async def body() -> None:
        with pytest.raises(ValueError):
            await start_relay(("127.0.0.1", 0), ("127.0.0.1", 9), idle_timeout=0)
        with pytest.raises(ValueError):
            await start_relay(("127.0.0.1", 0), ("127.0.0.1", 9), max_clients=0)

    run_async(body)


def test_relay_type_is_exported() -> None:
    async def body() -> None:
        async with await start_relay(("127.0.0.1", 0), ("127.0.0.1", 9)) as relay:
            assert isinstance(relay, Relay)
            assert relay.address[1] != 0

    run_async(body)


# -- command line -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["notaport", "127.0.0.1:5000"],
        ["0", "127.0.0.1"],
        ["0", "::1:5000"],
        ["0", "127.0.0.1:5000", "--loss", "150"],
        ["0", "127.0.0.1:5000", "--up-latency", "-3"],
        ["0", "127.0.0.1:5000", "--jitter-dist", "cauchy"],
        ["0", "127.0.0.1:5000", "--idle-timeout", "0"],
        ["0", "127.0.0.1:5000", "--bogus"],
    ],
)
def test_cli_bad_arguments_give_one_line_error(args: list[str]) -> None:
    proc = netem(*args)
    out, err = proc.communicate(timeout=5)
    assert proc.returncode == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "error:" in err
    assert "Traceback" not in err


def test_cli_cannot_bind_is_a_clean_error() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        proc = netem(str(port), "127.0.0.1:9")
        _, err = proc.communicate(timeout=5)
    assert proc.returncode == 1
    assert "cannot start relay" in err
    assert "Traceback" not in err


def test_cli_takes_percent_and_milliseconds_and_builds_an_order_keeping_link() -> None:
    parser = relay_module._build_parser()
    argv = "0 127.0.0.1:5000 --loss 10 --latency 50 --jitter 20"
    argv += " --up-loss 2.5 --down-reorder 5 --reorder-delay 40"
    args = parser.parse_args(argv.split())
    up = relay_module._link_config(args, "up_")
    down = relay_module._link_config(args, "down_")
    assert up == relay_link(loss=0.025, latency=0.05, jitter=0.02, reorder_delay=0.04)
    assert down == relay_link(loss=0.1, latency=0.05, jitter=0.02, reorder=0.05, reorder_delay=0.04)
    assert up.keep_order and down.keep_order
    assert relay_link().reorder_delay == relay_module.DEFAULT_REORDER_DELAY == 0.030
    # The banner speaks the command line's units.
    assert up.summary().startswith("loss=2.5% latency=50ms jitter=±20ms")


class EchoThread:
    """A blocking UDP echo server, so the CLI test needs no event loop of its own."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stopping:
            try:
                data, addr = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            self.sock.sendto(data, addr)

    def close(self) -> None:
        self.stopping = True
        self.thread.join()
        self.sock.close()


@pytest.mark.timeout(15)
def test_cli_signals_blackhole_stats_and_clean_exit() -> None:
    echo = EchoThread()
    proc = netem("0", f"127.0.0.1:{echo.port}", "--seed", "3", "--latency", "5")
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.settimeout(1.0)
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        match = re.search(r"listening on 127\.0\.0\.1:(\d+)", banner)
        assert match, banner
        relay = ("127.0.0.1", int(match[1]))

        client.sendto(b"hello", relay)
        assert client.recv(100) == b"hello"

        proc.send_signal(signal.SIGUSR1)
        while "blackhole on" not in proc.stdout.readline():
            pass
        client.settimeout(0.3)
        client.sendto(b"void", relay)
        with pytest.raises(TimeoutError):
            client.recv(100)

        proc.send_signal(signal.SIGUSR1)
        while "blackhole off" not in proc.stdout.readline():
            pass
        client.settimeout(1.0)
        client.sendto(b"back", relay)
        assert client.recv(100) == b"back"

        proc.send_signal(signal.SIGUSR2)
        line = proc.stdout.readline()
        while "stats" not in line:
            line = proc.stdout.readline()
        assert "up: received=3 forwarded=2" in line
        assert "blackholed=1" in line

        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=5)
        assert proc.returncode == 0
        assert "netem: stats up: received=3" in out
        assert "Traceback" not in err
    finally:
        client.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        echo.close()
