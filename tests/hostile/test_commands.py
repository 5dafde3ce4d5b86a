"""Hostile arguments and surroundings for every command: score, leaderboard build, run, import, sandbox, schema,
validate; declared meters that cannot be read; a machine smaller than its profile; unmetered records; leftovers
of killed builds; output paths inside the inputs; and what reaches a CSV or a terminal."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from joulebench.cli import main
from joulebench.formats import DetectedHardware, MissingBoundary
from tests.doubles.records import make_record, write_records
from tests.hostile.harness import (
    Case,
    fifo,
    link,
    parametrize,
    register,
    run_case,
    write,
)

RECORDS = [make_record(w, site="lab-a", repeat=r, truth={"gpu": 1000.0 * r})
           for w in ("wa-train", "wb-train") for r in (1, 2)]


def results(folder: Path) -> Path:
    return write_records(folder / "results", RECORDS)


def score(*extra: str, runs: Callable[[Path], Path] = results) -> Callable[[Path], list[str]]:
    return lambda folder: ["score", "--runs", str(runs(folder)), "--resamples", "20",
                           *[a.format(folder=folder) for a in extra]]


def board(*extra: str, runs: Callable[[Path], Path] = results) -> Callable[[Path], list[str]]:
    return lambda folder: ["leaderboard", "build", "--runs", str(runs(folder)), "--resamples", "20",
                           *[a.format(folder=folder) for a in extra]]


SCORE = register("commands: score", [
    Case("score_out_is_a_directory", lambda f: [*score()(f), "--out", str((f / "o").mkdir() or f / "o")], 2,
         ("--out", "is a folder")),
    Case("score_out_inside_runs", lambda f: [*score()(f), "--out", str(f / "results" / "scores.json")], 2,
         ("is inside --runs",)),
    Case("score_out_parent_is_a_file", lambda f: [*score()(f), "--out", str(write(f / "file", "x") / "s.json")], 2,
         ("is not a folder",)),
    Case("score_resamples_1e11", score("--resamples", "1e11"), 2, ("--resamples", "bootstrap resamples")),
    Case("score_resamples_hundred_billion", score("--resamples", "100000000000"), 2, ("--resamples",)),
    Case("score_resamples_zero", score("--resamples", "0"), 2, ("--resamples",)),
    Case("score_resamples_5000_digits", score("--resamples", "9" * 5000), 2, ("--resamples",)),
    Case("score_seed_negative", score("--seed", "-1"), 2, ("--seed",)),
    Case("score_seed_2_to_the_40", score("--seed", str(2**40)), 2, ("--seed",)),
    Case("score_site_formula", score("--site", '=HYPERLINK("x")'), 2, ("--site",)),
    Case("score_unknown_estimator_with_escape", score("--estimator", "\x1b[31mevil"), 2, ("unknown estimator",)),
    Case("score_boundary_unknown", score("--boundary", "rack"), 2, ("--boundary",)),
    Case("score_min_tier_unknown", score("--min-tier", "S"), 2, ("--min-tier",)),
    Case("score_min_tier_a_with_no_certified_runs", score("--min-tier", "A"), 2, ("tier A or better",)),
    Case("score_trusted_keys_missing", score("--trusted-keys", "{folder}/none.yaml"), 2, ("none.yaml", "not found")),
    Case("score_trusted_keys_is_a_fifo", lambda f: [*score()(f), "--trusted-keys", str(fifo(f / "k.yaml"))], 2,
         ("k.yaml", "FIFO"), process=True),
])


def built_site(folder: Path) -> Path:
    assert main(["leaderboard", "build", "--runs", str(results(folder)), "--out", str(folder / "site"),
                 "--resamples", "20"]) == 0
    return folder / "site"


BOARD = register("commands: leaderboard build", [
    Case("board_out_inside_runs", board("--out", "{folder}/results/site"), 2, ("is inside --runs",)),
    Case("board_out_is_the_runs_folder", board("--out", "{folder}/results"), 2, ("is inside --runs",)),
    Case("board_out_holds_the_runs_folder", board("--out", "{folder}"), 2, ("is inside --runs",)),
    Case("board_out_is_a_file", lambda f: [*board()(f), "--out", str(write(f / "site", "x"))], 2, ("not a folder",)),
    Case("board_out_is_a_foreign_folder", lambda f: [*board()(f), "--out", str(write(f / "thesis" / "t.tex", "x").parent)], 2,
         (".joulebench-site",)),
    Case("board_out_is_a_symlink", lambda f: [*board()(f), "--out", str(link(f / "s", (f / "real").mkdir() or f / "real"))], 2,
         ("symbolic link",)),
    Case("board_resamples_1e11", board("--out", "{folder}/site", "--resamples", "1e11"), 2, ("--resamples",)),
    Case("board_seed_text", board("--out", "{folder}/site", "--seed", "abc"), 2, ("--seed",)),
    Case("board_min_tier_unknown", board("--out", "{folder}/site", "--min-tier", "AA"), 2, ("--min-tier",)),
    Case("board_runs_missing", lambda f: ["leaderboard", "build", "--runs", str(f / "none"), "--out", str(f / "site")], 2,
         ("none", "not found")),
    Case("board_runs_is_a_file", lambda f: ["leaderboard", "build", "--runs", str(write(f / "r", "{}")), "--out", str(f / "site")],
         2, ("not a folder",)),
    Case("board_trusted_keys_binary", lambda f: [*board("--out", "{folder}/site")(f), "--trusted-keys", str(write(f / "k.yaml", b"\0"))],
         2, ("k.yaml", "binary data")),
    Case("board_bad_record_leaves_the_old_site", lambda f: (built_site(f), write(f / "results" / "lab-a" / "bad.json", '{"energy_j": Infinity}'),
                                                          ["leaderboard", "build", "--runs", str(f / "results"), "--out", str(f / "site")])[2],
         2, ("bad.json",)),
])


# --------------------------------------------------------------------------- run: declared meters, hardware, arguments


def no_hardware_meters(monkeypatch) -> None:
    """As on a machine with no NVIDIA driver and no powercap tree, whatever runs the test."""
    import joulebench.measure.meters as meters
    from tests.doubles.fake_nvml import FakeNvml

    real = meters.discover_meters
    no_driver = FakeNvml(init_error=FakeNvml.NVML_ERROR_LIBRARY_NOT_FOUND)
    monkeypatch.setattr(meters, "discover_meters", lambda **kw: real(powercap_root=Path("/nonexistent-powercap"),
                                                                   nvml=no_driver, **kw))
    monkeypatch.delenv("JOULEBENCH_TEST_PW", raising=False)


def small_vm(monkeypatch) -> None:
    """A 2-core, 23 GiB VM, whatever runs the test."""
    import joulebench.measure.hardware as hardware

    no_hardware_meters(monkeypatch)
    monkeypatch.setattr(hardware, "detect_hardware", lambda **kw: DetectedHardware(
        cpu_model="Intel Xeon Processor (Cascadelake)", cpu_sockets=1, cpu_cores=2, cpu_threads=2, memory_gib=23.4))


def run(*extra: str) -> Callable[[Path], list[str]]:
    return lambda folder: ["run", "--track", "smoke", "--profile", "x86-cpu-server", "--site", "lab-a",
                           "--out", str(folder / "results"), *[a.format(folder=folder) for a in extra]]


def meters_with_password_file(make: Callable[[Path], Path] | None, url: str = "http://127.0.0.1:9") -> Callable[[Path], list[str]]:
    def build(folder: Path) -> list[str]:
        creds = {"password_file": "secret"} if make is not None else {"password_env": "JOULEBENCH_TEST_PW"}
        config = write(folder / "meters.yaml", yaml.safe_dump({"meters": [
            {"id": "wall", "kind": "shelly", "url": url, "credentials": creds}]}))
        if make is not None:
            make(folder / "secret")
        return run("--meters", str(config))(folder)

    return build


def private(path: Path, data: bytes) -> Path:
    write(path, data)
    os.chmod(path, 0o600)
    return path


RUN = register("commands: run", [
    Case("run_profile_path_traversal", lambda f: [*run()(f)[:3], "--profile", "../../../../etc/passwd", *run()(f)[5:]], 2,
         ("unknown hardware profile",)),
    Case("run_profile_unknown", lambda f: [*run()(f)[:3], "--profile", "h100-typo", *run()(f)[5:]], 2,
         ("unknown hardware profile",)),
    Case("run_track_unknown", lambda f: ["run", "--track", "\x1b[2Jgpu", "--profile", "x86-cpu-server", "--site", "s",
                                         "--out", str(f / "r")], 2, ("unknown track",)),
    Case("run_only_unknown_workload", run("--only", "resnet9000"), 2, ("unknown workload",)),
    Case("run_site_formula", lambda f: ["run", "--track", "smoke", "--profile", "x86-cpu-server", "--site", "=cmd|calc"], 2,
         ("--site",)),
    Case("run_repeats_1e11", run("--repeats", "1e11"), 2, ("--repeats",)),
    Case("run_repeats_zero", run("--repeats", "0"), 2, ("--repeats",)),
    Case("run_idle_seconds_nan", run("--idle-seconds", "nan"), 2, ("--idle-seconds",)),
    Case("run_idle_seconds_infinity", run("--idle-seconds", "inf"), 2, ("--idle-seconds",)),
    Case("run_meters_config_is_a_directory", lambda f: run("--meters", str((f / "m").mkdir() or f / "m"))(f), 2,
         ("is a folder",), patch=no_hardware_meters),
    Case("run_meters_config_binary", lambda f: run("--meters", str(write(f / "m.yaml", b"\x00" * 9)))(f), 2,
         ("binary data",), patch=no_hardware_meters),
    Case("run_meters_config_alias_bomb", lambda f: run("--meters", str(write(f / "m.yaml", "a: &a [1]\nmeters: [*a]\n")))(f), 2,
         ("alias",), patch=no_hardware_meters),
    Case("run_meters_config_missing", run("--meters", "{folder}/none.yaml"), 2, ("none.yaml", "not found"),
         patch=no_hardware_meters),
    Case("run_declared_meter_password_file_binary", meters_with_password_file(lambda p: private(p, b"\xff\xfe\x00pw")), 2,
         ("password_file", "secret", "UTF-16"), patch=no_hardware_meters),
    Case("run_declared_meter_password_file_non_utf8", meters_with_password_file(lambda p: private(p, b"pass\xe9")), 2,
         ("password_file", "not UTF-8"), patch=no_hardware_meters),
    Case("run_declared_meter_password_file_is_a_directory", meters_with_password_file(lambda p: p.mkdir(mode=0o700)), 2,
         ("password_file", "is a folder"), patch=no_hardware_meters),
    Case("run_declared_meter_password_file_missing", meters_with_password_file(lambda p: p), 2,
         ("password_file", "not found"), patch=no_hardware_meters),
    Case("run_declared_meter_password_file_readable_by_others", meters_with_password_file(lambda p: write(p, "pw")), 2,
         ("readable by other users",), patch=no_hardware_meters),
    Case("run_declared_meter_password_file_dev_zero", meters_with_password_file(lambda p: link(p, "/dev/zero")), 2,
         ("password_file", "is a device"), patch=no_hardware_meters),
    Case("run_declared_meter_password_file_two_lines", meters_with_password_file(lambda p: private(p, b"pw\nmore\n")), 2,
         ("more than one line",), patch=no_hardware_meters),
    Case("run_declared_meter_password_file_fifo", meters_with_password_file(lambda p: (fifo(p), os.chmod(p, 0o600))[0]), 2,
         ("password_file", "FIFO"), process=True),
    Case("run_declared_meter_password_env_unset", meters_with_password_file(None), 2,
         ("password_env", "JOULEBENCH_TEST_PW", "not set"), patch=no_hardware_meters),
    Case("run_declared_meter_unreachable_stops_the_run",
         meters_with_password_file(lambda p: private(p, b"pw")), 1, ("a declared meter cannot be opened",),
         patch=no_hardware_meters),
    Case("run_certified_on_a_2_core_vm_with_a_64_core_profile", run("--certified"), 4,
         ("materially smaller", "2 CPU cores detected", "23.4 GiB RAM"), patch=small_vm),
    Case("run_uncertified_on_a_2_core_vm_only_warns", run(), 3,
         ("warning: hardware differs", "no energy meter found"), patch=small_vm),
    Case("run_live_estimator_formula", run("--live-estimator", "=cmd|calc"), 2, ("--live-estimator",)),
])


# --------------------------------------------------------------------------- import, sandbox, schema, validate


def fischer_release(folder: Path, **overrides) -> Path:
    from tests.test_import_fischer2025 import (
        IMAGENET_COLUMNS,
        IMAGENET_STEM,
        imagenet_run,
        write_export,
        write_readings,
    )

    release = folder / "release"
    release.mkdir()
    write_export(release, IMAGENET_STEM, IMAGENET_COLUMNS, [imagenet_run(3, 20, **overrides)])
    write_readings(release, IMAGENET_STEM, [(3, "start", "6.622", False, False), (3, "stop", "6.630", False, False)])
    return release


def import_(make_source: Callable[[Path], Path], *extra: str) -> Callable[[Path], list[str]]:
    return lambda folder: ["import", "fischer2025", str(make_source(folder)), "--site", "fischer2025-desktop",
                           "--out", str(folder / "results"), *extra]


OTHER = register("commands: import, sandbox, schema, validate, verify", [
    Case("import_source_missing", import_(lambda f: f / "none"), 2, ("none", "not found")),
    Case("import_source_is_a_file", import_(lambda f: write(f / "r.csv", "x")), 2, ("not a folder",)),
    Case("import_site_uppercase", lambda f: ["import", "fischer2025", str(f), "--site", "Fischer"], 2, ("--site",)),
    Case("import_commit_injection", lambda f: ["import", "fischer2025", str(f), "--site", "s", "--commit", "$(id)"], 2,
         ("--commit",)),
    Case("import_unknown_importer", lambda f: ["import", "\x1b[31mfake", str(f), "--site", "s"], 2, ("unknown importer",)),
    Case("import_absurd_integer_in_the_csv", import_(lambda f: fischer_release(f, **{"params.batch_size": "9" * 5000,
                                                                                     "params.batchsize": "9" * 5000})),
         2, ("release",)),
    Case("import_absurd_sample_count", import_(lambda f: fischer_release(f, **{"params.n_samples": "1e4000"})), 2,
         ("release",)),
    Case("import_csv_field_over_131072", import_(lambda f: fischer_release(f, **{"params.model": "m" * 200_000})), 2,
         ("release",)),
    Case("sandbox_max_output_infinite", lambda f: ["sandbox", "estimate", "--image", "x", "--out", str(f / "e.json"),
                                                   "--max-output-mib", "inf"], 2, ("--max-output-mib",)),
    Case("sandbox_memory_negative", lambda f: ["sandbox", "estimate", "--image", "x", "--out", str(f / "e.json"),
                                               "--memory-mib", "-1"], 2, ("--memory-mib",)),
    Case("sandbox_time_limit_nan", lambda f: ["sandbox", "estimate", "--image", "x", "--out", str(f / "e.json"),
                                              "--time-limit-s", "nan"], 2, ("--time-limit-s",)),
    Case("sandbox_out_inside_runs", lambda f: ["sandbox", "estimate", "--image", "x", "--runs", str(results(f)),
                                               "--out", str(f / "results" / "e.json")], 2, ("is inside --runs",)),
    Case("schema_unknown_kind", lambda f: ["schema", "\x1b[31mrun"], 2, ("invalid choice",)),
    Case("validate_unknown_kind", lambda f: ["validate", "binary", "x"], 2, ("invalid choice",)),
    Case("validate_file_name_with_escape", lambda f: ["validate", "run", str(f / "\x1b]0;owned\x07.json")], 2,
         (".json: file not found",)),
    Case("validate_many_files_stops_at_the_first_bad", lambda f: ["validate", "run", str(write(f / "a.json", "{}")),
                                                                  str(f / "b.json")], 2, ("a.json",)),
])


@parametrize(SCORE + BOARD + RUN + OTHER)
def test_hostile_commands(case, tmp_path, capsys, monkeypatch):
    run_case(case, tmp_path, capsys, monkeypatch)


# --------------------------------------------------------------------------- what the leaderboard does with what it accepts


def test_unmetered_records_are_refused_by_the_leaderboard_with_a_note(tmp_path, capsys):
    missing = [MissingBoundary(boundary=b, reason="no meter found") for b in ("gpu", "cpu", "dram", "node")]
    vm = make_record("wa-train", site="vm-2core", truth={}).model_copy(update={"missing_boundaries": missing})
    runs = write_records(tmp_path / "results", [*RECORDS, vm])
    assert main(["leaderboard", "build", "--runs", str(runs), "--out", str(tmp_path / "site"), "--resamples", "20"]) == 0
    err = capsys.readouterr().err
    assert "refused 1 unmetered run record(s)" in err and vm.run_id in err
    index = (tmp_path / "site" / "index.html").read_text()
    assert 'id="unmetered"' in index and vm.run_id in index
    rows = list(csv.DictReader(io.StringIO((tmp_path / "site" / "data" / "runs.csv").read_text())))
    assert vm.run_id not in {r["run_id"] for r in rows}
    assert not list((tmp_path / "site" / "sites").glob("vm-2core-*.html"))


def test_a_site_page_shows_detected_hardware_beside_the_declared_profile(tmp_path):
    vm = DetectedHardware(cpu_model="Intel Xeon Processor", cpu_sockets=1, cpu_cores=2, memory_gib=23.4)
    record = make_record("wa-train", site="lab-a", truth={"gpu": 1000.0}).model_copy(update={"hardware": vm})
    runs = write_records(tmp_path / "results", [record])
    assert main(["leaderboard", "build", "--runs", str(runs), "--out", str(tmp_path / "site"), "--resamples", "20"]) == 0
    page = next((tmp_path / "site" / "sites").glob("lab-a-*.html")).read_text()
    assert "Declared: 1 x Test GPU 80GB, 2 x Test CPU 32-core" in page
    assert "detected: 1 x Intel Xeon Processor (2 cores), 23.4 GiB RAM" in page


def test_leftovers_of_killed_builds_are_cleaned_by_the_next_build(tmp_path):
    runs = results(tmp_path)
    dead = 2**22 + 12345  # above any pid_max default: no such process
    for name in (f".site.building-{dead}-abc", f".site.old-{dead}-def", ".site.building-xyz"):
        write(tmp_path / name / "index.html", "half a site")
    alive = tmp_path / f".site.building-{os.getpid()}-live"
    write(alive / "index.html", "a build in progress")
    assert main(["leaderboard", "build", "--runs", str(runs), "--out", str(tmp_path / "site"), "--resamples", "20"]) == 0
    left = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".site."))
    assert left == [alive.name]


def test_a_build_killed_before_the_swap_leaves_the_old_site_and_the_next_build_cleans_up(tmp_path, monkeypatch):
    import joulebench.board as board_module

    runs = results(tmp_path)
    out = tmp_path / "site"
    assert main(["leaderboard", "build", "--runs", str(runs), "--out", str(out), "--resamples", "20"]) == 0
    before = (out / "index.html").read_text()

    def killed(view, folder):
        raise KeyboardInterrupt  # as a kill in the middle of rendering

    monkeypatch.setattr(board_module, "render", killed)
    assert main(["leaderboard", "build", "--runs", str(runs), "--out", str(out), "--resamples", "20"]) == 130
    monkeypatch.undo()
    assert (out / "index.html").read_text() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("text", ['=HYPERLINK("http://x.invalid","y")', "=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(1)",
                                  "\tx", "\rx", "a\x1b[31mb", "a\u202eb"])
def test_every_csv_text_cell_is_neutralised(text):
    from joulebench.scoring.summary import csv_text

    cell = csv_text(text)
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert "\x1b" not in cell and "\u202e" not in cell


def test_csv_numbers_stay_numbers():
    from joulebench.formats import ScoreSummary  # noqa: F401
    from joulebench.scoring import score_records, scores_csv

    summary = score_records(RECORDS, resamples=20)
    rows = list(csv.DictReader(io.StringIO(scores_csv(summary))))
    assert any(r["signed_mean_error_pct"].startswith("-") and float(r["signed_mean_error_pct"]) < 0 for r in rows)


def test_terminal_output_strips_control_characters(capsys):
    from joulebench.cli import output

    output.warning("a\x1b[2Jb\x00c\rd\u202ee")
    output.note("x\x07y")
    err = capsys.readouterr().err
    assert err == "warning: abcde\nnote: xy\n"
