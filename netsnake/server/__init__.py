"""The authoritative game server: ``game`` (logic), ``app`` (asyncio), ``cli``."""
