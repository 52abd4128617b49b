"""The kinds of protection measure and of beneficiary a request names: plain enumerations, so
that a command line can offer them without loading the message models."""

from __future__ import annotations

from enum import StrEnum


class MeasureKind(StrEnum):
    PERIMETER_PATROL = "perimeter_patrol"
    BODYGUARD = "bodyguard"
    ESCORT = "escort"
    CAMERAS = "cameras"
    LOCKS = "locks"
    LIGHTING = "lighting"
    PANIC_BUTTON = "panic_button"
    SATELLITE_PHONE = "satellite_phone"
    EMERGENCY_PHONE_LINE = "emergency_phone_line"
    RELOCATION_SUPPORT = "relocation_support"


class BeneficiaryRole(StrEnum):
    JOURNALIST = "journalist"
    DEFENDER = "defender"
    RELATIVE = "relative"
    ORGANISATION = "organisation"
