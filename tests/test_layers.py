"""Imports point one way: schemas <- bus <- adapters <- agency_stubs (DESIGN section 7)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TRANSPORTS = {"nats", "faststream"}
SQL = {"sqlalchemy", "sqlmodel", "psycopg", "sqlite3"}
PURE_DOMAIN = [
    "lifecycle",
    "intake",
    "recording",
    "ports",
    "subjects",
    "streams",
    "policy",
    "ladder",
    "scorecard",
    "agenda",
    "capacity",
    "redaction",
    "placement",
    "permissions",
    "msgids",
    "rejection",
    "chain",
    "personal",
]


def top_level_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


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


@pytest.mark.parametrize("module", PURE_DOMAIN)
def test_pure_domain_modules_have_no_io(module: str) -> None:
    imported = top_level_imports(ROOT / "bus" / f"{module}.py")
    assert not imported & (TRANSPORTS | SQL | {"asyncio", "socket", "subprocess"}), imported
