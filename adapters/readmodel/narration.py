"""The case timeline in words: each message's kind as a phrase and what it says as one
sentence naming the institutions, in the language being spoken (only fields that carry no
personal data are read: never ``personal``, never free-text notes)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from adapters.i18n import N_, current, local_time
from adapters.i18n import gettext as _
from adapters.readmodel.names import institution

# The message's type without "mech." and ".v1" -> its phrase.
KINDS = {
    "request.protection_measure": N_("request for protection measures"),
    "request.investigation": N_("request to investigate"),
    "request.information": N_("request for information"),
    "request.relocation": N_("request for relocation"),
    "request.board_summons": N_("summons to the Governing Board"),
    "request.implementation_meeting": N_("call to an implementation meeting"),
    "request.recall": N_("request recalled"),
    "request.update": N_("request updated"),
    "response.delivery_receipt": N_("delivery receipt"),
    "response.acknowledgement": N_("acknowledgement of receipt"),
    "response.accepted": N_("request accepted"),
    "response.declined": N_("request declined"),
    "response.provisional": N_("provisional answer"),
    "response.commitment_made": N_("commitment made"),
    "response.progress_report": N_("progress report"),
    "response.commitment_fulfilled": N_("commitment fulfilled"),
    "response.commitment_partially_fulfilled": N_("commitment partly fulfilled"),
    "response.commitment_withdrawn": N_("commitment withdrawn"),
    "tracking.acknowledgement_overdue": N_("reminder: acknowledgement overdue"),
    "tracking.commitment_overdue": N_("reminder: commitment overdue"),
    "tracking.escalated": N_("escalated"),
    "tracking.reminder": N_("reminder"),
    "tracking.rejected": N_("message refused"),
    "tracking.board_session_scheduled": N_("Board session scheduled"),
    "tracking.board_attendance": N_("attendance at the Governing Board"),
    "tracking.board_consent": N_("consent to invite authorities to the Board"),
    "tracking.board_decision_taken": N_("Board decision"),
    "tracking.presumed_aggressor": N_("presumed aggressor"),
    "tracking.checkpoint": N_("ledger checkpoint"),
    "tracking.incorporation_received": N_("request for incorporation received"),
    "tracking.urgent_measures_issued": N_("urgent measures issued"),
    "tracking.risk_study_delivered": N_("risk study delivered"),
    "tracking.iachr_measure": N_("IACHR precautionary measure"),
    "capacity.capacity_update": N_("shelter capacity report"),
    "capacity.placement_offer": N_("placement offer"),
    "capacity.placement_confirmed": N_("placement confirmed"),
    "capacity.offer_released": N_("placement offer released"),
    "capacity.placement_arrived": N_("arrival at the shelter"),
    "capacity.placement_ended": N_("departure from the shelter"),
}

# What fell overdue, by the policy's clock.
OVERDUE = {
    "acknowledgement": N_("acknowledgement overdue"),
    "answer": N_("answer overdue"),
    "implementation": N_("commitment overdue"),
    "shelter_answer": N_("shelter's answer overdue"),
    "progress_report": N_("progress report overdue"),
    "review": N_("review overdue"),
    # the Mechanism's own clocks (bus.domain.federal_clocks)
    "measures_issued": N_("urgent measures not issued in time"),
    "risk_assessment": N_("risk study overdue"),
    "decision_communicated": N_("Board decision not communicated in time"),
}

DECLINE_REASONS = {
    "not_competent": N_("not competent"),
    "insufficient_resources": N_("insufficient resources"),
    "insufficient_information": N_("insufficient information"),
    "already_attended": N_("already attended"),
    "beneficiary_refused": N_("the beneficiary refused"),
    "other": N_("another reason"),
}

MEASURES = {
    "perimeter_patrol": N_("perimeter patrols"),
    "bodyguard": N_("bodyguard"),
    "escort": N_("escort"),
    "cameras": N_("security cameras"),
    "locks": N_("locks"),
    "lighting": N_("lighting"),
    "panic_button": N_("panic button"),
    "satellite_phone": N_("satellite phone"),
    "emergency_phone_line": N_("emergency phone line"),
    "relocation_support": N_("support to relocate"),
}

LONGEST = 240  # characters: the detail is one line of a table, naming up to two institutions


def kind_phrase(kind: str) -> str:
    """``tracking.escalated`` -> "escalated", in the language being spoken."""
    phrase = KINDS.get(kind)
    return _(phrase) if phrase else kind.split(".")[-1].replace("_", " ")


def _the(agency_id: str) -> str:
    """The institution's name as a sentence names it: in Spanish with its article
    ("la Fiscalía General del Estado de Guerrero", "el Mecanismo ...")."""
    name = str(institution(agency_id))
    if current() != "es" or not name[:1].isupper():
        return name
    first = name.split(" ", 1)[0].lower()
    feminine = first.endswith(("a", "ía", "ión", "dad"))
    return f"{'la' if feminine else 'el'} {name}"


def _spanish(sentence: str) -> str:
    """Spanish contracts "a el" and "de el"."""
    if current() != "es":
        return sentence
    return sentence.replace(" a el ", " al ").replace(" de el ", " del ")


def _overdue(data: Mapping[str, Any]) -> str:
    clock = str(data.get("clock", ""))
    phrase = OVERDUE.get(clock)
    return _(phrase) if phrase else _("%(clock)s overdue") % {"clock": clock.replace("_", " ")}


def _rung(data: Mapping[str, Any]) -> str:
    level = data.get("level")
    facts = {
        "to": _the(str(data.get("to_agency", ""))),
        "agency": _the(str(data.get("agency", ""))),
        "owed": _overdue(data),
        "session": data.get("board_session_id") or "",
    }
    if level == "reminder":
        return _("Reminder sent to %(to)s: %(owed)s") % facts
    if level == "authority_notice":
        return _("Notice sent to %(to)s: %(owed)s of %(agency)s") % facts
    if level == "board_agenda" and facts["session"]:
        return _("Placed on the agenda of Board session %(session)s: %(owed)s of %(agency)s") % (
            facts
        )
    if level == "board_agenda":
        return _("Placed on the Governing Board's agenda: %(owed)s of %(agency)s") % facts
    if level == "monthly_report":
        return _("Included in the monthly report: %(owed)s of %(agency)s") % facts
    return _overdue(data)


def _when(value: object) -> str:
    if not isinstance(value, str):
        return ""
    try:
        return local_time(datetime.fromisoformat(value))
    except ValueError:
        return value


def _text(template: str, **facts: object) -> Callable[[Mapping[str, Any]], str]:
    """A sentence from ``facts``: each names the field it is read from."""

    def said(data: Mapping[str, Any]) -> str:
        values = {key: data.get(str(name)) for key, name in facts.items()}
        if any(v in (None, "", [], ()) for v in values.values()):
            return ""
        return _(template) % {k: str(v) for k, v in values.items()}

    return said


def _measures(data: Mapping[str, Any]) -> str:
    kinds = data.get("measures") or []
    named = [_(MEASURES[k]) if k in MEASURES else str(k).replace("_", " ") for k in kinds]
    return _("Measures: %(measures)s") % {"measures": ", ".join(named)} if named else ""


def _declined(data: Mapping[str, Any]) -> str:
    reason = DECLINE_REASONS.get(str(data.get("reason_code")))
    return _("Declined: %(reason)s") % {"reason": _(reason)} if reason else ""


def _commitment(data: Mapping[str, Any]) -> str:
    return _("Commits to: %(action)s, by %(due)s") % {
        "action": data.get("action", ""),
        "due": _when(data.get("due")),
    }


def _attendance(data: Mapping[str, Any]) -> str:
    facts = {"agency": _the(str(data.get("agency", ""))), "session": data.get("session_id", "")}
    if data.get("attended"):
        return _("%(agency)s attended session %(session)s") % facts
    return _("%(agency)s did not attend session %(session)s") % facts


def _consent(data: Mapping[str, Any]) -> str:
    agencies = [str(institution(a)) for a in data.get("agencies") or []]
    who = "; ".join(agencies) if agencies else _("every state authority")
    if data.get("given"):
        return _("Consent given to invite: %(who)s") % {"who": who}
    return _("Consent withdrawn for: %(who)s") % {"who": who}


def _aggressor(data: Mapping[str, Any]) -> str:
    facts = {"agency": _the(str(data.get("agency", "")))}
    if data.get("action") == "lifted":
        return _("%(agency)s is no longer named presumed aggressor") % facts
    return _("%(agency)s named presumed aggressor") % facts


DETAILS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "request.protection_measure": _measures,
    "request.investigation": _text(N_("Aggression: %(aggression)s"), aggression="aggression"),
    "request.information": _text(N_("Question: %(question)s"), question="question"),
    "response.acknowledgement": _text(N_("Acknowledged by: %(role)s"), role="official_role"),
    "response.declined": _declined,
    "response.provisional": _text(N_("Reason: %(reason)s"), reason="reason"),
    "response.commitment_made": _commitment,
    "response.progress_report": _text(N_("Progress: %(summary)s"), summary="summary"),
    "response.commitment_partially_fulfilled": _text(
        N_("Shortfall: %(shortfall)s"), shortfall="shortfall"
    ),
    "response.commitment_withdrawn": _text(N_("Reason: %(reason)s"), reason="reason"),
    "tracking.acknowledgement_overdue": _rung,
    "tracking.commitment_overdue": _rung,
    "tracking.escalated": _rung,
    "tracking.reminder": _text(N_("Reminder: %(what)s"), what="what"),
    "tracking.rejected": _text(N_("Refused: %(reason)s"), reason="reason"),
    "tracking.board_session_scheduled": _text(N_("Session %(session)s"), session="session_id"),
    "tracking.board_attendance": _attendance,
    "tracking.board_consent": _consent,
    "tracking.presumed_aggressor": _aggressor,
}


def detail(kind: str, data: Mapping[str, Any]) -> str:
    """What the message of ``kind`` says, as one sentence ("" when its kind says it all)."""
    said = DETAILS.get(kind)
    sentence = _spanish(said(data)) if said else ""
    sentence = sentence[:1].upper() + sentence[1:]
    if data.get("override_reason"):  # sent against the addressing rules: the reason first
        forced = _("Sent anyway: %(reason)s") % {"reason": data["override_reason"]}
        sentence = f"{forced}. {sentence}" if sentence else forced
    return sentence if len(sentence) <= LONGEST else sentence[: LONGEST - 1] + "…"
