"""Imports point one way: schemas <- bus <- adapters <- agency_stubs (docs/ARCHITECTURE.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TRANSPORTS = {"nats", "faststream"}
SQL = {"sqlalchemy", "sqlmodel", "psycopg", "sqlite3"}
IO = TRANSPORTS | SQL | {"asyncio", "socket", "ssl", "subprocess"}


def top_level_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def full_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {name for imported in found for name in _prefixes(imported)}


def _prefixes(dotted: str) -> list[str]:
    parts = dotted.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def imports_of(package: str) -> dict[str, set[str]]:
    return {
        str(path.relative_to(ROOT)): top_level_imports(path)
        for path in sorted((ROOT / package).rglob("*.py"))
    }


FORBIDDEN = {
    "schemas": {"bus", "adapters", "agency_stubs"} | TRANSPORTS | SQL,
    "bus": {"adapters", "agency_stubs"} | SQL,
    # The demo runs the stubs as separate processes (python -m agency_stubs), not as imports.
    "adapters": {"agency_stubs"},
    "agency_stubs": {"adapters"} | SQL,
}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layer_imports(package: str) -> None:
    for module, imported in imports_of(package).items():
        wrong = imported & FORBIDDEN[package]
        assert not wrong, f"{module} imports {wrong}"


def test_the_domain_package_does_no_io() -> None:
    """Every module under bus/domain, present and future, is checked: the package is the rule."""
    modules = imports_of("bus/domain")
    assert len(modules) > 10
    for module, imported in modules.items():
        assert not imported & IO, f"{module} imports {imported & IO}"
        assert "bus.runtime" not in full_imports(ROOT / module), f"{module} imports bus.runtime"
