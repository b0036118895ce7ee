"""The asyncio shell around :class:`~netsnake.client.core.ClientCore`."""

from __future__ import annotations

import asyncio
import contextlib
import socket

from netsnake.addresses import format_address
from netsnake.client.core import ClientCore
from netsnake.client.state import ConnectionState
from netsnake.transport import UdpTransport, open_udp
from protocol import ClientConfig

__all__ = ["ClientSession", "resolve"]

_POLL_INTERVAL = 0.05


async def resolve(host: str, port: int) -> tuple[str, int]:
    """The first UDP address for ``host`` (raises OSError if it does not resolve)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    if not infos:
        raise OSError(f"no address for {host}")
    addr = infos[0][4]
    return (str(addr[0]), int(addr[1]))


class ClientSession:
    """A ClientCore on a real UDP socket, with its poll task."""

    def __init__(self, core: ClientCore, transport: UdpTransport | None) -> None:
        """``transport`` is None only for a session that ended before it began
        (the host did not resolve), which never needs a socket."""
        self.core = core
        self.transport = transport
        self._poller: asyncio.Task[None] | None = None

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        *,
        name: str | None = None,
        render_delay: float | None = None,
        config: ClientConfig | None = None,
        spectate: bool = False,
        predict: bool = True,
    ) -> ClientSession:
        """Resolve, open a socket and start the handshake.

        A host that does not resolve gives a session already in UNREACHABLE.
        ``predict`` draws the player's own snake ahead (see ``ClientCore``).
        """
        loop = asyncio.get_running_loop()
        label = format_address(host, port)
        server: tuple[str, int] | None
        try:
            server = await resolve(host, port)
        except OSError:
            server = None
        core = ClientCore(
            (host, port) if server is None else server,
            server_label=label,
            name=name,
            render_delay=render_delay,
            config=config,
            spectate=spectate,
            predict=predict,
        )
        if server is None:
            core.mark_unreachable("unknown host")
            return cls(core, None)
        transport = await open_udp(
            core.endpoint, lambda e: core.handle_event(e, loop.time()), remote=server
        )
        core.on_output = transport.flush
        core.start(loop.time())
        transport.flush()
        session = cls(core, transport)
        session._poller = asyncio.create_task(session._poll_forever())
        return session

    async def _poll_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self.core.poll(loop.time())
            await asyncio.sleep(_POLL_INTERVAL)

    async def wait_for(self, *states: ConnectionState, timeout: float) -> bool:
        """Wait until the core reaches one of ``states``; False on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.core.state not in states:
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    async def quit(self, timeout: float = 1.0) -> None:
        """Send a reliable QUIT, wait for the server's DISCONNECT (at most ``timeout``), close."""
        self.core.request_quit()
        await self.wait_for(
            ConnectionState.CLOSED,
            ConnectionState.LOST,
            ConnectionState.SHUTDOWN,
            timeout=timeout + 0.2,
        )
        await self.close()

    async def close(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
        if self.transport is not None:
            self.transport.close()
