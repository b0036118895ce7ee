"""What the UDP and TCP relays share: an idempotent close and ``async with`` support."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Self

__all__ = ["RelayBase"]

log = logging.getLogger("netsnake.netem")


class RelayBase(ABC):
    """A relay that can be closed once (later calls do nothing) and used as ``async with``."""

    _closed: bool = False

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._closed

    def close(self) -> None:
        """Stop relaying at once and log the final counters.  Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._shutdown()
        log.info("closed: %s", self._summary())

    @abstractmethod
    def _shutdown(self) -> None:
        """Release every socket, connection and timer (called once, by :meth:`close`)."""

    @abstractmethod
    def _summary(self) -> str:
        """The counters as one line for the closing log message."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
