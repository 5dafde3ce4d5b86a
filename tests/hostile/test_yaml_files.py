"""Hostile YAML: workloads, hardware profiles, meters configs and trusted-keys files, through `joulebench validate`."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import yaml

from tests.hostile.harness import (
    Case,
    fifo,
    link,
    parametrize,
    register,
    run_case,
    sparse,
    write,
)
from tests.test_catalog import VALID_PROFILE, VALID_WORKLOAD

# --------------------------------------------------------------------------- builders


def _set(data: dict, dotted: str, value) -> dict:
    data = copy.deepcopy(data)
    *parents, leaf = dotted.split(".")
    node = data
    for key in parents:
        node = node[key]
    node[leaf] = value
    return data


def workload_file(folder: Path, text: str | bytes | None = None, name: str = "tiny-cnn") -> Path:
    path = folder / "workloads" / "mytrack" / f"{name}.yaml"
    return write(path, yaml.safe_dump(VALID_WORKLOAD) if text is None else text)


def validate_workload(text: str | bytes | None = None, **edits):
    def make(folder: Path) -> list[str]:
        data = VALID_WORKLOAD
        for dotted, value in edits.items():
            data = _set(data, dotted.replace("__", "."), value)
        body = text if text is not None else yaml.safe_dump(data)
        return ["validate", "workload", str(workload_file(folder, body))]

    return make


def workload_yaml(extra: str) -> str:
    """The valid workload with raw YAML lines appended (for what safe_dump cannot write: tags, aliases)."""
    data = {k: v for k, v in VALID_WORKLOAD.items() if k not in extra.split(":")[0]}
    return yaml.safe_dump(data) + extra


def with_field(field: str, raw: str) -> str:
    data = {k: v for k, v in VALID_WORKLOAD.items() if k != field}
    return yaml.safe_dump(data) + f"{field}: {raw}\n"


def validate_file(kind: str, make_path):
    return lambda folder: ["validate", kind, str(make_path(folder))]


ALIAS_BOMB = """model:
  library: torchvision
  architecture: mobilenet_v3_small
  config:
    a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]
    b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
    c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
    d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
    e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
    f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
    g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
    h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
"""


def bomb_workload() -> str:
    data = {k: v for k, v in VALID_WORKLOAD.items() if k != "model"}
    return yaml.safe_dump(data) + ALIAS_BOMB


WORKLOADS = register("yaml: workload (validate workload)", [
    Case("workload_binary_file", validate_workload(b"\x00\x01\x02\xffid: x\n"), 2, ("tiny-cnn.yaml", "binary data")),
    Case("workload_utf16_text", validate_workload(yaml.safe_dump(VALID_WORKLOAD).encode("utf-16")), 2, ("UTF-16",)),
    Case("workload_latin1_bytes", validate_workload(b"id: caf\xe9\n"), 2, ("not UTF-8",)),
    Case("workload_is_a_directory", lambda f: ["validate", "workload", str((f / "d.yaml").mkdir() or f / "d.yaml")], 2,
         ("d.yaml", "is a folder")),
    Case("workload_missing_file", lambda f: ["validate", "workload", str(f / "nope.yaml")], 2, ("nope.yaml", "not found")),
    Case("workload_symlink_to_dev_zero", lambda f: ["validate", "workload", str(link(f / "z.yaml", "/dev/zero"))], 2,
         ("z.yaml", "is a device")),
    Case("workload_fifo_does_not_hang", lambda f: ["validate", "workload", str(fifo(f / "p.yaml"))], 2,
         ("p.yaml", "FIFO"), process=True),
    Case("workload_300mb_sparse_over_cap", lambda f: ["validate", "workload", str(sparse(f / "big.yaml", 300 * 2**20))], 2,
         ("big.yaml", "over the", "limit", "not read")),
    Case("workload_alias_bomb_in_model_config", validate_workload(bomb_workload()), 2, ("alias", "line")),
    Case("workload_python_object_tag", validate_workload(workload_yaml("seed: !!python/object/apply:os.system ['true']\n")),
         2, ("explicit tag",)),
    Case("workload_custom_tag", validate_workload(workload_yaml("seed: !include other.yaml\n")), 2, ("explicit tag",)),
    Case("workload_5000_nested_brackets", validate_workload(workload_yaml("seed: " + "[" * 5000 + "]" * 5000 + "\n")),
         2, ("nested more than",)),
    Case("workload_5000_digit_integer", validate_workload(workload_yaml("seed: " + "9" * 5000 + "\n")), 2,
         ("5000 digits",)),
    Case("workload_duplicate_key", validate_workload(yaml.safe_dump(VALID_WORKLOAD) + "seed: 1\n"), 2, ("duplicate key",)),
    Case("workload_top_level_list", validate_workload("- 1\n- 2\n"), 2, ("expected a mapping",)),
    Case("workload_empty_file", validate_workload(""), 2, ("expected a mapping",)),
    Case("workload_unknown_field", validate_workload(batchsize=3), 2, ("field 'batchsize'", "unknown field")),
    Case("workload_batch_size_boolean", validate_workload(batch_size=True), 2, ("field 'batch_size'", "integer")),
    Case("workload_batch_size_string", validate_workload(batch_size="2"), 2, ("field 'batch_size'", "integer")),
    Case("workload_batch_size_float", validate_workload(batch_size=2.5), 2, ("field 'batch_size'", "integer")),
    Case("workload_batch_size_1e40", validate_workload(with_field("batch_size", "1e40")), 2, ("field 'batch_size'",)),
    Case("workload_flops_infinity", validate_workload(with_field("flops_per_iteration", ".inf")), 2,
         ("field 'flops_per_iteration'", "finite")),
    Case("workload_flops_nan", validate_workload(with_field("flops_per_iteration", ".nan")), 2,
         ("field 'flops_per_iteration'", "finite")),
    Case("workload_flops_absurd", validate_workload(flops_per_iteration=1e30), 2, ("field 'flops_per_iteration'",)),
    Case("workload_negative_iterations", validate_workload(measured_iterations=-3), 2, ("field 'measured_iterations'",)),
    Case("workload_iterations_1e40", validate_workload(with_field("measured_iterations", "1e40")), 2,
         ("field 'measured_iterations'",)),
    Case("workload_description_ansi_escape", validate_workload(with_field("description", '"\\e[31mred\\e[0m"')), 2,
         ("field 'description'", "control characters")),
    Case("workload_description_nul", validate_workload(with_field("description", '"a\\0b"')), 2,
         ("field 'description'", "control characters")),
    Case("workload_include_cycle", lambda f: ["validate", "workload", str(workload_file(f, "include: tiny-cnn.yaml\n"))], 2,
         ("include cycle",)),
    Case("workload_include_escapes_the_folder", validate_workload("include: ../../../../../../etc/passwd\n"), 2,
         ("field 'include'", "the folder tree it may include from")),
    Case("workload_include_absolute_path", validate_workload("include: /etc/passwd\n"), 2,
         ("field 'include'", "relative file name")),
    Case("workload_include_missing", validate_workload("include: _nowhere.yaml\n"), 2, ("_nowhere.yaml", "not found")),
    Case("workload_include_a_list", validate_workload("include: [a, b]\n"), 2, ("field 'include'",)),
    Case("workload_id_not_its_file_name", validate_workload(id="other"), 2, ("field 'id'", "tiny-cnn")),
    Case("workload_model_config_nan", validate_workload(workload_yaml(
        "model: {library: torchvision, architecture: resnet50, config: {x: .nan}}\n")), 2, ("field 'model.config'", "finite")),
    Case("workload_model_config_too_deep", validate_workload(workload_yaml(
        "model: {library: torchvision, architecture: resnet50, config: " + "{a: " * 20 + "1" + "}" * 20 + "}\n")), 2,
        ("field 'model.config'", "nested more than")),
    Case("workload_100kb_id_not_echoed", validate_workload(id="x" * 100_000), 2, ("field 'id'", "(cut)")),
    Case("workload_architecture_code", validate_workload(model__architecture="__import__('os').system('x')"), 2,
         ("field 'model.architecture'",)),
    Case("workload_yaml_syntax_error", validate_workload("id: [unclosed\nsecret: hunter2\n"), 2,
         ("not valid YAML at line",)),
    Case("workload_pinned_with_formula", validate_workload(pinned_with={"torch": "=cmd|' /C calc'!A0"}), 2,
         ("field 'pinned_with.torch'",)),
    Case("workload_yaml_date_as_a_seed", validate_workload(with_field("seed", "2026-01-01")), 2, ("field 'seed'",)),
])


# --------------------------------------------------------------------------- profiles


def profile_text(edits: dict | None = None, raw: str = "") -> str:
    data = VALID_PROFILE
    for dotted, value in (edits or {}).items():
        data = _set(data, dotted, value)
    return yaml.safe_dump(data) + raw


def validate_profile(text: str | bytes):
    return lambda folder: ["validate", "profile", str(write(folder / "my-node.yaml", text))]


def profile_raw(dotted: str, raw: str) -> str:
    """The valid profile with accelerator/cpu field `dotted` written as raw YAML (flow style)."""
    section, leaf = dotted.split(".")
    data = copy.deepcopy(VALID_PROFILE)
    del data[section][leaf]
    body = yaml.safe_dump({k: v for k, v in data.items() if k != section})
    inner = ", ".join(f"{k}: {yaml.safe_dump(v, default_flow_style=True).strip()}" for k, v in data[section].items())
    return body + f"{section}: {{{inner}, {leaf}: {raw}}}\n"


PROFILES = register("yaml: hardware profile (validate profile)", [
    Case("profile_tdp_infinity", validate_profile(profile_raw("accelerator.tdp_w", ".inf")), 2,
         ("field 'accelerator.tdp_w'", "finite")),
    Case("profile_tdp_nan", validate_profile(profile_raw("accelerator.tdp_w", ".nan")), 2,
         ("field 'accelerator.tdp_w'", "finite")),
    Case("profile_tdp_in_kilowatts", validate_profile(profile_text({"accelerator.tdp_w": "0.7 kW"})), 2,
         ("field 'accelerator.tdp_w'", "expected a value in W")),
    Case("profile_tdp_boolean", validate_profile(profile_text({"accelerator.tdp_w": True})), 2,
         ("field 'accelerator.tdp_w'",)),
    Case("profile_tdp_a_gigawatt", validate_profile(profile_text({"accelerator.tdp_w": "1e9 W"})), 2,
         ("field 'accelerator.tdp_w'", "less than or equal")),
    Case("profile_tdp_text_not_a_number", validate_profile(profile_text({"accelerator.tdp_w": "lots of W"})), 2,
         ("field 'accelerator.tdp_w'", "expected a number in W")),
    Case("profile_accelerator_count_zero", validate_profile(profile_text({"accelerator.count": 0})), 2,
         ("field 'accelerator.count'",)),
    Case("profile_accelerator_count_a_million", validate_profile(profile_text({"accelerator.count": 10**6})), 2,
         ("field 'accelerator.count'",)),
    Case("profile_memory_negative", validate_profile(profile_text({"memory.total_gib": -1})), 2,
         ("field 'memory.total_gib'",)),
    Case("profile_pue_ten", validate_profile(profile_text({"pue": 10})), 2, ("field 'pue'",)),
    Case("profile_name_ansi_escape", validate_profile(profile_text({"name": "\x1b[2J\x1b[31mH100"})), 2,
         ("field 'name'", "control characters")),
    Case("profile_name_with_newline", validate_profile(profile_text({"name": "H100\nforged: line"})), 2,
         ("field 'name'", "one line")),
    Case("profile_gpu_kind_without_accelerator",
         validate_profile(yaml.safe_dump({k: v for k, v in VALID_PROFILE.items() if k != "accelerator"})), 2,
         ("needs an accelerator",)),
    Case("profile_cores_as_string", validate_profile(profile_text({"cpu.cores_per_socket": "56"})), 2,
         ("field 'cpu.cores_per_socket'",)),
    Case("profile_threads_per_core_64", validate_profile(profile_text({"cpu.threads_per_core": 64})), 2,
         ("field 'cpu.threads_per_core'",)),
    Case("profile_peak_tflops_infinity", validate_profile(profile_raw("accelerator.peak_tflops", "{float32: .inf, bfloat16: 1, float16: 1}")),
         2, ("field 'accelerator.peak_tflops.float32'", "finite")),
    Case("profile_alias_bomb", validate_profile(profile_text() + "x: &a [1, 2]\ny: [*a, *a]\n"), 2, ("alias",)),
    Case("profile_binary", validate_profile(b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 64), 2, ("my-node.yaml", "binary data")),
    Case("profile_id_path_traversal", validate_profile(profile_text({"id": "../../etc/passwd"})), 2, ("field 'id'",)),
    Case("profile_sources_empty", validate_profile(profile_text({"sources": []})), 2, ("field 'sources'",)),
])


# --------------------------------------------------------------------------- meters configs

METER = {"id": "bmc", "kind": "redfish", "url": "https://bmc.example.invalid",
         "credentials": {"username": "monitor", "password_env": "JOULEBENCH_TEST_BMC_PASSWORD"}}


def meters(*entries: dict, raw: str = "") -> Callable:
    text = yaml.safe_dump({"meters": list(entries)}) if entries else ""
    return lambda folder: ["validate", "meters", str(write(folder / "meters.yaml", text + raw))]


def meter(**edits) -> dict:
    data = copy.deepcopy(METER)
    for key, value in edits.items():
        data = _set(data, key.replace("__", "."), value)
    return data


METERS = register("yaml: meters config (validate meters)", [
    Case("meters_password_written_in_the_file", meters(meter(credentials={"username": "u", "password": "hunter2"})), 2,
         ("field 'meters.0.redfish.credentials'", "refused")),
    Case("meters_url_with_user_and_password", meters(meter(url="https://root:hunter2@bmc.example.invalid")), 2,
         ("field 'meters.0.redfish.url'", "user:password@")),
    Case("meters_url_bad_port", meters(meter(url="http://bmc:99999")), 2, ("field 'meters.0.redfish.url'", "cannot be parsed")),
    Case("meters_url_javascript_scheme", meters(meter(url="javascript:alert(1)")), 2,
         ("field 'meters.0.redfish.url'", "http://")),
    Case("meters_poll_period_infinity", meters(raw="meters:\n- {id: bmc, kind: redfish, url: 'https://b.invalid', poll_period_s: .inf}\n"),
         2, ("poll_period_s", "finite")),
    Case("meters_poll_period_zero", meters(meter(poll_period_s=0)), 2, ("poll_period_s",)),
    Case("meters_unknown_kind", meters(meter(kind="telnet")), 2, ("field 'meters.0'", "kind")),
    Case("meters_duplicate_ids", meters(meter(), meter(role="cross-check")), 2, ("unique",)),
    Case("meters_two_primary_node_meters", meters(meter(), meter(id="plug")), 2, ("more than one primary",)),
    Case("meters_alias_bomb", meters(raw="a: &a [1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a]\nmeters: *b\n"), 2,
         ("alias",)),
    Case("meters_binary_file", lambda f: ["validate", "meters", str(write(f / "m.yaml", b"\x00\xff" * 50))], 2,
         ("m.yaml", "binary data")),
    Case("meters_config_is_a_directory", lambda f: ["validate", "meters", str((f / "m.yaml").mkdir() or f / "m.yaml")], 2,
         ("m.yaml", "is a folder")),
    Case("meters_empty_list", meters(raw="meters: []\n"), 2, ("field 'meters'",)),
    Case("meters_id_formula", meters(meter(id="=cmd|' /C calc'!A0")), 2, ("field 'meters.0.redfish.id'",)),
    Case("meters_password_env_shell_injection", meters(meter(credentials__password_env="$(rm -rf ~)")), 2,
         ("password_env",)),
    Case("meters_chassis_path_traversal", meters(meter(chassis="../../Managers/1")), 2, ("chassis",)),
])


# --------------------------------------------------------------------------- trusted keys

KEY = "MCowBQYDK2VwAyEAaZ6CZjeYC3qEd1Q4RHzMUvQ8LrhNBNNqUpHMI9fNAA0="  # 44 bytes: a DER key, not the raw 32 bytes
RAW = "Q29tcGxldGVseSByYW5kb20gMzItYnl0ZSBrZXkhISE="  # 32 bytes


def keys_file(*entries: dict, raw: str = "") -> Callable:
    text = yaml.safe_dump({"schema_version": 1, "keys": list(entries)}) if entries else ""
    return lambda folder: ["validate", "trusted-keys", str(write(folder / "trusted-keys.yaml", text + raw))]


KEYS = register("yaml: trusted-keys file (validate trusted-keys)", [
    Case("keys_public_key_not_base64", keys_file({"id": "a", "public_key": "not base64!", "sites": ["lab"]}), 2,
         ("field 'keys.0.public_key'", "base64")),
    Case("keys_public_key_wrong_length", keys_file({"id": "a", "public_key": KEY, "sites": ["lab"]}), 2,
         ("field 'keys.0.public_key'", "32 bytes")),
    Case("keys_entry_without_sites", keys_file({"id": "a", "public_key": RAW, "sites": []}), 2, ("field 'keys.0.sites'",)),
    Case("keys_same_key_twice", keys_file({"id": "a", "public_key": RAW, "sites": ["x"]},
                                          {"id": "b", "public_key": RAW, "sites": ["y"]}), 2, ("listed twice",)),
    Case("keys_alias", keys_file(raw="keys: &k []\nextra: *k\n"), 2, ("alias",)),
    Case("keys_site_wildcard", keys_file({"id": "a", "public_key": RAW, "sites": ["*"]}), 2, ("field 'keys.0.sites.0'",)),
])


@parametrize(WORKLOADS + PROFILES + METERS + KEYS)
def test_hostile_yaml(case, tmp_path, capsys, monkeypatch):
    run_case(case, tmp_path, capsys, monkeypatch)
