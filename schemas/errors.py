"""The fields every mechbus error carries, and the contract's own error base.

The contract cannot import the bus, so the shared fields live here, in the innermost layer;
``bus.domain.errors`` draws the whole tree and says how its root relates to ``ContractError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType


class Fault(Exception):
    """``code``: stable, for programs (a class default an instance may narrow); ``detail``:
    for people, also ``str(exc)``; ``extra``: any further fields, read-only."""

    code: str = "fault"
    detail: str = ""
    extra: Mapping[str, object] = MappingProxyType({})

    def __init__(
        self,
        detail: str = "",
        *,
        code: str | None = None,
        extra: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        if extra:
            self.extra = MappingProxyType(dict(extra))


class ContractError(Fault, ValueError):
    """A fault in what the contract was given (a registry file)."""

    code = "contract"
