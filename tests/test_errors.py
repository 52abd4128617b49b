"""Every exception mechbus defines is in one tree (bus.domain.errors), and keeps its built-in."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

from bus.domain.errors import (
    ConfigurationError,
    ContractError,
    Fault,
    LedgerError,
    MechbusError,
    RefusalError,
)


def defined_exceptions(package: str) -> list[type[BaseException]]:
    root = importlib.import_module(package)
    found = []
    for info in pkgutil.walk_packages(root.__path__, f"{package}."):
        if ".migrations" in info.name or info.name.endswith("__main__"):
            continue  # alembic scripts and entry points run when imported
        module = importlib.import_module(info.name)
        found += [
            cls
            for _, cls in inspect.getmembers(module, inspect.isclass)
            if issubclass(cls, BaseException) and cls.__module__ == info.name
        ]
    return found


@pytest.mark.parametrize("package", ["bus", "adapters"])
def test_every_exception_is_in_the_tree(package: str) -> None:
    exceptions = defined_exceptions(package)
    assert exceptions
    outside = [c.__qualname__ for c in exceptions if not issubclass(c, MechbusError)]
    assert not outside, f"not derived from MechbusError: {outside}"
    groups = [c for c in exceptions if MechbusError in c.__bases__]
    assert not groups or package == "bus", "adapters derive from a group, not the root"


def test_the_contract_roots_its_own() -> None:
    exceptions = [c for c in defined_exceptions("schemas") if c is not Fault]
    assert exceptions and all(issubclass(c, ContractError) for c in exceptions)
    assert issubclass(MechbusError, Fault) and issubclass(ContractError, Fault)


@pytest.mark.parametrize(
    ("name", "group", "builtin"),
    [
        ("bus.domain.policy.PolicyError", ConfigurationError, ValueError),
        ("bus.domain.bounds.OutOfBounds", RefusalError, ValueError),
        ("bus.domain.ports.LedgerUnavailable", LedgerError, RuntimeError),
        ("adapters.service.actions.NotOwed", RefusalError, LookupError),
        ("schemas.registry.RegistryError", ContractError, ValueError),
    ],
)
def test_each_keeps_what_callers_catch(
    name: str, group: type[Exception], builtin: type[Exception]
) -> None:
    module, _, cls_name = name.rpartition(".")
    cls = getattr(importlib.import_module(module), cls_name)
    assert issubclass(cls, group) and issubclass(cls, builtin)


def test_fields() -> None:
    error = RefusalError("the due date has passed", code="illegal_transition", extra={"n": 1})
    assert (error.code, error.detail, str(error), dict(error.extra)) == (
        "illegal_transition",
        "the due date has passed",
        "the due date has passed",
        {"n": 1},
    )
    assert ConfigurationError("x").code == "configuration" and not ConfigurationError().extra
