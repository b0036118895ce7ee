"""Errors raised to the *caller* of the protocol (never for network input)."""

from __future__ import annotations

__all__ = ["LocalProtocolError", "MessageTooLarge", "NotConnected", "QueueFull"]


class LocalProtocolError(Exception):
    """The application used the protocol API wrongly."""


class MessageTooLarge(LocalProtocolError):
    """A message or payload exceeds what the protocol can carry."""


class QueueFull(LocalProtocolError):
    """The reliable send queue is full: the peer is not acknowledging."""


class NotConnected(LocalProtocolError):
    """There is no established connection to that peer."""
