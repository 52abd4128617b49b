"""A year of the Mechanism at national scale, generated from a seed: 32 states x 3 agencies,
60 shelters, about 2,000 protected people, 5 to 20 new cases a week, every request the
Mechanism sends and every answer the agencies give, each agency by one profile of
agency_stubs.profiles. Pure: builds envelopes with the real schemas, publishes nothing.

Time: a profile's delay is in seconds on the demo's clock; here each of those seconds is
``DAY_PER_PROFILE_SECOND`` of the simulated year, so a "slow" agency takes days a step and
misses deadlines as a slow one would."""

from __future__ import annotations

import heapq
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

from agency_stubs.profiles import PROFILES, Decision, Fulfilment, Profile
from bus.runtime.agency.replies import delivery_receipt, reply_from
from schemas.capacity import (
    CapacityUpdate,
    PlacementArrived,
    PlacementArrivedBody,
    PlacementConfirmed,
    PlacementOffer,
    PlacementOfferBody,
)
from schemas.common import EvidenceRef
from schemas.envelope import Envelope
from schemas.federal import IncorporationReceived, RiskStudyDelivered
from schemas.registry import AgencyKind, AgencyRegistry, state_codes
from schemas.requests import (
    BoardSummons,
    ImplementationMeetingNotice,
    InformationRequest,
    InvestigationRequest,
    ProtectionMeasureRequest,
    RelocationRequest,
)
from schemas.responses import (
    Acceptance,
    AcceptanceBody,
    Acknowledgement,
    AcknowledgementBody,
    CommitmentBody,
    CommitmentFulfilled,
    CommitmentMade,
    CommitmentPartiallyFulfilled,
    Decline,
    DeclineBody,
    DeclineReason,
    FulfilmentBody,
    PartialFulfilmentBody,
)
from schemas.tracking import BoardConsent, BoardSessionScheduled

MECHANISM, BOARD = "fed.mechanism", "fed.board"
DAY_PER_PROFILE_SECOND = timedelta(days=1)
SHELTERS = 57  # synthetic, beside the registry's 3: 60 in all
# The year ends before today: no message is dated in the future of the machine's clock.
END = datetime(2026, 11, 23, tzinfo=UTC)
COMMITTING = (ProtectionMeasureRequest, InvestigationRequest)
# Mixture of the agencies' behaviour; every profile is used (the first agencies take one
# each), the rest drawn with these weights.
WEIGHTS = {"prompt": 40, "slow": 25, "silent": 8, "declines": 8, "partial": 12, "late": 7}
REGIONS = ("norte", "centro", "sur", "occidente", "sureste")
ROLES = {
    AgencyKind.GOVERNMENT: "Subsecretaría de Gobierno para Asuntos de Derechos Humanos",
    AgencyKind.PROSECUTOR: "Fiscalía Especializada para la Atención de Delitos contra Periodistas",
    AgencyKind.COMMISSION: "Presidencia de la Comisión Estatal de Derechos Humanos",
    AgencyKind.SHELTER: "Coordinación de la casa refugio",
}


def shelter_ids(count: int = SHELTERS) -> list[str]:
    return [f"shelter.sintetico-{i:02d}" for i in range(1, count + 1)]


def registry_text(count: int = SHELTERS) -> str:
    """The shipped registry with synthetic shelters appended: a deployment's own file
    (MECHBUS_AGENCIES), as a deployment adds agencies; the shipped file is left alone."""
    shipped = resources.files("schemas").joinpath("data/agencies.toml").read_text("utf-8")
    codes = sorted(state_codes())
    extra = []
    for i, agency in enumerate(shelter_ids(count)):
        extra.append(
            f'\n[[agency]]\nid = "{agency}"\nkind = "shelter"\n'
            f'name = "Casa refugio sintética {i + 1:02d}"\n'
            f'state = "{codes[i % len(codes)]}"\nregion = "{REGIONS[i % len(REGIONS)]}"\n'
        )
    return shipped + "".join(extra)


def write_registry(path: Path, count: int = SHELTERS) -> Path:
    path.write_text(registry_text(count), encoding="utf-8")
    return path


@dataclass(frozen=True)
class Settings:
    seed: int = 20261130
    days: int = 365
    people: int = 2_000  # protected at the start of the year
    intake: tuple[int, int] = (5, 20)  # new cases a week
    review_days: tuple[int, int] = (60, 120)  # between two follow-ups of a case
    end: datetime = END


@dataclass(order=True)
class Planned:
    at: datetime
    order: int
    message: Envelope = field(compare=False)


@dataclass
class Case:
    ref: str
    state: str
    people: int


class Year:
    """Generates the year's messages in time order (``messages()``), counting them."""

    def __init__(self, registry: AgencyRegistry, settings: Settings) -> None:
        self.registry, self.s = registry, settings
        self.rng = random.Random(settings.seed)
        self.start = settings.end - timedelta(days=settings.days)
        self.states = sorted(state_codes())
        self.shelters = [a.id for a in registry if a.kind is AgencyKind.SHELTER]
        self.profiles = self._profiles()
        self.free: dict[str, int] = {}  # a shelter's spaces not yet offered, as a stub keeps them
        self._heap: list[Planned] = []
        self._order = 0
        self.counts: Counter[str] = Counter()  # of the messages given, by type
        self._case_number = 0

    # -- who is who ------------------------------------------------------------------------

    def agency(self, state: str, kind: AgencyKind) -> str:
        found = [a.id for a in self.registry.of_state(state) if a.kind is kind]
        return sorted(found)[0]

    def _profiles(self) -> dict[str, Profile]:
        kinds = (AgencyKind.GOVERNMENT, AgencyKind.PROSECUTOR, AgencyKind.COMMISSION)
        ids = [self.agency(s, k) for s in self.states for k in kinds] + self.shelters
        names = list(PROFILES)
        drawn = self.rng.choices(list(WEIGHTS), list(WEIGHTS.values()), k=len(ids))
        chosen = names + drawn[len(names) :]
        return {agency: PROFILES[name] for agency, name in zip(ids, chosen, strict=True)}

    @property
    def requests(self) -> int:
        """Requests given so far (those after the year's end are not)."""
        return sum(n for kind, n in self.counts.items() if kind.startswith("mech.request."))

    def profile_use(self) -> dict[str, int]:
        return dict(Counter(p.name for p in self.profiles.values()))

    # -- the plan --------------------------------------------------------------------------

    def _at(self, at: datetime, message: Envelope) -> None:
        self._order += 1
        heapq.heappush(self._heap, Planned(at, self._order, message))

    def _pause(self, profile: Profile) -> timedelta:
        return profile.pause(self.rng) * DAY_PER_PROFILE_SECOND + timedelta(minutes=5)

    def messages(self) -> Iterator[Planned]:
        """Every message of the year, earliest first (answers due after the year are not)."""
        self._setup()
        while self._heap:
            planned = heapq.heappop(self._heap)
            if planned.at >= self.s.end:
                break
            self.counts[planned.message.type] += 1
            yield planned

    def _setup(self) -> None:
        start = self.start
        for i, shelter in enumerate(self.shelters):
            spaces = 4 + i % 12
            self.free[shelter] = spaces // 2
            data = {
                "total_spaces": spaces,
                "spaces_now": spaces // 2,
                "spaces_24h": spaces // 2,
                "spaces_72h": spaces,
                "region": self.registry[shelter].region or "centro",
                "max_stay_days": 180,
            }
            self._at(start, CapacityUpdate(source=shelter, time=start, data=data))
        for month in range(self.s.days // 30 + 1):
            at = start + timedelta(days=30 * month + 1)
            session = {
                "session_id": f"JG-{at:%Y-%m}",
                "scheduled_at": at + timedelta(days=14),
                "venue": "Junta de Gobierno del Mecanismo, Ciudad de México",
            }
            self._at(at, BoardSessionScheduled(source=BOARD, time=at, data=session))
        people = 0
        while people < self.s.people:  # the caseload at the start of the year
            case = self._case(start.year - 1 - self.rng.randrange(5))
            people += case.people
            self._follow_up(case, start + self._days(0, self.s.review_days[1]))
        for week in range(self.s.days // 7 + 1):
            for _ in range(self.rng.randint(*self.s.intake)):
                case = self._case(start.year + (week * 7 > 30))
                self._intake(case, start + timedelta(days=7 * week) + self._days(0, 7))

    def _days(self, low: float, high: float) -> timedelta:
        return timedelta(days=self.rng.uniform(low, high))

    def _case(self, year: int) -> Case:
        self._case_number += 1
        state = self.rng.choice(self.states)
        return Case(f"MPDDHP-{year}-{self._case_number:05d}", state, self.rng.choice((1, 1, 2, 3)))

    def _intake(self, case: Case, at: datetime) -> None:
        data = {"state": case.state, "received_at": at}
        fields = {"subject": case.ref, "urgency": "urgent"}
        self._at(at, IncorporationReceived(source="fed.reception", time=at, data=data, **fields))
        later = at + self._days(1, 20)
        study = {"study_id": f"EER-{case.ref[7:]}"}
        self._at(later, RiskStudyDelivered(source="fed.risk", time=later, data=study, **fields))
        gov = self.agency(case.state, AgencyKind.GOVERNMENT)
        self._request(ProtectionMeasureRequest, case, at + timedelta(hours=2), gov, True)
        prosecutor = self.agency(case.state, AgencyKind.PROSECUTOR)
        self._request(InvestigationRequest, case, at + timedelta(hours=3), prosecutor, False)
        if self.rng.random() < 0.15:
            shelter = self.rng.choice(self.shelters)
            self._request(RelocationRequest, case, at + timedelta(hours=4), shelter, True)
        if self.rng.random() < 0.2:
            self._summons(case, at + self._days(2, 10))
        self._follow_up(case, later + self._days(*self.s.review_days))

    def _follow_up(self, case: Case, at: datetime) -> None:
        """A review of a case: a meeting, a question, or measures renewed; then the next."""
        while at < self.s.end:
            kind = self.rng.choice(
                (ImplementationMeetingNotice, InformationRequest, ProtectionMeasureRequest)
            )
            to = self.agency(case.state, AgencyKind.GOVERNMENT)
            if kind is InformationRequest and self.rng.random() < 0.5:
                to = self.agency(case.state, AgencyKind.COMMISSION)
            self._request(kind, case, at, to, False)
            at += self._days(*self.s.review_days)

    def _summons(self, case: Case, at: datetime) -> None:
        commission = self.agency(case.state, AgencyKind.COMMISSION)
        consent = {"given": True, "agencies": (commission,), "recorded_by": "Unidad de Recepción"}
        self._at(at, BoardConsent(source=MECHANISM, time=at, subject=case.ref, data=consent))
        self._request(BoardSummons, case, at + timedelta(minutes=10), commission, False)

    # -- one request and its answers --------------------------------------------------------

    def _body(self, kind: type[Envelope], case: Case, at: datetime) -> dict[str, object]:
        if kind is ProtectionMeasureRequest:
            return {
                "measures": ["perimeter_patrol", "panic_button"],
                "beneficiary_role": self.rng.choice(("journalist", "defender")),
                "state": case.state,
                "instructions": "Rondines perimetrales cada 4 horas durante 30 días.",
                "implement_by": at + timedelta(hours=8),
            }
        if kind is InvestigationRequest:
            return {"aggression": "amenazas", "facts_summary": "Amenazas tras una publicación."}
        if kind is InformationRequest:
            return {"question": "Informe el estado de las medidas de protección otorgadas."}
        if kind is ImplementationMeetingNotice:
            return {
                "meeting_at": at + timedelta(days=7),
                "venue": "Oficinas del Mecanismo (videoconferencia)",
                "agenda": ["Revisión de las medidas otorgadas"],
            }
        if kind is RelocationRequest:
            return {
                "people": case.people,
                "adults": case.people,
                "children": 0,
                "origin_state": case.state,
                "earliest": at.date(),
                "expected_days": 90,
            }
        session = self.start + timedelta(days=30 * ((at - self.start).days // 30 + 1) + 1)
        return {
            "session_id": f"JG-{session:%Y-%m}",
            "session_at": session + timedelta(days=14),
            "venue": "Junta de Gobierno del Mecanismo, Ciudad de México",
            "agenda_item": f"Seguimiento del caso {case.ref}",
            "authority_summoned": "Presidencia de la comisión estatal de derechos humanos",
        }

    def _request(
        self, kind: type[Envelope], case: Case, at: datetime, to: str, urgent: bool
    ) -> None:
        message = kind.model_validate(
            {
                "source": MECHANISM,
                "time": at,
                "subject": case.ref,
                "recipients": (to,),
                "urgency": "urgent" if urgent else "ordinary",
                "data": self._body(kind, case, at),
            }
        )
        self._at(at, message)
        self._answers(message, to, at)

    def _answers(self, request: Envelope, agency: str, at: datetime) -> None:
        """What ``agency`` sends back, as agency_stubs.stub.StubAgency would, on this clock."""
        profile = self.profiles[agency]
        at += timedelta(seconds=30)
        self._at(at, delivery_receipt(agency, request, at))  # the client's, even if silent
        if not profile.acknowledges:
            return
        at += self._pause(profile)
        role = ROLES[self.registry[agency].kind]
        self._reply(agency, Acknowledgement, request, AcknowledgementBody(official_role=role), at)
        at += self._pause(profile)
        if isinstance(request, RelocationRequest):
            self._placement(agency, request, profile, at)
            return
        if profile.decision is Decision.DECLINE:
            body = DeclineBody(
                reason_code=DeclineReason.NOT_COMPETENT, explanation="Corresponde a otra autoridad."
            )
            self._reply(agency, Decline, request, body, at)
            return
        self._reply(agency, Acceptance, request, AcceptanceBody(), at)
        if not isinstance(request, COMMITTING) or profile.fulfilment is None:
            return
        days = profile.commits_days
        due = at + (timedelta(days=days) if days is not None else timedelta(days=7))
        commit = CommitmentBody(commitment_id="C1", action="Implementar lo solicitado", due=due)
        self._reply(agency, CommitmentMade, request, commit, at)
        if profile.fulfilment is Fulfilment.OPEN:
            return
        at += self._pause(profile)
        evidence = (EvidenceRef(reference=f"OF-{request.id[-8:].upper()}"),)
        if profile.fulfilment is Fulfilment.FULL:
            done = FulfilmentBody(commitment_id="C1", evidence=evidence)
            self._reply(agency, CommitmentFulfilled, request, done, at)
        else:
            part = PartialFulfilmentBody(
                commitment_id="C1", evidence=evidence, shortfall="Faltó personal una semana."
            )
            self._reply(agency, CommitmentPartiallyFulfilled, request, part, at)

    def _placement(
        self, shelter: str, request: RelocationRequest, profile: Profile, at: datetime
    ) -> None:
        people = request.data.people
        if profile.decision is Decision.DECLINE or self.free[shelter] < people:
            body = DeclineBody(
                reason_code=DeclineReason.INSUFFICIENT_RESOURCES, explanation="No hay espacio."
            )
            self._reply(shelter, Decline, request, body, at)
            return
        self.free[shelter] -= people  # held for it, then taken by the confirmation
        offer = PlacementOfferBody(spaces=people, available_from=at.date())
        self._reply(shelter, PlacementOffer, request, offer, at)
        at += timedelta(hours=2)
        confirmed = PlacementConfirmed.model_validate(
            {
                "source": MECHANISM,
                "time": at,
                "subject": request.subject,
                "correlation_id": request.id,
                "recipients": (shelter,),
                "data": {"shelter": shelter, "people": people, "arrival_on": at.date()},
            }
        )
        self._at(at, confirmed)
        at += self._pause(profile)
        arrived = PlacementArrivedBody(people=people, arrived_on=at.date())
        self._reply(shelter, PlacementArrived, confirmed, arrived, at)

    def _reply(
        self, agency: str, cls: type[Envelope], request: Envelope, body: object, at: datetime
    ) -> None:
        self._at(at, reply_from(agency, cls, request, body, at))  # type: ignore[arg-type]
