"""``netsnake-client HOST --record FILE``: keep what this client received.

:class:`ClientRecorder` listens to a :class:`~netsnake.client.core.ClientCore`:
every snapshot the core decoded (and checked against the server's hash) is
written as a frame, and every game event as an event, in the recording
format of :mod:`netsnake.game.recording` (``source`` ``"client"``).  Ticks
the client never received are simply missing; a snapshot older than one
already written (it arrived late) is skipped, since frames only go forward.
The file is created (or truncated) when the client has joined, since the
header needs the tick rate and board from the server's ACCEPTED; the
command line checks beforehand that it can be written.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from netsnake import GAME_VERSION
from netsnake.client.core import ClientCore
from netsnake.game.events import GameEvent
from netsnake.game.messages import Overview
from netsnake.game.recording import AreaRecord, RecordingHeader, default_keyframe_interval
from netsnake.game.snapshot import Snapshot
from netsnake.recording_file import FLUSH_INTERVAL, RecordingFile

__all__ = ["ClientRecorder"]

log = logging.getLogger("recording")


class ClientRecorder:
    """Records ``core``'s snapshots and events to ``path``."""

    def __init__(
        self, path: Path, core: ClientCore, *, flush_interval: float = FLUSH_INTERVAL
    ) -> None:
        self.path = path
        self._core = core
        self._flush_interval = flush_interval
        self.file: RecordingFile | None = None
        self._early_events: list[GameEvent] = []
        self._area: AreaRecord | None = None
        self._scores_key: tuple[bool, int] = (False, 0)
        self._overview: Overview | None = None
        self.skipped = 0
        core.snapshot_listeners.append(self._on_snapshot)
        core.event_listeners.append(self._on_event)

    def _on_event(self, event: GameEvent) -> None:
        if self.file is None:
            self._early_events.append(event)
        else:
            self.file.add_event(event)

    def _on_snapshot(self, snapshot: Snapshot, now: float) -> None:
        core = self._core
        if core.board is None:
            self.skipped += 1  # not joined yet: the tick rate is unknown
            return
        if self.file is None:
            width, height, wrap = core.board
            header = RecordingHeader(
                game_version=GAME_VERSION,
                width=width,
                height=height,
                wrap=wrap,
                tick_rate=core.tick_rate,
                server=core.server_label,
                started=time.time(),
                source="client",
                keyframe_interval=default_keyframe_interval(core.tick_rate),
            )
            try:
                self.file = RecordingFile(
                    self.path, header, now=now, flush_interval=self._flush_interval, exclusive=False
                )
            except OSError as exc:
                log.error("cannot record to %s: %s", self.path, exc.strerror or exc)
                self.close(now)
                return
            for event in self._early_events:
                self.file.add_event(event)
            self._early_events.clear()
        last = self.file.writer.last_tick
        if last is not None and snapshot.tick <= last:
            self.skipped += 1  # arrived after a newer one: frames only go forward
            return
        # Where the server centres this client's area, and its size: a replay
        # follows that snake and shows no more than was sent around it.
        area = (core.view_id, core.area_view)
        if area != self._area:
            self._area = area
            self.file.add_area(area)
        # The scoreboard lines and minimap of the arena beyond the area, as held
        # (none while the area is the whole board: every player is in the frame),
        # whenever SCORES or an event changed them.
        partial = core.area(snapshot) is not None
        key = (partial, core.scores_serial if partial else 0)
        if key != self._scores_key:
            self._scores_key = key
            self.file.add_scores(snapshot.tick, core.score_lines() if partial else [])
        if core.overview is not None and core.overview is not self._overview:
            self._overview = core.overview
            self.file.add_overview(core.overview)
        self.file.add_frame(snapshot, now)

    def close(self, now: float) -> None:
        """Write out what is pending and stop recording."""
        core = self._core
        if self._on_snapshot in core.snapshot_listeners:
            core.snapshot_listeners.remove(self._on_snapshot)
        if self._on_event in core.event_listeners:
            core.event_listeners.remove(self._on_event)
        if self.file is not None:
            self.file.close(now)
