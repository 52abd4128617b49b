"""The sending path's checks of where a request goes and by when, worded for staff in their
language: the recipient's institution and state, and what would be valid."""

from __future__ import annotations

from collections.abc import Iterable

from adapters.i18n import N_, _, local_time
from bus.domain.addressing import Misaddressed, Mismatch
from bus.domain.errors import RefusalError
from bus.domain.legal_limit import DateProblem, ImplementByProblem
from schemas.registry import Agency, AgencyKind, state_name

# The rule each family of request follows, as staff say it.
RULES = {
    "mech.request.protection_measure.v1": N_(
        "A protection measure is addressed to a state government"
    ),
    "mech.request.investigation.v1": N_("An investigation is addressed to a prosecutor's office"),
    "mech.request.information.v1": N_(
        "A request for information is addressed to the authorities of the case's state"
    ),
    "mech.request.board_summons.v1": N_(
        "A Board summons is addressed to a state authority (government, prosecutor's office "
        "or human rights commission)"
    ),
    "mech.request.relocation.v1": N_("A relocation is addressed to a shelter"),
    "mech.request.implementation_meeting.v1": N_(
        "An implementation meeting notice is addressed to a state authority (government, "
        "prosecutor's office or human rights commission)"
    ),
}

KINDS = {
    AgencyKind.GOVERNMENT: N_("a state government"),
    AgencyKind.PROSECUTOR: N_("a prosecutor's office"),
    AgencyKind.COMMISSION: N_("a human rights commission"),
    AgencyKind.SHELTER: N_("a shelter"),
    AgencyKind.FEDERAL: N_("a unit of the Mechanism"),
    AgencyKind.BOARD: N_("the Governing Board"),
    AgencyKind.SYSTEM: N_("a mechbus service"),
}

VALID_SHOWN = 6  # more than this many valid agencies are cut short, saying how many more


class MisaddressedRequest(RefusalError, ValueError):
    """A request addressed to an agency of the wrong kind or of another state than its case
    (and without an override reason): nothing is sent or kept."""

    code = "misaddressed"

    def __init__(self, message_type: str, problems: tuple[Misaddressed, ...], case: str | None):
        detail = " ".join(_problem(message_type, p, case) for p in problems)
        agencies = [p.recipient.id for p in problems]
        super().__init__(detail, extra={"agencies": agencies, "case_ref": case})
        self.problems = problems


class ImplementByRefused(RefusalError, ValueError):
    """The date a protection measure asks to be implemented by has passed, or is later than
    the legal limit (this one only may be sent anyway, with an override reason)."""

    code = "implement_by"

    def __init__(self, problem: ImplementByProblem) -> None:
        when = local_time(problem.implement_by)
        if problem.problem is DateProblem.PAST:
            detail = _("The date to implement by ({when}) has already passed.").format(when=when)
        else:
            detail = _(
                "The date to implement by ({when}) is later than the legal limit ({limit}): "
                "urgent measures within 9 hours of being issued (LPPDDHP art. 26 fr. II), "
                "ordinary ones within 30 natural days of the Board's decision (art. 29 fr. II)."
            ).format(when=when, limit=local_time(problem.limit))
        super().__init__(detail, extra={"problem": problem.problem.value})
        self.problem = problem

    @property
    def overridable(self) -> bool:
        return self.problem.problem is DateProblem.BEYOND


def institution(agency: Agency, *, with_state: bool = True) -> str:
    """``gro.prosecutor (Fiscalía General del Estado de Guerrero)``, with the state's name
    after the institution's when asked and when the agency has one."""
    parts = [agency.name]
    if with_state and agency.state is not None:
        parts.append(_state(agency.state))
    return f"{agency.id} ({', '.join(parts)})"


def _state(code: str | None) -> str:
    """A state's name; a code no state has (a deployment's own registry) as it is."""
    if code is None:
        return "—"
    try:
        return state_name(code)
    except KeyError:
        return code


def _states(codes: Iterable[str]) -> str:
    return ", ".join(_state(code) for code in codes)


def _valid(agencies: tuple[Agency, ...]) -> str:
    shown = "; ".join(institution(a, with_state=False) for a in agencies[:VALID_SHOWN])
    more = len(agencies) - VALID_SHOWN
    if more > 0:
        shown += " " + _("and {count} more").format(count=more)
    return shown


def _problem(message_type: str, problem: Misaddressed, case: str | None) -> str:
    given = problem.recipient
    valid = _valid(problem.valid)
    if problem.mismatch is Mismatch.KIND:
        values = {"rule": _(RULES[message_type]), "valid": valid, "agency": institution(given)}
        values["kind"] = _(KINDS[given.kind])
        if problem.valid:
            return _("{rule}: {valid}. Recipient given: {agency}, {kind}.").format(**values)
        return _("{rule}. Recipient given: {agency}, {kind}.").format(**values)
    values = {
        "agency": institution(given, with_state=False),
        "state": _state(given.state),
        "expected": _states(problem.states),
        "case": case or "",
    }
    if problem.stated:
        said = _("{agency} belongs to {state}, but this request is for {expected}.")
    else:
        said = _("{agency} belongs to {state}, but case {case} is recorded in {expected}.")
    said = said.format(**values)
    if problem.valid:
        said += " " + _("Valid recipients: {valid}.").format(valid=valid)
    return said
