"""No import runs from a lower layer to a higher one (read from the source, imports in
functions included).

Layers, lowest first: ``protocol`` (knows nothing of netsnake); ``netsnake.game``
(the pure rules and encodings); the client core, the server and the UI, each
on top of the game; ``netsnake.play`` and ``netsnake.play_replay``, which wire
them into a program, and the command-line modules that start it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Module prefix -> prefixes it must never import.
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "protocol": ("netsnake",),
    "netsnake.game": (
        "netsnake.client",
        "netsnake.server",
        "netsnake.ui",
        "netsnake.play",
        "netsnake.botapi",
        "netsnake.botplay",
        "netsnake.play_replay",
        "netsnake.recording_file",
        "netsnake.netem",
        "netsnake.sim",
    ),
    # The bot API is data and helpers over the game, for bot writers: nothing else.
    "netsnake.botapi": (
        "netsnake.client",
        "netsnake.server",
        "netsnake.ui",
        "netsnake.play",
        "netsnake.play_replay",
        "netsnake.botplay",
        "netsnake.netem",
        "netsnake.sim",
    ),
    # The client package below its command line: the model never imports the view.
    "netsnake.client": (
        "netsnake.ui",
        "netsnake.server",
        "netsnake.play",
        "netsnake.play_replay",
        "netsnake.botplay",
    ),
    "netsnake.server": ("netsnake.client", "netsnake.ui", "netsnake.play", "netsnake.play_replay"),
    "netsnake.ui": (
        "netsnake.server",
        "netsnake.play",
        "netsnake.play_replay",
        "netsnake.client.session",
    ),
}
#: Entry points: the command line sits above the wiring it starts.
EXEMPT = {"netsnake.client.cli"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


SOURCES = sorted((ROOT / "protocol").rglob("*.py")) + sorted((ROOT / "netsnake").rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=[_module_name(p) for p in SOURCES])
def test_no_import_runs_up_the_layers(path: Path) -> None:
    module = _module_name(path)
    if module in EXEMPT:
        return
    rules = [bad for prefix, bad in FORBIDDEN.items() if _under(module, prefix)]
    wrong = sorted(
        name
        for name in _imports(path)
        for forbidden in rules
        for prefix in forbidden
        if _under(name, prefix)
    )
    assert not wrong, f"{module} imports from a higher layer: {wrong}"


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    bad = tmp_path / "core.py"
    bad.write_text("def f():\n    from netsnake.ui.panels import HudInfo\n")
    assert "netsnake.ui.panels" in _imports(bad)
