"""ENet's reliable channel carrying netsnake's join/quit messages (a benchmark baseline).

The packet-loss benchmark compares how fast netsnake's reliable channel
delivers control messages with ENet, the reliable-UDP library many games use.
Both carry the *same bytes*: netsnake's JOIN, ACCEPTED, QUIT and PLAYER_LEFT
messages (``netsnake.game.messages``).  There is no game here, only the control
exchange:

* a client connects (ENet's own handshake), sends JOIN reliably on channel 0;
  the server answers ACCEPTED reliably;
* QUIT from a client makes the server send PLAYER_LEFT reliably to every
  other client, then disconnect the quitter.

Run the server as a program (the benchmark starts it inside the lossy
setup)::

    python benchmarks/enet_baseline.py --port 5050

:func:`join_quit_cycles` is the measuring client.  ``pyenet`` (the ``bench``
extra) must be importable; :func:`enet_available` says whether it is.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: make `netsnake` importable from a checkout
    sys.path.insert(0, str(REPO))

from netsnake import GAME_VERSION  # noqa: E402
from netsnake.game.events import PlayerLeft  # noqa: E402
from netsnake.game.messages import Accepted, Join, Quit, decode_message, encode_message  # noqa: E402
from protocol import DecodeError  # noqa: E402

__all__ = ["CycleResult", "enet_available", "join_quit_cycles", "serve"]


def enet_available() -> tuple[bool, str]:
    """Whether pyenet imports, and if not, why."""
    try:
        importlib.import_module("enet")
    except ImportError as exc:
        return False, f"pyenet is not installed ({exc}); pip install pyenet"
    return True, "ok"


def _enet() -> ModuleType:
    return importlib.import_module("enet")


def _reliable(enet: ModuleType, data: bytes) -> Any:
    return enet.Packet(data, enet.PACKET_FLAG_RELIABLE)


# ----------------------------------------------------------------------------- server


def serve(host: str, port: int, *, stop_after: float | None = None) -> None:
    """Answer JOIN with ACCEPTED and announce QUIT to the others, until killed."""
    enet = _enet()
    server = enet.Host(enet.Address(host.encode(), port), 256, 1, 0, 0)
    names: dict[int, str] = {}  # connectID -> name
    peers: dict[int, Any] = {}
    next_id = 0
    deadline = None if stop_after is None else time.monotonic() + stop_after
    print(f"enet server listening on {host}:{port}", flush=True)
    while deadline is None or time.monotonic() < deadline:
        event = server.service(5)
        if event.type == enet.EVENT_TYPE_CONNECT:
            peers[event.peer.connectID] = event.peer
        elif event.type == enet.EVENT_TYPE_DISCONNECT:
            peers.pop(event.peer.connectID, None)
            names.pop(event.peer.connectID, None)
        elif event.type == enet.EVENT_TYPE_RECEIVE:
            cid = event.peer.connectID
            try:
                msg = decode_message(event.packet.data)
            except DecodeError:
                continue
            if isinstance(msg, Join):
                names[cid] = msg.name
                reply = Accepted(
                    player_id=next_id % 256,
                    name=msg.name,
                    width=26,
                    height=20,
                    wrap=False,
                    tick_rate=10.0,
                    colour=0,
                )
                next_id += 1
                event.peer.send(0, _reliable(enet, encode_message(reply)))
            elif isinstance(msg, Quit):
                name = names.pop(cid, "?")
                left = encode_message(PlayerLeft(player_id=0, name=name, reason="quit"))
                for other_id, other in peers.items():
                    if other_id != cid and other_id in names:
                        other.send(0, _reliable(enet, left))
                event.peer.disconnect_later()


# ----------------------------------------------------------------------------- client


@dataclass
class CycleResult:
    """Timings (seconds) of ENet join/quit cycles; None where a step did not complete."""

    connect: list[float | None] = field(default_factory=list)
    join_msg: list[float | None] = field(default_factory=list)
    join_total: list[float | None] = field(default_factory=list)
    quit_seen: list[float | None] = field(default_factory=list)
    """Per (cycle, observer): QUIT sent -> PLAYER_LEFT received by that observer."""


class _Client:
    """One ENet client host with one peer, serviced without blocking."""

    def __init__(self, enet: ModuleType, host: str, port: int) -> None:
        self.enet = enet
        self.host = enet.Host(None, 1, 1, 0, 0)
        self.peer = self.host.connect(enet.Address(host.encode(), port), 1)
        self.connected_at: float | None = None
        self.messages: list[tuple[float, object]] = []

    def pump(self) -> None:
        enet = self.enet
        while True:
            event = self.host.service(0)
            if event.type == enet.EVENT_TYPE_NONE:
                return
            now = time.monotonic()
            if event.type == enet.EVENT_TYPE_CONNECT:
                self.connected_at = now
            elif event.type == enet.EVENT_TYPE_RECEIVE:
                with contextlib.suppress(DecodeError):
                    self.messages.append((now, decode_message(event.packet.data)))

    def send(self, data: bytes) -> None:
        self.peer.send(0, _reliable(self.enet, data))
        self.host.flush()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.peer.disconnect_now(0)
            self.host.flush()


def _pump_until(clients: list[_Client], done: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for c in clients:
            c.pump()
        if done():
            return True
        time.sleep(0.001)
    return False


def connect_observers(host: str, port: int, count: int, timeout: float = 20.0) -> list[Any]:
    """``count`` clients connected and joined as ``o0``, ``o1``...; raises RuntimeError."""
    enet = _enet()
    observers = [_Client(enet, host, port) for _ in range(count)]
    if not _pump_until(observers, lambda: all(o.connected_at for o in observers), timeout):
        raise RuntimeError("ENet observers could not connect")
    for i, o in enumerate(observers):
        o.send(encode_message(Join(name=f"o{i}", version=GAME_VERSION)))
    accepted = lambda: all(any(isinstance(m, Accepted) for _, m in o.messages) for o in observers)  # noqa: E731
    if not _pump_until(observers, accepted, timeout):
        raise RuntimeError("ENet observers were not accepted")
    return observers


def join_quit_cycles(
    host: str,
    port: int,
    observers: list[Any],
    cycles: int,
    *,
    timeout: float = 10.0,
    seen_timeout: float = 10.0,
    linger: float = 0.5,
    stop_at: float | None = None,
) -> CycleResult:
    """Run ``cycles`` join/quit cycles with fresh clients while ``observers`` watch.

    No new cycle starts after ``stop_at`` (``time.monotonic``); the cycles
    attempted are ``len(result.join_total)``.
    """
    enet = _enet()
    result = CycleResult()
    for k in range(cycles):
        if stop_at is not None and time.monotonic() > stop_at:
            break
        name = f"j{k}"
        t0 = time.monotonic()
        joiner = _Client(enet, host, port)
        everyone = [joiner, *observers]
        if not _pump_until(everyone, lambda j=joiner: j.connected_at is not None, timeout):
            result.connect.append(None)
            result.join_msg.append(None)
            result.join_total.append(None)
            joiner.close()
            continue
        assert joiner.connected_at is not None
        result.connect.append(joiner.connected_at - t0)
        t_join = time.monotonic()
        joiner.send(encode_message(Join(name=name, version=GAME_VERSION)))

        def accepted(j: _Client = joiner) -> bool:
            return any(isinstance(m, Accepted) for _, m in j.messages)

        if not _pump_until(everyone, accepted, timeout):
            result.join_msg.append(None)
            result.join_total.append(None)
            joiner.close()
            continue
        t_acc = next(t for t, m in joiner.messages if isinstance(m, Accepted))
        result.join_msg.append(t_acc - t_join)
        result.join_total.append(t_acc - t0)
        _pump_until(everyone, lambda: False, linger)
        t_quit = time.monotonic()
        joiner.send(encode_message(Quit()))

        def seen(o: _Client, n: str = name) -> float | None:
            return next(
                (t for t, m in o.messages if isinstance(m, PlayerLeft) and m.name == n), None
            )

        _pump_until(everyone, lambda: all(seen(o) is not None for o in observers), seen_timeout)
        for o in observers:
            t = seen(o)
            result.quit_seen.append(None if t is None else t - t_quit)
        _pump_until(everyone, lambda: False, 0.2)  # let the disconnect go out
        joiner.close()
    return result


def main(argv: list[str] | None = None) -> int:
    """``python benchmarks/enet_baseline.py --port P``: run the server."""
    parser = argparse.ArgumentParser(
        prog="enet_baseline.py", description="ENet join/quit server (benchmark baseline)"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5050)
    args = parser.parse_args(argv)
    ok, why = enet_available()
    if not ok:
        print(f"enet_baseline: {why}", file=sys.stderr)
        return 1
    with contextlib.suppress(KeyboardInterrupt):
        serve(args.host, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
