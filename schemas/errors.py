"""The contract's own error base: the contract cannot import the bus, so its errors root here.

``bus.domain.errors`` draws the whole tree and says how the two roots relate.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType


class ContractError(ValueError):
    """A fault in what the contract was given (a registry file). Same fields as the bus's
    ``MechbusError``: a stable ``code``, a human ``detail`` (also ``str(exc)``), ``extra``."""

    code: str = "contract"
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
