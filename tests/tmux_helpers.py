"""Driving real programs in a real terminal: a private tmux server for one test.

Each :class:`Tmux` runs its own tmux server on a unique ``-L`` socket, so
tests never see each other's sessions (or a developer's own tmux), and
:meth:`Tmux.kill` takes down everything started in it.  Window 0 of the
session is a plain bash (no rc files, ``$`` prompt, UTF-8 locale) in which
commands are typed as a person would; other windows run one program each,
directly (no shell), so their pane pid is the program's pid.

Screens are read with ``capture-pane`` and every wait polls until a condition
holds or a deadline passes; a timeout fails with the last screen attached, so
a failing test shows what the player would have seen.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

__all__ = ["BIN", "TMUX", "Tmux", "WaitTimeout", "exit_code", "tty_is_sane"]

#: The tmux binary, or None when it is not installed.
TMUX = shutil.which("tmux")
#: Where the project's console scripts live (the venv running the tests).
BIN = Path(sys.executable).parent

_POLL = 0.1  # s between screen captures while waiting
_EXIT_RE = re.compile(r"^EXIT=(\d+)\s*$", re.MULTILINE)


class WaitTimeout(AssertionError):
    """A screen condition did not hold before its deadline."""


def exit_code(screen: str) -> int | None:
    """The status printed by ``...; echo EXIT=$?`` on ``screen``, if it is there yet."""
    found = _EXIT_RE.findall(screen)
    return int(found[-1]) if found else None


def tty_is_sane(stty_output: str) -> bool:
    """Whether ``stty -a`` output shows a cooked terminal (line mode and echo on)."""
    flags = set(stty_output.replace(";", " ").split())
    return {"icanon", "echo", "isig", "icrnl", "opost"} <= flags


class Tmux:
    """A private tmux server with one session of ``cols``×``rows`` (see the module doc)."""

    SESSION = "netsnake"

    def __init__(self, cols: int = 100, rows: int = 30) -> None:
        if TMUX is None:
            raise RuntimeError("tmux is not installed")
        self.socket = f"netsnake-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.shell = f"{self.SESSION}:0"
        env = {
            "PS1": "$ ",
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "HISTFILE": "/dev/null",
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
            "USER": "tester",
        }
        shell = ["env", *(f"{k}={v}" for k, v in env.items()), "bash", "--norc", "--noprofile"]
        # -f /dev/null: no user config can change keys, sizes or the status line.
        self.cmd(
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            self.SESSION,
            "-x",
            str(cols),
            "-y",
            str(rows),
            *shell,
        )
        # Keep a finished program's pane (and its exit status) around for inspection.
        self.cmd("set-option", "-g", "remain-on-exit", "on")
        self.cmd("set-option", "-g", "status", "off")
        self.wait_for(lambda s: s.rstrip().endswith("$"), timeout=5, what="the shell prompt")

    # -- plumbing

    def cmd(self, *args: str, check: bool = True) -> str:
        """Run a tmux command against this server; its stdout."""
        assert TMUX is not None
        done = subprocess.run(
            [TMUX, "-u", "-L", self.socket, *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def kill(self) -> None:
        """Stop the tmux server and every program it runs."""
        self.cmd("kill-server", check=False)

    # -- looking

    def capture(self, target: str | None = None, *, join: bool = False) -> str:
        """The visible text of a pane (``join``: wrapped lines rejoined)."""
        args = ["capture-pane", "-p", "-t", target or self.shell]
        if join:
            args.insert(2, "-J")
        return self.cmd(*args)

    def display(self, fmt: str, target: str | None = None) -> str:
        """A tmux format evaluated for a pane, e.g. ``#{alternate_on}``."""
        return self.cmd("display-message", "-p", "-t", target or self.shell, fmt).strip()

    def wait_for(
        self,
        condition: str | Callable[[str], bool],
        *,
        timeout: float,
        target: str | None = None,
        what: str | None = None,
        join: bool = False,
    ) -> str:
        """Poll a pane until ``condition`` (a substring or a predicate) holds; the screen.

        Raises :class:`WaitTimeout` with the last screen if it does not within ``timeout`` s.
        """
        check = (lambda s: condition in s) if isinstance(condition, str) else condition
        deadline = time.monotonic() + timeout
        while True:
            screen = self.capture(target, join=join)
            if check(screen):
                return screen
            if time.monotonic() >= deadline:
                label = what or (repr(condition) if isinstance(condition, str) else "condition")
                raise WaitTimeout(
                    f"{label} not seen within {timeout:g} s; screen:\n"
                    f"{'-' * 40}\n{screen}{'-' * 40}"
                )
            time.sleep(_POLL)

    def wait_exit(self, *, timeout: float) -> int:
        """Wait for the ``EXIT=N`` line a command typed in the shell prints; N."""
        screen = self.wait_for(
            lambda s: exit_code(s) is not None, timeout=timeout, what="EXIT=<status>"
        )
        code = exit_code(screen)
        assert code is not None
        return code

    # -- acting

    def send_keys(self, *keys: str, target: str | None = None) -> None:
        """Press keys by tmux name (``Up``, ``C-c``, ``Enter``) or as characters."""
        self.cmd("send-keys", "-t", target or self.shell, *keys)

    def type_text(self, text: str, target: str | None = None) -> None:
        """Type ``text`` literally (no key-name lookup)."""
        self.cmd("send-keys", "-l", "-t", target or self.shell, text)

    def run_in_shell(self, command: str) -> None:
        """Type a command line into the shell pane and press Enter."""
        self.type_text(command)
        self.send_keys("Enter")

    def clear_shell(self) -> None:
        """Clear the shell pane so later captures show only new output."""
        self.run_in_shell("clear")
        self.wait_for(lambda s: s.strip() == "$", timeout=5, what="a cleared shell")

    def resize(self, cols: int, rows: int) -> None:
        """Resize the window, as a person dragging the terminal's corner would."""
        self.cmd("resize-window", "-t", self.shell, "-x", str(cols), "-y", str(rows))

    def new_window(self, name: str, argv: list[str]) -> str:
        """Run ``argv`` directly (no shell) in a new window; its target."""
        self.cmd("new-window", "-d", "-t", f"{self.SESSION}:", "-n", name, *argv)
        return f"{self.SESSION}:{name}"

    def pane_pid(self, target: str) -> int:
        """The pid of the program a pane runs."""
        return int(self.display("#{pane_pid}", target))

    def pane_exit_status(self, target: str, *, timeout: float) -> int:
        """Wait until the pane's program has exited; its exit status (-N: killed by signal N)."""
        deadline = time.monotonic() + timeout
        while True:
            # tmux marks a pane dead when its terminal closes, which can come
            # before it has reaped the program: wait for the status too.
            dead, status, sig = self.display(
                "#{pane_dead}:#{pane_dead_status}:#{pane_dead_signal}", target
            ).split(":")
            if dead == "1" and (status or sig):
                return int(status) if status else -int(sig)
            if dead == "1":
                # tmux 3.3a can leave an exited program unreaped (a zombie) for a
                # long time; Linux still tells its exit status in /proc.
                zombie = _zombie_status(int(self.display("#{pane_pid}", target)))
                if zombie is not None:
                    return zombie
            if time.monotonic() >= deadline:
                raise WaitTimeout(
                    f"{target} still running after {timeout:g} s; screen:\n"
                    f"{self.capture(target, join=True)}"
                )
            time.sleep(_POLL)


def _zombie_status(pid: int) -> int | None:
    """The exit status of ``pid`` if it is a zombie (-N: killed by signal N), else None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] != "Z":
        return None
    code = int(fields[-1])  # field 52, exit_code, in waitpid(2) form
    return -(code & 0x7F) if code & 0x7F else (code >> 8) & 0xFF
