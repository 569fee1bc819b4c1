"""The dependency rule of DESIGN.md §8, checked on every module's imports.

core imports no other layer; tokens, vault and sheets import only core (tokens may
use tokens); custody (the shared ceremony operations) imports core, tokens, vault and
sheets; cli imports everything but gui; nothing but gui imports gui or Qt widgets.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "app" / "tessera"

ALLOWED = {
    "core": {"core"},
    "tokens": {"core", "tokens"},
    "vault": {"core", "vault"},
    "sheets": {"core", "sheets"},
    "custody": {"core", "tokens", "vault", "sheets", "custody"},
    "cli": {"core", "tokens", "vault", "sheets", "custody", "cli"},
    "gui": {"core", "tokens", "vault", "sheets", "custody", "gui"},
}
QT_ALLOWED = {"gui", "sheets"}  # sheets paint with QPainter (QtGui), never widgets


def layer_of(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    if rel.parts[0] == "cli":
        return "cli"
    if len(rel.parts) == 1:
        return "root"
    return rel.parts[0]


def imports_of(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(PACKAGE)) for p in MODULES])
def test_module_respects_the_layers(path: Path) -> None:
    layer = layer_of(path)
    if layer == "root":
        return
    problems = []
    for line, name in imports_of(path):
        parts = name.split(".")
        if parts[0] == "tessera" and len(parts) > 1:
            target = parts[1]
            if target not in ALLOWED[layer]:
                problems.append(f"line {line}: {layer} imports {name}")
        if parts[0] == "PySide6":
            if layer not in QT_ALLOWED:
                problems.append(f"line {line}: {layer} imports Qt ({name})")
            elif layer == "sheets" and len(parts) > 1 and parts[1] == "QtWidgets":
                problems.append(f"line {line}: sheets imports Qt widgets ({name})")
    assert not problems, "\n".join(problems)


def test_the_rule_catches_a_violation(tmp_path: Path) -> None:
    bad = PACKAGE / "core" / "_layering_probe.py"
    try:
        bad.write_text("from tessera.vault import Vault\n")
        with pytest.raises(AssertionError, match=r"core imports tessera\.vault"):
            test_module_respects_the_layers(bad)
    finally:
        bad.unlink()


NETWORK_MODULES = {"socket", "ssl", "http", "urllib", "requests", "httpx", "ftplib",
                   "smtplib", "xmlrpc", "asyncio", "websocket", "aiohttp"}


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(PACKAGE)) for p in MODULES])
def test_nothing_talks_to_the_network(path: Path) -> None:
    """Security invariant 5: no module of Tessera imports a networking library."""
    used = [f"line {line}: {name}" for line, name in imports_of(path)
            if name.split(".")[0] in NETWORK_MODULES
            or name.startswith("PySide6.QtNetwork")]
    assert not used, "\n".join(used)


CLI = PACKAGE / "cli"
CLI_SHARED = {"tessera.cli.context", "tessera.cli.prompts", "tessera.cli.terminal"}
# Leaves of the CLI: they import no other CLI module.
CLI_LEAVES = {"prompts.py", "terminal.py"}


@pytest.mark.parametrize("path", sorted(CLI.glob("*.py")), ids=lambda p: p.name)
def test_cli_command_modules_share_only_the_context(path: Path) -> None:
    """No import circle in the CLI: a command module imports the shared context (and
    prompts and the escaping terminal stream), never another command module; only ``main``
    assembles them."""
    if path.name in {"main.py", "__init__.py"}:
        return
    allowed = {"tessera.cli.prompts", "tessera.cli.terminal"} if path.name == "context.py" \
        else set() if path.name in CLI_LEAVES else CLI_SHARED
    others = [f"line {line}: {name}" for line, name in imports_of(path)
              if name.startswith("tessera.cli") and name not in allowed]
    assert not others, f"{path.name} imports another CLI module: " + "; ".join(others)
