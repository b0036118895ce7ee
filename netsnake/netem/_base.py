"""What the UDP and TCP relays share: resolving the server, an idempotent close and
``async with`` support."""

from __future__ import annotations

import asyncio
import logging
import socket
from abc import ABC, abstractmethod
from typing import Any, Self

__all__ = ["Address", "RelayBase", "resolve_server"]

log = logging.getLogger("netsnake.netem")

Address = tuple[Any, ...]  # (host, port) for IPv4, (host, port, flowinfo, scope_id) for IPv6


async def resolve_server(server: tuple[str, int], kind: socket.SocketKind) -> tuple[int, Address]:
    """The address family and first address of ``server`` for sockets of ``kind``, IPv4
    first; raises OSError if it does not resolve."""
    infos = await asyncio.get_running_loop().getaddrinfo(server[0], server[1], type=kind)
    # "localhost" often resolves to ::1 first while game servers bind 127.0.0.1.
    infos.sort(key=lambda info: info[0] != socket.AF_INET)
    family, _, _, _, addr = infos[0]
    return family, tuple(addr)


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
