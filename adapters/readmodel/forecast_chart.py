"""A server-side SVG chart of the caseload projection: the open cases of the history, then the
projected median with its 80 % interval drawn as a band (no plotting library, no JavaScript)."""

from __future__ import annotations

from html import escape

from bus.domain.forecast import Forecast, History

WIDTH, HEIGHT = 640, 320
LEFT, RIGHT, TOP, BOTTOM = 56, 20, 58, 40
HISTORY, MEDIAN, BAND = "#1b6ca8", "#c0392b", "#f3c1ba"

SPANISH = (
    "casos abiertos: historial",
    "proyección (mediana)",
    "intervalo (80 %)",
    "semanas desde hoy",
)


def forecast_svg(
    history: History,
    result: Forecast,
    title: str,
    labels: tuple[str, str, str, str] = SPANISH,
) -> str:
    """``labels``: the history line, the median, the band and the x axis, in the page's
    language."""
    past = [history.open_at_start, *(w.open_at_end for w in history.weeks)]
    first = -len(history.weeks)
    last = len(result.path)
    top = max([*past, *(i.high for i in result.path), 1.0])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(week: float) -> float:
        return LEFT + plot_w * (week - first) / (last - first)

    def y(value: float) -> float:
        return TOP + plot_h * (1 - value / top)

    def line(points: list[tuple[float, float]]) -> str:
        return " ".join(f"{x(w):.1f},{y(v):.1f}" for w, v in points)

    history_points = [(float(first + k), float(v)) for k, v in enumerate(past)]
    now = float(result.open_now)
    median = [(0.0, now), *((k + 1.0, i.mid) for k, i in enumerate(result.path))]
    upper = [(0.0, now), *((k + 1.0, i.high) for k, i in enumerate(result.path))]
    lower = [*((k + 1.0, i.low) for k, i in reversed(list(enumerate(result.path)))), (0.0, now)]
    past_label, median_label, band_label, axis_label = (escape(label) for label in labels)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        'font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        f'<text x="10" y="22" font-size="15" font-weight="bold">{escape(title)}</text>',
        f'<line x1="10" y1="40" x2="28" y2="40" stroke="{HISTORY}" stroke-width="2"/>'
        f'<text x="32" y="44">{past_label}</text>'
        f'<line x1="220" y1="40" x2="238" y2="40" stroke="{MEDIAN}" stroke-width="2"/>'
        f'<text x="242" y="44">{median_label}</text>'
        f'<rect x="410" y="34" width="18" height="12" fill="{BAND}"/>'
        f'<text x="432" y="44">{band_label}</text>',
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" '
        'stroke="#595959"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}" stroke="#595959"/>',
        f'<text x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end">{top:.0f}</text>',
        f'<text x="{LEFT - 6}" y="{TOP + plot_h + 4}" text-anchor="end">0</text>',
        f'<polygon class="band" points="{line(upper + lower)}" fill="{BAND}">'
        f"<title>{band_label}</title></polygon>",
        f'<polyline points="{line(history_points)}" fill="none" stroke="{HISTORY}" '
        'stroke-width="2"/>',
        f'<polyline points="{line(median)}" fill="none" stroke="{MEDIAN}" stroke-width="2"/>',
    ]
    for horizon in result.horizons:
        at = x(horizon.weeks)
        parts.append(
            f'<line x1="{at:.1f}" y1="{TOP}" x2="{at:.1f}" y2="{TOP + plot_h}" '
            'stroke="#bbbbbb" stroke-dasharray="3,3"/>'
            f'<text x="{at:.1f}" y="{TOP + plot_h + 16}" text-anchor="middle">'
            f"+{horizon.weeks}</text>"
        )
    parts.append(
        f'<text x="{x(0):.1f}" y="{TOP + plot_h + 16}" text-anchor="middle">0</text>'
        f'<text x="{x(first):.1f}" y="{TOP + plot_h + 16}" text-anchor="middle">{first}</text>'
        f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 6}" text-anchor="middle">'
        f"{axis_label}</text>"
    )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
