"""A server-side SVG bar chart of the scorecard (no plotting library, no JavaScript)."""

from __future__ import annotations

from html import escape

from bus.domain.scorecard import StateScore
from schemas.registry import state_name

BAR = 14
GAP = 10
LABEL = 170
WIDTH = 620


SPANISH = ("acuse a tiempo (%)", "compromisos cumplidos a tiempo (%)", "sin datos")


def scorecard_svg(
    scores: list[StateScore], title: str, labels: tuple[str, str, str] = SPANISH
) -> str:
    """Two bars per state: acknowledged on time (%) and commitments kept on time (%);
    ``labels`` name the two bars and a missing figure (the dashboard passes its language's)."""
    ack, kept, missing = (escape(label) for label in labels)
    plot = WIDTH - LABEL - 60
    rows = [s for s in scores if s.requests_received or s.commitments_due]
    height = 70 + len(rows) * (2 * BAR + GAP) + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}" '
        'font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
        f'<text x="10" y="22" font-size="15" font-weight="bold">{escape(title)}</text>',
        '<rect x="10" y="34" width="12" height="12" fill="#1b6ca8"/>'
        f'<text x="28" y="45">{ack}</text>'
        '<rect x="170" y="34" width="12" height="12" fill="#c0392b"/>'
        f'<text x="188" y="45">{kept}</text>',
    ]
    y = 64
    for score in rows:
        name = f"{score.state} {state_name(score.state)}"
        parts.append(f'<text x="10" y="{y + BAR + 3}">{escape(name[:26])}</text>')
        for offset, (value, colour) in enumerate(
            ((score.acknowledged_on_time_pct, "#1b6ca8"), (score.kept_on_time_pct, "#c0392b"))
        ):
            top = y + offset * BAR
            if value is None:
                parts.append(
                    f'<text x="{LABEL}" y="{top + BAR - 3}" fill="#595959">{missing}</text>'
                )
                continue
            width = plot * value / 100
            parts.append(
                f'<rect x="{LABEL}" y="{top}" width="{width:.1f}" height="{BAR - 2}" '
                f'fill="{colour}"><title>{value:.1f}%</title></rect>'
                f'<text x="{LABEL + width + 4:.1f}" y="{top + BAR - 3}">{value:.0f}%</text>'
            )
        y += 2 * BAR + GAP
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
