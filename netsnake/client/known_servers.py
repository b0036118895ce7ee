"""The client's memory of server keys: ``$XDG_CONFIG_HOME/netsnake/known_servers``.

Format (UTF-8 text, one server a line, like OpenSSH's ``known_hosts``)::

    # comment
    example.org:5050 x25519 Kx2Z3bE3mJ9d0vGQm2Y1x0yJ8iR0oWmJb8x0oWmJb8w=
    [::1]:6000 x25519 3q2+7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=

* ``HOST:PORT`` is the server as the player named it, spelt as the HOST
  argument is parsed: an IPv6 address in brackets, addresses in their
  compressed form, names in lower case.  The port is always written.
* ``x25519`` is the key type (room for another algorithm later).
* The key is the server's whole 32-byte public key in standard base64, so the
  client can pin it; its ``SHA256:`` fingerprint is derived from it.

Blank lines and lines starting with ``#`` are ignored.  Any other line that
does not parse is reported as ``FILE:LINE: reason`` and ignored, never fatal.
When a HOST:PORT is listed twice the first line counts and the later ones are
reported.  The file is rewritten atomically (a temporary file renamed over it),
keeping every other line byte for byte; a new file gets mode 0600 in a 0700
directory, since the list tells where its owner plays.
"""

from __future__ import annotations

import binascii
import contextlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from netsnake.addresses import format_address, normalize_host, parse_hostport
from netsnake.xdg import APP_DIR, XdgError, config_home, temp_path, write_private_temp

__all__ = [
    "KEY_TYPE",
    "KnownKey",
    "KnownServers",
    "KnownServersError",
    "LineProblem",
    "default_known_servers_path",
    "format_line",
    "parse_line",
    "record_key",
    "server_label",
]

#: The only key type so far: an X25519 public key.
KEY_TYPE = "x25519"
_KEY_SIZE = 32
_HEADER = b"# netsnake known servers: HOST:PORT x25519 PUBLIC-KEY (base64), one a line\n"
_SHOWN = 40  # characters of a bad field quoted in a problem report


class KnownServersError(Exception):
    """The file cannot be read or written; ``str()`` is one line naming it."""


@dataclass(frozen=True, slots=True)
class KnownKey:
    """A remembered server key and the line (from 1) it is on."""

    label: str
    key: bytes
    line: int


@dataclass(frozen=True, slots=True)
class LineProblem:
    """A line that was ignored, and why."""

    line: int
    reason: str


def default_known_servers_path() -> Path:
    """``$XDG_CONFIG_HOME/netsnake/known_servers``; KnownServersError if there is no home."""
    try:
        return config_home() / APP_DIR / "known_servers"
    except XdgError as exc:
        raise KnownServersError(f"no known_servers file: {exc}") from None


def server_label(host: str, port: int) -> str:
    """The HOST:PORT a server is remembered under."""
    return format_address(normalize_host(host), port)


def format_line(label: str, key: bytes) -> str:
    """One line of the file (without the newline)."""
    return f"{label} {KEY_TYPE} {binascii.b2a_base64(key, newline=False).decode('ascii')}"


def _show(text: str) -> str:
    # repr() escapes control characters, so a hostile file cannot drive the terminal.
    return repr(text if len(text) <= _SHOWN else text[:_SHOWN] + "…")


def parse_line(text: str) -> tuple[str, bytes]:
    """(label, key) from a line that is neither blank nor a comment; ValueError says why not."""
    fields = text.split()
    if len(fields) != 3:
        raise ValueError(f"expected 'HOST:PORT {KEY_TYPE} KEY', found {len(fields)} fields")
    where, key_type, encoded = fields
    try:
        host, port = parse_hostport(where)
    except ValueError as exc:
        raise ValueError(f"bad HOST:PORT {_show(where)}: {exc}") from None
    if key_type != KEY_TYPE:
        raise ValueError(f"unknown key type {_show(key_type)}")
    try:
        key = binascii.a2b_base64(encoded, strict_mode=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"key {_show(encoded)} is not base64") from None
    if len(key) != _KEY_SIZE:
        raise ValueError(f"key is {len(key)} bytes, not {_KEY_SIZE}")
    return server_label(host, port), key


@dataclass
class KnownServers:
    """The parsed file: the first entry for each server, and the lines ignored."""

    path: Path
    entries: dict[str, KnownKey] = field(default_factory=dict)
    problems: list[LineProblem] = field(default_factory=list)

    @classmethod
    def parse(cls, data: bytes, path: Path) -> KnownServers:
        """Parse the file's contents (never raises for any content)."""
        known = cls(path)
        for number, raw in enumerate(data.split(b"\n"), start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                known.problems.append(LineProblem(number, "not UTF-8 text"))
                continue
            text = text.strip()
            if not text or text.startswith("#"):
                continue
            try:
                label, key = parse_line(text)
            except ValueError as exc:
                known.problems.append(LineProblem(number, str(exc)))
                continue
            first = known.entries.get(label)
            if first is not None:
                known.problems.append(
                    LineProblem(number, f"{label} is already listed on line {first.line}")
                )
                continue
            known.entries[label] = KnownKey(label, key, number)
        return known

    @classmethod
    def load(cls, path: Path) -> KnownServers:
        """Read ``path``; a missing file is an empty list, an unreadable one KnownServersError."""
        try:
            data = _read(path)
        except FileNotFoundError:
            return cls(path)
        return cls.parse(data, path)

    def get(self, label: str) -> KnownKey | None:
        """The remembered key of ``label`` (a :func:`server_label`), if any."""
        return self.entries.get(label)

    def location(self, entry: KnownKey) -> str:
        """``FILE:LINE`` of an entry, as ssh names an offending key."""
        return f"{self.path}:{entry.line}"

    def problem_reports(self) -> list[str]:
        """One ``FILE:LINE: reason; line ignored`` line per ignored line."""
        return [f"{self.path}:{p.line}: {p.reason}; line ignored" for p in self.problems]


def _read(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise KnownServersError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise KnownServersError(f"cannot read {path}: not a regular file")
    with os.fdopen(fd, "rb") as f:
        try:
            return f.read()
        except OSError as exc:
            raise KnownServersError(f"cannot read {path}: {exc.strerror or exc}") from None


def record_key(path: Path, label: str, key: bytes) -> KnownKey:
    """Remember ``key`` for ``label``: rewrite its line if it has one, else add a line.

    The file is read afresh, so lines another client added meanwhile are kept.
    Raises KnownServersError if the file cannot be written.
    """
    try:
        data = _read(path)
        mode: int | None = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        data, mode = _HEADER, None
    known = KnownServers.parse(data, path)
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()  # the newline ending the last line, written back below
    new_line = format_line(label, key).encode("ascii")
    entry = known.get(label)
    if entry is not None:
        if entry.key == key:
            return entry
        lines[entry.line - 1] = new_line
        number = entry.line
    else:
        lines.append(new_line)
        number = len(lines)
    _write_atomically(path, b"\n".join(lines) + b"\n", mode)
    return KnownKey(label, key, number)


def _write_atomically(path: Path, data: bytes, mode: int | None) -> None:
    try:
        tmp = write_private_temp(path, data, 0o600 if mode is None else mode, exclusive=False)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp_path(path))
        raise KnownServersError(f"cannot write {path}: {exc.strerror or exc}") from None
