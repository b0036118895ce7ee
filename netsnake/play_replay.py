"""The replay's wiring (``netsnake-client --replay FILE``): a recording file into the UI.

The file is read and checked before the terminal is touched, so a file that
is missing, damaged or not a recording gets one line on stderr and exit
status 1.  A recording found damaged further in while playing (a frame that
does not decode) ends the replay the same way, after the screen is restored.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from netsnake.client.replay import ReplayPlayer
from netsnake.game.recording import Recording, RecordingError
from netsnake.recording_file import load_recording

__all__ = ["replay_main"]


def _error(message: str) -> int:
    print(f"netsnake-client: error: {message}", file=sys.stderr)
    return 1


async def _play(recording: Recording, ascii_mode: bool) -> tuple[int, str | None]:
    # Imported here so errors about the file stay fast and never touch the terminal.
    from netsnake.ui.replay import ReplayApp

    loop = asyncio.get_running_loop()
    player = ReplayPlayer(recording, loop.time())
    app = ReplayApp(player, ascii_mode=ascii_mode, clock=loop.time)
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, app.quit)
    try:
        code = await app.run()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    return code, app.error


def replay_main(path: str, *, ascii_mode: bool = False) -> int:
    """Play the recording at ``path``; the process exit status."""
    try:
        recording = load_recording(Path(path))
        recording.frame(0)  # the first keyframe must decode, or there is nothing to show
    except RecordingError as exc:
        return _error(f"{path}: {exc}")
    if not sys.stdin.isatty() or not sys.stdout.isatty():
        return _error("needs a terminal (stdin and stdout must be a tty)")
    try:
        code, error = asyncio.run(_play(recording, ascii_mode))
    except KeyboardInterrupt:
        return 0
    if error is not None:
        return _error(f"{path}: {error}")
    return code
