"""Server-side SVG charts (no JavaScript, no CDN): stacked bars per day and simple bars, accessible and empty-safe."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

PALETTE = ("#2b7", "#d90", "#d33", "#39f", "#c5c", "#777", "#69c", "#b70")


@dataclass
class Series:
    """One named row of values (one value per category) drawn in one colour."""

    label: str
    values: Sequence[float]
    colour: str = ""


def _nice_step(value: float) -> float:
    """Smallest 1, 2 or 5 × 10^n that is at least `value` (at least 1: the charts show counts)."""
    step = 1.0
    while step < value:
        for factor in (2, 2.5, 2):  # 1 → 2 → 5 → 10 → 20 …
            step *= factor
            if step >= value:
                break
    return step


def _nice_max(value: float) -> float:
    """Top of the y axis: four equal, readable ticks above the largest value."""
    return 4 * _nice_step(max(value, 0) / 4)


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def stacked_bars(categories: Sequence[str], series: Sequence[Series], *, title: str, desc: str = "",
                 width: int = 480, height: int = 220, y_label: str = "", y_max: float | None = None) -> SafeString:
    """Bars per category (e.g. per day) with one stacked segment per series, a y axis, x labels and a legend."""
    n = len(categories)
    totals = [sum(float(s.values[i]) if i < len(s.values) else 0.0 for s in series) for i in range(n)]
    top = y_max or _nice_max(max(totals, default=0.0))
    left, right, top_pad, bottom = 44, 8, 28, 24
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    out = [_open(width, height, title, desc or _summary(categories, series))]
    out.append(f'<text x="{left}" y="16" class="chart-title">{escape(title)}</text>')
    out.extend(_y_axis(left, top_pad, plot_w, plot_h, top, y_label))
    if n == 0 or top <= 0 or not any(totals):
        out.append(f'<text x="{left + plot_w / 2:.1f}" y="{top_pad + plot_h / 2:.1f}" text-anchor="middle" '
                   f'class="chart-empty">{escape(_("No data for this period"))}</text>')
    if n:
        slot = plot_w / n
        bar_w = max(1.0, slot * 0.7)
        label_every = max(1, -(-n // 8))  # at most 8 x labels, readable on a phone
        for i, cat in enumerate(categories):
            x = left + i * slot + (slot - bar_w) / 2
            y = top_pad + plot_h
            for k, s in enumerate(series):
                v = float(s.values[i]) if i < len(s.values) else 0.0
                if v <= 0:
                    continue
                h = plot_h * v / top
                y -= h
                colour = s.colour or PALETTE[k % len(PALETTE)]
                out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{escape(colour)}">'
                           f'<title>{escape(cat)} · {escape(s.label)}: {_fmt(v)}</title></rect>')
            if i % label_every == 0:
                out.append(f'<text x="{x + bar_w / 2:.1f}" y="{top_pad + plot_h + 14}" text-anchor="middle" '
                           f'class="chart-label">{escape(cat)}</text>')
    out.append("</svg>")
    out.append(_legend(series))
    return mark_safe("".join(out))


def bars(labels: Sequence[str], values: Sequence[float], *, title: str, desc: str = "", colour: str = PALETTE[3],
         width: int = 480, height: int = 220, y_label: str = "", y_max: float | None = None) -> SafeString:
    """Simple vertical bars, one per label."""
    return stacked_bars(labels, [Series(title, list(values), colour)], title=title, desc=desc, width=width,
                        height=height, y_label=y_label, y_max=y_max)


def _open(width: int, height: int, title: str, desc: str) -> str:
    # role=img + <title>/<desc> is what screen readers announce for an inline SVG.
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" role="img" '
            f'preserveAspectRatio="xMidYMid meet"><title>{escape(title)}</title><desc>{escape(desc)}</desc>')


def _y_axis(left: int, top_pad: int, plot_w: int, plot_h: int, top: float, y_label: str) -> list[str]:
    parts = []
    for k in range(5):
        value = top * k / 4
        y = top_pad + plot_h - plot_h * k / 4
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" class="chart-grid"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" class="chart-label">{_fmt(value)}</text>')
    parts.append(f'<line x1="{left}" y1="{top_pad}" x2="{left}" y2="{top_pad + plot_h}" class="chart-axis"/>')
    if y_label:
        parts.append(f'<text x="12" y="{top_pad + plot_h / 2:.1f}" transform="rotate(-90 12 {top_pad + plot_h / 2:.1f})" '
                     f'text-anchor="middle" class="chart-label">{escape(y_label)}</text>')
    return parts


def _legend(series: Sequence[Series]) -> str:
    """The legend as HTML under the chart, not SVG text: it wraps at any width and in any language (Russian labels
    ran off the end of a one-line SVG legend and overlapped on a phone)."""
    if len(series) < 2:
        return ""
    items = "".join(f'<li><span class="swatch" style="background:{escape(s.colour or PALETTE[k % len(PALETTE)])}">'
                    f'</span>{escape(s.label)}</li>' for k, s in enumerate(series))
    return f'<ul class="chart-legend">{items}</ul>'


def _summary(categories: Sequence[str], series: Sequence[Series]) -> str:
    """A text equivalent for screen readers: totals per series over the whole range."""
    if not categories:
        return _("No data for this period")
    parts = [f"{s.label}: {_fmt(sum(float(v) for v in s.values))}" for s in series]
    return f"{categories[0]} – {categories[-1]}. " + ", ".join(parts)
