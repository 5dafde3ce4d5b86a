"""The file-format additions the imported studies brought (issue 11): additive, and invisible to older files."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from joulebench import catalog
from joulebench.formats import (
    HardwareProfile,
    RunFacts,
    RunRecord,
    TruthUncertainty,
    WorkloadSpec,
)
from tests.doubles.records import make_profile, make_record

NEW_KEYS = {"node_count", "power_limit_w", "float64", "uncertainty", "concurrency", "study", "license", "notice", "lines"}


def _keys(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def test_catalog_files_and_older_records_serialise_without_the_new_fields():
    for spec in catalog.load_workloads():
        assert not NEW_KEYS & _keys(json.loads(spec.model_dump_json())), spec.id
    for profile in catalog.load_profiles():
        assert not NEW_KEYS & _keys(json.loads(profile.model_dump_json())), profile.id
    record = make_record("w1", truth={"gpu": 1.0, "node": 2.0}, truth_bound_pct=None)  # as before issue 11
    text = record.model_dump_json(indent=1)
    assert not NEW_KEYS & _keys(json.loads(text))
    assert RunRecord.model_validate_json(text).model_dump_json(indent=1) == text
    assert "concurrency" not in RunFacts.from_record(record).model_dump_json()


def test_a_node_count_above_one_is_written_and_changes_the_hash():
    one = make_profile()
    two = HardwareProfile.model_validate({**json.loads(one.model_dump_json()), "node_count": 2})
    assert '"node_count":2' in two.model_dump_json() and two.profile_hash != one.profile_hash
    assert HardwareProfile.model_validate({**json.loads(one.model_dump_json()), "node_count": 1}) == one


def test_unknown_numbers_are_null_not_absent():
    data = json.loads(make_profile().model_dump_json())
    del data["accelerator"]["tdp_w"]
    with pytest.raises(ValidationError, match="tdp_w"):
        HardwareProfile.model_validate(data)  # "not stated" is written as null, explicitly
    data["accelerator"]["tdp_w"] = None
    assert HardwareProfile.model_validate(data).accelerator.tdp_w is None


def test_only_an_external_workload_may_leave_params_and_shapes_unknown():
    base = json.loads(make_record("w1", truth={"gpu": 1.0}).workload.model_dump_json())
    with pytest.raises(ValidationError, match="params is required"):
        WorkloadSpec.model_validate({**base, "params": None})
    external = {**base, "model": {"library": "external", "architecture": "npb_mg", "config": {}}, "domain": "hpc",
                "task": "compute", "dtype": "float64", "params": None, "flops_per_iteration": None, "image_size": None,
                "optimizer": None, "learning_rate": None, "seq_len": None, "new_tokens": None}
    spec = WorkloadSpec.model_validate(external)
    assert spec.params is None and spec.tokens_per_iteration is None


def test_truth_uncertainty_is_a_non_negative_bound_with_its_basis():
    u = TruthUncertainty(bound_pct=1.04, covers_meter_accuracy=True, basis="analyser 1% + edges")
    assert u.bound_pct == 1.04
    with pytest.raises(ValidationError):
        TruthUncertainty(bound_pct=-1, covers_meter_accuracy=True, basis="x")
