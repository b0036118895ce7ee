"""Reading and writing sealed packets in tests, with a connection's own keys.

A test often needs to look inside what a connection sent, or to hand it a
packet built by hand (a forged ack, a fragment bomb) that it must accept as
coming from its peer.  :class:`PeerView` holds the peer's side of the
connection's :class:`~protocol.CryptoPair` and rebuilds packet counters the
way a receiver does.
"""

from __future__ import annotations

from protocol import CryptoPair
from protocol._connection import Connection
from protocol._sequence import expand_sequence
from protocol._wire import SEALED_HEADER_SIZE, PacketKind, keyed_prefix, packet_sequence


class PeerView:
    """The peer of ``conn`` (or of a bare CryptoPair): opens what it sent, seals to it."""

    def __init__(self, conn: Connection | CryptoPair) -> None:
        pair = conn.crypto if isinstance(conn, Connection) else conn
        self.crypto = pair.mirror()
        self._largest = -1

    def open(self, packet: bytes) -> bytes:
        """The opened image (cleartext prefix + plaintext, no tag) of a packet sent to us."""
        counter = expand_sequence(self._largest + 1, packet_sequence(packet))
        body = self.crypto.open_(packet, SEALED_HEADER_SIZE, counter)
        assert body is not None, "packet does not open under the connection's keys"
        self._largest = max(self._largest, counter)
        return packet[:SEALED_HEADER_SIZE] + body

    def seal(self, opened: bytes, counter: int | None = None) -> bytes:
        """Seal an opened image as the peer would; ``counter`` defaults to its sequence
        (the first lap).  Its low 16 bits must match the sequence in the image."""
        if counter is None:
            counter = packet_sequence(opened)
        assert counter & 0xFFFF == packet_sequence(opened)
        header, body = opened[:SEALED_HEADER_SIZE], opened[SEALED_HEADER_SIZE:]
        return self.crypto.seal(header, body, counter)


def same_keys(a: Connection, b: Connection) -> bool:
    """Whether ``a`` and ``b`` are the two ends of one key exchange (each one's
    sending key is the other's receiving key)."""
    header, body = keyed_prefix(PacketKind.DATA, 0), b"probe"
    a_peer, b_peer = a.crypto.mirror(), b.crypto.mirror()
    # a_peer seals with a's receiving key; b's own copy seals with b's sending key.
    return a_peer.seal(header, body, 0) == b_peer.mirror().seal(header, body, 0) and (
        b_peer.seal(header, body, 0) == a_peer.mirror().seal(header, body, 0)
    )
