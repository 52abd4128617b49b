"""A server-side SVG bar chart of the scorecard (no plotting library, no JavaScript)."""

from __future__ import annotations

from html import escape

from bus.domain.scorecard import StateScore
from schemas.registry import state_name

BAR = 14
GAP = 10
PLOT = 380  # the bars' width at 100 %
CHAR = 7.2  # a generous width of one character at 12 px, so that no name is cut
ZERO_STUB = 3  # a 0 % bar is drawn this wide, in red, so that it is seen and not missed
ZERO_COLOUR = "#b00020"
ACK_COLOUR = "#1b6ca8"
KEPT_COLOUR = "#c0392b"


SPANISH = ("acuse a tiempo (%)", "compromisos cumplidos a tiempo (%)", "sin datos")


def worst_first(scores: list[StateScore]) -> list[StateScore]:
    """The states with a figure to draw, the lowest share first (the lower of a state's two),
    then the most open overdue, then by name; states with no figure at all last."""

    def key(score: StateScore) -> tuple[bool, float, int, str]:
        shares = [
            p for p in (score.acknowledged_on_time_pct, score.kept_on_time_pct) if p is not None
        ]
        return (not shares, min(shares, default=0.0), -score.open_overdue, state_name(score.state))

    return sorted((s for s in scores if s.requests_received or s.commitments_due), key=key)


def scorecard_svg(
    scores: list[StateScore], title: str, labels: tuple[str, str, str] = SPANISH
) -> str:
    """Two bars per state: acknowledged on time (%) and commitments kept on time (%), worst
    state first; ``labels`` name the two bars and a missing figure (the dashboard passes its
    language's). The names are written whole and the chart widens to hold the longest."""
    ack, kept, missing = (escape(label) for label in labels)
    rows = worst_first(scores)
    names = [f"{score.state} {state_name(score.state)}" for score in rows]
    label = 20 + round(CHAR * max((len(n) for n in names), default=10))
    legend = 40 + round(CHAR * (len(labels[0]) + len(labels[1])))
    width = max(label + PLOT + 60, round(CHAR * len(title)) + 20, legend)
    height = 70 + len(rows) * (2 * BAR + GAP) + 30
    second = 40 + round(CHAR * len(labels[0]))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
        'font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="10" y="22" font-size="15" font-weight="bold">{escape(title)}</text>',
        f'<rect x="10" y="34" width="12" height="12" fill="{ACK_COLOUR}"/>'
        f'<text x="28" y="45">{ack}</text>'
        f'<rect x="{second}" y="34" width="12" height="12" fill="{KEPT_COLOUR}"/>'
        f'<text x="{second + 18}" y="45">{kept}</text>',
    ]
    y = 64
    for score, name in zip(rows, names, strict=True):
        parts.append(f'<text x="10" y="{y + BAR + 3}" class="state">{escape(name)}</text>')
        for offset, (value, colour) in enumerate(
            ((score.acknowledged_on_time_pct, ACK_COLOUR), (score.kept_on_time_pct, KEPT_COLOUR))
        ):
            top = y + offset * BAR
            if value is None:
                parts.append(
                    f'<text x="{label}" y="{top + BAR - 3}" fill="#595959">{missing}</text>'
                )
                continue
            bar = PLOT * value / 100
            zero = value == 0
            drawn, fill = (ZERO_STUB, ZERO_COLOUR) if zero else (bar, colour)
            mark = ' class="zero"' if zero else ""
            emphasis = f' fill="{ZERO_COLOUR}" font-weight="bold"' if zero else ""
            parts.append(
                f'<rect x="{label}" y="{top}" width="{drawn:.1f}" height="{BAR - 2}" '
                f'fill="{fill}"{mark}><title>{value:.1f} %</title></rect>'
                f'<text x="{label + drawn + 4:.1f}" y="{top + BAR - 3}"{emphasis}>'
                f"{value:.0f} %</text>"
            )
        y += 2 * BAR + GAP
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
