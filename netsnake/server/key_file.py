"""The server's static X25519 key on disk (``--key-file``).

Theory of operation.  Clients remember a server by its public key (trust on
first use, as SSH does), so the server must present the same key every run:
it keeps the private key in a file, by default
``$XDG_DATA_HOME/netsnake/server.key``.  The file is PKCS#8 PEM, the format
``openssl genpkey -algorithm X25519`` writes, so ``openssl pkey -in server.key
-pubout`` shows the public half and an operator may bring a key made by
OpenSSL.

* **First run.**  A missing file is created: directories with mode 0700, the
  key written to a temporary file with mode 0600, fsynced, then hard-linked
  into place.  ``link`` fails if the name exists, so two servers starting at
  once never overwrite each other's key: the loser loads the winner's.
* **Later runs** load the file.  A file that is not a regular file, is too
  large, or is not an unencrypted X25519 PEM key is refused with a one-line
  error; it is never overwritten, since replacing a key makes every client
  that knew the server refuse to connect.
* **Loose permissions.**  As ``ssh`` does with an unprotected private key, a
  file that the group or others may access in any way (``mode & 0o077``) is
  refused, with the ``chmod 600`` that fixes it.  The server does not fix the
  mode itself: a key that others could read must be presumed copied, and
  whether to keep it is the operator's call.
"""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from netsnake.xdg import APP_DIR, XdgError, data_home, write_private_temp
from protocol import generate_static_key, key_fingerprint, public_key

__all__ = [
    "KEY_FILE_MODE",
    "KeyFileError",
    "ServerKey",
    "decode_key_file",
    "default_key_path",
    "encode_key_file",
    "load_key",
    "load_or_create_key",
]

#: The mode a new key file gets; any group or other bit makes a file refused.
KEY_FILE_MODE = 0o600
_LOOSE_BITS = 0o077
#: A PEM X25519 key is 119 bytes; anything far larger is not one (and is not read whole).
_MAX_KEY_FILE = 4096


class KeyFileError(Exception):
    """The key file cannot be used; ``str()`` is a one-line explanation naming the file."""


@dataclass(frozen=True, slots=True)
class ServerKey:
    """A server's static private key and where it came from."""

    private: bytes
    path: Path
    created: bool

    @property
    def public(self) -> bytes:
        """The 32-byte public key clients pin."""
        return public_key(self.private)

    @property
    def fingerprint(self) -> str:
        """``SHA256:...`` as the server logs it and clients show it."""
        return key_fingerprint(self.public)


def default_key_path() -> Path:
    """``$XDG_DATA_HOME/netsnake/server.key``; raises KeyFileError if there is no home."""
    try:
        return data_home() / APP_DIR / "server.key"
    except XdgError as exc:
        raise KeyFileError(f"no default key file: {exc}; give --key-file") from None


def encode_key_file(private: bytes) -> bytes:
    """The PKCS#8 PEM text of a raw 32-byte X25519 private key."""
    return X25519PrivateKey.from_private_bytes(private).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def decode_key_file(data: bytes, path: Path) -> bytes:
    """The raw private key in a key file's contents; raises KeyFileError naming ``path``."""
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        key = None
    if not isinstance(key, X25519PrivateKey):
        raise KeyFileError(
            f"{path}: not a netsnake server key (an unencrypted X25519 PEM private key "
            f"was expected); move it away to have a new key made"
        )
    return key.private_bytes_raw()


def load_key(path: Path) -> bytes:
    """Read and check an existing key file.

    Raises FileNotFoundError if there is none, KeyFileError for any other problem.
    """
    try:
        # O_NONBLOCK: a FIFO at that path must not hang the server before the check below.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise KeyFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise KeyFileError(f"{path}: not a regular file")
    with os.fdopen(fd, "rb") as f:
        if st.st_mode & _LOOSE_BITS:
            raise KeyFileError(
                f"{path}: permissions {stat.S_IMODE(st.st_mode):04o} are too open "
                f"(others may read the server's private key); run: chmod 600 {path}"
            )
        try:
            data = f.read(_MAX_KEY_FILE + 1)
        except OSError as exc:
            raise KeyFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > _MAX_KEY_FILE:
        raise KeyFileError(f"{path}: too large for a server key ({st.st_size} bytes)")
    return decode_key_file(data, path)


def _create(path: Path) -> bool:
    """Write a new key at ``path``; False if another process created one first."""
    tmp = write_private_temp(
        path, encode_key_file(generate_static_key()), KEY_FILE_MODE, exclusive=True
    )
    try:
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return True


def load_or_create_key(path: Path) -> ServerKey:
    """The key in ``path``, created (mode 0600) if the file does not exist.

    Raises KeyFileError with a one-line reason if the file cannot be used or made.
    """
    try:
        return ServerKey(load_key(path), path, created=False)
    except FileNotFoundError:
        pass
    try:
        created = _create(path)
    except OSError as exc:
        raise KeyFileError(f"cannot create {path}: {exc.strerror or exc}") from None
    try:
        return ServerKey(load_key(path), path, created=created)
    except FileNotFoundError:
        # Only a dangling symbolic link gets here: it blocks the name but has no file.
        raise KeyFileError(f"cannot read {path}: No such file or directory") from None
