"""known_servers: parsing (good, corrupt, IPv6, duplicate lines) and rewriting."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

from netsnake.client.known_servers import (
    KnownServers,
    KnownServersError,
    default_known_servers_path,
    format_line,
    parse_line,
    record_key,
    server_label,
)
from netsnake.client.trust import ServerTrust
from protocol import key_fingerprint

KEY_A = bytes(range(32))
KEY_B = bytes(range(100, 132))
B64_A = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="


def test_a_line_is_host_port_type_and_base64_key() -> None:
    assert format_line("example.org:5050", KEY_A) == f"example.org:5050 x25519 {B64_A}"
    assert parse_line(f"example.org:5050 x25519 {B64_A}") == ("example.org:5050", KEY_A)


@pytest.mark.parametrize(
    ("host", "port", "label"),
    [
        ("example.org", 5050, "example.org:5050"),
        ("Example.ORG", 6000, "example.org:6000"),
        ("10.0.0.1", 5050, "10.0.0.1:5050"),
        ("::1", 5050, "[::1]:5050"),
        ("0:0:0::0001", 7, "[::1]:7"),
        ("2001:DB8::1", 5050, "[2001:db8::1]:5050"),
    ],
)
def test_servers_are_labelled_as_the_host_argument_is_written(
    host: str, port: int, label: str
) -> None:
    assert server_label(host, port) == label


def test_ipv6_lines_are_read_in_brackets_and_normalised() -> None:
    assert parse_line(f"[::1]:5050 x25519 {B64_A}") == ("[::1]:5050", KEY_A)
    assert parse_line(f"[0::0001]:5050 x25519 {B64_A}") == ("[::1]:5050", KEY_A)
    with pytest.raises(ValueError, match=r"expected HOST:PORT or \[IPV6\]:PORT, got '::1'"):
        parse_line(f"::1 x25519 {B64_A}")  # a bare IPv6 address has no port


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("example.org:5050", "found 1 fields"),
        (f"example.org:5050 x25519 {B64_A} extra", "found 4 fields"),
        (f"example.org x25519 {B64_A}", "expected HOST:PORT or [IPV6]:PORT"),
        (f"example.org:99999 x25519 {B64_A}", "bad port"),
        (f"[::1:5050 x25519 {B64_A}", "missing ']'"),
        (f"example.org:5050 ed25519 {B64_A}", "unknown key type 'ed25519'"),
        ("example.org:5050 x25519 not*base64", "not base64"),
        ("example.org:5050 x25519 AAECAw==", "4 bytes, not 32"),
    ],
)
def test_bad_lines_say_what_is_wrong(line: str, reason: str) -> None:
    with pytest.raises(ValueError, match=r".*".join(map(re.escape, reason.split(" ")))):
        parse_line(line)


def test_a_file_with_corrupt_and_duplicate_lines_is_parsed_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "known_servers"
    data = (
        b"# comment\n"
        b"\n"
        + f"a.example:5050 x25519 {B64_A}\n".encode()
        + b"garbage\n"
        + b"\xff\xfe not utf-8\n"
        + f"[::1]:5050 x25519 {B64_A}\r\n".encode()
        + f"A.EXAMPLE:5050 x25519 {format_line('x:1', KEY_B).split()[2]}\n".encode()
        + b"b.example:5050 x25519 \x1b[31mred\n"
    )
    known = KnownServers.parse(data, path)
    assert sorted(known.entries) == ["[::1]:5050", "a.example:5050"]
    first = known.get("a.example:5050")
    assert first is not None and first.key == KEY_A and first.line == 3  # the first line wins
    assert [p.line for p in known.problems] == [4, 5, 7, 8]
    reports = known.problem_reports()
    assert reports[0].startswith(f"{path}:4: expected 'HOST:PORT x25519 KEY'")
    assert reports[1] == f"{path}:5: not UTF-8 text; line ignored"
    assert reports[2] == f"{path}:7: a.example:5050 is already listed on line 3; line ignored"
    # A hostile line cannot put an escape sequence on the player's terminal.
    assert "\x1b" not in reports[3] and "\\x1b" in reports[3]


@pytest.mark.parametrize("seed", range(20))
def test_random_bytes_never_break_the_parser(seed: int) -> None:
    import random

    rng = random.Random(seed)
    print(f"seed {seed}")
    lines = [format_line("h:1", KEY_A).encode(), b"[::1]:2 x25519 ", b"#", b"\xc3"]
    data = b"\n".join(
        bytes(rng.randrange(256) for _ in range(rng.randrange(60)))
        if rng.random() < 0.5
        else rng.choice(lines)
        for _ in range(30)
    )
    known = KnownServers.parse(data, Path("ks"))
    for entry in known.entries.values():
        assert len(entry.key) == 32


def test_a_missing_file_is_an_empty_list(tmp_path: Path) -> None:
    known = KnownServers.load(tmp_path / "nope")
    assert known.entries == {} and known.problems == []


def test_an_unreadable_file_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(KnownServersError, match="not a regular file"):
        KnownServers.load(tmp_path)  # a directory
    path = tmp_path / "known_servers"
    path.write_text("")
    path.chmod(0)
    if os.access(path, os.R_OK):
        pytest.skip("running as root: permissions do not stop reading")
    with pytest.raises(KnownServersError, match="Permission denied"):
        KnownServers.load(path)


def test_first_key_creates_a_private_file_in_a_private_directory(tmp_path: Path) -> None:
    path = tmp_path / "config" / "netsnake" / "known_servers"
    entry = record_key(path, "[::1]:5050", KEY_A)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    lines = path.read_text().splitlines()
    assert lines[0].startswith("#")  # a header saying what the file is
    assert lines[entry.line - 1] == f"[::1]:5050 x25519 {B64_A}"
    assert KnownServers.load(path).get("[::1]:5050") == entry


def test_a_changed_key_rewrites_its_line_and_keeps_every_other_byte(tmp_path: Path) -> None:
    path = tmp_path / "known_servers"
    before = (
        b"# mine\r\n"
        b"garbage that stays \xff\n"
        + f"a.example:5050 x25519 {B64_A}\n".encode()
        + f"a.example:5050 x25519 {B64_A}\n".encode()
        + f"b.example:5050 x25519 {B64_A}".encode()  # no newline at the end
    )
    path.write_bytes(before)
    path.chmod(0o640)
    entry = record_key(path, "a.example:5050", KEY_B)
    assert entry.line == 3
    after = path.read_bytes()
    old_line = f"a.example:5050 x25519 {B64_A}\na".encode()
    new_line = f"{format_line('a.example:5050', KEY_B)}\na".encode()
    assert after == before.replace(old_line, new_line, 1) + b"\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # the owner's choice of mode is kept
    # The same key again changes nothing; a new server is added at the end.
    assert record_key(path, "a.example:5050", KEY_B) == entry
    assert path.read_bytes() == after
    added = record_key(path, "c.example:1", KEY_A)
    assert added.line == 6
    assert path.read_bytes() == after + format_line("c.example:1", KEY_A).encode() + b"\n"
    assert not list(tmp_path.glob(".*tmp"))


def test_the_default_file_is_under_xdg_config_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", "/x/conf")
    assert default_known_servers_path() == Path("/x/conf/netsnake/known_servers")
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/is/ignored")
    monkeypatch.setenv("HOME", "/home/p")
    assert default_known_servers_path() == Path("/home/p/.config/netsnake/known_servers")
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.delenv("HOME")
    with pytest.raises(KnownServersError, match="HOME"):
        default_known_servers_path()


# ------------------------------------------------------------------ the trust policy


def _trust(path: Path, label: str, trust_new_key: bool = False) -> ServerTrust:
    return ServerTrust(KnownServers.load(path), label, trust_new_key)


def test_first_contact_pins_nothing_then_remembers_the_proven_key(tmp_path: Path) -> None:
    path = tmp_path / "netsnake" / "known_servers"
    trust = _trust(path, "[::1]:5050")
    assert trust.pinned_key is None and trust.pinned_from == ""
    notice = trust.accept(KEY_A)
    assert notice is not None
    assert notice.full == (f"new server [::1]:5050: key {key_fingerprint(KEY_A)} added to {path}:2")
    assert "known_servers" in notice.short and len(notice.short) < 60
    assert trust.accept(KEY_A) is None  # nothing new the second time
    assert trust.said == [notice.full] and trust.proven == KEY_A
    again = _trust(path, "[::1]:5050")
    assert again.pinned_key == KEY_A and again.pinned_from == f"{path}:2"


def test_a_known_key_is_pinned_and_a_change_is_reported_with_file_and_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "known_servers"
    path.write_text(f"# x\nother:1 x25519 {B64_A}\nhost:2 x25519 {B64_A}\n")
    trust = _trust(path, "host:2")
    assert trust.pinned_key == KEY_A
    trust.proven = KEY_B
    report = trust.mismatch_report()
    assert report[0] == (
        f"error: the key of host:2 has changed: it proved {key_fingerprint(KEY_B)}, "
        f"expected {key_fingerprint(KEY_A)}"
    )
    assert report[1] == f"Offending key in {path}:3"
    assert "--trust-new-key" in report[2]


def test_trust_new_key_pins_nothing_and_rewrites_the_line(tmp_path: Path) -> None:
    path = tmp_path / "known_servers"
    path.write_text(f"# x\nother:1 x25519 {B64_A}\nhost:2 x25519 {B64_A}\n")
    trust = _trust(path, "host:2", trust_new_key=True)
    assert trust.pinned_key is None
    assert trust.accept(KEY_A) is None  # the same key after all: nothing to rewrite
    notice = trust.accept(KEY_B)
    assert notice is not None
    fingerprint = key_fingerprint(KEY_B)
    assert notice.full == f"the key of host:2 changed to {fingerprint}: {path}:3 rewritten"
    assert path.read_text().splitlines()[1:] == [
        f"other:1 x25519 {B64_A}",
        format_line("host:2", KEY_B),
    ]


def test_a_file_that_cannot_be_written_only_costs_the_memory() -> None:
    # Nobody, root included, may make a directory in /proc.
    path = Path("/proc/netsnake-test/known_servers")
    if not Path("/proc/self").exists():
        pytest.skip("no /proc")
    trust = _trust(path, "host:2")
    notice = trust.accept(KEY_A)
    assert notice is not None
    assert notice.full.startswith(f"warning: cannot write {path}: ")
    assert trust.pinned_key is None
