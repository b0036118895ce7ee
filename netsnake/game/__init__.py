"""The pure game: rules, snapshots and their encodings, bots and the game messages.

Nothing here does I/O or reads a clock; the server and client shells feed it time and inputs.
"""
