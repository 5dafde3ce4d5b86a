"""The submissions registry: submissions/<id>/ folders, read, checked, and turned into what the scorer scores.

`read_registry(root)` reads every folder's manifest (`submission.yaml`,
`joulebench schema submission`) and checks what can be checked without the
runs: the manifest's fields, the folder's name, ids that collide with a
built-in estimator or with each other, the files the manifest names, a
package's pyproject.toml (its name, its entry point under the submission's
id, its dependencies pinned with ==). Every problem is listed at once, each
with its file and field, and one InputError (exit 2) carries them all.

`plan(registry, records, ...)` then decides, per submission, what the scorer
gets and which badge it earns:

- a **package** installed in this environment: a static estimator is run by
  the scorer on every run (badge *reproduced*); a live one is scored where run
  records carry its outputs (*reproduced*: joulebench ran it beside the
  window), and is listed as not scored while none do. Not installed, or
  installed at another version than the manifest's: *not-reproduced*, with
  the reason, never dropped;
- an **estimates** file: read, checked against the runs (unknown runs, rows of
  another estimator or version, boundaries it does not claim, a claimed
  boundary it never answers) and scored as given (*self-reported*);
- an **image**: built from the folder's Dockerfile on a local base (nothing is
  pulled) and run in the sandbox over the run facts (*reproduced*); without a
  Docker engine, its SDK or the base image: *not-reproduced*, with the reason.

Problems found here are the submission's: they stop the whole scoring, and
nothing is written. What depends on this machine (a package not installed, no
engine) only changes the badge.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from joulebench.errors import InputError
from joulebench.estimators import BUILTINS, ENTRY_POINT_GROUP
from joulebench.files import format_validation_error, read_yaml
from joulebench.formats import (
    BOUNDARIES,
    SUBMISSION_MANIFEST,
    Estimate,
    FitOverlap,
    RunFacts,
    RunRecord,
    Score,
    ScoredEstimator,
    SubmissionManifest,
    SubmissionProvenance,
)
from joulebench.scoring.submission import unknown_run
from joulebench.scoring.table import EstimatorColumn, RunTable

MAX_PROBLEMS_SHOWN = 40
# Dependencies a package submission need not pin: joulebench itself, which the leaderboard provides.
PACKAGES_NOT_PINNED = {"joulebench"}


@dataclass
class Submission:
    """One folder of the registry, its manifest read."""

    folder: Path
    manifest: SubmissionManifest

    @property
    def id(self) -> str:
        return self.manifest.id

    @property
    def manifest_path(self) -> Path:
        return self.folder / SUBMISSION_MANIFEST

    def inside(self, relative: str) -> Path:
        return self.folder / relative


@dataclass
class Registry:
    root: Path
    submissions: list[Submission]

    def ids(self) -> list[str]:
        return [s.id for s in self.submissions]


# --------------------------------------------------------------------------- reading and static checks


def _problem_lines(source: Path, exc: ValidationError) -> list[str]:
    return [f"{source}: {line.strip()}" for line in format_validation_error(str(source), exc).splitlines()[1:]]


def read_manifest(folder: Path) -> tuple[SubmissionManifest | None, list[str]]:
    """The folder's manifest, or None and every problem with it."""
    path = Path(folder) / SUBMISSION_MANIFEST
    if not path.is_file():
        return None, [f"{folder}: no {SUBMISSION_MANIFEST} (expected a manifest; `joulebench schema submission` "
                      "prints its fields)"]
    try:
        data = read_yaml(path)
    except InputError as exc:
        return None, [str(exc)]
    try:
        manifest = SubmissionManifest.model_validate(data)
    except ValidationError as exc:
        return None, _problem_lines(path, exc)
    if manifest.id != Path(folder).name:
        return manifest, [f"{path}: field 'id': expected the folder's name {Path(folder).name!r}, got {manifest.id!r}"]
    return manifest, []


def submission_folders(root: Path) -> list[Path]:
    """The registry's folders, sorted; hidden and `_` folders are skipped, files beside them (a README) too."""
    return sorted(p for p in Path(root).iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def _read_toml(path: Path) -> dict:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ImportError:
            raise InputError(f"{path}: reading it needs Python 3.11 or the tomli package") from None
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from None


_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def package_problems(sub: Submission) -> list[str]:
    """What is wrong with a package submission's pyproject.toml (the package is not imported)."""
    entry = sub.manifest.package
    assert entry is not None
    folder = sub.inside(entry.path)
    pyproject = folder / "pyproject.toml"
    where = f"{sub.manifest_path}: field 'package.path'"
    if not folder.is_dir():
        return [f"{where}: {entry.path!r} is not a folder inside {sub.folder}"]
    if not pyproject.is_file():
        return [f"{where}: no pyproject.toml in {folder} (expected an installable package)"]
    try:
        data = _read_toml(pyproject)
    except InputError as exc:
        return [str(exc)]
    problems = []
    project = data.get("project") if isinstance(data.get("project"), dict) else {}
    name = project.get("name")
    if not isinstance(name, str) or _canonical(name) != _canonical(entry.distribution):
        problems.append(f"{pyproject}: field 'project.name': expected {entry.distribution!r} "
                        f"(the manifest's package.distribution), got {name!r}")
    points = project.get("entry-points", {}).get(ENTRY_POINT_GROUP, {}) if isinstance(project.get("entry-points"), dict) else {}
    if sub.id not in points:
        problems.append(f"{pyproject}: field 'project.entry-points.\"{ENTRY_POINT_GROUP}\"': expected an entry "
                        f"named {sub.id!r} (the submission's id) -> \"module:Class\", got {sorted(points) or 'none'}")
    for other in sorted(set(points) - {sub.id}):
        problems.append(f"{pyproject}: field 'project.entry-points.\"{ENTRY_POINT_GROUP}\"': entry {other!r} "
                        "is not this submission's id; one submission registers one estimator")
    for requirement in project.get("dependencies", []) or []:
        match = _REQUIREMENT_NAME.match(str(requirement))
        package = _canonical(match.group(1)) if match else str(requirement)
        if package in PACKAGES_NOT_PINNED:
            continue
        if "==" not in str(requirement) or any(op in str(requirement) for op in (">", "<", "~=", "!=", "*")):
            problems.append(f"{pyproject}: field 'project.dependencies': {requirement!r} is not pinned; "
                            "expected name==version, so its results can be reproduced")
    return problems


def file_problems(sub: Submission) -> list[str]:
    """Files the manifest names that are missing or outside the folder."""
    m = sub.manifest
    problems = []
    for field_name, relative in (("estimates.file", m.estimates.file if m.estimates else None),
                                 ("image.dockerfile", m.image.dockerfile if m.image else None)):
        if relative is None:
            continue
        path = sub.inside(relative)
        try:
            inside = path.resolve().is_relative_to(sub.folder.resolve())
        except OSError:
            inside = False
        if not inside:
            problems.append(f"{sub.manifest_path}: field '{field_name}': {relative!r} leads outside {sub.folder}")
        elif not path.is_file():
            problems.append(f"{sub.manifest_path}: field '{field_name}': no file {relative!r} in {sub.folder}")
        elif field_name == "estimates.file" and path.suffix.lower() not in (".csv", ".json"):
            problems.append(f"{sub.manifest_path}: field '{field_name}': expected a .csv or .json file, got {relative!r}")
    if m.image is not None and not problems:
        text = sub.inside(m.image.dockerfile).read_text(encoding="utf-8", errors="replace")
        if not re.search(r"^\s*FROM\s", text, re.M | re.I):
            problems.append(f"{sub.inside(m.image.dockerfile)}: no FROM line (expected FROM ${{BASE_IMAGE}})")
    return problems


def builtin_ids() -> set[str]:
    return set(BUILTINS)


def static_problems(sub: Submission) -> list[str]:
    problems = []
    if sub.id in builtin_ids():
        problems.append(f"{sub.manifest_path}: field 'id': {sub.id!r} is a built-in estimator's id; "
                        "a submission needs an id of its own")
    problems += file_problems(sub)
    if sub.manifest.kind == "package":
        problems += package_problems(sub)
    return problems


def read_registry(root: Path) -> Registry:
    """Every submission under `root`, checked without the runs; InputError listing every problem."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"--submissions {root}: not a folder (expected submissions/<id>/{SUBMISSION_MANIFEST})")
    submissions, problems = read_submissions(submission_folders(root))
    if problems:
        raise registry_error(root, problems)
    return Registry(root, submissions)


def read_submissions(folders: Iterable[Path]) -> tuple[list[Submission], list[str]]:
    submissions: list[Submission] = []
    problems: list[str] = []
    seen: dict[str, Path] = {}
    for folder in folders:
        manifest, found = read_manifest(folder)
        problems += found
        if manifest is None:
            continue
        sub = Submission(Path(folder), manifest)
        if manifest.id in seen:
            problems.append(f"{sub.manifest_path}: field 'id': {manifest.id!r} is also the id of {seen[manifest.id]}; "
                            "each submission needs its own id")
        seen.setdefault(manifest.id, sub.manifest_path)
        problems += static_problems(sub)
        submissions.append(sub)
    return submissions, problems


def registry_error(root: Path | str, problems: Sequence[str]) -> InputError:
    shown = list(problems[:MAX_PROBLEMS_SHOWN])
    lines = [f"{root}: {len(problems)} problem(s) with the submissions; nothing was scored or built:"]
    lines += [f"  {p}" for p in shown]
    if len(problems) > len(shown):
        lines.append(f"  ... and {len(problems) - len(shown)} more")
    return InputError("\n".join(lines))


# --------------------------------------------------------------------------- against the runs


def _study_text(record: RunRecord) -> str:
    p = record.provenance
    if p is None:
        return ""
    return " ".join(str(x) for x in (getattr(p, "study", None), p.source, p.citation, p.repository) if x)


def _accelerator_text(record: RunRecord) -> str:
    acc = record.profile.accelerator
    return " ".join([acc.model, *acc.match]) if acc is not None else ""


def fit_matches(sub: Submission, records: Sequence[RunRecord]) -> list[set[str]]:
    """For each `fitted_on` entry, the run ids it picks among `records`."""
    out = []
    for fit in sub.manifest.fitted_on:
        m = fit.runs
        tests: list[tuple[re.Pattern, Callable[[RunRecord], str]]] = []
        if m.study is not None:
            tests.append((re.compile(m.study), _study_text))
        if m.site is not None:
            tests.append((re.compile(m.site), lambda r: r.site))
        if m.accelerator is not None:
            tests.append((re.compile(m.accelerator), _accelerator_text))
        if m.workload is not None:
            tests.append((re.compile(m.workload),
                          lambda r: f"{r.workload.track}/{r.workload.id} {r.workload.description}"))
        picked = {r.run_id for r in records
                  if (m.task is None or r.workload.task == m.task) and all(p.search(get(r)) for p, get in tests)}
        out.append(picked)
    return out


def estimates_problems(sub: Submission, estimates: Sequence[Estimate], labels: Sequence[str], where: str,
                       run_ids: set[str] | None, reserved: dict[str, str], require_each_boundary: bool) -> list[str]:
    """Rows that do not belong to this submission, runs that do not exist, boundaries it does not keep to."""

    m = sub.manifest
    problems = []
    hints = 20
    for label, est in zip(labels, estimates):
        if est.estimator_id != m.id:
            problems.append(f"{where}: {label}: field 'estimator_id': expected {m.id!r} (the submission's id), "
                            f"got {est.estimator_id!r}")
        if est.estimator_version != m.version:
            problems.append(f"{where}: {label}: field 'estimator_version': expected {m.version!r} "
                            f"(the manifest's version), got {est.estimator_version!r}")
        if est.boundary not in m.boundaries:
            problems.append(f"{where}: {label}: field 'boundary': {est.boundary!r} is not a boundary the manifest "
                            f"claims ({', '.join(m.boundaries)})")
        if run_ids is not None and est.run_id not in run_ids:
            problems.append(f"{where}: {label}: {unknown_run(est.run_id, run_ids, hint=hints > 0)}")
            hints -= 1
    if m.id in reserved:
        problems.append(f"{sub.manifest_path}: field 'id': {m.id!r} is {reserved[m.id]}; a submission needs an id of its own")
    if require_each_boundary:
        answered = {e.boundary for e in estimates}
        for b in m.boundaries:
            if b not in answered:
                problems.append(f"{where}: claims boundary {b!r} (manifest field 'boundaries') but has no estimate "
                                "at it; claim only the boundaries it answers")
    return problems


# --------------------------------------------------------------------------- the plan for one scoring


@dataclass
class Plan:
    """What the scorer takes from the registry."""

    registry: Registry
    static_ids: list[str] = field(default_factory=list)  # installed static packages, run by the scorer
    live_ids: list[str] = field(default_factory=list)  # installed live packages, scored from the records
    estimates: dict[str, list[Estimate]] = field(default_factory=dict)  # files and image outputs, by id
    sources: dict[str, str] = field(default_factory=dict)  # id -> EstimatorColumn source of those estimates
    provenance: dict[str, SubmissionProvenance] = field(default_factory=dict)
    unavailable: list[ScoredEstimator] = field(default_factory=list)  # listed, not scored, with the reason
    notes: list[str] = field(default_factory=list)

    def ids(self) -> set[str]:
        return set(self.registry.ids())


def provenance(sub: Submission, badge: str, reason: str) -> SubmissionProvenance:
    m = sub.manifest
    return SubmissionProvenance(
        folder=str(sub.folder), name=m.name, version=m.version, authors=list(m.authors), licence=m.licence,
        source_url=m.source_url, kind=m.kind, claimed_boundaries=list(m.boundaries), reproduce=m.reproduce.strip(),
        badge=badge, badge_reason=reason,
    )


def _unavailable(sub: Submission, source: str, reason: str, prov: SubmissionProvenance) -> ScoredEstimator:
    return ScoredEstimator(id=sub.id, version=sub.manifest.version, source=source, boundaries=list(sub.manifest.boundaries),
                           available=False, reason=reason, description=sub.manifest.description.strip(), submission=prov)


def _install_hint(sub: Submission) -> str:
    entry = sub.manifest.package
    path = sub.folder if entry is None or entry.path == "." else sub.inside(entry.path)
    return f"pip install -e {path} (`make leaderboard` installs the static ones, `make install-submissions` all of them)"


def installed_version(distribution: str) -> str | None:
    """The installed version of a distribution, found by its normalised name (as pip would), or None."""
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        pass
    wanted = _canonical(distribution)
    for dist in metadata.distributions():
        name = dist.metadata["Name"] if dist.metadata is not None else None
        if name and _canonical(name) == wanted:
            return dist.version
    return None


def _plan_package(sub: Submission, plan: Plan, infos: dict, problems: list[str], live_in_records: set[str]) -> None:
    m = sub.manifest
    dist, mode = m.package.distribution, m.package.estimator
    installed = installed_version(dist)
    info = infos.get(sub.id)
    if installed is not None:
        if info is None or _canonical(dist) not in _canonical(info.source):
            claimed_by = "no installed distribution" if info is None else info.source
            problems.append(f"{sub.manifest_path}: package {dist} {installed} is installed, but the estimator id "
                            f"{sub.id!r} is registered by {claimed_by}; its entry point must be named {sub.id!r}")
            return
        if info.kind in ("static", "live") and info.kind != mode:
            problems.append(f"{sub.manifest_path}: field 'package.estimator': the manifest says {mode!r} but the "
                            f"installed estimator is {info.kind}")
            return
        if info.kind in ("static", "live") and set(info.boundaries) != set(m.boundaries):
            problems.append(f"{sub.manifest_path}: field 'boundaries': the manifest claims {', '.join(m.boundaries)} "
                            f"but the estimator declares {', '.join(info.boundaries)}; they must be the same")
            return
    if mode == "live":
        # Its outputs were recorded by `joulebench run`; installing it here changes nothing about them.
        if sub.id in live_in_records:
            plan.live_ids.append(sub.id)
            plan.provenance[sub.id] = provenance(
                sub, "reproduced", f"joulebench ran it beside the measured windows (`joulebench run "
                f"--live-estimator {sub.id}`); its outputs are stored in the run records")
            return
        here = (f"package {dist} {installed} is installed here" if installed is not None
                else f"package {dist} is not installed here: {_install_hint(sub)}")
        reason = (f"no run in these results carries its outputs yet: a live estimator runs on the hardware, during "
                  f"`joulebench run --live-estimator {sub.id}` ({here})")
        prov = provenance(sub, "not-reproduced", reason)
        plan.provenance[sub.id] = prov
        plan.unavailable.append(_unavailable(sub, "live", reason, prov))
        return
    reason = ""
    if installed is None:
        reason = f"package {dist} is not installed here: {_install_hint(sub)}"
    elif not info.available:
        reason = f"package {dist} {installed} is installed but cannot run here: {info.reason}"
    elif info.version != m.version:
        reason = (f"the installed {dist} reports version {info.version}, the manifest is for {m.version}: "
                  f"{_install_hint(sub)}")
    if reason:
        prov = provenance(sub, "not-reproduced", reason)
        plan.provenance[sub.id] = prov
        plan.unavailable.append(_unavailable(sub, "static", reason, prov))
        return
    plan.static_ids.append(sub.id)
    plan.provenance[sub.id] = provenance(
        sub, "reproduced", f"joulebench ran {dist} {installed} (the package in {sub.folder}, installed here) on "
        "every run when these scores were computed")


def _plan_estimates(sub: Submission, plan: Plan, problems: list[str], run_ids: set[str] | None, reserved: dict[str, str]) -> None:
    from joulebench.scoring.submission import read_submission

    path = sub.inside(sub.manifest.estimates.file)
    try:
        read = read_submission(path)
    except InputError as exc:
        problems.extend(str(exc).splitlines())
        return
    found = estimates_problems(sub, read.estimates, read.labels, str(path), run_ids, reserved, require_each_boundary=True)
    if found:
        problems.extend(found)
        return
    plan.estimates[sub.id] = list(read.estimates)
    plan.sources[sub.id] = "submission"
    plan.provenance[sub.id] = provenance(
        sub, "self-reported", f"an estimates file made by its authors ({sub.manifest.estimates.file}), scored as given")


def image_tag(sub: Submission) -> str:
    return f"joulebench-submission/{sub.id}:{re.sub(r'[^A-Za-z0-9_.-]', '-', sub.manifest.version)[:120]}"


def _plan_image(sub: Submission, plan: Plan, problems: list[str], facts: Sequence[RunFacts], reserved: dict[str, str],
                docker: Callable[[], Any] | None) -> None:
    from joulebench.scoring import sandbox

    m = sub.manifest
    try:
        client = (docker or sandbox.docker_engine)()
        image_id = sandbox.build_image(client, sub.folder, m.image.dockerfile, m.image.base_image, image_tag(sub))
    except sandbox.ImageUnavailable as exc:
        reason = f"not reproduced here: {exc}"
        prov = provenance(sub, "not-reproduced", reason)
        plan.provenance[sub.id] = prov
        plan.unavailable.append(_unavailable(sub, "static", reason, prov))
        return
    except InputError as exc:  # the Dockerfile does not build: the submission's own problem
        problems.append(f"{sub.inside(m.image.dockerfile)}: {exc}")
        return
    try:
        estimates = sandbox.estimate_in_sandbox(image_id, facts, m.image.command, client=client, allow_empty=True)
    except InputError as exc:
        problems.append(f"{sub.folder}: {exc}")
        return
    labels = [f"output[{i}]" for i in range(len(estimates))]
    found = estimates_problems(sub, estimates, labels, f"{sub.folder} (image output)", {f.run_id for f in facts},
                               reserved, require_each_boundary=False)
    if found:
        problems.extend(found)
        return
    plan.estimates[sub.id] = estimates
    plan.sources[sub.id] = "static"
    plan.provenance[sub.id] = provenance(
        sub, "reproduced", f"joulebench built the image from {m.image.dockerfile} on {m.image.base_image} and ran it in "
        f"the sandbox (no network, read-only, limited) over the run facts when these scores were computed "
        f"(image {image_id[:19]})")


def plan(
    registry: Registry,
    records: Sequence[RunRecord],
    infos: dict,
    live_in_records: set[str],
    known_run_ids: set[str] | None,
    docker: Callable[[], Any] | None = None,
) -> Plan:
    """What each submission contributes to a scoring of `records`; InputError listing every problem.

    `known_run_ids`: the runs an estimates file may name (None: not checked, there are no runs).
    """
    result = Plan(registry)
    problems: list[str] = []
    ids = result.ids()
    others = {eid: f"the id of an installed estimator ({info.source})" for eid, info in infos.items()
              if eid not in ids and info.source != "builtin"}
    facts: list[RunFacts] | None = None
    for sub in registry.submissions:
        reserved = dict(others)
        if sub.manifest.kind != "package":
            if sub.id in infos:
                reserved[sub.id] = f"the id of an installed estimator ({infos[sub.id].source})"
            if sub.id in live_in_records:
                reserved[sub.id] = "the id of a live estimator whose outputs are in the run records"
        kind = sub.manifest.kind
        if kind == "package":
            _plan_package(sub, result, infos, problems, live_in_records)
        elif kind == "estimates":
            _plan_estimates(sub, result, problems, known_run_ids, reserved)
        elif records:
            if facts is None:
                facts = [RunFacts.from_record(r) for r in records]
            _plan_image(sub, result, problems, facts, reserved, docker)
        else:
            reason = "no runs to give it: nothing was built or run"
            prov = provenance(sub, "not-reproduced", reason)
            result.provenance[sub.id] = prov
            result.unavailable.append(_unavailable(sub, "static", reason, prov))
    if problems:
        raise registry_error(registry.root, problems)
    installed_elsewhere = sorted(eid for eid, info in infos.items() if info.source != "builtin" and eid not in ids)
    if installed_elsewhere:
        result.notes.append(f"installed estimator(s) not in the submissions registry, and so not scored: "
                            f"{', '.join(installed_elsewhere)} (a submission folder enters one)")
    return result


def columns_of_plan(table: RunTable, p: Plan) -> list[EstimatorColumn]:
    """The estimates files' and images' answers as columns; the version is the manifest's."""
    from joulebench.scoring.table import submission_columns

    columns = []
    for sid, estimates in sorted(p.estimates.items()):
        for column in submission_columns(table, estimates):
            column.source = p.sources[sid]
            # A claimed boundary it answered on none of these runs still belongs to it (coverage 0).
            claimed = manifest_of(p, sid).boundaries
            column.boundaries = tuple(b for b in BOUNDARIES if b in claimed or b in column.boundaries)
            columns.append(column)
    return columns


def manifest_of(p: Plan, sid: str) -> SubmissionManifest:
    return next(s.manifest for s in p.registry.submissions if s.id == sid)


def finish(p: Plan, columns: Sequence[EstimatorColumn], records: Sequence[RunRecord], table: RunTable,
           boundaries: Sequence[str], resamples: int, seed: int, notes: list[str]) -> dict[str, SubmissionProvenance]:
    """Each submission's provenance with its fit overlap and out-of-sample scores; notes on unanswered claims."""
    out = dict(p.provenance)
    by_id: dict[str, list[EstimatorColumn]] = {}
    for c in columns:
        by_id.setdefault(c.id, []).append(c)
    for sub in p.registry.submissions:
        prov = out.get(sub.id)
        if prov is None or prov.badge == "not-reproduced":
            continue
        mine = by_id.get(sub.id, [])
        for b in sub.manifest.boundaries:
            if b in boundaries and mine and not any(b in c.values and (c.values[b] == c.values[b]).any() for c in mine):
                notes.append(f"submission {sub.id} claims boundary {b} but answered none of these {table.n} runs there")
        if not sub.manifest.fitted_on:
            continue
        matches = fit_matches(sub, records)
        overlaps = [FitOverlap(description=f.description.strip(), url=f.url, n_runs=len(ids))
                    for f, ids in zip(sub.manifest.fitted_on, matches)]
        in_sample = set().union(*matches) if matches else set()
        out_of_sample: list[Score] = []
        if in_sample and mine:
            keep = [r for r in records if r.run_id not in in_sample]
            out_of_sample = _scores_without(table, keep, mine, boundaries, resamples, seed)
        out[sub.id] = prov.model_copy(update={"fitted_on": overlaps, "out_of_sample": out_of_sample})
    return out


def _scores_without(table: RunTable, keep: Sequence[RunRecord], columns: Sequence[EstimatorColumn],
                    boundaries: Sequence[str], resamples: int, seed: int) -> list[Score]:
    """Slice 'all' per boundary on the kept runs only, unranked (a ranking needs everyone on the same runs)."""
    import numpy as np

    from joulebench.scoring.bootstrap import score_table

    if not keep:
        return []
    sub_table = RunTable.from_records(keep)
    where = table.position()
    index = np.array([where[rid] for rid in sub_table.run_ids], dtype=np.int64)
    moved = [EstimatorColumn(c.id, c.version, c.source, c.boundaries, {b: v[index] for b, v in c.values.items()},
                             c.failures) for c in columns]
    scores, _ = score_table(sub_table, moved, boundaries, resamples, seed)
    return [s.model_copy(update={"rank": None, "tied_with_previous": None}) for s in scores if s.slice == "all"]


# --------------------------------------------------------------------------- `joulebench submit check`


@dataclass
class CheckReport:
    """What `joulebench submit check` tells an author: problems (it would be refused) and notes."""

    folder: Path
    manifest: SubmissionManifest | None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    badge: str = ""
    badge_reason: str = ""
    coverage: list[tuple[str, int, int, list[str]]] = field(default_factory=list)  # boundary, answered, with truth, missed


def check_folder(folder: Path, runs_dir: Path | None, *, docker: Callable[[], Any] | None = None,
                 build_image: bool = False) -> CheckReport:
    """Everything wrong with one submission folder, checked as `make leaderboard` would; writes nothing."""
    from joulebench.estimators import registry as estimator_registry
    from joulebench.records import load_records

    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder (expected submissions/<id>/ with a {SUBMISSION_MANIFEST})")
    report = CheckReport(folder, None)
    siblings = [p for p in submission_folders(folder.parent) if p.resolve() != folder.resolve()]
    subs, problems = read_submissions([folder])
    report.problems += problems
    if not subs:
        return report
    sub = subs[0]
    report.manifest = sub.manifest
    for other in siblings:
        manifest, _ = read_manifest(other)
        if manifest is not None and manifest.id == sub.id:
            report.problems.append(f"{sub.manifest_path}: field 'id': {sub.id!r} is also the id of "
                                   f"{other / SUBMISSION_MANIFEST}; each submission needs its own id")
    records: list[RunRecord] = []
    if runs_dir is not None:
        try:
            records = load_records(Path(runs_dir))
        except InputError as exc:
            report.problems.append(str(exc))
    if not records:
        report.notes.append(f"no runs in {runs_dir}: the runs it covers were not checked")
    if report.problems:
        return report
    infos = {info.id: info for info in estimator_registry.list_estimators()}
    live_in_records = {e.estimator_id for r in records for e in r.live_estimates}
    run_ids = {r.run_id for r in records}
    one = Registry(folder.parent, [sub])
    if sub.manifest.kind == "image" and not build_image:
        prov = provenance(sub, "not-reproduced", "not built by `submit check` (add --build to build it and run it in "
                          "the sandbox over the runs, as `make leaderboard` does)")
        report.badge, report.badge_reason = prov.badge, prov.badge_reason
        return report
    if sub.manifest.kind == "estimates" and not records:
        report.notes.append("unknown runs were not checked: there are no runs to check against")
    try:
        p = plan(one, records, infos, live_in_records, run_ids if records else None, docker)
    except InputError as exc:
        report.problems += [line.strip() for line in str(exc).splitlines()[1:] if not line.strip().startswith("...")]
        return report
    prov = p.provenance.get(sub.id)
    if prov is not None:
        report.badge, report.badge_reason = prov.badge, prov.badge_reason
    if records:
        _coverage(report, sub, p, records)
    return report


def _coverage(report: CheckReport, sub: Submission, p: Plan, records: Sequence[RunRecord]) -> None:
    """Per claimed boundary: runs with truth there, how many it answered, and a few it missed."""
    from joulebench.estimators import registry as estimator_registry
    from joulebench.estimators.base import check_estimates

    answers: dict[str, set[str]] = {b: set() for b in sub.manifest.boundaries}
    if sub.id in p.estimates:
        for e in p.estimates[sub.id]:
            answers.setdefault(e.boundary, set()).add(e.run_id)
    elif sub.id in p.static_ids:
        estimator = estimator_registry.create_static(sub.id)
        failures = []
        for record in records:
            facts = RunFacts.from_record(record)
            try:
                values = check_estimates(sub.id, tuple(estimator.boundaries), estimator.estimate(facts))
            except Exception as exc:  # reported, as the scorer counts it
                failures.append(f"{record.run_id}: {type(exc).__name__}: {exc}")
                continue
            for b in values:
                answers.setdefault(b, set()).add(record.run_id)
        if failures:
            report.problems.append(f"{sub.id} failed on {len(failures)} run(s): " + "; ".join(failures[:5]))
    elif sub.id in p.live_ids:
        for r in records:
            for e in r.live_estimates:
                if e.estimator_id == sub.id:
                    answers.setdefault(e.boundary, set()).add(r.run_id)
    else:
        return
    for b in sub.manifest.boundaries:
        with_truth = [r.run_id for r in records if r.truth_j(b) is not None]
        missed = sorted(set(with_truth) - answers.get(b, set()))
        report.coverage.append((b, len(set(with_truth) & answers.get(b, set())), len(with_truth), missed))
        if not answers.get(b):
            report.notes.append(f"it answers none of the {len(records)} runs at boundary {b}, which it claims")


# --------------------------------------------------------------------------- installing the packages


def package_folders(root: Path, estimator: str = "all") -> list[Path]:
    """The folders holding the package submissions' pyproject.toml (static, live or all); the registry is checked first."""
    registry = read_registry(Path(root))
    return [s.inside(s.manifest.package.path) for s in registry.submissions
            if s.manifest.kind == "package" and estimator in ("all", s.manifest.package.estimator)]


def package_requirements(root: Path, estimator: str = "all") -> list[str]:
    """Their pinned dependencies (joulebench itself left out), sorted and deduplicated."""
    found = set()
    for folder in package_folders(root, estimator):
        project = _read_toml(folder / "pyproject.toml").get("project", {})
        for requirement in project.get("dependencies", []) or []:
            match = _REQUIREMENT_NAME.match(str(requirement))
            if match and _canonical(match.group(1)) not in PACKAGES_NOT_PINNED:
                found.add(str(requirement).strip())
    return sorted(found)
