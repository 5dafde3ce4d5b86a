"""Charts for the leaderboard as inline SVG, written by hand: no plotting library, no fonts, no scripts.

Hand-written SVG is small, renders offline from file://, and is byte-identical
for the same numbers (coordinates are rounded to fixed decimals, groups are
drawn in a fixed order), which keeps two builds of the site diffable.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from markupsafe import Markup, escape

# Colour-blind-safe pair (Okabe-Ito blue and vermillion) for the two domains.
DOMAIN_COLOURS = {"vision": "#0072b2", "language": "#d55e00"}
OTHER_COLOUR = "#555555"
INK = "#222222"
GRID = "#d0d0d0"
FONT = 'font-family="sans-serif" font-size="11"'


def energy_label(joules: float) -> str:
    """A power of ten in joules with an SI prefix: 1 kJ, 10 MJ, 100 mJ."""
    if joules <= 0:
        return "0 J"
    exp = math.floor(math.log10(joules) + 1e-9)
    prefix_exp = max(-3, min(12, 3 * math.floor(exp / 3)))
    prefix = {-3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T"}[prefix_exp]
    return f"{joules / 10**prefix_exp:g} {prefix}J"


def _svg_open(width: int, height: int, title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img"><title>{escape(title)}</title>'
    )


def scatter_loglog(
    truth_j: np.ndarray,
    estimate_j: np.ndarray,
    groups: Sequence[str],
    title: str,
    *,
    size: int = 320,
) -> Markup:
    """Estimated vs metered energy on log-log axes, identity line, x2 and /2 guides, points coloured by group.

    Points that land on the same 2 px cell of the same group are drawn once
    (the legend counts every point); a point with an estimate of 0 J has no place
    on a log axis and is counted in the legend instead.
    """
    truth_j = np.asarray(truth_j, dtype=float)
    estimate_j = np.asarray(estimate_j, dtype=float)
    groups_arr = np.asarray(list(groups), dtype=object)
    drawable = (truth_j > 0) & (estimate_j > 0)
    zero_estimates = int(((truth_j > 0) & (estimate_j == 0)).sum())
    left, bottom, top, right = 64, 44, 12, 14
    width, height = left + size + right, top + size + bottom
    out = [_svg_open(width, height, title)]
    if not drawable.any():
        out.append(f'<text x="{width / 2:.0f}" y="{height / 2:.0f}" text-anchor="middle" {FONT}>no points to draw</text></svg>')
        return Markup("".join(out))
    lx, ly = np.log10(truth_j[drawable]), np.log10(estimate_j[drawable])
    lo = math.floor(min(lx.min(), ly.min()))
    hi = math.ceil(max(lx.max(), ly.max()))
    if hi - lo < 1:
        hi = lo + 1
    scale = size / (hi - lo)

    def px(v: float) -> float:
        return left + (v - lo) * scale

    def py(v: float) -> float:
        return top + size - (v - lo) * scale

    out.append(f'<rect x="{left}" y="{top}" width="{size}" height="{size}" fill="#ffffff" stroke="{INK}"/>')
    step = max(1, math.ceil((hi - lo) / 8))
    for d in range(lo, hi + 1, step):
        x, y = px(d), py(d)
        out.append(f'<path d="M{x:.1f} {top}V{top + size}M{left} {y:.1f}H{left + size}" stroke="{GRID}"/>')
        label = energy_label(10.0**d)
        out.append(f'<text x="{x:.1f}" y="{top + size + 16}" text-anchor="middle" {FONT}>{label}</text>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" {FONT}>{label}</text>')
    two = math.log10(2.0)
    out.append(
        f'<path d="M{px(lo):.1f} {py(lo):.1f}L{px(hi):.1f} {py(hi):.1f}" stroke="{INK}" stroke-width="1.2"/>'
        f'<path d="M{px(lo):.1f} {py(lo + two):.1f}L{px(hi - two):.1f} {py(hi):.1f}'
        f'M{px(lo + two):.1f} {py(lo):.1f}L{px(hi):.1f} {py(hi - two):.1f}" stroke="{INK}" stroke-dasharray="3 3" '
        f'stroke-width="0.8"/>'
    )
    # On a 2 px grid: a dot is 6 px wide, so this moves none visibly and merges many at 10,000 runs.
    xs = 2 * np.rint((lx - lo) * scale / 2).astype(np.int64) + left
    ys = top + size - 2 * np.rint((ly - lo) * scale / 2).astype(np.int64)
    drawn_groups = groups_arr[drawable]
    legend = []
    for name in sorted(set(drawn_groups.tolist()), key=lambda g: (g not in DOMAIN_COLOURS, g)):
        mask = drawn_groups == name
        cells = np.unique(xs[mask] * 100_000 + ys[mask])
        colour = DOMAIN_COLOURS.get(name, OTHER_COLOUR)
        # Zero-length segments with round caps: a dot per point, a few bytes each.
        path = "".join(f"M{c // 100_000} {c % 100_000}h0" for c in cells.tolist())
        out.append(f'<path d="{path}" stroke="{colour}" stroke-opacity="0.65" stroke-width="6" stroke-linecap="round"/>')
        legend.append((name, colour, int(mask.sum())))
    lines = len(legend) + (1 if zero_estimates else 0)
    # The legend sits on a pale box so dense points never hide it.
    out.append(f'<rect x="{left + 3}" y="{top + 3}" width="150" height="{16 * lines + 6}" fill="#ffffff" '
               'fill-opacity="0.85"/>')
    for i, (name, colour, count) in enumerate(legend):
        y = top + 16 + 16 * i
        out.append(f'<circle cx="{left + 12}" cy="{y - 4}" r="4" fill="{colour}"/>'
                   f'<text x="{left + 22}" y="{y}" {FONT}>{escape(name)} ({count})</text>')
    if zero_estimates:
        out.append(f'<text x="{left + 8}" y="{top + 16 + 16 * len(legend)}" {FONT}>'
                   f"{zero_estimates} estimate(s) of 0 J not drawn</text>")
    out.append(f'<text x="{left + size / 2:.0f}" y="{height - 6}" text-anchor="middle" {FONT}>metered energy (truth)</text>')
    out.append(f'<text transform="translate(14 {top + size / 2:.0f}) rotate(-90)" text-anchor="middle" {FONT}>'
               "estimated energy</text>")
    out.append(f'<text x="{left + size - 6}" y="{top + size - 8}" text-anchor="end" {FONT}>'
               "solid: estimate = truth; dashed: x2, /2</text>")
    out.append("</svg>")
    return Markup("".join(out))


def nice_step(raw: float) -> float:
    """The smallest 1, 2 or 5 x 10^k at least `raw`."""
    base = 10.0 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * base >= raw * (1 - 1e-12):
            return m * base
    return 10 * base


def histogram(values_pct: np.ndarray, title: str, *, width: int = 420, height: int = 236, bins: int = 24) -> Markup:
    """Counts of signed errors (%) in equal bins over the central 96% of the values, with the zero line.

    Values outside the drawn range are counted in a note, never dropped silently.
    """
    values = np.asarray(values_pct, dtype=float)
    values = values[~np.isnan(values)]
    left, bottom, top, right = 44, 56, 12, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    out = [_svg_open(width, height, title)]
    if values.size == 0:
        out.append(f'<text x="{width / 2:.0f}" y="{height / 2:.0f}" text-anchor="middle" {FONT}>no errors to count</text></svg>')
        return Markup("".join(out))
    lo, hi = np.percentile(values, [2, 98]).tolist()
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    step = nice_step(max(hi - lo, 1e-6) / bins)
    lo, hi = math.floor(lo / step) * step, math.ceil(hi / step) * step
    if lo < -100.0 <= values.min():
        lo = -100.0  # an estimate cannot be below 0 J, so no error is below -100%
    if hi <= lo or (values == hi).any():
        hi += step  # a value on the top edge gets a bin of its own, not the one below it
    n_bins = int(math.ceil((hi - lo) / step - 1e-9))
    hi = lo + step * n_bins
    edges = lo + step * np.arange(n_bins + 1)
    inside = (values >= lo) & (values <= hi)
    counts, _ = np.histogram(values[inside], bins=edges)
    below, above = int((values < lo).sum()), int((values > hi).sum())
    peak = max(int(counts.max()), 1)
    bar_w = plot_w / n_bins

    def px(v: float) -> float:
        return left + (v - lo) / (hi - lo) * plot_w

    out.append(f'<path d="M{left} {top}V{top + plot_h}H{left + plot_w}" fill="none" stroke="{INK}"/>')
    bars = []
    for i, count in enumerate(counts.tolist()):
        if count:
            h = count / peak * plot_h
            bars.append(f"M{left + i * bar_w:.1f} {top + plot_h}v{-h:.1f}h{bar_w:.1f}v{h:.1f}z")
    out.append(f'<path d="{"".join(bars)}" fill="#6a8caf" stroke="#ffffff" stroke-width="0.5"/>')
    label_every = max(1, math.ceil(n_bins / 6))
    for i in range(0, n_bins + 1, label_every):
        x = px(float(edges[i]))
        out.append(f'<path d="M{x:.1f} {top + plot_h}v4" stroke="{INK}"/>'
                   f'<text x="{x:.1f}" y="{top + plot_h + 16}" text-anchor="middle" {FONT}>{float(edges[i]):+g}%</text>')
    zero = px(0.0)
    out.append(f'<path d="M{zero:.1f} {top}V{top + plot_h}" stroke="#c00000" stroke-dasharray="4 3"/>')
    out.append(f'<text x="{left - 6}" y="{top + 10}" text-anchor="end" {FONT}>{peak}</text>'
               f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end" {FONT}>0</text>')
    out.append(f'<text x="{left}" y="{height - 22}" {FONT}>signed error (estimate - truth) / truth; {values.size} runs</text>')
    outside = [f"{below} below {lo:+g}%"] * bool(below) + [f"{above} above {hi:+g}%"] * bool(above)
    if outside:
        out.append(f'<text x="{left}" y="{height - 6}" {FONT}>not drawn: {escape(", ".join(outside))}</text>')
    out.append("</svg>")
    return Markup("".join(out))
