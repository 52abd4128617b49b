"""The monthly joint-responsibility report: Markdown plus an SVG chart, from the ledger."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session

from adapters.readmodel.chart import scorecard_svg
from adapters.readmodel.commitments import made_beyond_the_limit
from adapters.readmodel.escalations import monthly_report_rungs
from adapters.readmodel.federal import report_section
from adapters.readmodel.names import institution
from adapters.readmodel.scorecard import state_scores
from bus.domain.scorecard import Section, StateScore
from schemas.registry import active_registry, state_name


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """``YYYY-MM`` -> [first instant, first instant of the next month) in UTC."""
    try:
        start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"{month!r} is not a month like 2026-03") from None
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return start, end


@dataclass(frozen=True)
class Report:
    markdown: Path
    chart: Path
    scores: list[StateScore]


def _fmt(value: float | None, suffix: str = "") -> str:
    return "n/d" if value is None else f"{value:.1f}{suffix}"


def write_report(session: Session, month: str, out_dir: Path, now: datetime) -> Report:
    start, end = month_bounds(month)
    asof = min(end, now)
    scores = state_scores(session, asof=asof, since=start)
    out_dir.mkdir(parents=True, exist_ok=True)
    chart = out_dir / f"scorecard-{month}.svg"
    states = [s for s in scores if s.section is Section.STATE]
    chart.write_text(scorecard_svg(states, f"Corresponsabilidad por estado, {month}"), "utf-8")
    listed = monthly_report_rungs(session, start, end)
    lines = [
        f"# Informe mensual de corresponsabilidad: {month}",
        "",
        f"Periodo: {start:%Y-%m-%d} a {end:%Y-%m-%d} (UTC). Cifras al {asof:%Y-%m-%d %H:%M} UTC.",
        "Fuente: registro federal de mechbus. Este informe no contiene datos personales.",
        "",
        "## Tablero por estado",
        "",
        "Gobiernos, fiscalías y comisiones de derechos humanos de cada estado; las casas "
        "refugio y las unidades federales, en secciones propias.",
        "",
        *_score_table("Estado", [(f"{s.state} {state_name(s.state)}", s) for s in states]),
    ]
    lines += ["", f"![Tablero de corresponsabilidad]({chart.name})", ""]
    registry = active_registry()
    for section, heading, nothing in SECTIONS:
        rows = [s for s in scores if s.section is section]
        lines += [f"## {heading}", ""]
        if not rows:
            lines += [nothing, ""]
            continue
        named = []
        for s in rows:
            found = registry.get(s.agency or "")
            named.append((found.name if found else s.agency or "", s))
        lines += [*_score_table("Institución", named), ""]
    lines += report_section(session, since=start, asof=asof)
    lines += ["## Incumplimientos incluidos en este informe", ""]
    if listed:
        lines += ["| Solicitud | Autoridad | Plazo | Vencía |", "|---|---|---|---|"]
        for e in listed:
            owing = institution(e.agency)
            lines.append(f"| {e.request_id} | {owing} | {e.clock} | {e.due_at:%Y-%m-%d %H:%M} |")
    else:
        lines.append("Ningún incumplimiento llegó a este escalón en el mes.")
    lines += ["", "## Compromisos fuera del plazo legal", ""]
    lines += _beyond_the_limit(session, start, end)
    markdown = out_dir / f"report-{month}.md"
    markdown.write_text("\n".join(lines) + "\n", "utf-8")
    return Report(markdown, chart, scores)


SECTIONS = (
    (Section.SHELTER, "Casas refugio", "Ninguna casa refugio recibió solicitudes en el periodo."),
    (
        Section.FEDERAL,
        "Unidades federales como destinatarias",
        "Ninguna unidad federal recibió solicitudes en el periodo.",
    ),
)


def _score_table(first: str, rows: list[tuple[str, StateScore]]) -> list[str]:
    """One scorecard table, most open overdue first; ``first`` heads the column of names."""
    lines = [
        f"| {first} | Solicitudes recibidas | Acuse a tiempo | Mediana horas al acuse "
        "| Compromisos cumplidos a tiempo | Vencidos abiertos | Citatorios a la Junta atendidos |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, s in sorted(rows, key=lambda item: (-item[1].open_overdue, item[0])):
        lines.append(
            f"| {name} | {s.requests_received} "
            f"| {_fmt(s.acknowledged_on_time_pct, ' %')} ({s.acknowledged_on_time}/"
            f"{s.acknowledgements_due}) | {_fmt(s.median_hours_to_acknowledge)} "
            f"| {_fmt(s.kept_on_time_pct, ' %')} ({s.commitments_kept_on_time}/"
            f"{s.commitments_due}) | {s.open_overdue} | {s.summons_attended}/{s.summons} |"
        )
    return lines


def _beyond_the_limit(session: Session, start: datetime, end: datetime) -> list[str]:
    """Commitments made in the month later than the law allows (LPPDDHP art. 26 fr. II,
    art. 29 fr. II): each is chased at its legal limit, whatever date it promised."""
    late = made_beyond_the_limit(session, start, end)
    if not late:
        return ["Ningún compromiso del mes fue más allá del plazo legal."]
    lines = [
        "| Solicitud | Autoridad | Comprometido para | Plazo legal | Estado |",
        "|---|---|---|---|---|",
    ]
    for c in late:
        assert c.legal_limit is not None
        lines.append(
            f"| {c.request_id} | {institution(c.agency)} | {c.due:%Y-%m-%d %H:%M} "
            f"| {c.legal_limit:%Y-%m-%d %H:%M} | {c.status} (fuera del plazo legal) |"
        )
    return lines
