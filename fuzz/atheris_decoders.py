"""Coverage-guided fuzzing of every network decoder with atheris (libFuzzer).

atheris is optional and not installed with netsnake::

    pip install atheris
    python fuzz/atheris_decoders.py -runs=2000000            # all decoders
    python fuzz/atheris_decoders.py -max_total_time=600 fuzz/corpus   # keep a corpus
    NETSNAKE_FUZZ_TARGET=snapshot python fuzz/atheris_decoders.py     # one target

Targets (``NETSNAKE_FUZZ_TARGET``, default ``all``; with ``all`` the first
input byte picks the target): ``wire`` (DATA header and frame decoders),
``server`` and ``client`` (``receive_datagram`` of a ServerEndpoint, and of a
connected ClientEndpoint), ``msgpack`` (``unpack_untrusted``), ``message``
(``decode_message``) and ``snapshot`` (``peek_header`` and ``decode_snapshot``
with and without a baseline).  A decoder may return or raise its documented
error (WireError / DecodeError); anything else is a crash that libFuzzer
reports with the input that caused it.  The quick, deterministic version of
the same checks runs in CI: ``tests/test_fuzz_decoders.py``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import atheris  # type: ignore[import-untyped]

with atheris.instrument_imports():
    from netsnake.game.messages import decode_message
    from netsnake.game.snapshot import Snapshot
    from netsnake.game.snapshot_codec import decode_snapshot, peek_header
    from netsnake.game.world import World, WorldConfig
    from protocol import ClientEndpoint, ClientState, DecodeError, ServerEndpoint, unpack_untrusted
    from protocol._wire import WireError, decode_data_header, decode_frames

SERVER = ("10.0.0.1", 5050)
CLIENT = ("10.0.0.2", 40000)


def _baseline() -> Snapshot:
    world = World(WorldConfig(), 1)
    for pid in range(3):
        world.add_player(pid, f"p{pid}", pid)
    for _ in range(5):
        world.step()
    return world.snapshot()


BASELINE = _baseline()


def _connected_pair() -> tuple[ServerEndpoint, ClientEndpoint]:
    server = ServerEndpoint(secret=bytes(32))
    client = ClientEndpoint(SERVER, nonce=bytes(8))
    client.connect(0.0)
    for t in range(6):
        for data, _ in client.datagrams_to_send(t * 0.3):
            server.receive_datagram(data, CLIENT, t * 0.3)
        for data, _ in server.datagrams_to_send(t * 0.3):
            client.receive_datagram(data, SERVER, t * 0.3)
    assert client.state is ClientState.CONNECTED
    return server, client


def wire(data: bytes) -> None:
    for decode in (decode_data_header, decode_frames):
        with contextlib.suppress(WireError):
            decode(data)


def server(data: bytes) -> None:
    endpoint, _ = _connected_pair()
    endpoint.receive_datagram(data, CLIENT, 2.0)
    endpoint.receive_datagram(data, ("10.9.9.9", 1), 2.0)
    endpoint.handle_timer(2.0)
    endpoint.datagrams_to_send(2.0)
    assert endpoint.unverified_bytes_out <= endpoint.unverified_bytes_in


def client(data: bytes) -> None:
    _, endpoint = _connected_pair()
    endpoint.receive_datagram(data, SERVER, 2.0)
    endpoint.handle_timer(2.0)
    endpoint.datagrams_to_send(2.0)


def msgpack(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        unpack_untrusted(data)


def message(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decode_message(data)


def snapshot(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        peek_header(data)
    for baseline in (None, BASELINE):
        with contextlib.suppress(DecodeError):
            decode_snapshot(data, baseline)


TARGETS: dict[str, Callable[[bytes], None]] = {
    "wire": wire,
    "server": server,
    "client": client,
    "msgpack": msgpack,
    "message": message,
    "snapshot": snapshot,
}


def main() -> None:
    name = os.environ.get("NETSNAKE_FUZZ_TARGET", "all")
    targets = list(TARGETS.values()) if name == "all" else [TARGETS[name]]

    def one_input(data: bytes) -> None:
        if len(targets) == 1:
            targets[0](data)
        elif data:
            targets[data[0] % len(targets)](data[1:])

    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
