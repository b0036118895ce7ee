"""16-bit wrap-aware sequence numbers.

Every sequence number on the wire (packet sequence, reliable message id,
fragment group id) is 16 bits and wraps.  Comparisons treat the half of the
number space "ahead" of a value as newer, as in RFC 1982 serial arithmetic.
"""

from __future__ import annotations

__all__ = ["SEQ_MASK", "seq_diff", "seq_greater", "seq_next"]

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
