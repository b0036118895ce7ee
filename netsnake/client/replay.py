"""Playing a recording back: position, speed, pause, seeks and who is followed.  No clock.

:class:`ReplayPlayer` is the model behind ``netsnake-client --replay``: the
UI calls :meth:`ReplayPlayer.advance` with the time every frame, turns keys
into :meth:`toggle_pause`, :meth:`seek`, :meth:`faster`, :meth:`slower` and
:meth:`follow_next`, and draws :meth:`frame`.  The position is a float tick:
playback moves it at ``tick_rate × speed`` ticks a second and the frame
drawn interpolates between the two recorded ticks around it, as the live
client does (ticks a client recording lacks are held, not invented).

Events belong to frames (see :mod:`netsnake.game.recording`); those of every
frame that normal playback passes are handed out by :meth:`drain_events`,
so the message line shows joins and deaths as they happened.  A seek jumps
without replaying the events in between.
"""

from __future__ import annotations

import math

from netsnake.client.interpolation import RenderFrame
from netsnake.client.leader import Contender, LeaderHold
from netsnake.game.events import GameEvent
from netsnake.game.interest import Area, area_centre, area_for
from netsnake.game.messages import Overview
from netsnake.game.recording import AreaRecord, Recording
from netsnake.game.scoreboard import ScoreLine, scoreboard
from netsnake.game.snapshot import Cell, PlayerState, ranked

__all__ = ["SEEK_SECONDS", "SPEEDS", "ReplayPlayer"]

#: Playback speeds, slowest first; ``+`` and ``-`` step through them.
SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
#: How far ← and → jump, in seconds of play.
SEEK_SECONDS = 10.0


class ReplayPlayer:
    """Plays ``recording`` from its first frame, starting at time ``now``."""

    def __init__(self, recording: Recording, now: float) -> None:
        self.recording = recording
        self.paused = False
        #: Id of the player chosen with Tab, or None: follow the leader.
        self.following: int | None = None
        self._tick_rate = recording.header.tick_rate
        self._first = recording.first_tick
        self._last = recording.last_tick
        self._position = float(self._first)
        self._speed_index = SPEEDS.index(1.0)
        self._now = now
        self._shown = 0  # frame index whose events were handed out last
        self._events: list[GameEvent] = recording.events(0)
        self._leader = LeaderHold()  # whom the camera follows when nobody is chosen
        self._centre: Cell | None = None  # where a client recording's area was centred

    # -- time

    @property
    def speed(self) -> float:
        """The playback speed (1.0 = as it was played)."""
        return SPEEDS[self._speed_index]

    @property
    def position(self) -> float:
        """The playback position, a float tick."""
        return self._position

    @property
    def elapsed(self) -> float:
        """Seconds of play from the start of the recording to the position."""
        return (self._position - self._first) / self._tick_rate

    @property
    def duration(self) -> float:
        """Seconds of play in the whole recording."""
        return (self._last - self._first) / self._tick_rate

    @property
    def at_end(self) -> bool:
        return self._position >= self._last

    def advance(self, now: float) -> None:
        """Move the position on to time ``now`` (held while paused or at the end)."""
        elapsed, self._now = max(0.0, now - self._now), now
        if self.paused or self.at_end:
            return
        self._move_to(self._position + elapsed * self._tick_rate * self.speed, replay_events=True)

    def _move_to(self, position: float, *, replay_events: bool) -> None:
        self._position = min(max(position, float(self._first)), float(self._last))
        index = self.recording.index_at(math.floor(self._position))
        if replay_events:
            for i in range(self._shown + 1, index + 1):
                self._events.extend(self.recording.events(i))
        self._shown = index

    # -- controls

    def toggle_pause(self, now: float) -> None:
        """Pause or resume; at the end, play again from the beginning."""
        self.advance(now)
        if self.at_end:
            self._move_to(self._first, replay_events=False)
            self._events = self.recording.events(0)
            self._jumped()
            self.paused = False
        else:
            self.paused = not self.paused

    def seek(self, seconds: float, now: float) -> None:
        """Jump ``seconds`` of play forwards (or back, if negative), within the recording."""
        self.advance(now)
        self._move_to(self._position + seconds * self._tick_rate, replay_events=False)
        self._jumped()

    def _jumped(self) -> None:
        """Another moment: whoever leads there, wherever the area is there."""
        self._leader.reset()
        self._centre = None

    def faster(self) -> None:
        """The next speed up, up to the fastest."""
        self._speed_index = min(self._speed_index + 1, len(SPEEDS) - 1)

    def slower(self) -> None:
        """The next speed down, down to the slowest."""
        self._speed_index = max(self._speed_index - 1, 0)

    def follow_next(self) -> None:
        """Follow the next player by id; after the last, the default again (the
        recorder's snake in a client recording, else the leader)."""
        ids = sorted(p.id for p in self.frame().prev.players)
        after = [pid for pid in ids if self.following is None or pid > self.following]
        self.following = after[0] if after else None
        if self.following is None:
            self._leader.reset()  # whoever leads now, not when Tab was first pressed

    @property
    def area(self) -> AreaRecord | None:
        """A client recording's area of interest at the position: whom it is centred
        on and the viewport it is sized by (None: the recording holds the world)."""
        return self.recording.area(self._shown)

    def area_cells(self) -> Area | None:
        """The cells a client recording's frame at the position holds: its area of
        interest, centred on the focus's head (None: the whole board)."""
        area = self.area
        if area is None:
            return None
        prev = self.frame().prev
        focus = prev.player(area[0]) if area[0] is not None else None
        if focus is None and area[0] is None and prev.players:
            focus = ranked(prev.players)[0]  # the server's choice: its leader
        self._centre = area_centre(focus, self._centre, (prev.width, prev.height))
        return area_for((prev.width, prev.height, prev.wrap), area[1], self._centre)

    def scoreboard(self) -> list[ScoreLine]:
        """Every player at the position: those in the frame as they are there, the
        rest (a client recording's players outside its area) as recorded."""
        return scoreboard(self.frame().prev.players, self.recording.scores(self._shown))

    @property
    def overview(self) -> Overview | None:
        """The OVERVIEW a client recording held at the position (the minimap)."""
        return self.recording.overview(self._shown)

    @property
    def _recorder(self) -> PlayerState | None:
        """The snake a client recording's area is centred on, in the frame shown."""
        area = self.area
        return None if area is None or area[0] is None else self.frame().prev.player(area[0])

    @property
    def followed(self) -> PlayerState | None:
        """Whom the camera follows in the frame shown: the player chosen with Tab
        while they are in it, else in a client recording the one its area is
        centred on (the recorder's snake), else the leader among the living (None
        only on an empty board), held steady as :class:`LeaderHold` holds it."""
        prev = self.frame().prev
        if self.following is not None:
            chosen = prev.player(self.following)
            if chosen is not None:
                return chosen
        recorder = self._recorder
        if recorder is not None:
            return recorder
        order = [Contender(p.id, p.score, p.alive and bool(p.body)) for p in ranked(prev.players)]
        leader = self._leader.pick(order, self._position / self._tick_rate)
        return None if leader is None else prev.player(leader)

    @property
    def follows_leader(self) -> bool:
        """True while the camera follows the leader rather than a chosen player."""
        chosen = self.following is not None and self.frame().prev.player(self.following)
        return not chosen and self._recorder is None

    # -- what to draw

    def frame(self) -> RenderFrame:
        """The frame at the position: the recorded tick before it and, when recorded,
        the next one, with how far between them.

        Raises :class:`~netsnake.game.recording.RecordingError` if the
        recording turns out to be damaged there.
        """
        recording = self.recording
        index = recording.index_at(math.floor(self._position))
        prev = recording.frame(index)
        alpha = self._position - prev.tick
        consecutive = (
            index + 1 < recording.frame_count and recording.ticks[index + 1] == prev.tick + 1
        )
        if 0.0 < alpha < 1.0 and consecutive:
            return RenderFrame(prev, recording.frame(index + 1), alpha, self._position)
        return RenderFrame(prev, prev, 0.0, float(prev.tick))

    def drain_events(self) -> list[GameEvent]:
        """Events of the frames played since the last call."""
        events, self._events = self._events, []
        return events
