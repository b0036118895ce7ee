"""An example netsnake bot: go for the food you can reach first, never into a dead end.

Run it against bots on a local server (no HOST), or join a real one::

    netsnake-client --bot examples/hungry_bot.py:bot
    netsnake-client example.org --bot examples/hungry_bot.py:bot --name hungry

Each tick it looks at its (at most three) possible moves and keeps the safe
ones: free cells, with enough room behind them for its whole body, and not
next to a bigger snake's head (a head-on crash kills both).  Among those it
heads for the nearest food it is *closer to than any other snake* -- food a
rival will eat first is a waste of moves -- and only then for the nearest.
How ``benchmarks/bot_match.py`` measures it against the built-in bot is in
the README, "Write your own bot".
"""

from __future__ import annotations

from collections import deque

from netsnake.botapi import BotView, Cell, Direction, Turn


def room(view: BotView, start: Cell, cap: int) -> int:
    """Free cells reachable from ``start`` (a flood fill, stopped at ``cap``)."""
    seen = {start}
    todo = deque([start])
    while todo and len(seen) < cap:
        for _, cell in view.neighbours(todo.popleft()):
            if cell not in seen and view.is_free(cell):
                seen.add(cell)
                todo.append(cell)
    return len(seen)


def distances(view: BotView, start: Cell) -> dict[Cell, int]:
    """Steps from ``start`` to every free cell it can reach in the area it sees
    (breadth first; on a big arena the rest is unknown, and holds no food it knows)."""
    dist = {start: 0}
    todo = deque([start])
    while todo:
        cell = todo.popleft()
        for _, n in view.neighbours(cell):
            if n not in dist and view.sees(n) and view.is_free(n):
                dist[n] = dist[cell] + 1
                todo.append(n)
    return dist


def bot(view: BotView) -> Turn:
    me = view.me
    safe: list[tuple[Direction, Cell]] = []
    for direction, cell in view.moves():  # straight first: ties keep going straight
        if not view.is_free(cell):
            continue
        # A head-on crash kills both: stay clear of heads at least as long as ours.
        if any(s.length >= me.length for s in view.heads_next_to(cell)):
            continue
        safe.append((direction, cell))
    if not safe:
        return None  # nothing is safe: keep going and hope

    # Enough room behind a move for the whole body, or it is a trap.
    cap = me.length * 2 + 10
    rooms = {d: room(view, cell, cap) for d, cell in safe}
    roomy = [(d, cell) for d, cell in safe if rooms[d] >= me.length + 2]
    if not roomy:
        return max(safe, key=lambda move: rooms[move[0]])[0]  # the least bad pocket

    # The nearest food we reach before every rival; failing that, the nearest food.
    # (Rivals' distances ignore bodies: a cheap lower bound.)
    rivals = [s.head for s in view.others if s.head is not None]
    best: tuple[int, int, Direction] | None = None  # (lost to a rival?, steps, move)
    for direction, cell in roomy:
        dist = distances(view, cell)
        for food in view.food:
            if food not in dist:
                continue
            mine = dist[food] + 1
            lost = 0 if all(view.distance(r, food) > mine for r in rivals) else 1
            if best is None or (lost, mine) < best[:2]:
                best = (lost, mine, direction)
    if best is not None:
        return best[2]
    # No food to win: take the roomiest move.
    return max(roomy, key=lambda move: rooms[move[0]])[0]
