"""How the leaderboard writes numbers and text: the template filters, the Markdown of our own docs, the big tables.

Numbers have one format each (percentages to 0.1, energies to 4 significant
digits with an SI prefix), so two builds print the same bytes.

The tables that grow with the runs (a site's runs, a workload's runs, errors
by workload on estimator and workload pages: about 80,000 rows at 10,000
runs) are written here as HTML strings rather than through jinja, whose loop,
attribute lookup, filter call and escape per cell made them most of the
build's time. Every value that is not a number formatted here goes through
`escape`.
"""

from __future__ import annotations

import functools
import math
import re

from markupsafe import Markup, escape

from joulebench.formats import Score


def pct(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    text = f"{value:.1f}"
    return "0.0" if text == "-0.0" else text


def signed_pct(value: float | None) -> str:
    text = pct(value)
    return text if text in ("–", "0.0") or text.startswith("-") else "+" + text


def ci(interval) -> str:
    if interval is None:
        return ""
    return f"[{pct(interval.low)}, {pct(interval.high)}]"


def energy(joules: float | None) -> str:
    if joules is None:
        return "–"
    value = float(joules)
    if value == 0:
        return "0 J"
    for factor, unit in ((1e12, "TJ"), (1e9, "GJ"), (1e6, "MJ"), (1e3, "kJ"), (1.0, "J")):
        if abs(value) >= factor:
            return f"{value / factor:.4g} {unit}"
    return f"{value * 1e3:.4g} mJ"


def num(value: float | None, digits: int = 4) -> str:
    if value is None:
        return "–"
    return f"{float(value):.{digits}g}"


def sortkey(value: float | None) -> str:
    """A data-sort attribute for the optional JavaScript sorter; missing values sort last."""
    return "" if value is None else f"{float(value):.6g}"


def rank(score: Score) -> str:
    if score.rank is None:
        return "–"
    return f"={score.rank}" if score.tied_with_previous else str(score.rank)


# --------------------------------------------------------------------------- Markdown


_INLINE = re.compile(r"`([^`]+)`|\*\*([^*]+)\*\*")


def _inline(text: str) -> str:
    out, pos = [], 0
    for m in _INLINE.finditer(text):
        out.append(str(escape(text[pos : m.start()])))
        if m.group(1) is not None:
            out.append(f"<code>{escape(m.group(1))}</code>")
        else:
            out.append(f"<strong>{escape(m.group(2))}</strong>")
        pos = m.end()
    out.append(str(escape(text[pos:])))
    return "".join(out)


def markdown_html(text: str) -> Markup:
    """The little Markdown our own docs use: headings, paragraphs, '- ' lists, pipe tables, `code`, **bold**.

    Everything is escaped first; only the tags made here are markup.
    """
    html = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = block.splitlines()
        if lines[0].startswith("#"):
            level = min(len(lines[0]) - len(lines[0].lstrip("#")) + 1, 6)
            html.append(f"<h{level}>{_inline(lines[0].lstrip('#').strip())}</h{level}>")
            lines = lines[1:]
            if not lines:
                continue
        if all(line.strip().startswith("|") for line in lines):
            rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines]
            rows = [r for r in rows if not all(re.fullmatch(r":?-+:?", c) for c in r)]
            head, *body = rows
            html.append("<table><thead><tr>" + "".join(f"<th>{_inline(c)}</th>" for c in head) + "</tr></thead><tbody>"
                        + "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>" for r in body)
                        + "</tbody></table>")
            continue
        para: list[str] = []
        items: list[str] = []
        for line in lines:
            stripped = line.strip()
            if stripped.startswith("- "):
                items.append(stripped[2:])
            elif items and line.startswith(" "):
                items[-1] += " " + stripped
            else:
                if items:
                    html.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in items) + "</ul>")
                    items = []
                para.append(stripped)
                continue
            if para:
                html.append(f"<p>{_inline(' '.join(para))}</p>")
                para = []
        if para:
            html.append(f"<p>{_inline(' '.join(para))}</p>")
        if items:
            html.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in items) + "</ul>")
    return Markup("\n".join(html))




# --------------------------------------------------------------------------- the tables that grow with the runs


@functools.lru_cache(maxsize=1 << 16, typed=True)
def _escaped(text) -> str:
    """str(escape(text)), once per distinct value: the big tables repeat the same hrefs, keys and ids
    tens of thousands of times, and markupsafe's Python wrapper was the tables' largest cost."""
    return str(escape(text))


def _head(columns: list[tuple[str, bool]]) -> str:
    """<thead> from (label, numeric) pairs; labels are our own text, escaped all the same."""
    numeric_class = ' class="num"'
    cells = "".join(f'<th scope="col"{numeric_class if numeric else ""}>{escape(label)}</th>' for label, numeric in columns)
    return f"<thead><tr>{cells}</tr></thead>"


def _table(head: str, rows: list[str]) -> Markup:
    return Markup(f'<div class="scroll">\n<table class="sortable">\n{head}\n<tbody>\n{"".join(rows)}</tbody>\n</table>\n</div>\n')


def _energy_cell(entry) -> str:
    value = None if entry is None else entry.energy_j
    return f'<td class="num" data-sort="{sortkey(value)}">{energy(value)}</td>'


def site_runs(runs, root: str) -> Markup:
    """A site's runs: workload, repeat, run id, start, duration and the metered energy per boundary."""
    from joulebench.formats import BOUNDARIES

    head = _head([("workload", False), ("repeat", True), ("run", False), ("started", False), ("duration s", True),
                  *[(b, True) for b in BOUNDARIES], ("warnings", True)])  # fmt: skip
    rows = []
    for r in runs:
        energies = "".join(_energy_cell(r.energy.get(b)) for b in BOUNDARIES)
        rows.append(
            f'<tr><td><a href="{_escaped(root + r.workload.href)}">{_escaped(r.workload.key)}</a></td>'
            f'<td class="num">{r.repeat}</td><td class="id">{_escaped(r.run_id)}</td>'
            f'<td class="nowrap">{_escaped(r.started_at)}</td><td class="num">{num(r.duration_s)}</td>'
            f'{energies}<td class="num">{r.warnings}</td></tr>\n'
        )
    return _table(head, rows)


def workload_runs(runs, boundaries: list[str], root: str) -> Markup:
    """A workload's runs: site, profile, repeat, run id, duration, iterations, energy per metered boundary."""
    head = _head([("site", False), ("profile", False), ("repeat", True), ("run", False), ("duration s", True),
                  ("iterations", True), *[(b, True) for b in boundaries]])  # fmt: skip
    rows = []
    for r in runs:
        energies = "".join(_energy_cell(r.energy.get(b)) for b in boundaries)
        rows.append(
            f'<tr><td><a href="{_escaped(root + r.site.href)}">{_escaped(r.site.id)}</a></td><td>{_escaped(r.profile_id)}</td>'
            f'<td class="num">{r.repeat}</td><td class="id">{_escaped(r.run_id)}</td>'
            f'<td class="num">{num(r.duration_s)}</td><td class="num">{r.iterations}</td>{energies}</tr>\n'
        )
    return _table(head, rows)


def _error_cells(e) -> str:
    # Every error row is shown twice (estimator page and workload page): the cells are made once.
    # Not for zeros: 0.0 and -0.0 are the same key but print differently.
    if e.mape_pct and e.bias_pct:
        return _error_cells_of(e.n, e.mape_pct, e.bias_pct)
    return _error_cells_of.__wrapped__(e.n, e.mape_pct, e.bias_pct)


@functools.lru_cache(maxsize=1 << 17, typed=True)
def _error_cells_of(n, mape_pct, bias_pct) -> str:
    return (f'<td class="num">{n}</td><td class="num" data-sort="{sortkey(mape_pct)}">{pct(mape_pct)}</td>'
            f'<td class="num" data-sort="{sortkey(bias_pct)}">{signed_pct(bias_pct)}</td>')


def errors_by_workload(errors, root: str) -> Markup:
    """An estimator's error on each workload at one boundary."""
    head = _head([("workload", False), ("runs", True), ("MAPE %", True), ("bias %", True)])
    rows = [f'<tr><td><a href="{_escaped(root + e.workload.href)}">{_escaped(e.workload.key)}</a></td>{_error_cells(e)}</tr>\n'
            for e in errors]
    return _table(head, rows)


def errors_by_estimator(errors, root: str) -> Markup:
    """Each estimator's error on one workload, per boundary."""
    head = _head([("boundary", False), ("estimator", False), ("runs", True), ("MAPE %", True), ("bias %", True)])
    rows = [
        f'<tr><td>{_escaped(e.boundary)}</td><td><a href="{_escaped(root + e.estimator.href)}">{_escaped(e.estimator.id)}</a> '
        f'<span class="muted">{_escaped(e.estimator.version)}</span></td>{_error_cells(e)}</tr>\n'
        for e in errors
    ]
    return _table(head, rows)


def slice_score_rows(scores) -> Markup:
    """The rows of an estimator page's "every slice" table at one boundary (the template holds its head)."""
    rows = []
    for s in scores:
        coverage = "–" if s.coverage is None else (
            f'{pct(s.coverage * 100)}% <span class="muted">({s.n}/{s.n_truth})</span>')
        rows.append(
            f'<tr>\n<td>{_escaped(s.slice)}</td><td>{_escaped(s.slice_value)}</td>\n'
            f'<td data-sort="{sortkey(s.rank)}">{rank(s)}</td>\n'
            f'<td class="num" data-sort="{sortkey(s.mape_pct)}"><strong>{pct(s.mape_pct)}</strong> '
            f'<span class="ci">{ci(s.mape_ci_pct)}</span></td>\n'
            f'<td class="num" data-sort="{sortkey(s.signed_mean_error_pct)}">{signed_pct(s.signed_mean_error_pct)} '
            f'<span class="ci">{ci(s.signed_mean_error_ci_pct)}</span></td>\n'
            f'<td class="num" data-sort="{sortkey(s.coverage)}">{coverage}</td>\n'
            f'<td class="num">{s.n}</td>\n<td class="num">{s.n_workloads}</td>\n\n'
            f'<td class="num" data-sort="{sortkey(s.median_ape_pct)}">{pct(s.median_ape_pct)}</td>\n'
            f'<td class="num" data-sort="{sortkey(s.p90_ape_pct)}">{pct(s.p90_ape_pct)}</td>\n'
            f'<td class="num" data-sort="{sortkey(s.max_ape_pct)}">{pct(s.max_ape_pct)}</td>\n</tr>\n'
        )
    return Markup("".join(rows))


def extreme_rows(scores) -> Markup:
    """The rows of an estimator page's largest / smallest errors tables (the template holds the head)."""
    return Markup("".join(
        f'<tr><td>{_escaped(s.slice)}</td><td>{_escaped(s.slice_value)}</td><td class="num">{s.n}</td>'
        f'<td class="num">{s.n_workloads}</td>'
        f'<td class="num" data-sort="{sortkey(s.mape_pct)}"><strong>{pct(s.mape_pct)}</strong> '
        f'<span class="ci">{ci(s.mape_ci_pct)}</span></td>'
        f'<td class="num" data-sort="{sortkey(s.signed_mean_error_pct)}">{signed_pct(s.signed_mean_error_pct)}</td></tr>\n'
        for s in scores
    ))


def movement_rows(movements) -> Markup:
    """The rows of an estimator page's table against the previous summary (the template holds the head)."""
    rows = []
    for mv in movements:
        before = "–" if mv.before is None else (
            f'{pct(mv.before.mape_pct)} <span class="muted">({mv.before.n}, {_escaped(mv.before.estimator_version)})</span>')
        delta = mv.delta_mape_pct
        rows.append(
            f'<tr><td>{_escaped(mv.boundary)}</td><td>{_escaped(mv.slice)}</td><td>{_escaped(mv.slice_value)}</td>'
            f'<td class="num">{before}</td>'
            f'<td class="num">{pct(mv.after.mape_pct)} <span class="muted">({mv.after.n})</span></td>'
            f'<td class="num" data-sort="{sortkey(delta)}">{signed_pct(delta)}</td></tr>\n'
        )
    return Markup("".join(rows))


def _tier_badge(tier: str) -> str:
    label = "uncertified" if tier == "uncertified" else f"tier {_escaped(tier)}"
    return f'<span class="tier tier-{_escaped(tier)}">{label}</span>'


def energy_group_rows(groups, root: str) -> Markup:
    """The rows of a workload page's metered-energy table at one boundary (the template holds its head)."""
    rows = [
        f'<tr><td><a href="{_escaped(root + g.site.href)}">{_escaped(g.site.id)}</a> {_tier_badge(g.site.tier)}</td>'
        f'<td>{_escaped(g.profile_id)}</td><td class="num">{g.n}</td>\n'
        f'<td class="num" data-sort="{sortkey(g.mean_j_per_iteration)}">{energy(g.mean_j_per_iteration)}</td>'
        f'<td class="num" data-sort="{sortkey(g.cv_pct)}">{pct(g.cv_pct)}</td><td class="num">{pct(g.static_share_pct)}</td></tr>\n'
        for g in groups
    ]
    return Markup("".join(rows))
