"""Trust on first use: what the client does with the key a server proves.

* **Unknown server**: nothing is pinned; once the handshake has proved a key,
  it is added to ``known_servers`` and the player is told.
* **Known server**: its key is pinned (``ClientConfig.server_key``), so the
  protocol itself ends the handshake if the server proves another one; the
  client then exits with code 5 and names the offending ``FILE:LINE``.
* **Known server with** ``--trust-new-key``: nothing is pinned, and a
  different key rewrites the server's line.

The local game (no HOST) talks to its own in-process server with a fresh key
and uses none of this.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from netsnake.client.known_servers import (
    KnownKey,
    KnownServers,
    KnownServersError,
    record_key,
)
from protocol import key_fingerprint

__all__ = ["KEY_CHANGED_EXIT", "KeyNotice", "ServerTrust"]

#: Process exit code when the server's key is not the remembered one.
KEY_CHANGED_EXIT = 5


@dataclass(frozen=True, slots=True)
class KeyNotice:
    """What to tell the player about a key that was remembered: ``short`` fits the
    game's message line, ``full`` names the file and line (printed after the game)."""

    short: str
    full: str


@dataclass
class ServerTrust:
    """The remembered key (if any) of one server, and the policy for the key it proves."""

    known: KnownServers
    label: str
    trust_new_key: bool = False
    #: The key the server proved, once it has (also when it was not the pinned one).
    proven: bytes | None = None
    #: What was remembered, one line each, to print when the game is over.
    said: list[str] = field(default_factory=list)

    @property
    def entry(self) -> KnownKey | None:
        """This server's line in the file, if it has one."""
        return self.known.get(self.label)

    @property
    def pinned_key(self) -> bytes | None:
        """The key the handshake must prove, or None to accept any (first contact)."""
        entry = self.entry
        return None if entry is None or self.trust_new_key else entry.key

    @property
    def pinned_from(self) -> str:
        """``FILE:LINE`` of the pinned key ('' if none is pinned)."""
        entry = self.entry
        return self.known.location(entry) if entry is not None else ""

    def accept(self, proven: bytes) -> KeyNotice | None:
        """Remember a key the server proved; what to tell the player, if anything.

        A file that cannot be written costs only the memory: the notice says so.
        """
        self.proven = proven
        entry = self.entry
        if entry is not None and entry.key == proven:
            return None
        fingerprint = key_fingerprint(proven)
        try:
            saved = record_key(self.known.path, self.label, proven)
        except KnownServersError as exc:
            return self._said(KeyNotice("could not remember the server's key", f"warning: {exc}"))
        self.known.entries[self.label] = saved
        where = f"{self.known.path}:{saved.line}"
        if entry is None:
            return self._said(
                KeyNotice(
                    "new server: its key is remembered in known_servers",
                    f"new server {self.label}: key {fingerprint} added to {where}",
                )
            )
        return self._said(
            KeyNotice(
                "the server's new key is trusted and remembered",
                f"the key of {self.label} changed to {fingerprint}: {where} rewritten",
            )
        )

    def _said(self, notice: KeyNotice) -> KeyNotice:
        self.said.append(notice.full)
        return notice

    def mismatch_report(self) -> list[str]:
        """What the client prints when the server proved another key than the pinned one
        (:attr:`proven`, set by the caller from the client core)."""
        entry = self.entry
        assert entry is not None, "only a pinned key can mismatch"
        offered = key_fingerprint(self.proven) if self.proven is not None else "another key"
        return [
            f"error: the key of {self.label} has changed: it proved {offered}, "
            f"expected {key_fingerprint(entry.key)}",
            f"Offending key in {self.known.location(entry)}",
            "Someone may be impersonating the server, or its key was replaced.  If you trust "
            "the change, run again with --trust-new-key.",
        ]
