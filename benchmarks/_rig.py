"""Process plumbing shared by the benchmarks that drive a worker subprocess.

The orchestrator starts a worker (``--worker``), waits for its ``ready`` line, turns
the loss on, says ``go`` and reads one ``result`` line back: the JSON-lines protocol of
:func:`emit` and :func:`wait_go` on the worker side and :func:`run_worker` on the
orchestrator side. :func:`aligned_table` lays out a report's rows.
"""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any, Protocol

__all__ = [
    "WorkerHost",
    "aligned_table",
    "apply_result",
    "emit",
    "line_reader",
    "next_message",
    "run_worker",
    "wait_go",
]


class WorkerHost(Protocol):
    """Where a trial's processes run (a lossy namespace or this machine)."""

    def popen(self, argv: list[str], **kwargs: Any) -> subprocess.Popen[Any]:
        """Start ``argv`` there."""
        ...

    def set_loss(self, loss: float) -> None:
        """Set the packet loss the namespace applies (nothing without one)."""
        ...


# ---------------------------------------------------------------------------- worker side


def emit(message: dict[str, Any]) -> None:
    """Send one JSON line to the orchestrator."""
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def wait_go() -> None:
    """Block until the orchestrator says ``go``."""
    if sys.stdin.readline().strip() != "go":
        raise SystemExit("worker: expected 'go'")


# ---------------------------------------------------------------------------- orchestrator side


def line_reader(stream: IO[str] | None) -> queue.Queue[str | None]:
    """The lines of ``stream`` on a queue (``None`` at its end), read by a daemon thread."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert stream is not None
        for line in stream:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def next_message(
    lines: queue.Queue[str | None], worker: subprocess.Popen[Any], timeout: float, log_path: Path
) -> dict[str, Any]:
    """The worker's next JSON object line; RuntimeError if it is silent or exits."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            raise RuntimeError(f"worker silent for {timeout:.0f} s") from None
        if line is None:
            tail = log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"worker exited ({worker.wait()}):\n{tail}")
        with contextlib.suppress(ValueError):
            message = json.loads(line)
            if isinstance(message, dict):
                return message


def run_worker(
    host: WorkerHost,
    argv: list[str],
    worker_log: Path,
    loss: float,
    budget: float,
    *,
    before_restore: Callable[[], None] | None = None,
    suffix: str = "",
) -> dict[str, Any]:
    """Run one worker through ready/go/result with ``loss`` on while it measures.

    ``before_restore`` runs after the result arrives and before the loss is set back
    to 0 (to read the namespace's drop counter). ``suffix`` is added to the errors.
    Returns the worker's ``result`` payload.
    """
    with worker_log.open("w") as err:
        worker = host.popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            bufsize=1,
        )
    lines = line_reader(worker.stdout)
    message = next_message(lines, worker, 60.0, worker_log)
    if message.get("event") != "ready":
        raise RuntimeError(f"worker said {message!r}{suffix}")
    host.set_loss(loss)
    assert worker.stdin is not None
    worker.stdin.write("go\n")
    worker.stdin.flush()
    message = next_message(lines, worker, budget, worker_log)
    if before_restore is not None:
        before_restore()
    host.set_loss(0.0)
    if message.get("event") != "result":
        raise RuntimeError(f"worker said {message!r}{suffix}")
    payload: dict[str, Any] = message["result"]
    return payload


def apply_result(result: Any, payload: dict[str, Any], known: set[str] | Sequence[str]) -> None:
    """Copy the worker's known fields onto ``result``, appending its notes."""
    for key, value in payload.items():
        if key == "notes":
            result.notes.extend(value)
        elif key in known:
            setattr(result, key, value)


def aligned_table(columns: Sequence[tuple[str, str, str]], results: Sequence[Any]) -> str:
    """``results`` as aligned text: one row each, ``columns`` = (header, attribute, format)."""
    rows = [[h for h, _, _ in columns]]
    for r in results:
        row = []
        for _, name, fmt in columns:
            value = getattr(r, name)
            row.append("-" if value is None else fmt.format(value))
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    lines = [
        "  ".join(
            cell.rjust(w) if i else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def report_worker(measure: Callable[[], dict[str, Any]]) -> int:
    """Run a worker's ``measure`` and emit its result (or its error): the exit status."""
    try:
        result = measure()
    except Exception as exc:
        import traceback

        traceback.print_exc()
        emit({"event": "error", "message": f"{type(exc).__name__}: {exc}"})
        return 1
    emit({"event": "result", "result": result})
    return 0
