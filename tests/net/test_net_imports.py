"""The net package must stay free of Home Assistant and of the rest of the integration."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

NET_PACKAGE = Path(__file__).parents[2] / "custom_components" / "ha_rt" / "net"
NET_MODULES = sorted(NET_PACKAGE.glob("*.py"))


def _imported_modules(source: Path) -> list[tuple[str, int]]:
    """Return (module, relative import level) for every import statement in a file."""
    tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
    modules: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.extend((alias.name, 0) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            modules.append((node.module or "", node.level))
    return modules


def test_net_package_has_modules() -> None:
    assert NET_PACKAGE / "__init__.py" in NET_MODULES


@pytest.mark.parametrize("source", NET_MODULES, ids=lambda path: path.name)
def test_net_module_imports_no_home_assistant(source: Path) -> None:
    for module, level in _imported_modules(source):
        assert module.split(".")[0] != "homeassistant", f"{source.name} imports {module}"
        # Relative imports must stay inside the package: level 1 is net itself.
        assert level <= 1, f"{source.name} imports {'.' * level}{module} from outside net"
        assert not module.startswith("custom_components"), f"{source.name} imports {module}"
