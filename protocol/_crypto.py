"""Packet protection: the Noise NX key exchange and the sealing of packets.

Theory of operation.  The handshake is the Noise pattern NX
(``Noise_NX_25519_AESGCM_SHA256``, Noise revision 34)::

    -> e
    <- e, ee, s, es

The client (initiator) sends a fresh ephemeral X25519 key; the server
(responder) answers with its own ephemeral key and its static key, encrypted,
and mixes both Diffie-Hellman results into the chaining key.  The server's
reply ends with an AEAD tag under a key that only the holder of the static
private key can derive, so a client that has read the reply knows the server
proved that static key: it can pin it (a known key) or trust it on first use.
The client stays anonymous, as game clients are.  ``Split()`` then gives one
key per direction, and those seal every DATA and DISCONNECT packet.

The symmetric state below follows the Noise specification line by line;
every primitive (X25519, AES-256-GCM, SHA-256, HMAC-based HKDF) comes from
PyCA ``cryptography``.  Noise's HKDF with two outputs is exactly RFC 5869
HKDF-SHA256 with ``salt = ck``, empty info and 64 bytes of output.

A :class:`CryptoPair` seals with a 64-bit packet counter as the AEAD nonce
(Noise's AESGCM nonce: 4 zero bytes, then the counter big-endian); only its
low 16 bits travel, as the packet sequence, and the receiver rebuilds the rest
(:func:`protocol._sequence.expand_sequence`).  The key of each direction is
replaced with Noise's ``Rekey()`` every ``2**epoch_bits`` packets (epoch =
counter >> epoch_bits), which keeps AES-GCM well inside its per-key usage
limits without any signalling, and a connection ends before its counter
could reach 2**64 - 1, so a (key, nonce) pair is never used twice.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from protocol._wire import TAG_SIZE

__all__ = [
    "KEY_EPOCH_BITS",
    "KEY_SIZE",
    "MAX_PACKET_COUNTER",
    "NOISE_PROTOCOL_NAME",
    "TAG_SIZE",
    "CryptoPair",
    "HandshakeError",
    "NoiseInitiator",
    "NoiseKeys",
    "generate_static_key",
    "key_fingerprint",
    "noise_respond",
    "public_key",
]

NOISE_PROTOCOL_NAME = b"Noise_NX_25519_AESGCM_SHA256"
KEY_SIZE = 32  # X25519 keys, AES-256 keys, SHA-256 digests
#: Keys of one direction are replaced (Noise Rekey) every 2**KEY_EPOCH_BITS packets:
#: about 4.8 hours of a 60 packets/s stream, far inside AES-GCM's usage limits.
KEY_EPOCH_BITS = 20
#: Noise reserves nonce 2**64 - 1 (for Rekey); no packet may use it.
MAX_PACKET_COUNTER = 2**64 - 2

_NONCE = struct.Struct(">4xQ")
_REKEY_NONCE = _NONCE.pack(2**64 - 1)


class HandshakeError(Exception):
    """A handshake message does not verify (tampered, truncated or a bad key)."""


# ------------------------------------------------------------------ keys


def generate_static_key() -> bytes:
    """A new 32-byte raw X25519 private key (for a server's ``--key-file``)."""
    return X25519PrivateKey.generate().private_bytes_raw()


def public_key(private: bytes) -> bytes:
    """The 32-byte raw X25519 public key of a 32-byte raw private key."""
    if len(private) != KEY_SIZE:
        raise ValueError(f"an X25519 private key is {KEY_SIZE} bytes, not {len(private)}")
    return X25519PrivateKey.from_private_bytes(private).public_key().public_bytes_raw()


def key_fingerprint(public: bytes) -> str:
    """``SHA256:`` and the unpadded base64 of SHA-256(public key), as OpenSSH prints it."""
    digest = hashlib.sha256(public).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def _dh(private: X25519PrivateKey, public: bytes) -> bytes:
    try:
        return private.exchange(X25519PublicKey.from_public_bytes(public))
    except ValueError as exc:  # a low-order point gives an all-zero secret: refused
        raise HandshakeError("bad X25519 public key") from exc


# ------------------------------------------------------------------ Noise


def _hkdf2(chaining_key: bytes, ikm: bytes) -> tuple[bytes, bytes]:
    out = HKDF(hashes.SHA256(), 2 * KEY_SIZE, salt=chaining_key, info=b"").derive(ikm)
    return out[:KEY_SIZE], out[KEY_SIZE:]


class _SymmetricState:
    """Noise's SymmetricState (with its CipherState folded in) for one handshake."""

    def __init__(self, prologue: bytes) -> None:
        # The name is at most 32 bytes, so h starts as the name padded with zeros.
        self.h = NOISE_PROTOCOL_NAME.ljust(KEY_SIZE, b"\0")
        self.ck = self.h
        self._k: bytes | None = None
        self._n = 0
        self.mix_hash(prologue)

    def mix_hash(self, data: bytes) -> None:
        self.h = hashlib.sha256(self.h + data).digest()

    def mix_key(self, ikm: bytes) -> None:
        self.ck, self._k = _hkdf2(self.ck, ikm)
        self._n = 0

    def encrypt_and_hash(self, plaintext: bytes) -> bytes:
        if self._k is None:
            out = plaintext
        else:
            out = AESGCM(self._k).encrypt(_NONCE.pack(self._n), plaintext, self.h)
            self._n += 1
        self.mix_hash(out)
        return out

    def decrypt_and_hash(self, ciphertext: bytes) -> bytes:
        if self._k is None:
            out = ciphertext
        else:
            try:
                out = AESGCM(self._k).decrypt(_NONCE.pack(self._n), ciphertext, self.h)
            except InvalidTag as exc:
                raise HandshakeError("handshake message does not verify") from exc
            self._n += 1
        self.mix_hash(ciphertext)
        return out

    def split(self) -> tuple[bytes, bytes]:
        """(initiator-to-responder key, responder-to-initiator key)."""
        return _hkdf2(self.ck, b"")


@dataclass(frozen=True, slots=True)
class NoiseKeys:
    """What a completed handshake gives one side."""

    send: bytes
    recv: bytes
    server_static: bytes
    """The server's static public key (proved to the client by the handshake)."""
    handshake_hash: bytes


#: Size of NX message 1 (``e``, empty payload) and message 2 (``e``, encrypted
#: ``s``, empty encrypted payload).
NOISE_MESSAGE1_SIZE = KEY_SIZE
NOISE_MESSAGE2_SIZE = KEY_SIZE + (KEY_SIZE + TAG_SIZE) + TAG_SIZE


class NoiseInitiator:
    """The client's half of NX: writes message 1, reads message 2."""

    def __init__(self, prologue: bytes, ephemeral: bytes) -> None:
        self._e = X25519PrivateKey.from_private_bytes(ephemeral)
        self._e_pub = self._e.public_key().public_bytes_raw()
        self._prologue = prologue

    def write_message1(self) -> bytes:
        """``-> e`` with an empty payload (deterministic, so resends are identical)."""
        state = _SymmetricState(self._prologue)
        state.mix_hash(self._e_pub)
        return self._e_pub + state.encrypt_and_hash(b"")

    def read_message2(self, message: bytes) -> NoiseKeys:
        """``<- e, ee, s, es``: raises HandshakeError unless the server proved a static key."""
        if len(message) != NOISE_MESSAGE2_SIZE:
            raise HandshakeError("bad handshake message size")
        state = _SymmetricState(self._prologue)
        state.mix_hash(self._e_pub)
        state.encrypt_and_hash(b"")
        re = message[:KEY_SIZE]
        state.mix_hash(re)
        state.mix_key(_dh(self._e, re))
        rs = state.decrypt_and_hash(message[KEY_SIZE : 2 * KEY_SIZE + TAG_SIZE])
        state.mix_key(_dh(self._e, rs))
        state.decrypt_and_hash(message[2 * KEY_SIZE + TAG_SIZE :])
        c2s, s2c = state.split()
        return NoiseKeys(send=c2s, recv=s2c, server_static=rs, handshake_hash=state.h)


def noise_respond(
    prologue: bytes, message1: bytes, static: bytes, ephemeral: bytes
) -> tuple[bytes, NoiseKeys]:
    """The server's half of NX: read message 1, return message 2 and the keys."""
    if len(message1) != NOISE_MESSAGE1_SIZE:
        raise HandshakeError("bad handshake message size")
    state = _SymmetricState(prologue)
    re = message1
    state.mix_hash(re)
    state.decrypt_and_hash(b"")
    s = X25519PrivateKey.from_private_bytes(static)
    e = X25519PrivateKey.from_private_bytes(ephemeral)
    e_pub = e.public_key().public_bytes_raw()
    state.mix_hash(e_pub)
    state.mix_key(_dh(e, re))
    s_pub = s.public_key().public_bytes_raw()
    encrypted_s = state.encrypt_and_hash(s_pub)
    state.mix_key(_dh(s, re))
    tag = state.encrypt_and_hash(b"")
    c2s, s2c = state.split()
    keys = NoiseKeys(send=s2c, recv=c2s, server_static=s_pub, handshake_hash=state.h)
    return e_pub + encrypted_s + tag, keys


# ------------------------------------------------------------ packet sealing


def _rekey(key: bytes) -> bytes:
    """Noise ``Rekey()``: the first 32 bytes of ENCRYPT(k, 2**64 - 1, empty AD, 32 zeros)."""
    return AESGCM(key).encrypt(_REKEY_NONCE, bytes(KEY_SIZE), b"")[:KEY_SIZE]


class _KeyChain:
    """The keys of one direction by epoch; only the newest two are kept."""

    __slots__ = ("_aead", "_epoch", "_key", "_previous")

    def __init__(self, key: bytes) -> None:
        self._epoch = 0
        self._key = key
        self._aead = AESGCM(key)
        self._previous: AESGCM | None = None

    def get(self, epoch: int) -> tuple[AESGCM, bytes | None] | None:
        """The AEAD for ``epoch`` and, when it is the next epoch, its key (commit it
        with :meth:`advance` once a packet verified under it)."""
        if epoch == self._epoch:
            return self._aead, None
        if epoch == self._epoch - 1 and self._previous is not None:
            return self._previous, None
        if epoch == self._epoch + 1:
            key = _rekey(self._key)
            return AESGCM(key), key
        return None

    @property
    def epoch(self) -> int:
        return self._epoch

    def advance(self, key: bytes, aead: AESGCM) -> None:
        self._epoch += 1
        self._key = key
        self._previous, self._aead = self._aead, aead


class CryptoPair:
    """Seals this side's packets and opens the peer's, one key per direction.

    ``seal``/``open_`` take the full 64-bit packet counter; the header bytes are
    the associated data and everything after them is encrypted, with the
    16-byte tag appended.  Handed to a Connection, like aioquic's CryptoPair.
    """

    def __init__(self, send_key: bytes, recv_key: bytes, epoch_bits: int = KEY_EPOCH_BITS) -> None:
        if len(send_key) != KEY_SIZE or len(recv_key) != KEY_SIZE:
            raise ValueError(f"packet keys are {KEY_SIZE} bytes")
        if not 16 <= epoch_bits <= 62:
            # An epoch must be longer than the 16-bit sequence's reach, so a received
            # packet is never more than one epoch away from the newest.
            raise ValueError("epoch_bits must be between 16 and 62")
        self._epoch_bits = epoch_bits
        self._initial = (send_key, recv_key)
        self._send = _KeyChain(send_key)
        self._recv = _KeyChain(recv_key)

    @classmethod
    def from_keys(cls, keys: NoiseKeys) -> CryptoPair:
        return cls(keys.send, keys.recv)

    def mirror(self) -> CryptoPair:
        """The peer's pair (keys swapped, from epoch 0): what tests and the attack
        benchmark use to impersonate a peer whose keys they were given."""
        send, recv = self._initial
        return CryptoPair(recv, send, self._epoch_bits)

    def seal(self, header: bytes, body: bytes, counter: int) -> bytes:
        """``header || AEAD(body) || tag``; the caller never repeats a counter."""
        if not 0 <= counter <= MAX_PACKET_COUNTER:
            raise ValueError("packet counter exhausted")
        epoch = counter >> self._epoch_bits
        while True:
            found = self._send.get(epoch)
            if found is None:
                if epoch < self._send.epoch:
                    raise ValueError("packet counters must not go back more than one epoch")
                found = self._send.get(self._send.epoch + 1)  # a jump ahead: rekey in steps
                assert found is not None and found[1] is not None
                self._send.advance(found[1], found[0])
                continue
            aead, new_key = found
            if new_key is not None:
                self._send.advance(new_key, aead)
            return header + aead.encrypt(_NONCE.pack(counter), body, header)

    def open_(self, packet: bytes, header_size: int, counter: int) -> bytes | None:
        """The body of a sealed packet, or None if it does not verify under ``counter``."""
        if len(packet) < header_size + TAG_SIZE or not 0 <= counter <= MAX_PACKET_COUNTER:
            return None
        found = self._recv.get(counter >> self._epoch_bits)
        if found is None:
            return None
        aead, new_key = found
        header = packet[:header_size]
        try:
            body = aead.decrypt(_NONCE.pack(counter), packet[header_size:], header)
        except InvalidTag:
            return None
        if new_key is not None:
            self._recv.advance(new_key, aead)
        return body
