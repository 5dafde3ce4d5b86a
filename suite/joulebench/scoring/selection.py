"""Which estimators are scored on which runs: the one path from a results folder to a ScoreSummary.

`joulebench score` and `joulebench leaderboard build` both call `score_runs`,
so the site and the command line show the same numbers by construction.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from joulebench.certify.certificates import load_trusted_keys
from joulebench.certify.trust import Trust, assess, filter_runs
from joulebench.errors import InputError
from joulebench.formats import (
    BOUNDARIES,
    TIERS,
    Estimate,
    RunFacts,
    RunRecord,
    ScoredEstimator,
    ScoreSummary,
)
from joulebench.records import load_records
from joulebench.scoring.summary import DEFAULT_RESAMPLES, DEFAULT_SEED, summarize
from joulebench.scoring.table import (
    EstimatorColumn,
    RunTable,
    live_columns,
    static_columns,
    submission_columns,
    with_node_total,
)


def default_static_selection(infos: Iterable) -> tuple[list[str], list[ScoredEstimator]]:
    """Every available static estimator, and the unavailable ones listed with their reason."""
    static_ids: list[str] = []
    unavailable: list[ScoredEstimator] = []
    for info in infos:
        if info.kind == "static" and info.available:
            static_ids.append(info.id)
        elif info.kind in ("static", "unknown") and not info.available:
            unavailable.append(ScoredEstimator(id=info.id, version=info.version or "?", source="static",
                                               boundaries=list(info.boundaries), available=False, reason=info.reason))
    return static_ids, unavailable


def default_registry(runs_dir: Path) -> Path | None:
    """The submissions/ folder beside the runs folder (results/ and submissions/ in a checkout), when it exists."""
    candidate = Path(runs_dir).resolve().parent / "submissions"
    if not candidate.is_dir():
        return None
    try:  # as the user would write it (and the same in every checkout): submissions, not /home/.../submissions
        return candidate.relative_to(Path.cwd().resolve())
    except ValueError:
        return candidate


def score_runs(
    runs_dir: Path,
    *,
    estimator_ids: Sequence[str] | None = None,
    submissions: Sequence[Path] = (),
    submissions_dir: Path | None = None,
    boundary: str | None = None,
    site: str | None = None,
    min_tier: str | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    trusted_keys: Path | None = None,
) -> ScoreSummary:
    """Load every record under `runs_dir` and score it: what `joulebench score` runs.

    Each run's tier comes from its folder's certificate verified against the
    trusted keys (default: the repository's trusted-keys.yaml), and travels in
    the summary. `submissions_dir`: a submissions folder
    (submissions/<id>/submission.yaml) whose entries are scored too.
    """
    keyring = load_trusted_keys(trusted_keys)  # a bad keys file fails before any record is read
    digests: dict[str, str] = {}
    sources: dict[str, str] = {}
    records = load_records(runs_dir, digests, sources)
    known = {r.run_id for r in records}
    if submissions_dir is not None:
        from joulebench.scoring.submissions import read_registry

        read_registry(Path(submissions_dir))  # a bad manifest is an error even where there are no runs
    if not records:
        raise InputError(f"no runs in {runs_dir}: nothing to score (expected run records at {runs_dir}/<site>/<run_id>.json)")
    trust = assess(Path(runs_dir), records, sources, digests, keyring)
    filters: dict[str, str] = {}
    if min_tier is not None:
        records, _ = filter_by_tier(records, trust, min_tier)
        filters["min_tier"] = min_tier
        if not records:
            raise InputError(f"no runs in {runs_dir} counted at tier {min_tier} or better")
    return score_records(records, estimator_ids=estimator_ids, submissions=submissions, submissions_dir=submissions_dir,
                         boundary=boundary, site=site, resamples=resamples, seed=seed, filters=filters,
                         where=str(runs_dir), known_run_ids=known, trust=trust)


def filter_by_tier(records: list[RunRecord], trust: Trust, min_tier: str) -> tuple[list[RunRecord], dict[str, str]]:
    """The records counted at `min_tier` or better (each run's own tier), and the sites that lost runs."""
    if min_tier not in TIERS:
        raise InputError(f"--min-tier: unknown tier {min_tier!r}; tiers are: {', '.join(TIERS)}")
    return filter_runs(records, trust, min_tier)


def _description(cls) -> str:
    return inspect.cleandoc(cls.__doc__ or "")


def score_records(
    records: list[RunRecord],
    *,
    estimator_ids: Sequence[str] | None = None,
    submissions: Sequence[Path] = (),
    submissions_dir: Path | None = None,
    boundary: str | None = None,
    site: str | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    filters: dict[str, str] | None = None,
    where: str = "the runs",
    extra_columns: Sequence[EstimatorColumn] = (),
    trust: Trust | None = None,
    known_run_ids: set[str] | None = None,
    docker: Callable[[], Any] | None = None,
) -> ScoreSummary:
    """Gather every estimator's answers on `records` and score them: the one scoring path.

    Default selection: every available static estimator (recomputed now),
    every live one found in the records, every submitted one. With a
    `submissions_dir` (the submissions registry), its entries join with their
    provenance and badge, and installed estimators that are neither built in
    nor in the registry are left out (a note says which). `submissions` are
    ad hoc estimates files. `known_run_ids`: every run of the results folder,
    before --min-tier filtered some out (what an estimates file may name).
    `extra_columns` lets the speed benchmark add synthetic answers without
    writing millions of estimate rows; the command line never passes any.
    """
    from joulebench.estimators import registry
    from joulebench.scoring import submission as submission_files
    from joulebench.scoring import submissions as registry_module

    if boundary is not None and boundary not in BOUNDARIES:
        raise InputError(f"unknown boundary {boundary!r}; boundaries are: {', '.join(BOUNDARIES)}")

    registered = {info.id: info for info in registry.list_estimators()}
    live_ids = {e.estimator_id for r in records for e in r.live_estimates}
    plan = None
    if submissions_dir is not None:
        folder = registry_module.read_registry(Path(submissions_dir))
        plan = registry_module.plan(folder, records, registered, live_ids,
                                    known_run_ids if known_run_ids is not None else {r.run_id for r in records}, docker)
        # Installed estimators that are neither built in nor entered through the registry are not scored.
        registered = {eid: info for eid, info in registered.items() if info.source == "builtin" or eid in plan.ids()}
    reserved = {eid: "a registered estimator's id" for eid in registered}
    reserved.update({eid: "the id of a live estimator in the run records" for eid in live_ids})
    if plan is not None:
        reserved.update({eid: "the id of an entry of the submissions registry" for eid in plan.ids()})
    all_run_ids = {r.run_id for r in records}
    submitted: list[Estimate] = []
    first_file: dict[tuple, Path] = {}
    for path in submissions:
        sub = submission_files.read_submission(path)
        submission_files.check_against_runs(sub, all_run_ids, reserved)
        for est in sub.estimates:
            key = (est.estimator_id, est.estimator_version, est.run_id, est.boundary)
            if key in first_file:
                raise InputError(f"{path}: estimator {key[0]} {key[1]}, run {key[2]}, boundary {key[3]} "
                                 f"is also in {first_file[key]}; nothing was scored")
            first_file[key] = sub.path
        submitted.extend(sub.estimates)

    if site is not None:
        sites = sorted({r.site for r in records})
        records = [r for r in records if r.site == site]
        if not records:
            raise InputError(f"no runs from site {site!r} in {where}; sites are: {', '.join(sites)}")

    submitted_ids = {e.estimator_id for e in submitted}
    problems: list[str] = list(plan.notes) if plan is not None else []
    unavailable: list[ScoredEstimator] = []
    static_ids: list[str] = []
    plan_ids = plan.ids() if plan is not None else set()
    if estimator_ids:
        choices = sorted(set(registered) | live_ids | submitted_ids | plan_ids)
        for eid in estimator_ids:
            if eid not in choices:
                raise registry.unknown_estimator(eid, choices)
        wanted = set(estimator_ids)
        static_ids = [eid for eid in estimator_ids if eid in registered and registered[eid].kind == "static"]
        for eid in estimator_ids:
            info = registered.get(eid)
            if info is not None and info.kind == "live" and eid not in live_ids:
                problems.append(f"live estimator {eid} has no outputs in these runs (it runs during `joulebench run "
                                f"--live-estimator {eid}`)")
    else:
        wanted = None
        static_ids, unavailable = default_static_selection(registered.values())
    if plan is not None:
        # A submission that cannot run here is listed once, by the registry, with its badge and reason.
        static_ids = [eid for eid in static_ids if eid not in plan_ids or eid in plan.static_ids]
        unavailable = [u for u in unavailable if u.id not in plan_ids]
        unavailable += [u for u in plan.unavailable if wanted is None or u.id in wanted]

    table = RunTable.from_records(records)
    statics = [registry.create_static(eid) for eid in static_ids]
    facts = [RunFacts.from_record(r) for r in records] if statics else []
    columns = static_columns(table, facts, statics, problems)
    columns += [c for c in live_columns(table, records) if wanted is None or c.id in wanted]
    columns += [c for c in submission_columns(table, submitted) if wanted is None or c.id in wanted]
    if plan is not None:
        columns += [c for c in registry_module.columns_of_plan(table, plan) if wanted is None or c.id in wanted]
    columns += list(extra_columns)
    columns = [with_node_total(c, table) for c in columns]
    for eid in estimator_ids or ():
        info = registered.get(eid)
        if info is not None and info.kind == "live" and eid not in live_ids and eid not in plan_ids:
            columns.append(EstimatorColumn(eid, info.version, "live", tuple(info.boundaries), {}))

    filters = {**(filters or {}), **{k: v for k, v in (("site", site), ("boundary", boundary)) if v is not None}}
    descriptions = {}
    for column in columns:
        info = registered.get(column.id)
        # A registered estimator's docstring describes the version joulebench runs; an imported
        # study's older version of the same tool is described by its provenance instead.
        if info is not None and info.available and (column.source == "static" or column.version == info.version):
            descriptions[column.key] = _description(registry.get_class(column.id))
    provenance = {}
    if plan is not None:
        scored_boundaries = [boundary] if boundary else BOUNDARIES
        provenance = registry_module.finish(plan, columns, records, table, scored_boundaries, resamples, seed, problems)
        for column in columns:
            if column.id in plan_ids and column.key not in descriptions:
                descriptions[column.key] = registry_module.manifest_of(plan, column.id).description.strip()
    summary = summarize(
        table,
        records,
        columns,
        boundaries=[boundary] if boundary else BOUNDARIES,
        resamples=resamples,
        seed=seed,
        unavailable=unavailable,
        problems=problems,
        filters=filters,
        descriptions=descriptions,
        provenance=provenance,
    )
    if trust is not None:
        summary = summary.model_copy(update={"trust": trust.summary})
    return summary
