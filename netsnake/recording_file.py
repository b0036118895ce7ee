"""The thin file layer under :mod:`netsnake.game.recording`: append, flush, open.

:class:`RecordingFile` appends what a :class:`~netsnake.game.recording.RecordingWriter`
produces.  Bytes are handed to the operating system (one ``write``, ending
on a record boundary) with the first frame after ``flush_interval`` seconds
since the last write, so a process killed with SIGKILL leaves a file that
plays up to its last write, less than a second ago: the kernel keeps what was
written even though the process died.  A failing
disk (full, removed) stops the recording with one log line, never the game.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path

from netsnake.game.events import GameEvent
from netsnake.game.messages import Overview
from netsnake.game.recording import (
    AreaRecord,
    Recording,
    RecordingError,
    RecordingHeader,
    RecordingWriter,
)
from netsnake.game.scoreboard import ScoreLine
from netsnake.game.snapshot import Snapshot

__all__ = ["FLUSH_INTERVAL", "RecordingFile", "load_recording", "recording_path"]

log = logging.getLogger("recording")

#: Time between writes.  Writes happen on ticks, up to a tick after this is
#: due, so half a second keeps what is on disk less than a second old.
FLUSH_INTERVAL = 0.5
#: File name suffix of recordings.
SUFFIX = ".nsrec"
_MAX_FILE = 512 * 1024 * 1024  # refuse to load anything this large: not one of ours


def recording_path(directory: Path, started: float) -> Path:
    """A new file name in ``directory`` for a game started at Unix time ``started``.

    ``netsnake-YYYYmmdd-HHMMSS.nsrec`` in local time, with ``-2``, ``-3``, ...
    added if that name is taken.
    """
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(started))
    path = directory / f"netsnake-{stamp}{SUFFIX}"
    n = 1
    while path.exists():
        n += 1
        path = directory / f"netsnake-{stamp}-{n}{SUFFIX}"
    return path


class RecordingFile:
    """A recording being written to ``path``; ``now`` arguments are any monotonic clock."""

    def __init__(
        self,
        path: Path,
        header: RecordingHeader,
        *,
        now: float,
        flush_interval: float = FLUSH_INTERVAL,
        exclusive: bool = True,
    ) -> None:
        """Create the file and write the header; OSError if it cannot be created.

        ``exclusive`` refuses an existing file (the server never overwrites a game).
        """
        self.path = path
        self.writer = RecordingWriter(header)
        self._flush_interval = flush_interval
        flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
        self._fd: int | None = os.open(path, flags, 0o644)
        self._last_flush = now
        self.flushes = 0
        self.flush(now)

    @property
    def closed(self) -> bool:
        return self._fd is None

    def add_event(self, event: GameEvent) -> None:
        """Record ``event`` (it belongs to the next frame)."""
        if self._fd is not None:
            self.writer.add_event(event)

    def add_area(self, area: AreaRecord) -> None:
        """Record a client's area of interest (it holds from the next frame on)."""
        if self._fd is not None:
            self.writer.add_area(area)

    def add_scores(self, tick: int, lines: Iterable[ScoreLine]) -> None:
        """Record a client's scoreboard lines (they hold from the next frame on)."""
        if self._fd is not None:
            self.writer.add_scores(tick, lines)

    def add_overview(self, overview: Overview) -> None:
        """Record a client's OVERVIEW (it holds from the next frame on)."""
        if self._fd is not None:
            self.writer.add_overview(overview)

    def add_frame(self, snapshot: Snapshot, now: float) -> None:
        """Record ``snapshot`` and write out everything if the last flush is old enough."""
        if self._fd is None:
            return
        self.writer.add_frame(snapshot)
        if now - self._last_flush >= self._flush_interval:
            self.flush(now)

    def flush(self, now: float) -> None:
        """Hand every pending record to the operating system now."""
        self._last_flush = now
        if self._fd is None:
            return
        data = self.writer.take()
        try:
            view = memoryview(data)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
        except OSError as exc:
            log.error("recording to %s stopped: %s", self.path, exc.strerror or exc)
            self._close_fd()
            return
        self.flushes += 1

    def close(self, now: float) -> None:
        """Flush and close (idempotent)."""
        if self._fd is not None:
            self.flush(now)
            self._close_fd()

    def _close_fd(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None


def load_recording(path: Path) -> Recording:
    """Read and index the recording at ``path``.

    Raises RecordingError with a one-line reason (not naming the file) for a
    file that cannot be read, is not a recording or holds no frames.
    """
    try:
        with open(path, "rb") as f:
            data = f.read(_MAX_FILE + 1)
    except OSError as exc:
        raise RecordingError(f"cannot read it: {exc.strerror or exc}") from None
    if len(data) > _MAX_FILE:
        raise RecordingError("too large to be a netsnake recording")
    recording = Recording(data)
    if recording.frame_count == 0:
        raise RecordingError("the recording holds no frames")
    return recording
