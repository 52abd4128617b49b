"""What a unit of work records row by row on the ORM, because it is rare: escalations, Board
sessions, attendance and consent, shelter capacity, IACHR measures (the hot path is written
behind, in bulk)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from adapters.ledger.consents import consent_row, consents_for
from adapters.ledger.rows import capacity_from_row, capacity_row_fields
from adapters.ledger.tables import (
    AttendanceRow,
    BoardSessionRow,
    CapacityReportRow,
    EscalationRow,
    IachrMeasureRow,
    ShelterCapacityRow,
)
from bus.domain.board import Consent
from bus.domain.capacity import ShelterCapacity
from bus.domain.iachr import MeasureDates
from bus.domain.ports import (
    AttendanceRecord,
    BoardSessionRecord,
    ConsentRecord,
    EscalationRecord,
)


class OrmRecords:
    """The ``bus.domain.ports.LedgerUnit`` records kept on the ORM; ``SqlUnit`` has them."""

    session: Session
    # Escalations added in this unit, by key: asked again, they need no query.
    _fired: set[tuple[str, str, str, str, str]]

    def escalation_fired(self, record: EscalationRecord) -> bool:
        if _escalation_key(record) in self._fired:
            return True
        found = self.session.exec(
            select(EscalationRow.id).where(
                EscalationRow.request_id == record.request_id,
                EscalationRow.agency == record.agency,
                EscalationRow.clock == record.clock,
                EscalationRow.commitment_key == (record.commitment_id or ""),
                EscalationRow.level == record.level,
            )
        ).first()
        return found is not None

    def add_escalation(self, record: EscalationRecord) -> None:
        fields = dict(record.__dict__)
        fields["commitment_key"] = fields.pop("commitment_id") or ""
        self.session.add(EscalationRow(**fields))
        self._fired.add(_escalation_key(record))

    def save_board_session(self, record: BoardSessionRecord) -> None:
        row = self.session.get(BoardSessionRow, record.session_id)
        if row is None:
            self.session.add(BoardSessionRow(**record.__dict__))
        else:  # rescheduled
            row.scheduled_at = record.scheduled_at
            row.venue = record.venue

    def save_attendance(self, record: AttendanceRecord) -> None:
        row = self.session.exec(
            select(AttendanceRow).where(
                AttendanceRow.session_id == record.session_id,
                AttendanceRow.agency == record.agency,
            )
        ).first()
        if row is None:
            self.session.add(AttendanceRow(**record.__dict__))
        else:  # a correction: the latest word stands
            row.attended = record.attended
            row.recorded_at = record.recorded_at

    def save_iachr_measure(self, measure: MeasureDates, message_id: str, at: datetime) -> None:
        fields = dict(measure.__dict__, message_id=message_id, updated_at=at)
        row = self.session.get(IachrMeasureRow, measure.measure)
        if row is None:
            self.session.add(IachrMeasureRow(**fields))
        else:  # corrected dates: the latest message stands
            for name, value in fields.items():
                setattr(row, name, value)

    def save_consent(self, record: ConsentRecord) -> None:
        self.session.add(consent_row(record))
        self.session.flush()  # a summons later in this batch must find it

    def consent(self, case_ref: str) -> Consent | None:
        return consents_for(self.session, [case_ref]).get(case_ref)

    def record_capacity(self, capacity: ShelterCapacity, body_json: str) -> None:
        self.session.add(
            CapacityReportRow(
                shelter=capacity.shelter, reported_at=capacity.reported_at, body_json=body_json
            )
        )
        row = self.session.get(ShelterCapacityRow, capacity.shelter)
        fields = capacity_row_fields(capacity)
        if row is None:
            self.session.add(ShelterCapacityRow(**fields))
        else:
            for name, value in fields.items():
                setattr(row, name, value)

    def capacity(self, shelter: str) -> ShelterCapacity | None:
        row = self.session.get(ShelterCapacityRow, shelter)
        return capacity_from_row(row) if row is not None else None

    def adjust_free_spaces(self, shelter: str, delta: int) -> ShelterCapacity:
        row = self.session.get(ShelterCapacityRow, shelter)
        if row is None:
            raise LookupError(f"{shelter} has published no capacity")
        row.free_spaces = max(0, min(row.total_spaces, row.free_spaces + delta))
        return capacity_from_row(row)


def _escalation_key(record: EscalationRecord) -> tuple[str, str, str, str, str]:
    return (
        record.request_id,
        record.agency,
        record.clock,
        record.commitment_id or "",
        record.level,
    )
