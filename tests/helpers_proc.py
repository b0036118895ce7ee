"""Run ``netsnake-server`` as a real subprocess for end-to-end tests and benchmarks.

:class:`ServerProcess` starts the server on loopback (port 0 by default, so
the kernel picks a free port and there is no race), reads its log lines on a
thread, waits for the "listening" line, and always kills the process when the
``with`` block ends.  :func:`run_server_cli` runs the command line to
completion, for argument errors.

Import it from tests as ``from helpers_proc import ServerProcess`` (pytest
puts ``tests/`` on ``sys.path``) or, from elsewhere, after adding ``tests/``
to ``sys.path``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

__all__ = [
    "LISTENING_RE",
    "REPO",
    "STATS_RE",
    "ServerProcess",
    "run_server_cli",
    "server_command",
]

REPO = Path(__file__).resolve().parents[1]

#: "netsnake server listening on 127.0.0.1 port 40123 (...)"
LISTENING_RE = re.compile(r"listening on (?P<host>\S+) port (?P<port>\d+)")
#: The periodic stats line of ``netsnake.server.app``.
STATS_RE = re.compile(
    r"players (?P<players>\d+) \(humans (?P<humans>\d+)\) spectators (?P<spectators>\d+) \| "
    r"tick p50 (?P<p50>[\d.]+) ms p99 (?P<p99>[\d.]+) ms overruns (?P<overruns>\d+) \| "
    r"gc (?P<gc>\d+) longest (?P<gc_ms>[\d.]+) ms \| "
    r"in (?P<in_dgrams>[\d.]+) dgram/s (?P<in_kbs>[\d.]+) KB/s \| "
    r"out (?P<out_dgrams>[\d.]+) dgram/s (?P<out_kbs>[\d.]+) KB/s \| "
    r"dropped: (?P<dropped>.*)$"
)


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    # The checkout must win over any installed copy, and log lines must not sit in a buffer.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def server_command(*args: str) -> list[str]:
    """The argv that runs ``netsnake-server`` with ``args`` under this interpreter."""
    return [sys.executable, "-m", "netsnake.server.cli", *args]


def run_server_cli(*args: str, timeout: float = 15.0) -> subprocess.CompletedProcess[str]:
    """Run ``netsnake-server args`` to completion (for command lines that must fail)."""
    return subprocess.run(
        server_command(*args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_child_env(),
        cwd=REPO,
        check=False,
    )


class ServerProcess:
    """A ``netsnake-server`` subprocess whose output is collected line by line.

    ``args`` are extra command-line arguments; ``--host 127.0.0.1`` and
    ``--port 0`` are added unless given.  Use as a context manager::

        with ServerProcess("--bots", "2") as server:
            host, port = server.address
    """

    def __init__(
        self, *args: str, start_timeout: float = 15.0, preexec: Callable[[], None] | None = None
    ) -> None:
        argv = list(args)
        if "--host" not in argv:
            argv += ["--host", "127.0.0.1"]
        if "--port" not in argv:
            argv += ["--port", "0"]
        self.argv = server_command(*argv)
        self.start_timeout = start_timeout
        self.lines: list[str] = []
        #: ``time.monotonic()`` at which each line in :attr:`lines` arrived.
        self.line_times: list[float] = []
        #: Called on the reader thread with each new line (e.g. to sample CPU at that moment).
        self.on_line: Callable[[str], None] | None = None
        self.proc: subprocess.Popen[str] | None = None
        self.host = ""
        self.port = 0
        self._cond = threading.Condition()
        self._reader: threading.Thread | None = None
        self._preexec = preexec

    # -------------------------------------------------------------- lifecycle

    def start(self) -> ServerProcess:
        """Start the process and wait for its "listening" line."""
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
            env=_child_env(),
            cwd=REPO,
            preexec_fn=self._preexec,
        )
        self._reader = threading.Thread(target=self._read, name="server-output", daemon=True)
        self._reader.start()
        match = self.wait_for_line(LISTENING_RE, timeout=self.start_timeout)
        self.host, self.port = match["host"], int(match["port"])
        return self

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.kill()

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.rstrip("\n")
            with self._cond:
                self.lines.append(line)
                self.line_times.append(time.monotonic())
                self._cond.notify_all()
            if self.on_line is not None:
                self.on_line(line)
        with self._cond:
            self._cond.notify_all()

    def kill(self) -> None:
        """SIGKILL the server if it still runs, and reap it (idempotent)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        if self.proc.stdout is not None and self._reader is not None:
            self._reader.join(timeout=5)
            self.proc.stdout.close()

    # ---------------------------------------------------------------- queries

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def output(self) -> str:
        """Everything the server printed so far."""
        with self._cond:
            return "\n".join(self.lines)

    def _find(self, pattern: re.Pattern[str], start: int) -> tuple[int, re.Match[str]] | None:
        for i in range(start, len(self.lines)):
            m = pattern.search(self.lines[i])
            if m is not None:
                return i, m
        return None

    def wait_for_line(
        self, pattern: str | re.Pattern[str], *, timeout: float, start: int = 0
    ) -> re.Match[str]:
        """Wait until a line from index ``start`` on matches; AssertionError with the output
        if it does not appear in time or the process exits first."""
        return self.wait_for_line_at(pattern, timeout=timeout, start=start)[1]

    def wait_for_line_at(
        self, pattern: str | re.Pattern[str], *, timeout: float, start: int = 0
    ) -> tuple[int, re.Match[str]]:
        """Like :meth:`wait_for_line`, also returning the line's index in :attr:`lines`."""
        assert self.proc is not None
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = self._find(rx, start)
                if found is not None:
                    return found
                reader_done = self._reader is not None and not self._reader.is_alive()
                left = deadline - time.monotonic()
                if left <= 0 or reader_done:
                    break
                self._cond.wait(min(left, 0.1))
        raise AssertionError(
            f"no line matching {rx.pattern!r} within {timeout} s "
            f"(exit code {self.proc.poll()}); server output:\n{self.output}"
        )

    def send_signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int:
        """Wait for the process to exit and return its exit code (TimeoutExpired if not)."""
        assert self.proc is not None
        code = self.proc.wait(timeout=timeout)
        if self._reader is not None:
            self._reader.join(timeout=5)
        return code
