"""PROTOCOL.rst as the protocol tests read it: its golden examples and its CRC-16,
computed here independently of ``protocol._wire``."""

from __future__ import annotations

import binascii
import re
from pathlib import Path

import protocol

SPEC = Path(protocol.__file__).with_name("PROTOCOL.rst")

_EXAMPLE = re.compile(
    r"^``(?P<name>[a-z0-9-]+)`` \((?P<size>\d+) bytes(?P<padded>, zero-padded)?\)::\n\n"
    r"(?P<hex>(?:    [0-9a-f ]+\n)+)",
    re.MULTILINE,
)


def spec_examples() -> dict[str, bytes]:
    """The golden examples (packets and keys) as written in PROTOCOL.rst."""
    examples: dict[str, bytes] = {}
    for m in _EXAMPLE.finditer(SPEC.read_text(encoding="utf-8")):
        data = bytes.fromhex(m["hex"])
        size = int(m["size"])
        if m["padded"]:
            data += bytes(size - len(data))
        assert len(data) == size, f"{m['name']}: {len(data)} bytes, spec says {size}"
        assert m["name"] not in examples, f"duplicate example {m['name']}"
        examples[m["name"]] = data
    return examples


def reference_crc(data: bytes) -> bytes:
    """Bytes 2-3 of a handshake packet as PROTOCOL.rst defines them."""
    covered = data[0:2] + data[4:]
    # CRC-16/CCITT, poly 0x1021, init 0x4E53, not reflected, no final XOR.
    crc = 0x4E53
    for byte in covered:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021 if crc & 0x8000 else crc << 1) & 0xFFFF
    assert crc == binascii.crc_hqx(data[4:], binascii.crc_hqx(data[:2], 0x4E53))
    return crc.to_bytes(2, "big")
