"""Terminal user interface: urwid widgets that draw game state, and the controller."""
