"""msgpack with hard limits, for bytes that came from the network.

Theory of operation: an attacker controls every byte of a datagram, so the
decoder must never allocate more than the datagram could honestly describe.
We check the raw size first (a cheap refusal), then let msgpack enforce
per-container limits while it parses (so a 5-byte "array of 2**32 items"
bomb is refused before any allocation), then cap nesting depth ourselves,
since msgpack has no depth limit of its own.  Callers validate the *shape*
of the result with the small ``expect_*`` helpers below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgpack

__all__ = [
    "CodecLimits",
    "DecodeError",
    "Packer",
    "expect_bytes",
    "expect_int",
    "expect_list",
    "expect_str",
    "unpack_untrusted",
]


class DecodeError(ValueError):
    """Untrusted bytes did not decode to a value of the expected shape."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CodecLimits:
    """Upper bounds applied while decoding one untrusted msgpack value."""

    max_size: int = 64 * 1024
    max_array_len: int = 4096
    max_map_len: int = 64
    max_str_len: int = 1024
    max_bin_len: int = 64 * 1024
    max_ext_len: int = 0
    max_depth: int = 16


DEFAULT_LIMITS = CodecLimits()


def _depth_ok(value: Any, max_depth: int) -> bool:
    # Iterative walk: a recursive one could itself be the bomb's victim.
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, list | tuple):
            if depth > max_depth:
                return False
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, dict):
            if depth > max_depth:
                return False
            for key, child in item.items():
                stack.append((key, depth + 1))
                stack.append((child, depth + 1))
    return True


def unpack_untrusted(data: bytes, limits: CodecLimits = DEFAULT_LIMITS) -> Any:
    """Decode one msgpack value from untrusted ``data`` or raise DecodeError.

    Lists come back as lists, maps as dicts, strings as str (invalid UTF-8 is
    an error), binary as bytes.  Extension types are refused.
    """
    if len(data) > limits.max_size:
        raise DecodeError(f"value of {len(data)} bytes exceeds {limits.max_size}")
    try:
        value = msgpack.unpackb(
            data,
            raw=False,
            use_list=True,
            strict_map_key=True,
            max_array_len=limits.max_array_len,
            max_map_len=limits.max_map_len,
            max_str_len=limits.max_str_len,
            max_bin_len=limits.max_bin_len,
            max_ext_len=limits.max_ext_len,
        )
    except (ValueError, TypeError, msgpack.ExtraData, msgpack.UnpackException) as exc:
        raise DecodeError(f"bad msgpack: {exc.__class__.__name__}") from None
    except RecursionError:
        raise DecodeError("msgpack nested too deeply") from None
    if not _depth_ok(value, limits.max_depth):
        raise DecodeError("msgpack nested too deeply")
    return value


class Packer:
    """A reusable msgpack packer (faster than ``msgpack.packb`` per call)."""

    __slots__ = ("_packer",)

    def __init__(self) -> None:
        self._packer = msgpack.Packer(use_bin_type=True, autoreset=True)

    def pack(self, value: Any) -> bytes:
        """Encode ``value`` (ints, str, bytes, lists, dicts, bools, None)."""
        result: bytes = self._packer.pack(value)
        return result


def expect_list(value: Any, min_len: int = 0, max_len: int | None = None) -> list[Any]:
    """Return ``value`` if it is a list of acceptable length, else raise."""
    if not isinstance(value, list):
        raise DecodeError(f"expected list, got {type(value).__name__}")
    if len(value) < min_len or (max_len is not None and len(value) > max_len):
        raise DecodeError(f"list of length {len(value)} out of range")
    return value


def expect_int(value: Any, lo: int, hi: int) -> int:
    """Return ``value`` if it is an int (not bool) in ``[lo, hi]``, else raise."""
    if type(value) is not int or not lo <= value <= hi:
        raise DecodeError(f"expected int in [{lo}, {hi}], got {value!r:.40}")
    return value


def expect_str(value: Any, max_len: int) -> str:
    """Return ``value`` if it is a str of at most ``max_len`` characters."""
    if not isinstance(value, str) or len(value) > max_len:
        raise DecodeError("expected short str")
    return value


def expect_bytes(value: Any, max_len: int) -> bytes:
    """Return ``value`` if it is bytes of at most ``max_len`` bytes."""
    if not isinstance(value, bytes) or len(value) > max_len:
        raise DecodeError("expected short bytes")
    return value
