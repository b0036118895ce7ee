"""Kernel-level packet loss in a network namespace (benchmarks/_netns.py).

These need Linux, root, ``ip`` and ``nft``; elsewhere they skip and say why.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# benchmarks/ is not an installed package; make it importable however pytest is started.
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks._netns import LossyNamespace, cleanup_stale, netns_available  # noqa: E402

AVAILABLE, REASON = netns_available()
needs_netns = pytest.mark.skipif(not AVAILABLE, reason=f"no lossy namespace: {REASON}")

# Sender and receiver sockets in one process: it drains the receiver after every small
# burst, so the socket buffer never overflows and every missing datagram is the rule's.
UDP_PAIR = textwrap.dedent(
    """
    import socket, sys
    count = int(sys.argv[1])
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    got = set()

    def drain(timeout):
        rx.settimeout(timeout)
        while True:
            try:
                got.add(int(rx.recv(64)))
            except (BlockingIOError, TimeoutError):
                return

    for i in range(count):
        tx.sendto(b"%d" % i, rx.getsockname())
        if i % 20 == 19:
            drain(0)  # loopback delivers within sendto(): whatever is coming is here
    drain(0.2)
    print(len(got))
    """
)

# A TCP bulk transfer of N bytes, checked end to end by a digest.  It connects, says
# so, and waits for a line on stdin, so the test can turn the loss on after the
# handshake (a lost SYN costs whole seconds of backoff, which is not what we measure).
TCP_TRANSFER = textwrap.dedent(
    """
    import hashlib, os, socket, sys, threading, time
    size = int(sys.argv[1])
    payload = os.urandom(size)
    listener = socket.create_server(("127.0.0.1", 0))
    accepted = []
    acceptor = threading.Thread(target=lambda: accepted.append(listener.accept()[0]))
    acceptor.start()
    client = socket.create_connection(listener.getsockname(), timeout=15)
    acceptor.join()
    print("connected", flush=True)
    sys.stdin.readline()
    start = time.monotonic()
    threading.Thread(target=accepted[0].sendall, args=(payload,), daemon=True).start()
    chunks, got = [], 0
    while got < size:
        chunk = client.recv(65536)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    data = b"".join(chunks)
    same = hashlib.sha256(data).digest() == hashlib.sha256(payload).digest()
    print(len(data), same, round(time.monotonic() - start, 3), flush=True)
    """
)


def tcp_transfer(ns: LossyNamespace, size: int, loss: float) -> tuple[int, bool, float]:
    """Connect without loss, switch to ``loss``, transfer; return (bytes, intact, seconds)."""
    ns.set_loss(0.0)
    child = ns.popen(
        [sys.executable, "-c", TCP_TRANSFER, str(size)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    assert child.stdout.readline().strip() == "connected"
    ns.set_loss(loss)
    child.stdin.write("go\n")
    child.stdin.flush()
    received, intact, seconds = child.stdout.readline().split()
    assert child.wait(timeout=5) == 0
    return int(received), intact == "True", float(seconds)


def udp_delivered(ns: LossyNamespace, count: int) -> int:
    done = ns.run([sys.executable, "-c", UDP_PAIR, str(count)], timeout=15, check=True)
    return int(done.stdout)


@pytest.mark.parametrize("loss", [-0.1, 1.5, 30.0])
def test_loss_is_a_fraction(loss: float) -> None:
    with pytest.raises(ValueError):
        LossyNamespace("netsnake-test", loss=loss)


def test_bad_prefix_is_refused() -> None:
    with pytest.raises(ValueError):
        LossyNamespace("bad name with spaces")


@needs_netns
@pytest.mark.timeout(20)
def test_no_loss_delivers_every_datagram() -> None:
    with LossyNamespace("netsnake-test", loss=0.0) as ns:
        assert udp_delivered(ns, 2000) == 2000
        assert ns.dropped() == 0


@needs_netns
@pytest.mark.timeout(20)
def test_thirty_percent_loss_drops_about_thirty_percent() -> None:
    with LossyNamespace("netsnake-test", loss=0.3, seed_hint=30) as ns:
        delivered = udp_delivered(ns, 2000)
        assert 0.55 * 2000 <= delivered <= 0.85 * 2000
        # Each datagram crosses the input hook once: every loss is one counted drop.
        assert ns.dropped() == 2000 - delivered


@needs_netns
@pytest.mark.timeout(20)
def test_set_loss_changes_the_rule_in_place() -> None:
    with LossyNamespace("netsnake-test", loss=1.0) as ns:
        assert udp_delivered(ns, 200) == 0
        ns.set_loss(0.0)
        assert ns.loss == 0.0
        assert ns.exists
        assert udp_delivered(ns, 200) == 200
        ns.set_loss(0.1234)
        assert ns.loss == 0.123  # per-mille resolution


@needs_netns
@pytest.mark.timeout(20)
def test_tcp_completes_despite_loss() -> None:
    # A 20 ms retransmission floor keeps TCP's exponential backoff tail inside the time
    # limit; with the kernel's 200 ms, 15 s stalls were seen (1 in 40 runs).
    with LossyNamespace("netsnake-test", rto_min_ms=20) as ns:
        assert tcp_transfer(ns, 50_000, 0.0)[:2] == (50_000, True)
        assert ns.dropped() == 0
        received, intact, seconds = tcp_transfer(ns, 50_000, 0.2)
        assert (received, intact) == (50_000, True)
        # With MTU 1500 and one MSS per packet, ~35 data segments plus ACKs cross the
        # rule (~15 drops is typical): TCP had to retransmit its way through.
        assert ns.dropped() >= 1, f"no drops in {seconds}s"


@needs_netns
@pytest.mark.timeout(20)
def test_namespace_is_deleted_on_exit_even_after_an_error() -> None:
    ns = LossyNamespace("netsnake-test", loss=0.1)
    with pytest.raises(ZeroDivisionError), ns:
        assert ns.exists
        sleeper = ns.popen(["sleep", "30"])
        1 / 0  # noqa: B018
    assert not ns.exists
    # A process still inside would keep the namespace alive; close() stopped it.
    assert sleeper.poll() is not None


@needs_netns
@pytest.mark.timeout(20)
def test_stale_namespaces_of_dead_processes_are_cleaned_up() -> None:
    # A namespace named as if made by a process that no longer exists.
    probe = subprocess.Popen(["true"])
    probe.wait()
    stale = f"netsnake-stale-{probe.pid}-0-0"
    subprocess.run(["ip", "netns", "add", stale], check=True)
    try:
        with LossyNamespace("netsnake-stale") as ns:
            # Opening cleaned up the leftover but not itself.
            listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
            assert stale not in listing.stdout
            assert ns.exists
        assert cleanup_stale("netsnake-stale") == []
    finally:
        subprocess.run(["ip", "netns", "delete", stale], capture_output=True)
