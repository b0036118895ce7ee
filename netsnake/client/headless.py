"""Bot-driven clients without a UI: the same ClientCore the terminal UI uses.

Tests and benchmarks use them as stand-ins for people: each one connects over
real UDP, joins with a name and steers with the built-in bot
(:func:`netsnake.botapi.builtin_bot`, i.e. :func:`netsnake.game.bots.choose_turn`)
through the bot API's :class:`~netsnake.client.botrunner.BotRunner`, called
inline on each snapshot (so it plays through the same input path as a human
pressing keys, and as ``netsnake-client --bot builtin``).
"""

from __future__ import annotations

from netsnake.botapi import builtin_bot
from netsnake.client.botrunner import BotRunner
from netsnake.client.session import ClientSession
from netsnake.client.state import TERMINAL_STATES, ConnectionState
from protocol import ClientConfig

__all__ = ["HeadlessBot"]


class HeadlessBot:
    """A connected client that steers itself."""

    def __init__(self, session: ClientSession, seed: int = 0, steer: bool = True) -> None:
        self.session = session
        self.core = session.core
        self.runner: BotRunner | None = None
        if steer:
            name = self.core.name or "bot"
            self.runner = BotRunner(self.core, builtin_bot(seed), name=name, threaded=False)

    @classmethod
    async def join(
        cls,
        host: str,
        port: int,
        name: str,
        *,
        seed: int = 0,
        steer: bool = True,
        timeout: float = 5.0,
        config: ClientConfig | None = None,
        predict: bool = True,
    ) -> HeadlessBot:
        """Connect and wait until playing (raises RuntimeError with the reason otherwise).

        ``predict`` as for people: the bot steers the snake it would see drawn.
        """
        session = await ClientSession.connect(host, port, name=name, config=config, predict=predict)
        ok = await session.wait_for(ConnectionState.PLAYING, *TERMINAL_STATES, timeout=timeout)
        if not ok or session.core.state is not ConnectionState.PLAYING:
            state, reason = session.core.state.value, session.core.status_reason
            await session.close()
            raise RuntimeError(f"{name} could not join: {state} {reason}".strip())
        return cls(session, seed, steer)

    async def quit(self) -> None:
        await self.session.quit()

    async def close(self) -> None:
        await self.session.close()
