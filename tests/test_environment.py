"""The ``MECHBUS_*`` variables are read in adapters.environment only, as typed values."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from adapters import environment
from adapters.environment import SettingsError
from adapters.service import compose
from adapters.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
CODE = ("schemas", "bus", "adapters", "agency_stubs", "bench", "examples")
READER = ROOT / "adapters" / "environment.py"
# Their readers move to adapters.environment with the registry and the policy being passed in.
NOT_YET: set[Path] = set()


def _reads_the_environment(tree: ast.AST) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv", "environb"}:
            return True
        if isinstance(node, ast.Name) and node.id in {"environ", "getenv"}:
            return True
    return False


def _names_a_variable(tree: ast.AST) -> bool:
    return any(
        isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value.startswith("MECHBUS_")
        for node in ast.walk(tree)
    )


def test_only_the_environment_module_reads_mechbus_variables() -> None:
    modules = [path for package in CODE for path in sorted((ROOT / package).rglob("*.py"))]
    assert len(modules) > 100
    readers = []
    for path in modules:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if _reads_the_environment(tree) and _names_a_variable(tree):
            readers.append(path)
    assert set(readers) - NOT_YET == {READER}


def test_a_bad_retention_is_refused_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    for bad in ("-1", "a week", "nan"):
        monkeypatch.setenv(environment.RETENTION_DAYS, bad)
        with pytest.raises(SettingsError, match=environment.RETENTION_DAYS):
            environment.retention_days()


def test_secrets_from_the_environment_are_values_not_side_effects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(environment.STORE_KEY, "too-short")
    settings = load_settings(home=tmp_path)  # loading checks nothing it does not need yet
    assert "too-short" not in repr(settings)
    assert not settings.creds_dir.exists()  # and writes no key file
    with pytest.raises(SettingsError, match=environment.STORE_KEY):
        compose.store_key(settings)
    monkeypatch.delenv(environment.STORE_KEY)
    made = compose.store_key(load_settings(home=tmp_path))
    assert made == compose.store_key(load_settings(home=tmp_path))  # made once, then kept
    assert (tmp_path / "creds" / "nats-store.key").stat().st_mode & 0o777 == 0o600
