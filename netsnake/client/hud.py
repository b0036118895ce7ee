"""The connection figures the client core produces for the HUD line.

Data built by the model lives here, below the view: ``ClientCore.hud``
fills it in and ``netsnake.ui.panels`` only formats it.
"""

from __future__ import annotations

from dataclasses import dataclass

from netsnake.client.netstats import NetGraphData

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
    corrections: int | None = None
    """Own-snake prediction corrections so far; None with prediction off."""
    net: NetGraphData | None = None
    """Per-tick history for the net graph; None when the source keeps none."""
