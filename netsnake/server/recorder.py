"""``netsnake-server --record DIR``: every tick of the game, written to a file in DIR.

:class:`ServerRecorder` sits in the asyncio shell: after each tick it takes
the world snapshot and the events the game announced since the last tick
(:attr:`GameServer.event_log <netsnake.server.game.GameServer.event_log>`)
and appends them to a :class:`~netsnake.recording_file.RecordingFile`
named after the date and time the server started.  The file is written at
least once a second, so a server killed with SIGKILL leaves a recording that
plays up to its last second.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from netsnake import GAME_VERSION
from netsnake.game.recording import RecordingHeader, default_keyframe_interval
from netsnake.recording_file import FLUSH_INTERVAL, RecordingFile, recording_path
from netsnake.server.game import GameServer, ServerSettings

__all__ = ["ServerRecorder", "server_header"]

log = logging.getLogger("recording")


def server_header(settings: ServerSettings, *, server_name: str, started: float) -> RecordingHeader:
    """The header of a recording of a game run with ``settings``."""
    cfg = settings.world
    return RecordingHeader(
        game_version=GAME_VERSION,
        width=cfg.width,
        height=cfg.height,
        wrap=cfg.wrap,
        tick_rate=settings.tick_rate,
        server=server_name,
        started=started,
        source="server",
        keyframe_interval=default_keyframe_interval(settings.tick_rate),
    )


class ServerRecorder:
    """Records ``game`` into a new file in ``directory``."""

    def __init__(
        self,
        game: GameServer,
        directory: Path,
        *,
        server_name: str,
        now: float,
        started: float | None = None,
        flush_interval: float = FLUSH_INTERVAL,
    ) -> None:
        """Create the file (OSError if it cannot be); ``started`` is the Unix time
        named in the file (default: now)."""
        self._game = game
        started = time.time() if started is None else started
        header = server_header(game.settings, server_name=server_name, started=started)
        self.file = RecordingFile(
            recording_path(directory, started), header, now=now, flush_interval=flush_interval
        )
        self.path = self.file.path
        game.event_log = []

    def record(self, now: float) -> None:
        """Append the tick just played (call after each :meth:`GameServer.tick`)."""
        self._take_events()
        self.file.add_frame(self._game.snapshot, now)

    def _take_events(self) -> None:
        log_ = self._game.event_log
        if log_:
            for event in log_:
                self.file.add_event(event)
            log_.clear()

    def close(self, now: float) -> None:
        """Write out the rest (the shutdown notice included) and close the file."""
        self._take_events()
        self.file.close(now)
        self._game.event_log = None
        log.info(
            "recorded %d ticks (%.1f KB) to %s",
            self.file.writer.frames,
            self.file.writer.bytes_written / 1000,
            self.path,
        )
