"""Stateless challenge tokens: proof that a client can receive at its address.

A token is a 32-bit time bucket followed by a 16-byte keyed BLAKE2s MAC over
(bucket, client address, client nonce).  The server keeps no state for
unverified clients: it recomputes the MAC when the token comes back.  A token
is good for the bucket it was minted in and the one after, so it lives
between ``lifetime`` and ``2 * lifetime`` seconds.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Hashable

from protocol._wire import CHALLENGE_TOKEN_SIZE

__all__ = ["TokenMinter"]

_BUCKET = struct.Struct(">I")


class TokenMinter:
    """Mints and checks challenge tokens with a secret made at server start."""

    def __init__(self, secret: bytes, lifetime: float = 10.0) -> None:
        if len(secret) < 16:
            raise ValueError("token secret must be at least 16 bytes")
        self._secret = secret
        self.lifetime = lifetime

    def _mac(self, bucket: int, addr: Hashable, nonce: bytes) -> bytes:
        h = hashlib.blake2s(key=self._secret[:32], digest_size=16)
        h.update(_BUCKET.pack(bucket))
        h.update(repr(addr).encode())
        h.update(nonce)
        return h.digest()

    def mint(self, addr: Hashable, nonce: bytes, now: float) -> bytes:
        bucket = int(now // self.lifetime) & 0xFFFFFFFF
        return _BUCKET.pack(bucket) + self._mac(bucket, addr, nonce)

    def check(self, token: bytes, addr: Hashable, nonce: bytes, now: float) -> bool:
        if len(token) != CHALLENGE_TOKEN_SIZE:
            return False
        (bucket,) = _BUCKET.unpack_from(token)
        current = int(now // self.lifetime) & 0xFFFFFFFF
        if (current - bucket) & 0xFFFFFFFF > 1:
            return False
        return hmac.compare_digest(token[4:], self._mac(bucket, addr, nonce))
