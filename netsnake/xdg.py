"""Where netsnake keeps files: the XDG base directories.

Per the XDG Base Directory specification, ``$XDG_DATA_HOME`` and
``$XDG_CONFIG_HOME`` are used when set to an absolute path (a relative one is
ignored, as the spec says) and otherwise default to ``~/.local/share`` and
``~/.config``.  Directories netsnake creates get mode 0700, as the spec asks.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path

__all__ = [
    "APP_DIR",
    "XdgError",
    "config_home",
    "data_home",
    "make_private_dirs",
    "temp_path",
    "write_private_temp",
]

#: The subdirectory of each base directory that belongs to netsnake.
APP_DIR = "netsnake"


class XdgError(Exception):
    """A base directory cannot be determined (no usable ``$HOME``)."""


def _base(env: Mapping[str, str], var: str, fallback: str) -> Path:
    value = env.get(var, "")
    if value and os.path.isabs(value):
        return Path(value)
    home = env.get("HOME", "")
    if not home or not os.path.isabs(home):
        raise XdgError(f"neither ${var} nor $HOME is set to an absolute path")
    return Path(home) / fallback


def data_home(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_DATA_HOME``, or ``~/.local/share``."""
    return _base(os.environ if env is None else env, "XDG_DATA_HOME", ".local/share")


def config_home(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME``, or ``~/.config``."""
    return _base(os.environ if env is None else env, "XDG_CONFIG_HOME", ".config")


def make_private_dirs(directory: Path) -> None:
    """Create ``directory`` and any missing parents with mode 0700 (existing ones are left
    as they are); raises OSError."""
    missing: list[Path] = []
    d = directory
    while not d.exists():
        missing.append(d)
        if d.parent == d:
            break
        d = d.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=0o700)
        except FileExistsError:
            # Another process made it meanwhile; what matters is that it exists.
            if not d.is_dir():
                raise


def temp_path(path: Path) -> Path:
    """The temporary file :func:`write_private_temp` writes before ``path`` is replaced."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def write_private_temp(path: Path, data: bytes, mode: int, *, exclusive: bool) -> Path:
    """Write ``data`` durably to :func:`temp_path` of ``path`` (mode exactly ``mode``,
    parent directories 0700) and return it, for the caller to link or rename into place.

    ``exclusive`` refuses an existing temporary file rather than truncating it.
    The temporary file is removed if writing fails; raises OSError.
    """
    make_private_dirs(path.parent)
    tmp = temp_path(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(tmp, flags, 0o600)
    try:
        try:
            os.fchmod(fd, mode)  # exactly ``mode``, whatever the umask
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp
