"""The server's key file: created 0600 on first run, reused after, refused when unsafe or
not a key; and ``netsnake-server --key-file`` logging its fingerprint."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from helpers_proc import ServerProcess, run_server_cli

from netsnake.server.key_file import (
    KeyFileError,
    decode_key_file,
    default_key_path,
    encode_key_file,
    load_key,
    load_or_create_key,
)
from protocol import key_fingerprint, public_key

FIXED = bytes(range(1, 33))


def test_first_run_creates_the_key_with_mode_0600_in_a_0700_directory(tmp_path: Path) -> None:
    path = tmp_path / "data" / "netsnake" / "server.key"
    key = load_or_create_key(path)
    assert key.created and key.path == path and len(key.private) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["server.key"]  # no temporary left


def test_later_runs_reuse_the_key(tmp_path: Path) -> None:
    path = tmp_path / "server.key"
    first = load_or_create_key(path)
    again = load_or_create_key(path)
    assert not again.created
    assert again.private == first.private and again.fingerprint == first.fingerprint


def test_the_file_is_pkcs8_pem_as_openssl_writes_it(tmp_path: Path) -> None:
    data = encode_key_file(FIXED)
    assert data.startswith(b"-----BEGIN PRIVATE KEY-----\n") and len(data) == 119
    parsed = serialization.load_pem_private_key(data, None)
    assert isinstance(parsed, X25519PrivateKey) and parsed.private_bytes_raw() == FIXED
    assert decode_key_file(data, tmp_path) == FIXED
    # A key made elsewhere (say by `openssl genpkey -algorithm X25519`) is used as it is.
    path = tmp_path / "server.key"
    path.write_bytes(data)
    path.chmod(0o600)
    key = load_or_create_key(path)
    assert not key.created and key.private == FIXED
    assert key.public == public_key(FIXED)
    assert key.fingerprint == key_fingerprint(public_key(FIXED))


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o610, 0o601])
def test_a_key_others_may_access_is_refused_with_the_fix(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "server.key"
    path.write_bytes(encode_key_file(FIXED))
    path.chmod(mode)
    with pytest.raises(KeyFileError) as err:
        load_or_create_key(path)
    assert str(err.value) == (
        f"{path}: permissions {mode:04o} are too open (others may read the server's "
        f"private key); run: chmod 600 {path}"
    )
    assert path.read_bytes() == encode_key_file(FIXED)  # never changed nor replaced
    assert stat.S_IMODE(path.stat().st_mode) == mode


def _encrypted_x25519() -> bytes:
    return X25519PrivateKey.from_private_bytes(FIXED).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )


def _ed25519() -> bytes:
    return Ed25519PrivateKey.from_private_bytes(FIXED).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "not a netsnake server key"),
        (FIXED, "not a netsnake server key"),  # 32 raw bytes are not the format
        (b"-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n", "not a netsnake"),
        (encode_key_file(FIXED)[:-30], "not a netsnake server key"),  # truncated
        (_ed25519(), "not a netsnake server key"),  # another kind of key
        (_encrypted_x25519(), "not a netsnake server key"),
        (encode_key_file(FIXED) + b"\n" * 5000, "too large for a server key"),
    ],
    ids=["empty", "raw", "garbage", "truncated", "ed25519", "encrypted", "huge"],
)
def test_a_file_that_is_not_a_key_is_refused_and_kept(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    path = tmp_path / "server.key"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(KeyFileError, match=re.escape(f"{path}: {reason}")) as err:
        load_or_create_key(path)
    assert "\n" not in str(err.value)
    assert path.read_bytes() == content


def test_a_directory_or_an_unmakeable_path_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="not a regular file"):
        load_or_create_key(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(KeyFileError, match=r"^cannot read .*/file/server\.key: Not a directory$"):
        load_or_create_key(blocker / "server.key")


def test_a_missing_file_is_reported_as_missing_to_load_key(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_key(tmp_path / "absent")


def test_the_default_key_lives_under_xdg_data_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", "/srv/data")
    assert default_key_path() == Path("/srv/data/netsnake/server.key")
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", "/home/op")
    assert default_key_path() == Path("/home/op/.local/share/netsnake/server.key")


# ------------------------------------------------------------ the real server


def _logged_fingerprint(server: ServerProcess) -> str:
    m = server.wait_for_line(r"server key (SHA256:[A-Za-z0-9+/]{43}) ", timeout=5)
    return m[1]


def test_the_server_logs_its_fingerprint_and_keeps_its_key(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "server.key"
    with ServerProcess("--key-file", str(path)) as server:
        first = _logged_fingerprint(server)
        assert f"new, saved in {path}" in server.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = load_or_create_key(path)
    assert first == key.fingerprint
    with ServerProcess("--key-file", str(path)) as server:
        assert _logged_fingerprint(server) == first
        assert f"(from {path})" in server.output


def test_the_default_key_file_is_made_under_xdg_data_home(tmp_path: Path) -> None:
    import os

    # The test session points XDG_DATA_HOME into a temporary directory (conftest.py).
    path = Path(os.environ["XDG_DATA_HOME"]) / "netsnake" / "server.key"
    with ServerProcess() as server:
        fingerprint = _logged_fingerprint(server)
    assert fingerprint == load_or_create_key(path).fingerprint


def test_an_unsafe_key_file_stops_the_server_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "server.key"
    path.write_bytes(encode_key_file(FIXED))
    path.chmod(0o644)
    result = run_server_cli("--host", "127.0.0.1", "--port", "0", "--key-file", str(path))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"netsnake-server: error: {path}: permissions 0644 are too open (others may read the "
        f"server's private key); run: chmod 600 {path}"
    ]


def test_a_dangling_link_is_a_one_line_error_and_stays(tmp_path: Path) -> None:
    path = tmp_path / "server.key"
    path.symlink_to(tmp_path / "elsewhere" / "gone.key")
    with pytest.raises(KeyFileError, match=r"^cannot read .*server\.key: No such file"):
        load_or_create_key(path)
    assert path.is_symlink() and not list(tmp_path.glob(".*tmp"))


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_openssl_makes_keys_the_server_uses_and_computes_the_same_fingerprint(
    tmp_path: Path,
) -> None:
    path = tmp_path / "server.key"
    subprocess.run(
        ["openssl", "genpkey", "-algorithm", "X25519", "-out", str(path)],
        check=True,
        capture_output=True,
    )
    path.chmod(0o600)
    key = load_or_create_key(path)
    assert not key.created
    # The README's one-liner, step by step: DER public key, its last 32 bytes, SHA-256.
    der = subprocess.run(
        ["openssl", "pkey", "-in", str(path), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    assert der[-32:] == key.public
    digest = hashlib.sha256(der[-32:]).digest()
    assert key.fingerprint == "SHA256:" + base64.b64encode(digest).decode().rstrip("=")
