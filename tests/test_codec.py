"""``unpack_untrusted``: msgpack from the network, with every bomb defused and only
DecodeError ever escaping."""

from __future__ import annotations

import tracemalloc
from typing import Any

import pytest
from corpora import msgpack_values
from hypothesis import given, settings

from protocol import (
    CodecLimits,
    DecodeError,
    Packer,
    expect_bytes,
    expect_int,
    expect_list,
    expect_str,
    unpack_untrusted,
)

BOMBS = {
    # A few bytes that declare gigabytes: refused from the header, before allocating.
    "array32 of 2**32-1": b"\xdd\xff\xff\xff\xff",
    "map32 of 2**32-1": b"\xdf\xff\xff\xff\xff",
    "str32 of 4 GiB": b"\xdb\xff\xff\xff\xff",
    "bin32 of 4 GiB": b"\xc6\xff\xff\xff\xff",
    "ext32 of 4 GiB": b"\xc9\xff\xff\xff\xff\x01",
    "array16 over the item limit": b"\xdc\x10\x01" + b"\x00" * 4097,
    "map16 over the pair limit": b"\xde\x00\x41" + b"\xa1k\x00" * 65,
    "str over the length limit": b"\xda\x04\x01" + b"a" * 1025,
    "array of huge arrays": b"\x93" + b"\xdd\xff\xff\xff\xff" * 3,
    # Depth: 1000 nested arrays or maps, in 1-3 bytes each.
    "1000 nested arrays": b"\x91" * 1000 + b"\x00",
    "1000 nested maps": b"\x81\xa1k" * 1000 + b"\x00",
    "20000 nested arrays": b"\x91" * 20000 + b"\x00",
    # Extension types are refused, including msgpack's own timestamp.
    "fixext1": b"\xd4\x01\x00",
    "fixext16": b"\xd8\x05" + bytes(16),
    "timestamp32": b"\xd6\xff\x00\x00\x00\x01",
    "ext8": b"\xc7\x03\x02abc",
    # Text must be UTF-8.
    "invalid utf-8": b"\xa2\xff\xfe",
    "lone surrogate": b"\xa3\xed\xa0\x80",
    "truncated utf-8": b"\xa2\xe2\x82",
    # Structural garbage.
    "empty": b"",
    "truncated array": b"\x93\x01\x02",
    "truncated str": b"\xa5ab",
    "trailing bytes": b"\x01\x02",
    "never-used byte 0xc1": b"\xc1",
    "int map key": b"\x81\x01\x02",
    "array map key": b"\x81\x90\x02",
}


@pytest.mark.parametrize("data", BOMBS.values(), ids=list(BOMBS))
def test_bombs_and_garbage_are_refused(data: bytes) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(DecodeError):
            unpack_untrusted(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024  # nothing near the declared sizes was allocated


def test_oversize_is_refused_before_decoding() -> None:
    limits = CodecLimits(max_size=100)
    ok = Packer().pack(b"x" * 90)
    assert unpack_untrusted(ok, limits) == b"x" * 90
    big = Packer().pack(b"x" * 101)  # perfectly valid msgpack, just too long
    with pytest.raises(DecodeError, match="exceeds"):
        unpack_untrusted(big, limits)


def test_depth_limit_is_exact() -> None:
    limits = CodecLimits(max_depth=16)
    assert unpack_untrusted(b"\x91" * 16 + b"\x00", limits) is not None
    with pytest.raises(DecodeError, match="deep"):
        unpack_untrusted(b"\x91" * 17 + b"\x00", limits)
    assert unpack_untrusted(b"\x81\xa1k" * 16 + b"\x00", limits) is not None
    with pytest.raises(DecodeError, match="deep"):
        unpack_untrusted(b"\x81\xa1k" * 17 + b"\x00", limits)


def test_limits_are_applied_per_container() -> None:
    limits = CodecLimits(max_array_len=3, max_map_len=2, max_str_len=4, max_bin_len=5)
    packer = Packer()
    assert unpack_untrusted(packer.pack([1, 2, 3]), limits) == [1, 2, 3]
    assert unpack_untrusted(packer.pack({"a": 1, "b": 2}), limits) == {"a": 1, "b": 2}
    assert unpack_untrusted(packer.pack("abcd"), limits) == "abcd"
    assert unpack_untrusted(packer.pack(b"abcde"), limits) == b"abcde"
    for too_big in ([1, 2, 3, 4], {"a": 1, "b": 2, "c": 3}, "abcde", b"abcdef"):
        with pytest.raises(DecodeError):
            unpack_untrusted(packer.pack(too_big), limits)


@settings(derandomize=True, max_examples=150)
@given(msgpack_values)
def test_round_trip(value: Any) -> None:
    assert unpack_untrusted(Packer().pack(value)) == value


def test_expect_helpers() -> None:
    assert expect_list([1, 2], 1, 2) == [1, 2]
    assert expect_int(5, 0, 10) == 5
    assert expect_str("ab", 2) == "ab"
    assert expect_bytes(b"ab", 2) == b"ab"
    bad: list[tuple[Any, ...]] = [
        (expect_list, (1, 2), 0, None),  # a tuple is not a list
        (expect_list, [1, 2, 3], 0, 2),
        (expect_list, [], 1, None),
        (expect_int, True, 0, 1),  # bool is not an int here
        (expect_int, 11, 0, 10),
        (expect_int, 1.0, 0, 10),
        (expect_str, "abc", 2),
        (expect_str, b"ab", 2),
        (expect_bytes, "ab", 2),
        (expect_bytes, b"abc", 2),
    ]
    for fn, *args in bad:
        with pytest.raises(DecodeError):
            fn(*args)
