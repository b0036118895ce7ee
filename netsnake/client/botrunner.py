"""Run a user's bot function on a real client: load it, call it every tick, steer.

Theory of operation
-------------------
A :class:`BotRunner` listens to its :class:`~netsnake.client.core.ClientCore`'s
snapshots.  On each new one, while its snake is alive, it draws a frame (as
the terminal UI does, so the turn is stamped from the frame the bot saw),
builds the :class:`~netsnake.botapi.BotView` from
:meth:`ClientCore.steering_view` and calls the bot with it.  A returned turn
goes through :meth:`ClientCore.steer` with the view's time, the path a key
press takes: prediction, stamps, INPUT repeats until acknowledged.

*Why a thread.*  The session's network loop must keep answering the server
(acknowledgements, keep-alives, other bots in the same process) whatever the
bot does, so each bot function runs on a worker thread of its own and the
loop only hands it immutable views and collects answers.  A thread rather
than a process keeps the bot simple to write: no pickling, module globals
persist between ticks, a debugger works.  What a thread cannot do is be
stopped: Python has no way to kill it, so an endless loop keeps spinning
(sharing the GIL: the network loop slows a little but keeps running).  The
runner then reports it once, counts every tick it misses, and the snake plays
on straight ahead; should the call ever return, the bot is called again.
For hard isolation, run such a bot in a process of its own.

*Budget.*  Each call has ``budget`` seconds (default half a tick).  An
answer not back by then is *late*: counted and thrown away when it comes,
since the tick it was meant for has passed.  While a call runs, new ticks
are not queued behind it (``busy``), so a slow bot always sees the newest
board.

*Errors.*  An exception in the bot (or a return value that is not a turn) is
counted and logged with its traceback; repeats are rate-limited to one
traceback per ``error_interval`` seconds, with a count of those left out.
The connection is never touched.

``threaded=False`` calls the bot inline, with no budget: for the simulated
network (virtual time) and the benchmarks' bots.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import inspect
import logging
import queue
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from netsnake.botapi import BadTurn, BotFunction, BotView, as_direction, builtin_bot, view_of
from netsnake.client.core import ClientCore
from netsnake.client.state import ConnectionState
from netsnake.game.snapshot import Snapshot

__all__ = [
    "DEFAULT_BUDGET_SHARE",
    "BotLoadError",
    "BotRunner",
    "BotSource",
    "BotStats",
    "ErrorReporter",
    "load_bot",
]

log = logging.getLogger("bot")

#: The default time budget, as a share of one tick.
DEFAULT_BUDGET_SHARE = 0.5
#: A call still running after this long is reported as stuck (once).
STUCK_AFTER = 2.0
_ERROR_INTERVAL = 5.0


# ---------------------------------------------------------------------------- loading


class BotLoadError(Exception):
    """``--bot`` names nothing that can be called; the message is one line for the user."""


@dataclass(frozen=True, slots=True)
class BotSource:
    """A loaded bot: ``label`` for messages, ``make(i)`` the function for bot ``i``.

    A user's function is shared by all bots of a ``--count``; the built-in
    bot gets one instance (with its own random ties) per bot.
    """

    label: str
    make: Callable[[int], BotFunction]
    default_name: str


def load_bot(spec: str) -> BotSource:
    """Load ``builtin``, ``path/to/file.py:FUNCTION`` or ``package.module:FUNCTION``.

    Raises BotLoadError with a one-line reason: missing file or module, a
    syntax error, an error while importing, no such name, not callable, or
    a callable that cannot take one argument.
    """
    if spec == "builtin":
        return BotSource("builtin", lambda i: builtin_bot(seed=i), "bot")
    where, sep, attr = spec.rpartition(":")
    if not sep or not where or not attr:
        raise BotLoadError(f"{spec!r} is not FILE_OR_MODULE:FUNCTION (or 'builtin')")
    is_file = where.endswith(".py") or "/" in where or "\\" in where
    target: object = _load_file(Path(where)) if is_file else _import_module(where)
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise BotLoadError(f"{where} has no {attr!r}") from None
    if not callable(target):
        raise BotLoadError(
            f"{attr!r} in {where} is not callable (its type is {type(target).__name__})"
        )
    try:
        inspect.signature(target).bind(None)
    except TypeError:
        raise BotLoadError(
            f"{attr} in {where} cannot be called with one argument (the view)"
        ) from None
    except ValueError:
        pass  # no signature to check (some built-ins): trust it
    fn: BotFunction = target
    return BotSource(f"{where}:{attr}", lambda i: fn, attr.rsplit(".", 1)[-1][:12] or "bot")


def _load_file(path: Path) -> object:
    if not path.is_file():
        raise BotLoadError(f"no such file: {path}")
    name = f"netsnake_bot_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise BotLoadError(f"cannot load {path} as Python")
    module = importlib.util.module_from_spec(spec)
    # The bot's own folder first, so it can import modules kept beside it.
    sys.path.insert(0, str(path.resolve().parent))
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        del sys.modules[name]
        raise BotLoadError(f"syntax error in {path} line {exc.lineno}: {exc.msg}") from None
    except BaseException as exc:  # the user's module may raise anything
        del sys.modules[name]
        raise BotLoadError(f"{path} raised {_one_line(exc)} while loading") from None
    return module


def _import_module(name: str) -> object:
    try:
        return importlib.import_module(name)
    except SyntaxError as exc:
        raise BotLoadError(f"syntax error in {exc.filename} line {exc.lineno}: {exc.msg}") from None
    except ModuleNotFoundError as exc:
        raise BotLoadError(f"cannot import {name}: {exc}") from None
    except BaseException as exc:  # the user's module may raise anything
        raise BotLoadError(f"{name} raised {_one_line(exc)} while loading") from None


def _one_line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# ---------------------------------------------------------------------------- counting


@dataclass(slots=True)
class BotStats:
    """What a bot did, for the summary line and the tests."""

    calls: int = 0
    """Times the bot function was called."""
    turns: int = 0
    """Turns steered (sent to the server)."""
    straight: int = 0
    """Answers that kept the heading (None or the current direction)."""
    ignored: int = 0
    """Turns the client refused as the server would (a reversal, too many pending)."""
    late: int = 0
    """Calls not answered within the budget (their answers were thrown away)."""
    busy: int = 0
    """Ticks skipped because the previous call was still running."""
    errors: int = 0
    """Calls that raised."""
    bad_turns: int = 0
    """Answers that were not a turn."""
    max_ms: float = 0.0
    """The longest call that returned (late ones included), in ms."""

    def summary(self) -> str:
        return (
            f"{self.calls} calls, {self.turns} turns, {self.straight} straight, "
            f"{self.ignored} ignored, {self.late} late, {self.busy} busy ticks, "
            f"{self.errors} errors, {self.bad_turns} bad turns, longest {self.max_ms:.1f} ms"
        )


class ErrorReporter:
    """Logs a bot's tracebacks, at most one per ``interval`` seconds.

    The first error is logged at once, whole; errors within ``interval`` of
    the last one logged are only counted, and the next traceback logged says
    how many were left out.
    """

    def __init__(
        self, bot_name: str, clock: Callable[[], float], interval: float = _ERROR_INTERVAL
    ) -> None:
        self.bot_name = bot_name
        self._clock = clock
        self._interval = interval
        self._last: float | None = None
        self.suppressed = 0
        """Errors counted but not logged since the last traceback."""
        self.logged = 0

    def report(self, what: str, detail: str) -> None:
        now = self._clock()
        if self._last is not None and now - self._last < self._interval:
            self.suppressed += 1
            return
        more = (
            f" ({self.suppressed} more errors in the last {now - self._last:.0f} s not shown)"
            if self.suppressed and self._last is not None
            else ""
        )
        self._last, self.suppressed = now, 0
        self.logged += 1
        log.error("bot %s: %s%s\n%s", self.bot_name, what, more, detail.rstrip())


# ---------------------------------------------------------------------------- calling


@dataclass(slots=True)
class _Call:
    view: BotView
    now: float  # loop time the view was built at; the turn is steered for it
    started: float  # time.perf_counter() at submission
    late: bool = False
    warned: bool = False
    timer: asyncio.TimerHandle | None = None


@dataclass(frozen=True, slots=True)
class _Outcome:
    result: object
    error: str | None  # the traceback, if the bot raised
    elapsed: float


def _call(fn: BotFunction, view: BotView) -> _Outcome:
    t0 = time.perf_counter()
    try:
        result: object = fn(view)
    except BaseException as exc:  # anything the user's code raises is reported
        tb = exc.__traceback__
        # Leave out this frame: the user wants their own code.
        lines = traceback.format_exception(type(exc), exc, tb.tb_next if tb else None)
        return _Outcome(None, "".join(lines), time.perf_counter() - t0)
    return _Outcome(result, None, time.perf_counter() - t0)


class _Worker:
    """One daemon thread calling one bot function, one view at a time.

    Daemon, so an endless bot cannot keep the process from exiting; answers
    go back to the loop with ``call_soon_threadsafe``.
    """

    def __init__(
        self,
        fn: BotFunction,
        loop: asyncio.AbstractEventLoop,
        deliver: Callable[[_Call, _Outcome], None],
        name: str,
    ) -> None:
        self._fn = fn
        self._loop = loop
        self._deliver = deliver
        self._inbox: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=f"bot-{name}", daemon=True)
        self._thread.start()

    def submit(self, call: _Call) -> None:
        self._inbox.put(call)

    def stop(self) -> None:
        self._inbox.put(None)

    def _run(self) -> None:
        while (call := self._inbox.get()) is not None:
            outcome = _call(self._fn, call.view)
            try:
                self._loop.call_soon_threadsafe(self._deliver, call, outcome)
            except RuntimeError:
                return  # the loop is closed: the process is ending


class BotRunner:
    """Drives one client core with a bot function (see the module docstring)."""

    def __init__(
        self,
        core: ClientCore,
        bot: BotFunction,
        *,
        name: str,
        budget: float | None = None,
        threaded: bool = True,
        error_interval: float = _ERROR_INTERVAL,
    ) -> None:
        """``budget`` in seconds (None: half a tick at the server's rate).
        ``threaded`` needs a running asyncio loop."""
        self.core = core
        self.name = name
        self.stats = BotStats()
        self._bot = bot
        self._budget = budget
        self._pending: _Call | None = None
        self._stopped = False
        self._loop = asyncio.get_running_loop() if threaded else None
        clock = self._loop.time if self._loop is not None else time.monotonic
        self.errors = ErrorReporter(name, clock, error_interval)
        self._worker = (
            _Worker(bot, self._loop, self._on_answer, name) if self._loop is not None else None
        )
        core.snapshot_listeners.append(self._on_snapshot)

    @property
    def budget(self) -> float:
        """Seconds a call may take before its answer is late."""
        if self._budget is not None:
            return self._budget
        return DEFAULT_BUDGET_SHARE / self.core.tick_rate

    @property
    def stuck(self) -> bool:
        """True while a call has been running for longer than ``STUCK_AFTER`` seconds."""
        call = self._pending
        return call is not None and time.perf_counter() - call.started > STUCK_AFTER

    def stop(self) -> None:
        """Stop calling the bot (a running call is left to finish on its own, unheard)."""
        self._stopped = True
        if self._on_snapshot in self.core.snapshot_listeners:
            self.core.snapshot_listeners.remove(self._on_snapshot)
        if self._worker is not None:
            self._worker.stop()
        if self._pending is not None and self._pending.timer is not None:
            self._pending.timer.cancel()

    def _on_snapshot(self, snapshot: Snapshot, now: float) -> None:
        core = self.core
        pid = core.player_id
        if core.state is not ConnectionState.PLAYING or pid is None:
            return
        if snapshot is not core.latest_snapshot:
            return  # an older tick arriving late: the bot has seen newer
        me = snapshot.player(pid)
        if me is None or not me.alive:
            return
        pending = self._pending
        if pending is not None:
            self.stats.busy += 1
            if not pending.warned and time.perf_counter() - pending.started > STUCK_AFTER:
                pending.warned = True
                log.warning(
                    "bot %s: the bot function has not returned for %.0f s (an endless loop?); "
                    "a thread cannot be stopped, so the snake goes straight on until it returns",
                    self.name,
                    time.perf_counter() - pending.started,
                )
            return
        if self._worker is not None:
            core.frame(now)  # as the UI draws one: the turn is stamped from what the bot saw
        budget = self.budget
        view = view_of(
            core.steering_view(snapshot), pid, time_budget=budget, area=core.area(snapshot)
        )
        if view is None:
            return
        self.stats.calls += 1
        if self._worker is None or self._loop is None:
            self._finish(view, now, _call(self._bot, view))
            return
        call = _Call(view, now, time.perf_counter())
        call.timer = self._loop.call_later(budget, self._on_deadline, call)
        self._pending = call
        self._worker.submit(call)

    def _on_deadline(self, call: _Call) -> None:
        if self._pending is call and not call.late:
            call.late = True
            self.stats.late += 1

    def _on_answer(self, call: _Call, outcome: _Outcome) -> None:
        if self._pending is call:
            self._pending = None
        if call.timer is not None:
            call.timer.cancel()
        self.stats.max_ms = max(self.stats.max_ms, outcome.elapsed * 1000)
        if call.late or outcome.elapsed > self.budget:
            if not call.late:
                self.stats.late += 1  # the deadline timer had not run yet
            log.debug(
                "bot %s: answer after %.1f ms (budget %.1f ms) thrown away",
                self.name,
                outcome.elapsed * 1000,
                self.budget * 1000,
            )
            if outcome.error is not None:
                self.stats.errors += 1
                self.errors.report("the bot function raised (late)", outcome.error)
            return
        if self.core.state is ConnectionState.PLAYING and not self._stopped:
            self._finish(call.view, call.now, outcome)

    def _finish(self, view: BotView, now: float, outcome: _Outcome) -> None:
        stats = self.stats
        stats.max_ms = max(stats.max_ms, outcome.elapsed * 1000)
        if outcome.error is not None:
            stats.errors += 1
            self.errors.report("the bot function raised", outcome.error)
            return
        try:
            turn = as_direction(outcome.result)
        except BadTurn as exc:
            stats.bad_turns += 1
            self.errors.report("the bot function returned no turn", str(exc))
            return
        if turn is None or turn is view.me.heading:
            stats.straight += 1
        elif self.core.steer(turn, now) is None:
            stats.ignored += 1
        else:
            stats.turns += 1
