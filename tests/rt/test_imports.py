"""The RT client package must not import Home Assistant, so it can be used and tested alone."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[2] / "custom_components" / "ha_rt" / "rt"
MODULES = sorted(PACKAGE.rglob("*.py"))


def imported_modules(tree: ast.AST) -> list[str]:
    """Return the absolute module names imported anywhere in the tree."""
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def test_package_has_modules():
    assert len(MODULES) >= 5


@pytest.mark.parametrize("module", MODULES, ids=lambda path: path.name)
def test_module_imports_no_home_assistant(module):
    tree = ast.parse(module.read_text(), filename=str(module))

    forbidden = [
        name
        for name in imported_modules(tree)
        if name == "homeassistant" or name.startswith("homeassistant.")
    ]

    assert forbidden == []


@pytest.mark.parametrize("module", MODULES, ids=lambda path: path.name)
def test_module_imports_stay_inside_package(module):
    # A relative import that leaves the package (from .. import x) would pull in the
    # integration, and with it Home Assistant.
    tree = ast.parse(module.read_text(), filename=str(module))

    escaping = [
        node.module or "."
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level > 1
    ]

    assert escaping == []
