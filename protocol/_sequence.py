"""16-bit wrap-aware sequence numbers.

Every sequence number on the wire (packet sequence, reliable message id,
fragment group id) is 16 bits and wraps.  Comparisons treat the half of the
number space "ahead" of a value as newer, as in RFC 1982 serial arithmetic.
"""

from __future__ import annotations

__all__ = ["SEQ_MASK", "expand_sequence", "seq_diff", "seq_greater", "seq_next"]

SEQ_MASK = 0xFFFF
_HALF = 0x8000


def seq_greater(a: int, b: int) -> bool:
    """True when ``a`` is newer than ``b`` on the 16-bit circle."""
    return a != b and ((a - b) & SEQ_MASK) < _HALF


def seq_diff(a: int, b: int) -> int:
    """Signed distance ``a - b`` on the circle, in ``[-32768, 32767]``."""
    d = (a - b) & SEQ_MASK
    return d - 0x10000 if d >= _HALF else d


def seq_next(a: int) -> int:
    """The sequence number after ``a``."""
    return (a + 1) & SEQ_MASK


def expand_sequence(expected: int, sequence: int) -> int:
    """The 64-bit packet counter whose low 16 bits are ``sequence``, nearest ``expected``.

    ``expected`` is one more than the largest counter received and verified so
    far (0 before any).  This is RFC 9000's packet number decoding (appendix
    A.3) with 16-bit truncation: the result lies within half the sequence
    space (32768) of ``expected``, and never below 0 or above 2**64 - 1.
    """
    window = SEQ_MASK + 1
    candidate = (expected & ~SEQ_MASK) | sequence
    if candidate <= expected - _HALF and candidate < 2**64 - window:
        return candidate + window
    if candidate > expected + _HALF and candidate >= window:
        return candidate - window
    return candidate
