"""The tutorial's design, as the packet-loss benchmark's baseline: TCP + JSON lines.

The video tutorial the project started from builds multiplayer snake like
this, and this module keeps exactly that shape (nothing tuned, nothing added
beyond what the measurements need):

* a TCP listening socket; the main thread accepts, and every connection gets
  its own daemon thread that reads newline-terminated JSON messages and drops
  them into one message queue;
* the first message is the username, ``{"type": "username", "username": ...}``;
  then ``{"type": "move", "direction": "up"}`` (plus a ``seq``, used only by
  the benchmark's input trace) and ``{"type": "quit"}``;
* a game thread polls the queue, steps the *same* :class:`netsnake.game.world.World`
  at the same tick rate and sends the whole state to every client as one JSON
  line per tick (``{"tick", "width", "height", "snakes": [...], "food": [...]}``);
* clients read lines and show the newest state.

Beyond the tutorial, only what the benchmarks need: ``--bots N`` puts N
computer players on the board (steered on the server with the same
:func:`netsnake.game.bots.steer_bots` as netsnake's ``--bots``), and moves may
carry a ``seq`` for the input trace.

Run it as programs (the benchmark starts them inside a lossy network
namespace)::

    python benchmarks/tcp_json.py server --port 5050 [--tick-rate 10] [--input-trace PATH]
    python benchmarks/tcp_json.py client 127.0.0.1 --port 5050 --name Alice [--duration 30]

The client steers with :func:`netsnake.game.bots.choose_turn`, like netsnake's
headless bots.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import queue
import random
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: make `netsnake` importable from a checkout
    sys.path.insert(0, str(REPO))

from netsnake.game.bots import choose_turn, steer_bots  # noqa: E402
from netsnake.game.direction import Direction  # noqa: E402
from netsnake.game.snapshot import PlayerState, Snapshot  # noqa: E402
from netsnake.game.world import World, WorldConfig  # noqa: E402

__all__ = ["TcpJsonClient", "TcpJsonServer", "snapshot_from_state", "state_to_json"]

_DIRECTIONS = {d.name.lower(): d for d in Direction}


# ----------------------------------------------------------------------------- wire format


def state_to_json(snapshot: Snapshot) -> dict[str, Any]:
    """The full state broadcast every tick (the tutorial sends everything, every time)."""
    return {
        "tick": snapshot.tick,
        "width": snapshot.width,
        "height": snapshot.height,
        "wrap": snapshot.wrap,
        "snakes": [
            {
                "id": p.id,
                "name": p.name,
                "colour": p.colour,
                "alive": p.alive,
                "direction": p.direction.name.lower(),
                "body": [list(c) for c in p.body],
                "score": p.score,
                "best": p.best,
                "kills": p.kills,
                "respawn_ticks": p.respawn_ticks,
            }
            for p in snapshot.players
        ],
        "food": [list(c) for c in snapshot.food],
    }


def snapshot_from_state(state: dict[str, Any]) -> Snapshot:
    """The inverse of :func:`state_to_json` (raises KeyError/ValueError on bad input)."""
    players = tuple(
        PlayerState(
            id=int(s["id"]),
            name=str(s["name"]),
            colour=int(s["colour"]),
            alive=bool(s["alive"]),
            direction=_DIRECTIONS[s["direction"]],
            body=tuple((int(x), int(y)) for x, y in s["body"]),
            score=int(s["score"]),
            best=int(s["best"]),
            kills=int(s["kills"]),
            respawn_ticks=int(s["respawn_ticks"]),
        )
        for s in state["snakes"]
    )
    return Snapshot(
        tick=int(state["tick"]),
        width=int(state["width"]),
        height=int(state["height"]),
        wrap=bool(state["wrap"]),
        players=players,
        food=tuple((int(x), int(y)) for x, y in state["food"]),
    )


def _send_json(sock: socket.socket, message: dict[str, Any]) -> int:
    """sendall one JSON line; returns the bytes sent."""
    data = (json.dumps(message, separators=(",", ":")) + "\n").encode()
    sock.sendall(data)
    return len(data)


# ----------------------------------------------------------------------------- server


@dataclass
class _Connection:
    """One client's socket on the server (the tutorial's Connection class)."""

    sock: socket.socket
    address: tuple[str, int]
    username: str | None = None
    player_id: int | None = None


class TcpJsonServer:
    """Threaded TCP server: accept thread, one reader thread per client, one game thread."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        tick_rate: float = 10.0,
        world: WorldConfig | None = None,
        seed: int = 0,
        input_trace: IO[str] | None = None,
        bots: int = 0,
    ) -> None:
        self.tick_rate = tick_rate
        self.world = World(world or WorldConfig(), seed)
        # Bots take the lowest player ids; connections get the ones after them.
        self._bot_ids = list(range(bots))
        for pid in self._bot_ids:
            self.world.add_player(pid, f"bot{pid}", pid % 12)
        self._bot_rng = random.Random(seed ^ 0xB07)
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, port))
        self._messages: queue.Queue[tuple[_Connection, dict[str, Any]]] = queue.Queue()
        self._connections: list[_Connection] = []
        self._lock = threading.Lock()
        self._trace = input_trace
        self._trace_lock = threading.Lock()
        self._stop = threading.Event()

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._listener.getsockname()[:2]
        return str(host), int(port)

    def serve_forever(self) -> None:
        """Listen, start the game thread and accept until :meth:`stop` (or Ctrl+C)."""
        self._listener.listen()
        threading.Thread(target=self._game_loop, daemon=True).start()
        self._listener.settimeout(0.2)  # so stop() is noticed
        try:
            while not self._stop.is_set():
                try:
                    sock, address = self._listener.accept()
                except TimeoutError:
                    continue
                sock.settimeout(None)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                conn = _Connection(sock, (str(address[0]), int(address[1])))
                threading.Thread(target=self._handle, args=(conn,), daemon=True).start()
        finally:
            self._listener.close()

    def stop(self) -> None:
        """Make :meth:`serve_forever` return."""
        self._stop.set()

    def _handle(self, conn: _Connection) -> None:
        """Reader thread: JSON lines from one client into the message queue."""
        username: str | None = None
        with contextlib.suppress(OSError), conn.sock.makefile("rb") as lines:
            for line in lines:
                try:
                    message = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(message, dict):
                    continue
                if message.get("type") == "username" and username is None:
                    username = str(message.get("username", ""))[:16] or "player"
                elif message.get("type") == "move":
                    self._trace_move(username, message.get("seq"))
                self._messages.put((conn, message))
        self._messages.put((conn, {"type": "disconnect"}))

    def _trace_move(self, username: str | None, seq: object) -> None:
        # Receipt time, as netsnake's server traces it (applying waits for the tick).
        if self._trace is None or username is None or not isinstance(seq, int):
            return
        entry = json.dumps({"name": username, "seq": seq, "t": time.monotonic()})
        with self._trace_lock:
            self._trace.write(entry + "\n")

    def _game_loop(self) -> None:
        period = 1.0 / self.tick_rate
        start = time.monotonic()
        n = 0
        while not self._stop.is_set():
            n += 1
            delay = start + n * period - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self._process_messages()
            if self._bot_ids:
                steer_bots(self.world, self._bot_rng, self._bot_ids)
            self.world.step()
            self._broadcast(state_to_json(self.world.snapshot()))

    def _process_messages(self) -> None:
        while True:
            try:
                conn, message = self._messages.get_nowait()
            except queue.Empty:
                return
            kind = message.get("type")
            if kind == "username" and conn.username is None:
                # The same name the reader thread traces moves under.
                self._join(conn, str(message.get("username", ""))[:16] or "player")
            elif kind == "move" and conn.player_id is not None:
                direction = _DIRECTIONS.get(str(message.get("direction")))
                if direction is not None:
                    self.world.queue_turn(conn.player_id, direction)
            elif kind in ("quit", "disconnect"):
                self._leave(conn)

    def _join(self, conn: _Connection, username: str) -> None:
        with self._lock:
            used = {c.player_id for c in self._connections} | set(self._bot_ids)
            pid = next(i for i in range(1024) if i not in used)
            try:
                self.world.add_player(pid, username, pid % 12)
            except ValueError:
                conn.sock.close()  # the game is full
                return
            conn.username, conn.player_id = username, pid
            self._connections.append(conn)

    def _leave(self, conn: _Connection) -> None:
        with self._lock:
            if conn in self._connections:
                self._connections.remove(conn)
                assert conn.player_id is not None
                self.world.remove_player(conn.player_id)
        with contextlib.suppress(OSError):
            conn.sock.close()

    def _broadcast(self, state: dict[str, Any]) -> None:
        # Like the tutorial: sendall from the game thread, so one stalled client
        # (a full send buffer) holds up the tick for everyone.
        data = (json.dumps(state, separators=(",", ":")) + "\n").encode()
        with self._lock:
            targets = list(self._connections)
        for conn in targets:
            try:
                conn.sock.sendall(data)
            except OSError:
                self._messages.put((conn, {"type": "disconnect"}))


# ----------------------------------------------------------------------------- client


@dataclass
class ClientStats:
    """What one TCP client measured (bytes are TCP payload, headers excluded)."""

    bytes_in: int = 0
    bytes_out: int = 0
    lines_in: int = 0
    line_sizes: list[int] = field(default_factory=list)
    record_sizes: bool = False


class TcpJsonClient:
    """One player: connect, send the username, read state lines on a thread, steer.

    ``on_state(snapshot, now)`` runs on the reader thread for every state line
    (after the bot has steered).  ``joined_at`` is set when the first state
    containing our name arrives (the tutorial's server sends no other answer).
    """

    def __init__(
        self,
        host: str,
        port: int,
        name: str,
        *,
        seed: int = 0,
        steer: bool = True,
        on_state: Callable[[Snapshot, float], None] | None = None,
        on_turn: Callable[[str, int, float], None] | None = None,
    ) -> None:
        self.host, self.port, self.name = host, port, name
        self.stats = ClientStats()
        self.latest: Snapshot | None = None
        self.connected_at: float | None = None
        self.joined_at: float | None = None
        self.closed = threading.Event()
        self._rng = random.Random(seed)
        self._steer = steer
        self._on_state = on_state
        self._on_turn = on_turn
        self._sock: socket.socket | None = None
        self._send_lock = threading.Lock()
        self._next_seq = 0

    def connect(self, timeout: float = 30.0) -> None:
        """Connect and send the username (raises OSError if the server cannot be reached)."""
        sock = socket.create_connection((self.host, self.port), timeout=timeout)
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock
        self.connected_at = time.monotonic()
        self._send({"type": "username", "username": self.name})
        threading.Thread(target=self._receive, daemon=True).start()

    def _send(self, message: dict[str, Any]) -> None:
        if self._sock is None:
            return
        with self._send_lock:
            try:
                self.stats.bytes_out += _send_json(self._sock, message)
            except OSError:
                self.close()

    def _receive(self) -> None:
        assert self._sock is not None
        try:
            with self._sock.makefile("rb") as lines:
                for line in lines:
                    now = time.monotonic()
                    self.stats.bytes_in += len(line)
                    self.stats.lines_in += 1
                    if self.stats.record_sizes:
                        self.stats.line_sizes.append(len(line))
                    try:
                        snapshot = snapshot_from_state(json.loads(line))
                    except (ValueError, KeyError, TypeError):
                        continue
                    self._on_snapshot(snapshot, now)
        except OSError:
            pass
        finally:
            self.closed.set()

    def _on_snapshot(self, snapshot: Snapshot, now: float) -> None:
        if self.latest is not None and snapshot.tick <= self.latest.tick:
            return
        self.latest = snapshot
        me = next((p for p in snapshot.players if p.name == self.name), None)
        if me is not None and self.joined_at is None:
            self.joined_at = now
        if self._steer and me is not None:
            turn = choose_turn(snapshot, me.id, self._rng)
            if turn is not None:
                seq = self._next_seq
                self._next_seq += 1
                self._send({"type": "move", "direction": turn.name.lower(), "seq": seq})
                if self._on_turn is not None:
                    self._on_turn(self.name, seq, now)
        if self._on_state is not None:
            self._on_state(snapshot, now)

    def move(self, direction: Direction) -> int:
        """Send one move, as the tutorial's client does on a key press; returns its seq."""
        with self._send_lock:
            seq = self._next_seq
            self._next_seq += 1
        self._send({"type": "move", "direction": direction.name.lower(), "seq": seq})
        return seq

    def quit(self) -> None:
        """Tell the server we leave, then close."""
        self._send({"type": "quit"})
        self.close()

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


# ----------------------------------------------------------------------------- command line


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tcp_json.py", description="The tutorial's TCP + JSON snake (benchmark baseline)."
    )
    sub = parser.add_subparsers(dest="role", required=True)
    server = sub.add_parser("server", help="run the threaded TCP game server")
    server.add_argument("--host", default="127.0.0.1")
    server.add_argument("--port", type=int, default=5050)
    server.add_argument("--tick-rate", type=float, default=10.0)
    server.add_argument("--width", type=int, default=WorldConfig().width)
    server.add_argument("--height", type=int, default=WorldConfig().height)
    server.add_argument("--seed", type=int, default=0)
    server.add_argument("--bots", type=int, default=0, help="computer players (default 0)")
    server.add_argument(
        "--input-trace",
        metavar="PATH",
        help="append one JSON line {name, seq, t} per move received",
    )
    client = sub.add_parser("client", help="run one bot-steered client")
    client.add_argument("host")
    client.add_argument("--port", type=int, default=5050)
    client.add_argument("--name", default="player")
    client.add_argument("--seed", type=int, default=0)
    client.add_argument("--duration", type=float, default=30.0, help="seconds to play")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run a server or a client; returns the exit code."""
    args = _build_parser().parse_args(argv)
    if args.role == "server":
        trace: IO[str] | None = None
        if args.input_trace:
            trace = open(args.input_trace, "a", buffering=1, encoding="utf-8")  # noqa: SIM115
        try:
            server = TcpJsonServer(
                args.host,
                args.port,
                tick_rate=args.tick_rate,
                world=WorldConfig(width=args.width, height=args.height),
                seed=args.seed,
                input_trace=trace,
                bots=max(0, args.bots),
            )
            host, port = server.address
            print(f"tcp-json server listening on {host}:{port}", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                server.serve_forever()
        finally:
            if trace is not None:
                trace.close()
        return 0
    bot = TcpJsonClient(args.host, args.port, args.name, seed=args.seed)
    try:
        bot.connect()
    except OSError as exc:
        print(f"tcp-json client: cannot connect to {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    deadline = time.monotonic() + args.duration
    with contextlib.suppress(KeyboardInterrupt):
        while time.monotonic() < deadline and not bot.closed.is_set():
            time.sleep(1.0)
            snap = bot.latest
            me = (
                None
                if snap is None
                else next((p for p in snap.players if p.name == args.name), None)
            )
            print(
                f"tick {snap.tick if snap else '-'} score {me.score if me else '-'} "
                f"received {bot.stats.bytes_in} B",
                flush=True,
            )
    bot.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
