"""The static leaderboard: read -> score -> aggregate -> render, as separate steps.

- `read_inputs` loads the run records, each site's tier and certificate, and
  a sha256 of every file it read (the data the site is built from);
- `score` runs the scorer (joulebench.scoring) with the same default estimator
  selection as `joulebench score`: every available static estimator, every
  live one found in the records;
- `aggregate` (joulebench.board.view) turns records and scores into the
  `View`: plain view rows, per-workload errors, the SVG charts (joulebench.board.plots)
  and the downloads. Templates read only this view;
- `render` writes the pages (jinja2, autoescape on; templates and static
  assets in leaderboard/), the static assets and the downloads into a fresh
  folder, and `build_site` swaps that folder into place.

The site works from file:// with no network: relative links only, no
external scripts, fonts or stylesheets. It is deterministic: no build
timestamp, every list sorted, every number formatted by one set of filters
(joulebench.board.format), so the same inputs give a byte-identical site.
"""

from __future__ import annotations

import contextlib
import gc
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from joulebench import records as records_store
from joulebench.board import format as fmt
from joulebench.board.format import markdown_html  # noqa: F401  (re-exported for tests and other callers)
from joulebench.board.view import (  # noqa: F401
    Inputs,
    SiteCertificate,
    View,
    aggregate,
    manifest_text,
    slug,
)
from joulebench.errors import InputError
from joulebench.files import MAX_REPORT_BYTES, inside, parse_json, read_bytes
from joulebench.formats import BOUNDARIES, TIERS, ScoreSummary

_DATA = Path(str(resources.files(__name__)))
TEMPLATES_DIR = _DATA / "templates"
STATIC_DIR = _DATA / "static"
# A built site carries this file; only a folder that has it (or an empty one) is ever replaced.
SITE_MARKER = ".joulebench-site"
MARKER_TEXT = "Built by `joulebench leaderboard build`; this whole folder is replaced by the next build.\n"

# --------------------------------------------------------------------------- read


def read_inputs(runs_dir: Path, min_tier: str | None = None, trusted_keys: Path | None = None) -> Inputs:
    """Records, each run's tier, certificates and import reports under `runs_dir`; an empty folder gives no records.

    Tiers come only from certificates that verify against the trusted keys
    (default: the repository's trusted-keys.yaml), and only for the records
    they cover by hash. Unmetered records (no primary meter: `run
    --allow-unmetered`) are refused: left out, with a note.
    """
    from joulebench.certify.certificates import load_trusted_keys
    from joulebench.certify.trust import assess
    from joulebench.scoring import filter_by_tier

    runs_dir = Path(runs_dir)
    keyring = load_trusted_keys(trusted_keys)
    digests: dict[str, str] = {}  # relative path -> sha256 of the record files, from the bytes load_records validated
    sources: dict[str, str] = {}  # run_id -> relative path
    records = records_store.load_records(runs_dir, digests, sources)  # InputError naming the folder when it is missing
    trust = assess(runs_dir, records, sources, digests, keyring)
    tiers = {entry.site: entry.tier for entry in trust.summary.sites}
    all_run_ids = {r.run_id for r in records}
    read: list[Path] = []
    certificates: dict[str, SiteCertificate] = {}
    import_reports: dict[str, list[dict[str, Any]]] = {}
    for folder in records_store.site_folders(runs_dir):
        cert_path = folder / records_store.CERTIFICATE_NAME
        entry = SiteCertificate(tier=tiers.get(folder.name, "uncertified"))
        result = trust.verifications.get(folder.name)
        if result is not None:
            entry.present, entry.certificate, entry.problems = True, result.certificate, list(result.problems)
            entry.signed, entry.key_id = result.signed, result.key_id
            entry.reason, entry.uncovered = result.reason, list(result.uncovered)
            if cert_path.is_file() and not cert_path.is_symlink():
                read.append(cert_path)
        else:
            entry.reason = f"no certificate in {folder.name}/"
        certificates[folder.name] = entry
        for report in records_store.import_reports(folder):
            read.append(report)
            import_reports.setdefault(folder.name, []).append(_read_import_report(report))
    for path in set(read):
        try:
            digests[path.relative_to(runs_dir).as_posix()] = records_store.file_sha256(path, max_bytes=MAX_REPORT_BYTES)
        except InputError:
            continue  # unreadable: its page says so; it is not data the site was built from
    unmetered = sorted(r.run_id for r in records if not r.metered)
    unmetered_sites: set[str] = set()
    if unmetered:
        metered = [r for r in records if r.metered]
        unmetered_sites = ({r.site for r in records if not r.metered} - {r.site for r in metered}
                           - {site for site, c in certificates.items() if c.present})
        records = metered
    manifest = sorted(digests.items())
    inputs = Inputs(records, tiers, certificates, import_reports, manifest, min_tier, trust=trust,
                    unmetered=unmetered, unmetered_sites=unmetered_sites, trusted_keys=keyring.path.name,
                    trusted_keys_sha256=keyring.sha256, all_run_ids=all_run_ids)
    if min_tier is not None:
        inputs.records, inputs.excluded = filter_by_tier(records, trust, min_tier)
        inputs.n_excluded_runs = len(records) - len(inputs.records)
    return inputs


def _read_import_report(path: Path) -> dict[str, Any]:
    """The counts of an importer's report (`_import-<name>.json`); it is shown, never scored."""
    try:
        data = parse_json(read_bytes(path, "import report", max_bytes=MAX_REPORT_BYTES), str(path), "import report")
        if not isinstance(data, dict):
            raise TypeError("not an object")
        return {
            "file": path.name,
            "importer": str(data.get("importer", ""))[:200],
            "runs_seen": int(data.get("runs_seen", 0)),
            "imported": len(data.get("imported", [])),
            "skipped_by_reason": {str(k): int(v) for k, v in sorted(data.get("skipped_by_reason", {}).items())},
            "problem": "",
        }
    except (InputError, OSError, ValueError, TypeError, AttributeError, OverflowError) as exc:
        why = "not a readable import report" if isinstance(exc, InputError) else type(exc).__name__
        return {"file": path.name, "importer": "", "runs_seen": 0, "imported": 0, "skipped_by_reason": {},
                "problem": f"unreadable: {why}"}


# --------------------------------------------------------------------------- render


def environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(pct=fmt.pct, signed_pct=fmt.signed_pct, ci=fmt.ci, energy=fmt.energy, num=fmt.num,
                       sortkey=fmt.sortkey, rank=fmt.rank)
    env.globals.update(BOUNDARIES=BOUNDARIES, TIERS=TIERS, tables=fmt, slug=slug)
    return env


def pages(view: View) -> list[tuple[str, str, dict[str, Any]]]:
    """(output path, template, context) of every page."""
    out = [
        ("index.html", "index.html.j2", {}),
        ("workloads.html", "workloads.html.j2", {}),
        ("methodology.html", "methodology.html.j2", {}),
        ("cite.html", "cite.html.j2", {}),
    ]
    out += [(e.ref.href, "estimator.html.j2", {"estimator": e}) for e in view.estimators]
    out += [(w.ref.href, "workload.html.j2", {"workload": w}) for w in view.workloads]
    out += [(s.ref.href, "site.html.j2", {"site": s}) for s in view.sites]
    return out


def render(view: View, out_dir: Path) -> list[str]:
    """Write every page, the static assets and the downloads under out_dir; returns the paths written."""
    env = environment()
    written = []
    for path, template_name, context in pages(view):
        root = "../" * path.count("/")
        html = env.get_template(template_name).render(view=view, root=root, page=path, **context)
        target = out_dir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(html, encoding="utf-8")
        written.append(path)
    static_out = out_dir / "static"
    static_out.mkdir(parents=True, exist_ok=True)
    for asset in sorted(STATIC_DIR.iterdir()):
        if asset.is_file() and not asset.name.startswith("."):
            (static_out / asset.name).write_bytes(asset.read_bytes())
            written.append(f"static/{asset.name}")
    data_out = out_dir / "data"
    data_out.mkdir(parents=True, exist_ok=True)
    for download in view.downloads:
        (data_out / download.name).write_bytes(download.data)
        written.append(f"data/{download.name}")
    (out_dir / SITE_MARKER).write_text(MARKER_TEXT, encoding="utf-8")
    return written


def _replace_folder(built: Path, out_dir: Path) -> None:
    """Swap the freshly built folder into place; the old site goes only after the new one is there."""
    old = None
    if out_dir.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-{os.getpid()}-", dir=out_dir.parent))
        os.rmdir(old)
        os.replace(out_dir, old)
    os.replace(built, out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def check_out_dir(out_dir: Path, runs_dir: Path | None = None) -> None:
    if runs_dir is not None and (inside(out_dir, runs_dir) or inside(runs_dir, out_dir)):
        raise InputError(f"--out {out_dir}: is inside --runs {runs_dir} (or holds it); the next build would read the "
                         "site as run records, or replace the records. Choose a folder outside the results")
    if out_dir.is_symlink():
        raise InputError(f"--out {out_dir}: is a symbolic link; give the folder itself")
    if out_dir.exists():
        if not out_dir.is_dir():
            raise InputError(f"--out {out_dir}: exists and is not a folder")
        if any(out_dir.iterdir()) and not (out_dir / SITE_MARKER).is_file():
            raise InputError(f"--out {out_dir}: the folder is not empty and is not a site this command built "
                             f"(no {SITE_MARKER} in it); it would be replaced, so choose a new or empty folder")


def read_previous(path: Path) -> ScoreSummary:
    """A score summary from an earlier build (`--previous`); InputError naming the file and field when invalid."""
    from joulebench.files import load_json_model

    return load_json_model(ScoreSummary, Path(path), "score summary (--previous)")


def build_site(runs_dir: Path, out_dir: Path, *, min_tier: str | None = None, resamples: int | None = None,
               seed: int | None = None, submissions: Sequence[Path] = (), trusted_keys: Path | None = None,
               submissions_dir: Path | None = None, previous: Path | None = None, docker=None) -> View:
    """Read, score (the one scoring path, as `joulebench score`), aggregate and render into out_dir.

    `submissions_dir`: the submissions registry, scored with the built-ins (as
    `joulebench score --submissions`); `previous`: a summary from an earlier
    suite version, for each estimator's movement. Nothing half-written is left
    if any step fails, and what killed builds left behind (`.<out>.building-*`,
    `.<out>.old-*`) is removed first.
    """
    from joulebench.scoring import DEFAULT_RESAMPLES, DEFAULT_SEED, score_records
    from joulebench.scoring.submissions import read_registry

    out_dir = Path(out_dir)
    check_out_dir(out_dir, Path(runs_dir))
    before = read_previous(previous) if previous is not None else None
    with collector_paused():
        inputs = read_inputs(Path(runs_dir), min_tier, trusted_keys)
        if submissions_dir is not None:
            read_registry(Path(submissions_dir))  # a bad manifest stops the build even where there are no runs
        summary = None
        if inputs.records:
            summary = score_records(
                inputs.records, submissions=submissions, submissions_dir=submissions_dir, where=str(runs_dir),
                resamples=DEFAULT_RESAMPLES if resamples is None else resamples,
                seed=DEFAULT_SEED if seed is None else seed,
                filters={"min_tier": min_tier} if min_tier else {}, trust=inputs.trust,
                known_run_ids=inputs.all_run_ids, docker=docker,
            )  # fmt: skip
        view = aggregate(inputs, summary, before)
        write_view(view, out_dir)
    return view


@contextlib.contextmanager
def collector_paused():
    """Pause Python's cycle collector while the site is built.

    A build makes many long-lived objects and hardly any reference cycles; the
    collector would walk all of them again and again as they pile up. Reading
    10,000 records spent half its time in it (measured with gc.callbacks).
    Reference counting still frees everything as usual; the collector
    resumes afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # someone else's process: leave its folder alone
    return True


def clean_leftovers(out_dir: Path) -> list[Path]:
    """Remove the folders killed builds of `out_dir` left beside it; returns what was removed.

    A build works in `.<name>.building-<pid>-*` and moves the old site to
    `.<name>.old-<pid>-*`; one whose process is gone (or, from before the pid
    was in the name, any) is a leftover. A running build's folders are kept.
    """
    removed = []
    parent = out_dir.parent
    if not parent.is_dir():
        return removed
    for kind in ("building", "old"):
        for path in parent.glob(f".{glob_escape(out_dir.name)}.{kind}-*"):
            match = re.match(rf"^\.{re.escape(out_dir.name)}\.{kind}-(\d+)-", path.name)
            if match and _alive(int(match.group(1))):
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
    return removed


def glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


def write_view(view: View, out_dir: Path) -> None:
    out_dir = Path(out_dir)
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--out {out_dir}: cannot create {out_dir.parent}: {exc.strerror}") from None
    clean_leftovers(out_dir)
    building = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.building-{os.getpid()}-", dir=out_dir.parent))
    try:
        os.chmod(building, 0o755)
        render(view, building)
        _replace_folder(building, out_dir)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
