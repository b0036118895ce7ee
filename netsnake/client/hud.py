"""The connection figures the client core produces for the HUD line.

Data built by the model lives here, below the view: ``ClientCore.hud``
fills it in and ``netsnake.ui.panels`` only formats it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["HudInfo"]


@dataclass(frozen=True, slots=True, kw_only=True)
class HudInfo:
    """Connection figures for the HUD line."""

    ping_ms: float | None
    loss_pct: float
    down_kbps: float
    up_kbps: float
    server_tick: int | None
    render_delay_ms: float
