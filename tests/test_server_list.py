"""Server info and ``netsnake-client --list``: the INFO payload, the game server that
supplies it, and the command against real servers on loopback (IPv4 and IPv6)."""

from __future__ import annotations

import contextlib
import io
import re
import socket
import subprocess
import sys
import time
from dataclasses import replace

import msgpack
import pytest
from helpers_proc import REPO, ServerProcess, run_server_cli
from hypothesis import given, settings
from hypothesis import strategies as st
from netcheck import ipv6_loopback_works, unused_udp_port

from netsnake import GAME_VERSION, __version__
from netsnake.client.listing import ListedServer
from netsnake.game.server_info import (
    MAX_SERVER_NAME_LENGTH,
    ServerInfo,
    decode_server_info,
    encode_server_info,
    printable,
)
from netsnake.server.game import GameServer, ServerSettings
from netsnake.sim import GameSimulation
from netsnake.ui.server_list import format_table
from netsnake.ui.text import display_width
from protocol import MAX_INFO_PAYLOAD, DecodeError, ServerEndpoint

DOC = REPO / "docs" / "game-messages.rst"
ALPHA = ServerInfo(
    name="alpha",
    version="0.1.0",
    game_version=3,
    players=3,
    max_players=16,
    spectators=0,
    tick_rate=10.0,
    width=40,
    height=20,
    uptime=65,
    instance=0x12345678,
)


def _doc_example(name: str) -> bytes:
    m = re.search(rf"``{name}``::\n\n((?:    [0-9a-f ]+\n)+)", DOC.read_text(encoding="utf-8"))
    assert m is not None, name
    return bytes.fromhex(m[1])


def test_the_documented_payload_is_what_the_encoder_makes() -> None:
    data = _doc_example("info-payload-alpha")
    assert encode_server_info(ALPHA) == data
    assert decode_server_info(data) == ALPHA
    assert "(109 bytes, so a\n121-byte reply" in DOC.read_text(encoding="utf-8")
    assert len(data) == 109


@settings(max_examples=200, derandomize=True)
@given(
    name=st.text(max_size=MAX_SERVER_NAME_LENGTH),
    players=st.integers(0, 256),
    spectators=st.integers(0, 65535),
    uptime=st.integers(0, 2**32 - 1),
    instance=st.integers(0, 2**32 - 1),
)
def test_any_server_info_fits_a_reply_and_reads_back(
    name: str, players: int, spectators: int, uptime: int, instance: int
) -> None:
    info = ServerInfo(
        name=name,
        version=__version__,
        game_version=GAME_VERSION,
        players=players,
        max_players=64,
        spectators=spectators,
        tick_rate=60.0,
        width=255,
        height=255,
        uptime=uptime,
        instance=instance,
    )
    data = encode_server_info(info)
    assert len(data) <= MAX_INFO_PAYLOAD
    back = decode_server_info(data)
    # Only the name may have been cut (at the end, on a character boundary) or cleaned.
    assert printable(name).startswith(back.name)
    assert back == ServerInfo(**{**_fields(info), "name": back.name})


def _fields(info: ServerInfo) -> dict[str, object]:
    return {k: getattr(info, k) for k in ServerInfo.__dataclass_fields__}


def test_a_name_of_wide_characters_is_cut_to_fit() -> None:
    info = ServerInfo(**{**_fields(ALPHA), "name": "🐍" * MAX_SERVER_NAME_LENGTH})  # type: ignore[arg-type]
    data = encode_server_info(info)
    assert len(data) <= MAX_INFO_PAYLOAD
    name = decode_server_info(data).name
    assert 0 < len(name) < MAX_SERVER_NAME_LENGTH and set(name) == {"🐍"}


def test_escape_sequences_in_a_name_never_reach_the_terminal() -> None:
    evil = ServerInfo(**{**_fields(ALPHA), "name": "x\x1b[2Jy\x07"})  # type: ignore[arg-type]
    assert decode_server_info(encode_server_info(evil)).name == "x?[2Jy?"
    # Even when a hostile server sends them raw.
    raw = {**msgpack.unpackb(encode_server_info(ALPHA)), "name": "\x1b]0;pwned\x07"}
    assert decode_server_info(msgpack.packb(raw)).name == "?]0;pwned?"


@pytest.mark.parametrize(
    "data",
    [b"", b"\xc1", b"\x90", b"\x81\xa4name\x01", b"\xdf\xff\xff\xff\xff", bytes(300)],
    ids=["empty", "reserved", "array", "bad-type", "map-bomb", "oversized"],
)
def test_bad_payloads_raise_decode_error(data: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_server_info(data)


def test_missing_keys_are_bad_and_unknown_keys_are_ignored() -> None:
    full = msgpack.unpackb(encode_server_info(ALPHA))
    assert decode_server_info(msgpack.packb({**full, "future": [1, 2]})) == ALPHA
    for key in full:
        with pytest.raises(DecodeError):
            decode_server_info(msgpack.packb({k: v for k, v in full.items() if k != key}))


@settings(max_examples=300, derandomize=True)
@given(st.binary(max_size=300))
def test_the_decoder_raises_only_decode_error(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decode_server_info(data)


def test_the_game_server_keeps_its_info_payload_current() -> None:
    endpoint = ServerEndpoint()
    settings_ = ServerSettings(bots=2, max_players=5, seed=7, server_name="kitchen")
    game = GameServer(settings_, endpoint, instance=42)
    # Answerable before the first tick: a query may come right after the bind.
    assert decode_server_info(endpoint.info.payload).players == 2
    game.tick(1000.0)
    first = decode_server_info(endpoint.info.payload)
    assert (first.name, first.players, first.max_players, first.uptime) == ("kitchen", 2, 5, 0)
    assert (first.spectators, first.instance, first.tick_rate) == (0, 42, 10.0)
    assert (first.width, first.height) == (settings_.world.width, settings_.world.height)
    game.tick(1061.5)
    assert decode_server_info(endpoint.info.payload).uptime == 61


def test_info_counts_players_and_spectators_as_seated() -> None:
    seed = 12
    sim = GameSimulation(ServerSettings(tick_rate=10, bots=2, seed=seed), seed=seed)
    sim.add_client("ann")
    sim.add_client("eve", spectate=True)
    sim.add_client("joe", spectate=True)
    sim.run(3.0)
    info = decode_server_info(sim.endpoint.info.payload)
    assert (info.players, info.spectators) == (3, 2), f"seed {seed}"
    assert info.uptime in (2, 3)


def test_the_table_aligns_wide_names_and_shows_no_escapes() -> None:
    rows = [
        ListedServer("192.0.2.1:5050", 0.0123, replace(ALPHA, name="Salon 🐍🐍")),
        ListedServer("192.0.2.2:5050", 0.0004, replace(ALPHA, name="\x1b[31mred\x1b[0m")),
        ListedServer("192.0.2.3:5050", 0.001, replace(ALPHA, name="名" * 30, version="9.9")),
        ListedServer("192.0.2.4:5050", problem="no answer"),
    ]
    out = io.StringIO()
    format_table(rows, out)
    lines = out.getvalue().splitlines()
    assert "\x1b" not in out.getvalue()
    # Every ADDRESS starts in the same terminal column.
    columns = {display_width(line[: line.index("192.0.2.")]) for line in lines[1:]}
    assert len(columns) == 1 and columns == {display_width(lines[0][: lines[0].index("ADDRESS")])}
    assert lines[1].startswith("Salon 🐍🐍 ") and "12 ms" in lines[1] and "3/16" in lines[1]
    assert lines[2].startswith("red ") and "0.4 ms" in lines[2]
    assert lines[3].startswith("名" * 11 + "…") and lines[3].rstrip().endswith("9.9")
    assert lines[4].split() == ["(no", "answer)", "192.0.2.4:5050", "-"]


# ------------------------------------------------------------- the command line


def _client(*args: str, timeout: float = 15.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netsnake.client.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def _rows(stdout: str) -> list[list[str]]:
    lines = stdout.splitlines()
    assert lines[0].split() == [
        "NAME",
        "ADDRESS",
        "PING",
        "PLAYERS",
        "WATCHING",
        "TICK",
        "BOARD",
        "UPTIME",
        "VERSION",
    ]
    # Columns are at the header's offsets (names may contain spaces).
    starts = [m.start() for m in re.finditer(r"\S+", lines[0])]
    bounds = [*starts[1:], None]
    return [[line[a:b].strip() for a, b in zip(starts, bounds, strict=True)] for line in lines[1:]]


@pytest.mark.skipif(not ipv6_loopback_works(), reason="no IPv6 loopback")
def test_list_shows_real_servers_over_ipv4_and_ipv6_and_the_unreachable() -> None:
    with (
        ServerProcess("--server-name", "alpha one", "--bots", "2", "--width", "30") as v4,
        ServerProcess("--host", "::1", "--server-name", "beta", "--tick-rate", "20") as v6,
    ):
        dead = unused_udp_port()
        started = time.monotonic()
        result = _client(
            "--list",
            f"127.0.0.1:{v4.port}",
            f"[::1]:{v6.port}",
            f"127.0.0.1:{dead}",
            "no-such-host.invalid",
            f"127.0.0.1:{v4.port}",  # asked once, listed twice
        )
        took = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    rows = _rows(result.stdout)
    assert [r[:2] for r in rows] == [
        ["alpha one", f"127.0.0.1:{v4.port}"],
        ["beta", f"[::1]:{v6.port}"],
        ["(no answer)", f"127.0.0.1:{dead}"],
        ["(unknown host)", "no-such-host.invalid:5050"],
        ["alpha one", f"127.0.0.1:{v4.port}"],
    ]
    alpha, beta = rows[0], rows[1]
    assert rows[4][3:] == alpha[3:]
    assert alpha[3:7] == ["2/16", "0", "10 Hz", "30x20"]
    assert beta[3:7] == ["0/16", "0", "20 Hz", "26x20"]
    for row in (alpha, beta):
        assert re.fullmatch(r"\d+(\.\d)? ms", row[2]), row
        assert re.fullmatch(r"\d+s", row[7]) and row[8] == __version__, row
    assert rows[2][2:] == ["-", "", "", "", "", "", ""]
    assert took < 5.0  # one second for the unreachable host, plus interpreter start-up


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--list", "127.0.0.1:99999"], r"bad HOST: bad port '99999'"),
        (["--list", "[::1"], r"bad HOST: missing '\]'"),
        (["--list", "a b"], r"bad HOST: bad host 'a b'"),
        (["--list", "--replay", "x.nsrec"], r"--list prints a table and exits"),
        (["--list", "--bot", "builtin"], r"no --replay, --record or --bot with it"),
    ],
)
def test_bad_list_hosts_give_the_usual_one_line_error(args: list[str], message: str) -> None:
    result = _client(*args)
    assert result.returncode == 2 and result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("netsnake-client: error: ") and re.search(message, line), line


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("   ", "the server name is empty"),
        ("a\x1bb", "the server name has control characters"),
        ("x" * (MAX_SERVER_NAME_LENGTH + 1), "longer than 64 characters"),
    ],
)
def test_bad_server_names_give_one_error_line(name: str, message: str) -> None:
    result = run_server_cli("--server-name", name)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("netsnake-server: error: ") and message in line, line


def test_without_a_name_the_server_is_named_after_its_host() -> None:
    with ServerProcess() as server:
        result = _client("--list", f"127.0.0.1:{server.port}")
    shown = _rows(result.stdout)[0][0]
    assert shown.rstrip("…") == printable(socket.gethostname())[: len(shown.rstrip("…"))]
    assert shown
