"""The estimator sandbox without an engine: output parsing, verdicts, confinement settings, stream framing.

Real containers (a socket, a memory hog, a sleeper, a flood) are in tests/container/.
"""

from __future__ import annotations

import json
import struct

import pytest

from joulebench.errors import InputError
from joulebench.formats import RunFacts
from joulebench.scoring.sandbox import (
    EstimatorRejected,
    Outcome,
    SandboxLimits,
    _Frames,
    facts_payload,
    host_config_options,
    judge,
    parse_estimates,
)
from tests.optional import need_docker_sdk
from tests.test_catalog import VALID_PROFILE, VALID_WORKLOAD

RUNS = {"site.a.r01", "site.b.r01"}
WHO = "estimator image test:1"


def row(**overrides):
    base = {"run_id": "site.a.r01", "boundary": "gpu", "energy_j": 1234.5, "estimator_id": "tdp-toy", "estimator_version": "1.0"}
    base.update(overrides)
    return base


def parse(payload, run_ids=RUNS):
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return parse_estimates(raw, run_ids, WHO)


def test_well_formed_output_becomes_estimates():
    estimates = parse([row(), row(run_id="site.b.r01", boundary="node", energy_j=7)])
    assert [(e.run_id, e.boundary, e.energy_j) for e in estimates] == [("site.a.r01", "gpu", 1234.5), ("site.b.r01", "node", 7.0)]


@pytest.mark.parametrize(
    "raw, expected",
    [
        (b"", "wrote nothing"),
        (b"\xff\xfe not utf-8", "not UTF-8"),
        (b"estimates: lots", "not valid JSON"),
        (b'[{"run_id": "site.a.r01", "boundary": "gpu", "energy_j": NaN, "estimator_id": "x", "estimator_version": "1"}]', "NaN"),
        (b'[{"run_id": "site.a.r01", "boundary": "gpu", "energy_j": -Infinity, "estimator_id": "x", "estimator_version": "1"}]', "Infinity"),
        (b'[{"run_id": "site.a.r01", "boundary": "gpu", "energy_j": 1e999, "estimator_id": "x", "estimator_version": "1"}]', "finite"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"estimates": []}', "must be a JSON list"),
        (b"[]", "empty list"),
    ],
)
def test_malformed_or_hostile_output_is_refused_whole(raw, expected):
    with pytest.raises(EstimatorRejected) as err:
        parse(raw)
    assert expected in str(err.value) and WHO in str(err.value)


@pytest.mark.parametrize(
    "item, expected",
    [
        (row(energy_j="1234.5"), "'energy_j'"),  # a string is not a number here
        (row(energy_j=True), "'energy_j'"),  # nor is a boolean
        (row(energy_j=-1.0), "'energy_j'"),
        (row(boundary="rack"), "'boundary'"),
        (row(run_id="someone.else.r01"), "not one of the runs"),
        (row(estimator_id="Bad Id!"), "'estimator_id'"),
        (row(watts=300), "unknown field"),
        ({k: v for k, v in row().items() if k != "energy_j"}, "required field is missing"),
        (row(unit="kWh"), "'unit'"),
        ("just a string", "expected an object"),
    ],
)
def test_wrong_types_and_fields_are_named(item, expected):
    with pytest.raises(EstimatorRejected) as err:
        parse([item])
    assert expected in str(err.value)


def test_every_problem_is_listed_and_nothing_is_kept():
    with pytest.raises(EstimatorRejected) as err:
        parse([row(), row(energy_j="x"), row(boundary="rack")])
    message = str(err.value)
    assert "2 problem(s)" in message and "[1]" in message and "[2]" in message and "none of it is kept" in message


def test_a_second_estimate_for_the_same_run_and_boundary_is_refused():
    with pytest.raises(EstimatorRejected) as err:
        parse([row(), row(energy_j=1.0)])
    assert "a second estimate" in str(err.value)


def test_one_submission_speaks_for_one_estimator():
    with pytest.raises(EstimatorRejected) as err:
        parse([row(), row(run_id="site.b.r01", estimator_id="codecarbon")])
    assert "names 2" in str(err.value)


def test_more_rows_than_runs_times_boundaries_is_refused_before_validation():
    with pytest.raises(EstimatorRejected) as err:
        parse([row()] * 9)  # 2 runs x 4 boundaries = 8 at most
    assert "at most one per run and boundary" in str(err.value)


def test_output_over_the_byte_limit_is_refused():
    with pytest.raises(EstimatorRejected) as err:
        parse_estimates(json.dumps([row()]).encode(), RUNS, WHO, max_bytes=10)
    assert "limit" in str(err.value)


def outcome(**overrides) -> Outcome:
    base = dict(stdout=b"[]", stderr_tail=b"", status=0, oom_killed=False, timed_out=False, output_overflow=False, seconds=1.0)
    base.update(overrides)
    return Outcome(**base)


@pytest.mark.parametrize(
    "changes, expected",
    [
        (dict(timed_out=True, status=137), "time limit of 3 s"),
        (dict(output_overflow=True, status=137), "more than 1,024 bytes"),
        (dict(oom_killed=True, status=137), "memory limit of 64 MiB"),
        (dict(status=1, stderr_tail=b"Traceback\nValueError: boom\x1b[31m"), "exited with status 1"),
    ],
)
def test_verdicts_say_what_happened(changes, expected):
    limits = SandboxLimits(memory_mib=64, time_s=3, max_output_bytes=1024)
    with pytest.raises(EstimatorRejected) as err:
        judge(outcome(**changes), limits, WHO)
    assert expected in str(err.value)
    assert "\x1b" not in str(err.value)  # control characters from a stranger never reach the terminal


def test_a_clean_exit_passes_judgement():
    judge(outcome(), SandboxLimits(), WHO)


def test_limits_are_checked():
    with pytest.raises(InputError) as err:
        SandboxLimits(memory_mib=1, cpus=0, pids=0, time_s=-1)
    for field in ("memory_mib", "cpus", "pids", "time_s"):
        assert field in str(err.value)


def test_confinement_mounts_nothing_and_cuts_the_network():
    need_docker_sdk()
    options = host_config_options(SandboxLimits(memory_mib=64, cpus=0.5, pids=16))
    assert not {"binds", "volumes", "mounts", "devices", "device_requests", "privileged"} & set(options)
    assert options["network_mode"] == "none" and options["read_only"] is True
    assert options["mem_limit"] == options["memswap_limit"] == "64m"  # no swap to hide in
    assert options["nano_cpus"] == 500_000_000 and options["pids_limit"] == 16
    assert options["cap_drop"] == ["ALL"] and "no-new-privileges" in options["security_opt"]


def test_frames_are_split_across_reads_and_streams():
    def frame(stream, data):
        return struct.pack(">BxxxI", stream, len(data)) + data

    wire = frame(1, b"[1,") + frame(2, b"warning") + frame(1, b"2]")
    frames = _Frames()
    got = []
    for i in range(0, len(wire), 5):  # arrive in awkward pieces
        got += frames.feed(wire[i : i + 5])
    assert got == [(1, b"[1,"), (2, b"warning"), (1, b"2]")]


def test_the_facts_given_to_an_estimator_hold_no_metered_energy():
    from joulebench.formats import HardwareProfile, WorkloadSpec

    facts = RunFacts(
        run_id="site.a.r01",
        workload=WorkloadSpec.model_validate(VALID_WORKLOAD),
        profile=HardwareProfile.model_validate(VALID_PROFILE),
        duration_s=8.0,
        iterations=10,
        items=320,
        device_count=1,
    )
    [sent] = json.loads(facts_payload([facts]))
    assert sent["run_id"] == "site.a.r01" and sent["duration_s"] == 8.0
    assert not {"energy", "cross_checks", "trace", "live_estimates"} & set(sent)
