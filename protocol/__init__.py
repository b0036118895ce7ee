"""netsnake's wire protocol: sans-IO, game-agnostic, over UDP datagrams."""

from protocol._codec import (
    CodecLimits,
    DecodeError,
    Packer,
    expect_bytes,
    expect_int,
    expect_list,
    expect_str,
    unpack_untrusted,
)

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
