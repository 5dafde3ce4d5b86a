"""Schemas and catalog: good files load, every kind of bad file is refused clearly."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from joulebench import catalog, files
from joulebench.cli import main
from joulebench.errors import InputError
from joulebench.formats import HardwareProfile, WorkloadSpec

VALID_WORKLOAD = {
    "id": "tiny-cnn",
    "track": "mytrack",
    "domain": "vision",
    "task": "train",
    "model": {"library": "torchvision", "architecture": "mobilenet_v3_small", "config": {"num_classes": 10}},
    "dtype": "float32",
    "batch_size": 2,
    "image_size": 64,
    "optimizer": "sgd",
    "warmup_iterations": 1,
    "measured_iterations": 3,
    "repeats": 2,
    "seed": 0,
    "params": 1_000_000,
    "flops_per_iteration": 1.5e8,
}

VALID_PROFILE = {
    "id": "my-node",
    "name": "My node",
    "kind": "gpu",
    "accelerator": {
        "vendor": "nvidia",
        "model": "NVIDIA H100 SXM5 80GB",
        "match": ["H100"],
        "count": 1,
        "memory_gib": "80 GiB",
        "tdp_w": "700 W",
        "peak_tflops": {"float32": 67, "bfloat16": 989, "float16": 989},
    },
    "cpu": {"model": "Xeon", "match": ["Xeon"], "sockets": 2, "cores_per_socket": 56, "threads_per_core": 2, "tdp_w": 350},
    "memory": {"total_gib": 2048},
    "sources": ["https://www.nvidia.com/en-us/data-center/h100/"],
}


def write_workload(tmp_path: Path, data: dict, name: str = "tiny-cnn") -> Path:
    folder = tmp_path / "workloads" / "mytrack"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def write_profile(tmp_path: Path, data: dict, name: str = "my-node") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def mutate(base: dict, dotted: str, value=...) -> dict:
    data = copy.deepcopy(base)
    *parents, leaf = dotted.split(".")
    node = data
    for key in parents:
        node = node[key]
    if value is ...:
        del node[leaf]
    else:
        node[leaf] = value
    return data


def test_valid_files_load_and_units_are_parsed(tmp_path):
    spec = catalog.load_workload(write_workload(tmp_path, VALID_WORKLOAD))
    assert spec.batch_size == 2 and spec.tokens_per_iteration is None
    profile = catalog.load_profile(write_profile(tmp_path, VALID_PROFILE))
    assert profile.accelerator.tdp_w == 700.0
    assert profile.accelerator.memory_gib == 80.0


def test_spec_hash_is_stable_and_content_sensitive():
    a = WorkloadSpec.model_validate(VALID_WORKLOAD)
    b = WorkloadSpec.model_validate(copy.deepcopy(VALID_WORKLOAD))
    c = WorkloadSpec.model_validate(mutate(VALID_WORKLOAD, "batch_size", 4))
    assert a.spec_hash == b.spec_hash
    assert a.spec_hash != c.spec_hash
    assert len(a.spec_hash) == 64


BAD_WORKLOADS = [
    ("unknown key", mutate(VALID_WORKLOAD, "batchsize", 8), "batchsize", "unknown field"),
    ("nested unknown key", mutate(VALID_WORKLOAD, "model.archtecture", "x"), "model.archtecture", "unknown field"),
    ("wrong type", mutate(VALID_WORKLOAD, "batch_size", "many"), "batch_size", "valid integer"),
    ("missing field", mutate(VALID_WORKLOAD, "dtype"), "dtype", "required field is missing"),
    ("bad enum", mutate(VALID_WORKLOAD, "domain", "audio"), "domain", "Input should be 'vision', 'language'"),
    ("negative count", mutate(VALID_WORKLOAD, "measured_iterations", -5), "measured_iterations", "greater than 0"),
    ("vision without image size", mutate(VALID_WORKLOAD, "image_size"), "(top level)", "needs image_size"),
    ("optimizer on inference", mutate(VALID_WORKLOAD, "task", "infer"), "(top level)", "optimizer only applies"),
    ("wrong unit on a window", mutate(VALID_WORKLOAD, "target_window_s", "6 min"), "target_window_s", "expected a value in s"),
    ("transformers without model_type", mutate(VALID_WORKLOAD, "model.library", "transformers"), "model", "model_type"),
]


@pytest.mark.parametrize("label,data,field,expected", BAD_WORKLOADS, ids=[b[0] for b in BAD_WORKLOADS])
def test_bad_workload_names_file_field_and_expectation(tmp_path, capsys, label, data, field, expected):
    path = write_workload(tmp_path, data)
    assert main(["validate", "workload", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err
    assert f"field '{field}'" in err
    assert expected in err


BAD_PROFILES = [
    ("wrong unit", mutate(VALID_PROFILE, "accelerator.tdp_w", "0.7 kW"), "accelerator.tdp_w", "expected a value in W"),
    ("unit on wrong field", mutate(VALID_PROFILE, "memory.total_gib", "2048 GB"), "memory.total_gib", "expected a value in GiB"),
    ("gpu profile without accelerator", mutate(VALID_PROFILE, "accelerator"), "(top level)", "needs an accelerator"),
    ("bad boundary", mutate(VALID_PROFILE, "meters", [{"meter": "rapl", "boundary": "socket"}]), "meters.0.boundary", "'gpu'"),
    ("no sources", mutate(VALID_PROFILE, "sources", []), "sources", "at least 1 item"),
    ("id differs from file name", mutate(VALID_PROFILE, "id", "other-node"), "id", "expected the file name"),
]


@pytest.mark.parametrize("label,data,field,expected", BAD_PROFILES, ids=[b[0] for b in BAD_PROFILES])
def test_bad_profile_names_file_field_and_expectation(tmp_path, capsys, label, data, field, expected):
    path = write_profile(tmp_path, data)
    assert main(["validate", "profile", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and f"field '{field}'" in err and expected in err


@pytest.mark.parametrize(
    "text,expected",
    [
        ("id: a\nid: b\n", "duplicate key 'id'"),
        ("- just\n- a list\n", "expected a mapping"),
        ("id: [unclosed\n", "not valid YAML"),
        ("!!python/object/apply:os.system ['true']\n", "not valid YAML"),
        ("include: _missing.yaml\nid: x\n", "file not found"),
    ],
    ids=["duplicate key", "not a mapping", "syntax error", "code-running tag", "missing include"],
)
def test_unreadable_yaml_is_an_input_error(tmp_path, text, expected):
    path = tmp_path / "x.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match=expected) as info:
        files.read_yaml(path)
    assert str(path) in str(info.value) or "_missing.yaml" in str(info.value)


def test_include_merges_a_base_and_overrides(tmp_path):
    folder = tmp_path / "workloads" / "mytrack"
    folder.mkdir(parents=True)
    (folder / "_base.yaml").write_text(yaml.safe_dump(mutate(VALID_WORKLOAD, "id", "base")))
    (folder / "bigger.yaml").write_text("include: _base.yaml\nid: bigger\nbatch_size: 64\nmodel:\n  config:\n    num_classes: 5\n")
    specs = catalog.load_workloads("mytrack", root=tmp_path / "workloads")
    assert [s.id for s in specs] == ["bigger"]  # the base is not an entry
    assert specs[0].batch_size == 64
    assert specs[0].model.architecture == "mobilenet_v3_small"
    assert specs[0].model.config == {"num_classes": 5}


def test_unknown_track_and_profile_name_the_valid_ones(tmp_path):
    write_workload(tmp_path, VALID_WORKLOAD)
    with pytest.raises(InputError, match="tracks are: mytrack"):
        catalog.load_workloads("nope", root=tmp_path / "workloads")
    write_profile(tmp_path, VALID_PROFILE)
    with pytest.raises(InputError, match="Did you mean 'my-node'"):
        catalog.get_profile("my-nod", root=tmp_path)


def test_bad_run_record_is_refused(tmp_path, capsys):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"run_id": "x"}))
    assert main(["validate", "run", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "field 'suite_version': required field is missing" in err


@pytest.mark.parametrize("kind", ["workload", "profile", "run"])
def test_schema_command_prints_json_schema(capsys, kind):
    assert main(["schema", kind]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["type"] == "object"
    assert "properties" in schema and schema["additionalProperties"] is False


def test_profile_without_unit_suffix_roundtrips():
    profile = HardwareProfile.model_validate(VALID_PROFILE)
    again = HardwareProfile.model_validate_json(profile.model_dump_json())
    assert again == profile and again.profile_hash == profile.profile_hash
