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

import math
import re

from markupsafe import Markup, escape

from .schemas import Score


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
    from .schemas import BOUNDARIES

    head = _head([("workload", False), ("repeat", True), ("run", False), ("started", False), ("duration s", True),
                  *[(b, True) for b in BOUNDARIES], ("warnings", True)])  # fmt: skip
    rows = []
    for r in runs:
        energies = "".join(_energy_cell(r.energy.get(b)) for b in BOUNDARIES)
        rows.append(
            f'<tr><td><a href="{escape(root + r.workload.href)}">{escape(r.workload.key)}</a></td>'
            f'<td class="num">{r.repeat}</td><td class="id">{escape(r.run_id)}</td>'
            f'<td class="nowrap">{escape(r.started_at)}</td><td class="num">{num(r.duration_s)}</td>'
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
            f'<tr><td><a href="{escape(root + r.site.href)}">{escape(r.site.id)}</a></td><td>{escape(r.profile_id)}</td>'
            f'<td class="num">{r.repeat}</td><td class="id">{escape(r.run_id)}</td>'
            f'<td class="num">{num(r.duration_s)}</td><td class="num">{r.iterations}</td>{energies}</tr>\n'
        )
    return _table(head, rows)


def _error_cells(e) -> str:
    return (f'<td class="num">{e.n}</td><td class="num" data-sort="{sortkey(e.mape_pct)}">{pct(e.mape_pct)}</td>'
            f'<td class="num" data-sort="{sortkey(e.bias_pct)}">{signed_pct(e.bias_pct)}</td>')


def errors_by_workload(errors, root: str) -> Markup:
    """An estimator's error on each workload at one boundary."""
    head = _head([("workload", False), ("runs", True), ("MAPE %", True), ("bias %", True)])
    rows = [f'<tr><td><a href="{escape(root + e.workload.href)}">{escape(e.workload.key)}</a></td>{_error_cells(e)}</tr>\n'
            for e in errors]
    return _table(head, rows)


def errors_by_estimator(errors, root: str) -> Markup:
    """Each estimator's error on one workload, per boundary."""
    head = _head([("boundary", False), ("estimator", False), ("runs", True), ("MAPE %", True), ("bias %", True)])
    rows = [
        f'<tr><td>{escape(e.boundary)}</td><td><a href="{escape(root + e.estimator.href)}">{escape(e.estimator.id)}</a> '
        f'<span class="muted">{escape(e.estimator.version)}</span></td>{_error_cells(e)}</tr>\n'
        for e in errors
    ]
    return _table(head, rows)
