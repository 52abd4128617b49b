"""The staff roles of the dashboard, apart from the accounts, so that the ``mechbus`` command
line can offer them without loading the password hashing and the ledger."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """What a staff member may do; each role includes the ones before it."""

    VIEWER = "viewer"  # reads every page, no personal fields
    OPERATOR = "operator"  # + reminders, escalations, placement confirmations
    CASEWORKER = "caseworker"  # + the people's personal details
