"""The exception tree of mechbus: one base with a stable code, a human detail and extra fields.

Every exception mechbus raises on purpose derives from ``MechbusError`` through one group::

    MechbusError
    ├── RefusalError         a message or an action refused: the sender must change it
    │     (bus.domain.lifecycle's transition refusal, bus.domain.bounds.OutOfBounds;
    │      adapters: SendRefused, Unplaceable, NotOwed, MisaddressedRequest,
    │      ImplementByRefused, ProblemError, BodyTooLarge,
    │      BridgeStoreError, AccountError)
    ├── AccessError          who is asking may not (dashboard: LoginRequired, Forbidden,
    │                        CsrfFailed)
    ├── LedgerError          the SQL ledger (bus.domain.ports.LedgerUnavailable; adapters:
    │                        SealError, SchemaError, ReplayError)
    ├── HeldError            another process holds what this one needs (LockHeld, LeaseHeld,
    │                        HubRunning)
    ├── TransportError       NATS did not take or confirm something (bus.runtime: PublishError,
    │                        AgencyError, AgencyPermissionError; adapters: NoServer,
    │                        Unavailable, NatsServerError, NatsServerNotFound)
    ├── ConfigurationError   a file or setting mechbus cannot use (PolicyError; adapters:
    │                        CredentialError, SettingsError, ScenarioError)
    └── ServiceError         a service could not run as asked (UpError, DemoError)

The contract (``schemas/``) may not import the bus, so its one error, the registry's
``RegistryError``, roots in ``schemas.errors.ContractError`` instead. Both roots derive from
``schemas.errors.Fault``, which holds the fields (``code``, ``detail``, ``extra``): catching
``Fault`` catches every mechbus error, and a caller that wants every configuration fault
catches ``(ConfigurationError, ContractError)``.

Each class keeps the built-in it was before (``PolicyError`` is still a ``ValueError``,
``LedgerUnavailable`` a ``RuntimeError``), so every existing ``except`` behaves the same.
"""

from __future__ import annotations

from schemas.errors import ContractError, Fault

__all__ = [
    "AccessError",
    "ConfigurationError",
    "ContractError",
    "Fault",
    "HeldError",
    "LedgerError",
    "MechbusError",
    "RefusalError",
    "ServiceError",
    "TransportError",
]


class MechbusError(Fault):
    """The root of everything the bus and its adapters raise on purpose."""

    code = "mechbus"


class RefusalError(MechbusError):
    """A message or an action refused as given: its sender must change it, not retry it."""

    code = "refused"


class AccessError(MechbusError):
    """Whoever asks is not signed in, or may not do this."""

    code = "access"


class LedgerError(MechbusError):
    """The SQL ledger cannot be reached, read, migrated or rebuilt as asked."""

    code = "ledger"


class HeldError(MechbusError):
    """Another process holds what this one needs (a lock file, the ledger's hub lease)."""

    code = "held"


class TransportError(MechbusError):
    """NATS did not take, deliver or confirm something, or its server is not there."""

    code = "transport"


class ConfigurationError(MechbusError):
    """A file or a setting that mechbus cannot use; said at start, with where."""

    code = "configuration"


class ServiceError(MechbusError):
    """A long-running service (``mechbus up``, the demo) could not run as asked."""

    code = "service"
