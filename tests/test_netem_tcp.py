"""The relay's TCP mode over real loopback sockets: delay each way, order kept, EOF carried."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import socket
import threading
import time

import pytest
from helpers_netem import netem, run_async

from netsnake.netem import TcpRelay, start_tcp_relay
from protocol.simulator import Jitter, LinkConfig


async def echo_server() -> asyncio.Server:
    """Echoes every byte; at EOF answers ``done N`` (bytes seen) and closes."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        total = 0
        while data := await reader.read(65536):
            total += len(data)
            writer.write(data)
            await writer.drain()
        writer.write(b"done %d" % total)
        await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


def port_of(server: asyncio.Server) -> int:
    return int(server.sockets[0].getsockname()[1])


async def connect(relay: TcpRelay) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(relay.address[0], relay.address[1])


def test_latency_is_added_each_way() -> None:
    async def body() -> None:
        loop = asyncio.get_running_loop()
        server = await echo_server()
        config = LinkConfig(latency=0.060)
        relay = await start_tcp_relay(
            ("127.0.0.1", 0), ("127.0.0.1", port_of(server)), config, config
        )
        async with relay:
            reader, writer = await connect(relay)
            rtts = []
            for i in range(3):
                sent = loop.time()
                writer.write(b"ping%d" % i)
                assert await reader.readexactly(5) == b"ping%d" % i
                rtts.append(loop.time() - sent)
            assert all(0.119 < rtt < 0.5 for rtt in rtts), rtts
            writer.close()
            stats = relay.stats
            assert stats.bytes_up == stats.bytes_down == 15
            assert stats.accepted == 1
        server.close()

    run_async(body, timeout=10.0)


def test_jitter_keeps_the_stream_intact_and_in_order() -> None:
    async def body() -> None:
        server = await echo_server()
        config = LinkConfig(latency=0.020, jitter=0.015, jitter_dist=Jitter.NORMAL)
        relay = await start_tcp_relay(
            ("127.0.0.1", 0), ("127.0.0.1", port_of(server)), config, config, seed=5
        )
        async with relay:
            reader, writer = await connect(relay)
            # Many small writes, each a separately delayed segment.
            chunks = [b"<%d>" % i for i in range(2000)]
            for i, chunk in enumerate(chunks):
                writer.write(chunk)
                if i % 100 == 99:
                    await writer.drain()
                    await asyncio.sleep(0.001)
            writer.write_eof()
            expected = b"".join(chunks)
            got = await reader.read()  # until the relay carries the server's EOF back
            assert got == expected + b"done %d" % len(expected)
            assert relay.stats.up.received > 10  # it really was cut into many segments
        server.close()

    run_async(body, timeout=10.0)


def test_half_close_is_carried_both_ways_then_the_connection_ends() -> None:
    async def body() -> None:
        server = await echo_server()
        config = LinkConfig(latency=0.010)
        relay = await start_tcp_relay(
            ("127.0.0.1", 0), ("127.0.0.1", port_of(server)), config, config
        )
        async with relay:
            reader, writer = await connect(relay)
            writer.write(b"abc")
            writer.write_eof()
            assert await reader.read() == b"abcdone 3"
            writer.close()
            for _ in range(100):
                if relay.stats.connections == 0:
                    break
                await asyncio.sleep(0.01)
            assert relay.stats.connections == 0
        server.close()

    run_async(body, timeout=10.0)


def test_a_megabyte_each_way_arrives_whole() -> None:
    async def body() -> None:
        server = await echo_server()
        relay = await start_tcp_relay(("127.0.0.1", 0), ("127.0.0.1", port_of(server)))
        async with relay:
            reader, writer = await connect(relay)
            payload = bytes(range(256)) * 4096  # 1 MiB: larger segments than the link's MTU

            async def send() -> None:
                writer.write(payload)
                await writer.drain()
                writer.write_eof()

            sender = asyncio.create_task(send())
            got = await reader.read()
            await sender
            assert got == payload + b"done %d" % len(payload)
            assert relay.stats.bytes_up == len(payload)
        server.close()

    run_async(body, timeout=10.0)


def test_unreachable_server_closes_the_client_connection() -> None:
    async def body() -> None:
        with socket.socket() as probe:  # a port nobody listens on
            probe.bind(("127.0.0.1", 0))
            dead_port = probe.getsockname()[1]
        relay = await start_tcp_relay(("127.0.0.1", 0), ("127.0.0.1", dead_port))
        async with relay:
            reader, writer = await connect(relay)
            writer.write(b"anyone?")
            # Closed by the relay: an EOF, or a reset if our bytes were still unread.
            with contextlib.suppress(ConnectionResetError):
                assert await asyncio.wait_for(reader.read(), 2.0) == b""
            writer.close()
            assert relay.stats.connect_failures == 1
            # The relay keeps serving after a failure.
            _, second = await connect(relay)
            second.close()

    run_async(body, timeout=10.0)


@pytest.mark.parametrize(
    "config",
    [
        LinkConfig(loss=0.01),
        LinkConfig(duplicate=0.02),
        LinkConfig(reorder=0.03),
        LinkConfig(corrupt=0.01),
    ],
)
def test_only_delay_is_accepted(config: LinkConfig) -> None:
    async def body() -> None:
        with pytest.raises(ValueError, match="TCP mode only delays"):
            await start_tcp_relay(("127.0.0.1", 0), ("127.0.0.1", 9), config)

    run_async(body, timeout=10.0)


# -- command line -----------------------------------------------------------------------------


def test_cli_tcp_refuses_loss_with_one_line() -> None:
    proc = netem("0", "127.0.0.1:9", "--tcp", "--loss", "5")
    out, err = proc.communicate(timeout=5)
    assert proc.returncode == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "TCP mode only delays" in err
    assert "Traceback" not in err


class TcpEchoThread:
    """A blocking TCP echo server for one connection, so the CLI test needs no event loop."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    def close(self) -> None:
        self.sock.close()


@pytest.mark.timeout(15)
def test_cli_tcp_mode_delays_and_exits_cleanly() -> None:
    echo = TcpEchoThread()
    proc = netem("0", f"127.0.0.1:{echo.port}", "--tcp", "--latency", "40", "--seed", "2")
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        match = re.search(r"listening on 127\.0\.0\.1:(\d+) \(TCP\)", banner)
        assert match, banner
        with socket.create_connection(("127.0.0.1", int(match[1])), timeout=2.0) as client:
            t0 = time.monotonic()
            client.sendall(b"hello")
            assert client.recv(100) == b"hello"
            assert time.monotonic() - t0 > 0.079
        proc.send_signal(signal.SIGUSR1)  # no blackhole for a stream: says so, keeps running
        while "UDP only" not in proc.stdout.readline():
            pass
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=5)
        assert proc.returncode == 0
        assert "bytes=5" in out
        assert "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        echo.close()
