"""Game events the server announces to every client over the reliable channel."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "GameEvent",
    "PlayerDied",
    "PlayerJoined",
    "PlayerLeft",
    "PlayerRespawned",
    "ServerShuttingDown",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class GameEvent:
    """Base class of announcements shown on the client's message line."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PlayerJoined(GameEvent):
    player_id: int
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PlayerLeft(GameEvent):
    player_id: int
    name: str
    reason: str
    """``quit``, ``timeout`` or ``making room`` (a bot leaving for a human)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PlayerDied(GameEvent):
    player_id: int
    name: str
    killer_id: int | None
    killer_name: str | None
    cause: str
    """``wall``, ``self``, ``snake`` or ``head-on``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PlayerRespawned(GameEvent):
    player_id: int
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerShuttingDown(GameEvent):
    reason: str
