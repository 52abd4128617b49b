"""One implementation agenda per case, merging the Mechanism's measures and the IACHR's.

A person can be protected at once by the Mechanism's measures and by an Inter-American
Commission precautionary measure (MC number). The same state agencies implement both, so one
implementation meeting should go through both lists: this merges them, most urgent first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bus.domain.federal import MECHANISM_INSTRUMENT
from bus.domain.legal_limit import BEYOND_THE_LEGAL_LIMIT, beyond, chased_at


@dataclass(frozen=True)
class OpenItem:
    """Something still owed on a request: an answer, or a commitment."""

    request_id: str
    case_ref: str | None
    iachr_precautionary_measure: str | None
    agency: str
    kind: str
    what: str  # the committed action, or "answer the request"
    due: datetime | None
    commitment_id: str | None = None
    status: str = "committed"
    legal_limit: datetime | None = None  # a commitment on protection measures

    @property
    def chased(self) -> datetime | None:
        """When it is held due: a commitment at the earlier of its date and the legal limit."""
        return None if self.due is None else chased_at(self.due, self.legal_limit)


@dataclass(frozen=True)
class AgendaItem:
    instruments: tuple[str, ...]
    agency: str
    what: str
    due: datetime | None
    overdue: bool
    status: str
    request_id: str
    commitment_id: str | None
    legal_limit: datetime | None = None
    flag: str | None = None  # "beyond the legal limit": promised later than the law allows


def linked_measures(case_ref: str, items: list[OpenItem]) -> set[str]:
    """The IACHR MC numbers that the case's own requests say they also implement."""
    return {
        i.iachr_precautionary_measure
        for i in items
        if i.case_ref == case_ref and i.iachr_precautionary_measure
    }


def agenda(case_ref: str, items: list[OpenItem], now: datetime) -> list[AgendaItem]:
    """Open items of the case and of its linked MCs, each labelled with the instruments it
    serves; overdue first, then by due date, then by agency."""
    measures = linked_measures(case_ref, items)
    merged = []
    seen: set[tuple[str, str | None, str]] = set()
    for item in items:
        mc = item.iachr_precautionary_measure
        of_case = item.case_ref == case_ref
        of_mc = (mc in measures) or (item.case_ref in measures)
        if not (of_case or of_mc):
            continue
        key = (item.request_id, item.commitment_id, item.agency)
        if key in seen:
            continue
        seen.add(key)
        instruments: list[str] = []
        if of_case:
            instruments.append(MECHANISM_INSTRUMENT)
        label = mc or (item.case_ref if item.case_ref in measures else None)
        if label:
            instruments.append(f"CIDH {label}")
        merged.append(
            AgendaItem(
                instruments=tuple(instruments),
                agency=item.agency,
                what=item.what,
                due=item.due,
                overdue=item.chased is not None and item.chased < now,
                status=item.status,
                request_id=item.request_id,
                commitment_id=item.commitment_id,
                legal_limit=item.legal_limit,
                flag=_flag(item),
            )
        )
    far = datetime.max.replace(tzinfo=now.tzinfo)
    merged.sort(key=lambda a: (not a.overdue, a.due or far, a.agency))
    return merged


def _flag(item: OpenItem) -> str | None:
    late = item.due is not None and beyond(item.due, item.legal_limit)
    return BEYOND_THE_LEGAL_LIMIT if late else None
