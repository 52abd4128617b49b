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


ENVIRONMENT = {"os", "posix", "nt"}  # os.environ, os.getenv and the platform modules under os
PROCESS_WIDE_REGISTRY = {"active_registry", "use_registry"}


def _names_used(path: Path) -> set[str]:
    """Every name and attribute a module mentions (``environ`` from any import or alias)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.Attribute):
            found.add(node.attr)
        elif isinstance(node, ast.alias):
            found.add(node.name.split(".")[-1])
    return found


@pytest.mark.parametrize("package", ["schemas", "bus/domain"])
def test_the_contract_and_the_domain_read_no_environment(package: str) -> None:
    """Settings come in as values (adapters.settings reads them), never from the process."""
    for module, imported in imports_of(package).items():
        assert not imported & ENVIRONMENT, f"{module} imports {imported & ENVIRONMENT}"
        used = _names_used(ROOT / module) & {"environ", "getenv", "environb", "putenv"}
        assert not used, f"{module} reads the environment ({', '.join(sorted(used))})"


def test_the_domain_is_given_its_registry() -> None:
    """No module under bus/domain calls or imports the process-wide registry."""
    for path in sorted((ROOT / "bus/domain").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
                assert name not in PROCESS_WIDE_REGISTRY, f"{path.name}:{node.lineno} {name}()"
            if isinstance(node, ast.ImportFrom):
                imported = {alias.name for alias in node.names} & PROCESS_WIDE_REGISTRY
                assert not imported, f"{path.name} imports {imported}"
