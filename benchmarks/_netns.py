"""Real, kernel-level packet loss for benchmarks: a Linux network namespace with nftables.

A userspace relay (:mod:`netsnake.netem`) can only impair UDP; it cannot drop
one TCP segment.  To compare protocols fairly the packet-loss benchmark runs
server and clients inside a throwaway network namespace whose loopback drops a
random share of packets in the kernel, for TCP and UDP alike.

Theory of operation
-------------------
:class:`LossyNamespace` creates a namespace (``ip netns add``), brings up its
``lo`` and loads one nftables table into it::

    table inet lossy {
        chain in { type filter hook input priority 0; policy accept; }
    }
    add rule inet lossy in meta l4proto { tcp, udp } numgen random mod 1000 < N counter drop

* **Loss per packet is exactly N/1000.**  On loopback a packet passes the
  ``input`` hook once, on its way to the receiving socket, so each TCP segment
  (data, ACK, SYN alike) and each UDP datagram, in either direction, is dropped
  independently with probability ``N/1000``.  A request/response round trip
  therefore survives with probability ``(1 - N/1000) ** 2``.  The resolution is
  0.1 %.
* **Why input, not output.**  A packet dropped by the ``output`` hook makes the
  sender's ``sendto()`` fail with ``EPERM`` (measured: about one call in two at
  50 % loss), so the sender *knows* its packet was lost, which no real network
  tells it, and asyncio reports it through ``error_received``.  Dropping on
  ``input`` is silent to the sender, as real loss is.
* **Not seedable.**  ``numgen random`` draws from the kernel's PRNG; runs are
  statistically, not bit-for-bit, reproducible.  ``seed_hint`` only labels the
  namespace name so concurrent runs stay apart and a leftover is traceable.
* **Only TCP and UDP** are dropped, so ICMP and the namespace's own plumbing
  keep working.
* **MTU 1500 by default.**  Loopback's own MTU is 64 KiB and it takes TCP
  segmentation offload, so one "packet" the rule sees can carry what a real
  link splits into ~44; one drop would then hurt TCP far more than on a real
  network.  So ``lo`` gets MTU 1500 and ``gso_max_segs 1`` (one MSS per skb;
  without it the MTU alone changes nothing for TCP), and large UDP datagrams
  are fragmented, each fragment dropped on its own, as on Ethernet.  Measured:
  a 100 kB TCP transfer at 20 % loss sees ~30 drops with this, a handful
  without.  Pass ``mtu=None`` to keep loopback's settings.
* **Connect first, then lose.**  A lost SYN or SYN-ACK costs TCP 1 s, then 3 s,
  then 7 s in total; at 20 % loss (36 % per handshake attempt) that tail makes
  timings noisy.  Benchmarks that measure the steady state should open their
  connections at ``loss=0`` and then call :meth:`LossyNamespace.set_loss`,
  which swaps the rule atomically without touching any socket.
* **Retransmission timeouts.**  Linux TCP never waits less than 200 ms before
  retransmitting, and doubles the wait on every further loss of the same
  segment; with 20 % loss each way a retransmission fails 36 % of the time, so
  stalls of several seconds, occasionally over 15 s, do happen (measured).
  That is honest behaviour for a link whose round trip is tens of
  milliseconds.  ``rto_min_ms`` lowers the floor for 127.0.0.1 (an ``rto_min``
  on its local route) when a test needs TCP timings bounded more tightly.
* ``numgen random mod 1000 < N counter drop`` counts what it drops:
  :meth:`LossyNamespace.dropped` reads that counter, so a benchmark can report
  the loss it actually got.

Cleanup always deletes the namespace, on exceptions too, after stopping the
processes started through :meth:`LossyNamespace.popen` (a namespace lives on
while any process is inside it).  Names carry the creating process id, so
:func:`cleanup_stale` deletes leftovers of crashed runs without touching those
of runs still alive.

Needs Linux, root, ``ip`` (Debian package ``iproute2``) and ``nft`` (Debian
package ``nftables``).
"""

from __future__ import annotations

import functools
import itertools
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from types import TracebackType
from typing import Any

__all__ = ["LossyNamespace", "cleanup_stale", "netns_available"]

_TABLE = "lossy"
_CHAIN = "in"
_PROBE_PREFIX = "netsnake-probe"
_TIMEOUT = 10.0  # for `ip` and `nft` themselves; they answer in milliseconds
_counter = itertools.count()
_PREFIX_OK = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


def _tool(argv: Sequence[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``ip``/``nft``; raise ``RuntimeError`` with its stderr if it fails."""
    try:
        done = subprocess.run(
            list(argv), input=stdin, capture_output=True, text=True, timeout=_TIMEOUT
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RuntimeError(f"{' '.join(argv)}: {exc}") from exc
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip() or done.returncode}")
    return done


@functools.cache
def netns_available() -> tuple[bool, str]:
    """Whether :class:`LossyNamespace` can work here, and if not, why not.

    Actually creates (and deletes) a probe namespace with the nftables table,
    so "available" means it really works, not just that the tools exist.
    The answer is cached for the life of the process.
    """
    if not sys.platform.startswith("linux"):
        return False, f"network namespaces need Linux, this is {sys.platform}"
    if os.geteuid() != 0:
        return False, "network namespaces need root"
    for tool, package in (("ip", "iproute2"), ("nft", "nftables")):
        if shutil.which(tool) is None:
            return False, f"`{tool}` not found (Debian: apt-get install -y {package})"
    try:
        with LossyNamespace(_PROBE_PREFIX, loss=0.5):
            pass
    except RuntimeError as exc:
        return False, f"probe namespace failed: {exc}"
    return True, "ok"


def _namespaces() -> list[str]:
    listing = _tool(["ip", "netns", "list"]).stdout
    # Lines look like "name (id: 3)" or just "name".
    return [line.split()[0] for line in listing.splitlines() if line.strip()]


def _delete(name: str) -> None:
    try:
        _tool(["ip", "netns", "delete", name])
    except RuntimeError:
        # Already gone is fine; anything else shows up when the name is reused.
        if name in _namespaces():
            raise


def cleanup_stale(name_prefix: str) -> list[str]:
    """Delete namespaces named ``{name_prefix}-{pid}-...`` whose process is gone.

    Returns the deleted names.  Namespaces of live processes are left alone so
    concurrent benchmark runs do not pull the floor from under each other.
    """
    pattern = re.compile(rf"^{re.escape(name_prefix)}-(\d+)-")
    deleted = []
    for name in _namespaces():
        match = pattern.match(name)
        if match is None:
            continue
        pid = int(match[1])
        # Ours belong to a LossyNamespace still open in this process.
        if pid == os.getpid() or os.path.exists(f"/proc/{pid}"):
            continue
        _delete(name)
        deleted.append(name)
    return deleted


class LossyNamespace:
    """A throwaway network namespace whose loopback drops ``loss`` of TCP/UDP packets.

    ``loss`` is a fraction, 0.0–1.0, per packet (see the module docstring).
    Use as a context manager::

        with LossyNamespace("bench", loss=0.05) as ns:
            server = ns.popen([sys.executable, "-m", "netsnake.server", ...])
            ns.run([sys.executable, "client.py"], timeout=30)

    Raises ``RuntimeError`` if the namespace cannot be set up (check
    :func:`netns_available` first) and ``ValueError`` for a bad ``loss``.
    """

    def __init__(
        self,
        name_prefix: str = "netsnake",
        loss: float = 0.0,
        seed_hint: int = 0,
        *,
        mtu: int | None = 1500,
        rto_min_ms: int | None = None,
    ) -> None:
        if not _PREFIX_OK.match(name_prefix):
            raise ValueError(f"name_prefix must be 1-32 of [A-Za-z0-9_.-], not {name_prefix!r}")
        self._check_loss(loss)
        if mtu is not None and not 68 <= mtu <= 65536:
            raise ValueError(f"mtu must be 68-65536 (or None), not {mtu!r}")
        if rto_min_ms is not None and not 1 <= rto_min_ms <= 60_000:
            raise ValueError(f"rto_min_ms must be 1-60000 (or None), not {rto_min_ms!r}")
        self.mtu = mtu
        self.rto_min_ms = rto_min_ms
        self.name_prefix = name_prefix
        self.name = f"{name_prefix}-{os.getpid()}-{seed_hint}-{next(_counter)}"
        self._loss = loss
        self._children: list[subprocess.Popen[Any]] = []
        self._open = False

    # -- lifecycle --------------------------------------------------------------------------

    def __enter__(self) -> LossyNamespace:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def open(self) -> None:
        """Create the namespace, bring up ``lo`` and install the loss rule."""
        if self._open:
            raise RuntimeError(f"namespace {self.name} is already open")
        cleanup_stale(self.name_prefix)
        _tool(["ip", "netns", "add", self.name])
        self._open = True
        try:
            link = ["ip", "-n", self.name, "link", "set", "lo"]
            if self.mtu is not None:
                link += ["mtu", str(self.mtu), "gso_max_segs", "1"]
            _tool([*link, "up"])
            if self.rto_min_ms is not None:
                # TCP reads its minimum retransmission timeout from the route it uses.
                route = "local 127.0.0.1 dev lo table local proto kernel scope host src 127.0.0.1"
                rto = ["rto_min", f"{self.rto_min_ms}ms"]
                _tool(["ip", "-n", self.name, "route", "change", *route.split(), *rto])
            ruleset = (
                f"table inet {_TABLE} {{\n"
                f"  chain {_CHAIN} {{ type filter hook input priority 0; policy accept; }}\n"
                "}\n"
            )
            self._nft(ruleset)
            self.set_loss(self._loss)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Stop the processes started here and delete the namespace.  Idempotent."""
        for child in self._children:
            if child.poll() is None:
                child.terminate()
                try:
                    child.wait(timeout=3)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
        self._children.clear()
        if self._open:
            self._open = False
            _delete(self.name)

    @property
    def exists(self) -> bool:
        """Whether the namespace is present in the system right now."""
        return self.name in _namespaces()

    # -- loss -------------------------------------------------------------------------------

    @property
    def loss(self) -> float:
        """The per-packet drop probability currently installed (a multiple of 0.001)."""
        return self._loss

    def set_loss(self, loss: float) -> None:
        """Change the drop probability in place; the namespace and its sockets stay."""
        self._check_loss(loss)
        per_mille = round(loss * 1000)
        # One nft batch is applied atomically: no window with the old and new rule both
        # or neither in place.
        batch = f"flush chain inet {_TABLE} {_CHAIN}\n"
        if per_mille:
            # nft refuses `< 1000` for a value that is at most 999: total loss needs no draw.
            draw = f"numgen random mod 1000 < {per_mille} " if per_mille < 1000 else ""
            batch += (
                f"add rule inet {_TABLE} {_CHAIN} meta l4proto {{ tcp, udp }} {draw}counter drop\n"
            )
        self._nft(batch)
        self._loss = per_mille / 1000

    def dropped(self) -> int:
        """Packets the loss rule has dropped since the last :meth:`set_loss` (or open)."""
        listing = self._nft_output(["list", "chain", "inet", _TABLE, _CHAIN])
        match = re.search(r"counter packets (\d+)", listing)
        return int(match[1]) if match else 0

    @staticmethod
    def _check_loss(loss: float) -> None:
        if not 0.0 <= loss <= 1.0:
            raise ValueError(f"loss is a fraction 0.0-1.0, not {loss!r}")

    def _nft(self, script: str) -> None:
        _tool(["ip", "netns", "exec", self.name, "nft", "-f", "-"], stdin=script)

    def _nft_output(self, args: Sequence[str]) -> str:
        return _tool(["ip", "netns", "exec", self.name, "nft", *args]).stdout

    # -- running things inside --------------------------------------------------------------

    def command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` prefixed so that it runs inside the namespace."""
        return ["ip", "netns", "exec", self.name, *argv]

    def popen(self, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
        """Start ``argv`` inside the namespace; it is stopped on :meth:`close` if still running."""
        self._require_open()
        child: subprocess.Popen[Any] = subprocess.Popen(self.command(argv), **kwargs)
        self._children.append(child)
        return child

    def run(
        self, argv: Sequence[str], *, timeout: float | None = 60.0, **kwargs: Any
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside the namespace to completion, capturing text output.

        Extra keyword arguments go to :func:`subprocess.run` (e.g. ``check=True``).
        """
        self._require_open()
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        done: subprocess.CompletedProcess[str] = subprocess.run(
            self.command(argv), timeout=timeout, **kwargs
        )
        return done

    def _require_open(self) -> None:
        if not self._open:
            raise RuntimeError(f"namespace {self.name} is not open")
