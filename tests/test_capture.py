"""A capture of a whole game, as a sniffer on the path sees it: after the handshake
no player name and no snapshot travels in the clear (issue 14).

The game runs on the simulated network (:class:`netsnake.sim.GameSimulation`)
and every datagram it carries is recorded.  What the game layer handed to the
protocol (the names in the reliable JOIN messages, the encoded snapshots in
the unreliable payloads) is recorded too, so the test also shows that the
secrets were really sent, only not readably.
"""

from __future__ import annotations

from collections.abc import Hashable

import pytest

from netsnake.client.state import ConnectionState
from netsnake.server.game import ServerSettings
from netsnake.sim import GameSimulation
from protocol import PROTOCOL_VERSION
from protocol.simulator import LinkConfig

pytestmark = pytest.mark.timeout(60)

NAMES = ["Zanzibar", "Quixotic", "Marmalade"]
_SEALED_KINDS = (6, 7)  # DATA, DISCONNECT


def test_a_captured_game_shows_no_name_and_no_snapshot_in_the_clear() -> None:
    sim = GameSimulation(
        ServerSettings(tick_rate=10, seed=3), seed=3, link=LinkConfig(latency=0.02, loss=0.02)
    )
    capture: list[tuple[Hashable, Hashable, bytes]] = []
    sim.on_deliver = lambda src, dst, data: capture.append((src, dst, data))
    # What the layers above handed down, recorded on the way in (spies, not stand-ins).
    payloads: list[bytes] = []
    send_unreliable = sim.endpoint.send_unreliable

    def spy_unreliable(peer: Hashable, data: bytes) -> int:
        payloads.append(data)
        return send_unreliable(peer, data)

    sim.endpoint.send_unreliable = spy_unreliable  # type: ignore[method-assign]
    clients = [sim.add_client(name) for name in NAMES]
    sim.run(6.0)
    for c in clients:
        assert c.core.state is ConnectionState.PLAYING and c.hash_checks > 20
    clients[0].core.request_quit()
    sim.run(1.0)

    # The game did send the names and the snapshots: the names are inside what the
    # clients received (every snapshot lists every player), and there were plenty.
    assert len(payloads) > 100
    for name in NAMES:
        assert any(name.encode() in p for p in payloads), name

    sealed = [d for _, _, d in capture if d[1] & 0x0F in _SEALED_KINDS]
    handshake = [d for _, _, d in capture if d[1] & 0x0F not in _SEALED_KINDS]
    assert len(sealed) > 300 and len(handshake) >= 4 * len(NAMES)
    assert all(d[1] >> 4 == PROTOCOL_VERSION for _, _, d in capture)
    wire = b"\x00".join(d for _, _, d in capture)
    for name in NAMES:
        assert name.encode() not in wire, name
        assert name.lower().encode() not in wire.lower(), name
    # No piece of any snapshot: every 16-byte window of the first payloads, and
    # slices of all of them, are absent from the sealed datagrams.
    sealed_wire = b"\x00".join(sealed)
    for payload in payloads[:20]:
        for i in range(0, len(payload) - 16, 4):
            assert payload[i : i + 16] not in sealed_wire, (payload.hex(), i)
    for payload in payloads:
        for i in range(0, len(payload) - 16, 97):
            assert payload[i : i + 16] not in sealed_wire
    # The quit reason does not show either.
    assert b"quit" not in sealed_wire
