"""netsnake: multiplayer snake for the terminal, played over UDP."""

__version__ = "0.1.0"

#: Bumped when the game messages change incompatibly; sent in the join message.
GAME_VERSION = 6
