"""The client side of netsnake: connection core, playback buffer and CLI."""
