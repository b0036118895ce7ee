"""Two bot functions against each other: N seeded games on the simulated network.

Each game is a real server and four real client cores on
:class:`~netsnake.sim.GameSimulation` (virtual time, a seeded link), two
clients per side, each steered through the bot API's
:class:`~netsnake.client.botrunner.BotRunner` (called inline: the time budget
does not apply in virtual time).  A side's points are the food its snakes ate
(score gained, summed over lives); the side with more points wins the game
(a tie counts half).  Deaths are reported too.

    python benchmarks/bot_match.py --games 20 --seconds 60
    python benchmarks/bot_match.py --a examples/hungry_bot.py:bot --b builtin
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from netsnake.client.botrunner import BotRunner, BotSource, load_bot
from netsnake.client.core import ClientCore
from netsnake.game.snapshot import Snapshot
from netsnake.server.game import ServerSettings
from netsnake.sim import GameSimulation


@dataclass
class Tally:
    """One client's food and deaths over a game."""

    food: int = 0
    deaths: int = 0
    errors: int = 0
    """The bot's exceptions and bad answers."""
    _score: int = 0
    _alive: bool = False
    scores: list[int] = field(default_factory=list)

    def watch(self, core: ClientCore) -> None:
        def on_snapshot(snapshot: Snapshot, now: float) -> None:
            me = core.own_player
            if me is None:
                return
            if me.score > self._score:
                self.food += me.score - self._score
            if self._alive and not me.alive:
                self.deaths += 1
            self._score, self._alive = me.score, me.alive

        core.snapshot_listeners.append(on_snapshot)


def play_game(seed: int, a: BotSource, b: BotSource, seconds: float) -> tuple[Tally, Tally]:
    """One game, two clients per side; returns each side's summed tally."""
    sim = GameSimulation(ServerSettings(seed=seed), seed=seed)
    tallies: list[tuple[int, Tally]] = []
    runners: list[BotRunner] = []
    # Alternate the sides' join order between games: player ids break some ties.
    order = [(0, a), (1, b), (0, a), (1, b)] if seed % 2 else [(1, b), (0, a), (1, b), (0, a)]
    for i, (side, source) in enumerate(order):
        client = sim.add_client(f"{'ab'[side]}{i}", steer=False)
        runners.append(
            BotRunner(client.core, source.make(seed * 10 + i), name=f"{i}", threaded=False)
        )
        tally = Tally()
        tally.watch(client.core)
        tallies.append((side, tally))
    sim.run(seconds)
    sides = (Tally(), Tally())
    for (side, tally), runner in zip(tallies, runners, strict=True):
        sides[side].food += tally.food
        sides[side].deaths += tally.deaths
        sides[side].errors += runner.stats.errors + runner.stats.bad_turns
    return sides


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--a", default="examples/hungry_bot.py:bot", help="side A's bot")
    p.add_argument("--b", default="builtin", help="side B's bot")
    p.add_argument("--games", type=int, default=20)
    p.add_argument("--seconds", type=float, default=60.0, help="simulated seconds per game")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    a, b = load_bot(args.a), load_bot(args.b)
    wins = 0.0
    food = [0, 0]
    deaths = [0, 0]
    for g in range(args.games):
        ta, tb = play_game(args.seed + g, a, b, args.seconds)
        if ta.errors or tb.errors:
            print(f"  warning: bot errors: A {ta.errors} B {tb.errors}", file=sys.stderr)
        result = 1.0 if ta.food > tb.food else 0.5 if ta.food == tb.food else 0.0
        wins += result
        food[0] += ta.food
        food[1] += tb.food
        deaths[0] += ta.deaths
        deaths[1] += tb.deaths
        winner = {1.0: "A", 0.0: "B"}.get(result, "tie")
        print(
            f"game {g + 1:2d} seed {args.seed + g}: A food {ta.food:3d} deaths {ta.deaths:2d} | "
            f"B food {tb.food:3d} deaths {tb.deaths:2d} -> {winner}",
            flush=True,
        )
    print(
        f"A = {a.label} vs B = {b.label}: A won {wins:g} of {args.games} games "
        f"({100 * wins / args.games:.0f}%); food A {food[0]} B {food[1]}; "
        f"deaths A {deaths[0]} B {deaths[1]} ({args.seconds:g} s each, 2 snakes per side)"
    )


if __name__ == "__main__":
    main()
