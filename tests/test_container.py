"""`joulebench run --container`: references, the recorded digest, what the engine is asked (no engine needed).

The same flow against a real engine, image build included, is in tests/container/.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from tests.optional import need_docker_sdk

docker = need_docker_sdk()

from joulebench.cli import main
from joulebench.errors import InputError
from joulebench.measure.container import (
    CONTAINER_RESULTS,
    ContainerError,
    container_options,
    image_digest,
    pinned_digest,
    repository,
    require_pinned,
    run_in_container,
)
from joulebench.measure.environment import IMAGE_DIGEST_ENV
from tests.doubles.fake_docker import FakeContainer, FakeDockerClient, FakeImage

DIGEST = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32
IMAGE_ID = "sha256:" + "ef" * 32
ARGV = ["run", "--track", "smoke", "--profile", "x86-cpu-server", "--site", "ci", "--out", CONTAINER_RESULTS]


@pytest.mark.parametrize(
    "reference, expected",
    [
        (f"joulebench@{DIGEST}", DIGEST),
        (f"registry.example:5000/lab/joulebench@{DIGEST}", DIGEST),
        ("joulebench:0.1.0", None),
        ("joulebench", None),
        (f"joulebench@sha256:{'ab' * 31}", None),  # 62 hex digits: not a digest
        (f"joulebench:0.1.0@{DIGEST.upper()}", None),  # digests are lower-case hex
        (DIGEST, None),  # a bare id has no name
    ],
)
def test_pinned_digest(reference, expected):
    assert pinned_digest(reference) == expected


def test_certified_refuses_a_tag_and_names_what_it_wants():
    with pytest.raises(InputError) as err:
        require_pinned("joulebench:0.1.0")
    assert "'joulebench:0.1.0'" in str(err.value) and "name@sha256:" in str(err.value)
    require_pinned(f"joulebench@{DIGEST}")  # no error


@pytest.mark.parametrize(
    "reference, expected",
    [
        ("joulebench:0.1.0", "joulebench"),
        ("registry.example:5000/lab/joulebench:1", "registry.example:5000/lab/joulebench"),
        ("registry.example:5000/lab/joulebench", "registry.example:5000/lab/joulebench"),
        (f"docker.io/library/python@{DIGEST}", "python"),
        ("docker.io/pytorch/pytorch:2.13.0-cuda12.6-cudnn9-runtime", "pytorch/pytorch"),
    ],
)
def test_repository_is_normalised_as_the_engine_writes_repo_digests(reference, expected):
    assert repository(reference) == expected


def test_digest_prefers_the_repo_digest_of_the_named_repository():
    attrs = {"Id": IMAGE_ID, "RepoDigests": [f"mirror.example/joulebench@{OTHER}", f"joulebench@{DIGEST}"]}
    assert image_digest(attrs, "joulebench:0.1.0") == f"joulebench@{DIGEST}"
    assert image_digest(attrs, f"mirror.example/joulebench@{OTHER}") == f"mirror.example/joulebench@{OTHER}"


def test_digest_of_a_locally_built_image_is_its_id():
    assert image_digest({"Id": IMAGE_ID, "RepoDigests": []}, "joulebench:dev") == IMAGE_ID
    assert image_digest({"Id": IMAGE_ID}, IMAGE_ID) == IMAGE_ID


def test_digest_refuses_an_engine_answer_without_an_id():
    with pytest.raises(ContainerError):
        image_digest({"Id": "", "RepoDigests": []}, "joulebench:dev")


def test_options_mount_results_pass_the_digest_and_request_gpus(tmp_path):
    options = container_options(IMAGE_ID, ARGV, tmp_path, gpus=True, digest=DIGEST)
    assert options["image"] == IMAGE_ID  # the resolved image, not a tag that may move
    assert options["volumes"] == {str(tmp_path): {"bind": CONTAINER_RESULTS, "mode": "rw"}}
    assert options["environment"][IMAGE_DIGEST_ENV] == DIGEST
    assert options["user"] == f"{os.getuid()}:{os.getgid()}"
    [request] = options["device_requests"]
    assert request["Count"] == -1 and request["Capabilities"] == [["gpu"]]
    assert "device_requests" not in container_options(IMAGE_ID, ARGV, tmp_path, gpus=False, digest=DIGEST)


def test_options_add_the_results_folder_when_argv_has_none(tmp_path):
    options = container_options(IMAGE_ID, ARGV[:-2], tmp_path, gpus=False, digest=DIGEST)
    assert options["command"][-2:] == ["--out", CONTAINER_RESULTS]
    with pytest.raises(ValueError):
        container_options(IMAGE_ID, ARGV[:-1] + ["results"], tmp_path, gpus=False, digest=DIGEST)


def test_run_streams_the_log_returns_the_status_and_removes_the_container(tmp_path):
    container = FakeContainer([b"window 1\n", b"window 2\n"], status_code=3)
    client = FakeDockerClient(held={"joulebench:dev": FakeImage(IMAGE_ID, {"Id": IMAGE_ID, "RepoDigests": []})},
                              container=container)
    log = io.StringIO()
    code = run_in_container("joulebench:dev", ARGV, tmp_path / "out", gpus=False, client=client, log=log)
    assert code == 3
    assert "window 1\nwindow 2\n" in log.getvalue() and IMAGE_ID in log.getvalue()
    assert container.started and container.removed
    [options] = client.containers.create_calls
    assert options["environment"][IMAGE_DIGEST_ENV] == IMAGE_ID
    assert (tmp_path / "out").is_dir()


def test_run_pulls_an_image_the_engine_lacks(tmp_path):
    reference = f"joulebench@{DIGEST}"
    client = FakeDockerClient(pullable={reference: FakeImage(IMAGE_ID, {"Id": IMAGE_ID, "RepoDigests": [reference]})})
    assert run_in_container(reference, ARGV, tmp_path, gpus=False, certified=True, client=client, log=io.StringIO()) == 0
    assert client.images.pulled == [reference]
    assert client.containers.create_calls[0]["environment"][IMAGE_DIGEST_ENV] == reference


def test_an_image_that_cannot_be_found_or_pulled_is_an_input_error(tmp_path):
    with pytest.raises(InputError) as err:
        run_in_container("nosuch:1", ARGV, tmp_path, gpus=False, client=FakeDockerClient(), log=io.StringIO())
    assert "'nosuch:1'" in str(err.value)


def test_certified_refuses_a_tag_before_asking_the_engine(tmp_path):
    client = FakeDockerClient(held={"joulebench:dev": FakeImage(IMAGE_ID, {"Id": IMAGE_ID})})
    with pytest.raises(InputError):
        run_in_container("joulebench:dev", ARGV, tmp_path, gpus=False, certified=True, client=client)
    assert client.containers.create_calls == []


def test_an_engine_without_gpu_support_gets_a_message_that_names_the_fix(tmp_path):
    error = docker.errors.APIError('could not select device driver "" with capabilities: [[gpu]]')
    container = FakeContainer([], start_error=error)
    client = FakeDockerClient(held={"joulebench:dev": FakeImage(IMAGE_ID, {"Id": IMAGE_ID})}, container=container)
    with pytest.raises(ContainerError) as err:
        run_in_container("joulebench:dev", ARGV, tmp_path, gpus=True, client=client, log=io.StringIO())
    assert "NVIDIA Container Toolkit" in str(err.value)
    assert container.removed  # a container that never started is not left behind


def test_cli_certified_run_with_a_tag_exits_2_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "results"
    code = main(["run", "--container", "joulebench:dev", "--certified", "--track", "smoke",
                 "--profile", "x86-cpu-server", "--site", "ci", "--out", str(out)])
    assert code == 2
    assert "name@sha256:" in capsys.readouterr().err
    assert not out.exists()


def test_dockerfile_pins_its_base_by_digest_and_installs_only_hashed_files():
    text = (Path(__file__).resolve().parent.parent / "Dockerfile").read_text()
    base = next(line for line in text.splitlines() if line.startswith("ARG BASE_IMAGE="))
    assert pinned_digest(base.split("=", 1)[1]) is not None
    assert "FROM ${BASE_IMAGE}" in text
    installs = [line for line in text.splitlines() if "pip\" install" in line and "-r " in line]
    assert installs and all("--require-hashes" in line for line in installs)
    assert 'ENTRYPOINT ["joulebench"]' in text
    user = [line for line in text.splitlines() if line.startswith("USER ")]
    assert user and user[-1].split()[1].split(":")[0] not in ("0", "root")


def test_a_meters_file_brings_its_password_and_ca_files_read_only_and_its_variables(tmp_path, monkeypatch):
    from joulebench.measure.container import site_files

    site = tmp_path / "site"
    site.mkdir()
    (site / "wall.secret").write_text("hunter2\n")
    (site / "wall.secret").chmod(0o600)
    (tmp_path / "bmc-ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    (site / "meters.yaml").write_text(
        "meters:\n"
        "  - {id: bmc, kind: redfish, url: 'https://bmc.example.internal', ca_file: bmc-ca.pem,\n"
        "     credentials: {username: monitor, password_env: JB_TEST_BMC_PASSWORD}}\n"
        "  - {id: wall, kind: shelly, role: cross-check, url: 'http://192.0.2.10',\n"
        "     credentials: {password_file: wall.secret}}\n"
    )
    monkeypatch.chdir(tmp_path)
    argv = ARGV + ["--meters", "site/meters.yaml"]
    found = site_files(argv, environ={"JB_TEST_BMC_PASSWORD": "s3cret", "UNRELATED": "x"})
    assert found.argv[-1] == str(site / "meters.yaml")  # absolute: it means the same inside
    assert set(found.files) == {site / "meters.yaml", site / "wall.secret", tmp_path / "bmc-ca.pem"}
    assert found.environment == {"JB_TEST_BMC_PASSWORD": "s3cret"}

    options = container_options(IMAGE_ID, argv, tmp_path / "out", gpus=False, digest=DIGEST, site=found)
    for path in found.files:
        assert options["volumes"][str(path)] == {"bind": str(path), "mode": "ro"}
    assert options["environment"]["JB_TEST_BMC_PASSWORD"] == "s3cret" and "UNRELATED" not in options["environment"]
    assert options["working_dir"] == str(tmp_path)


def test_a_bad_meters_file_is_reported_before_the_engine_is_asked(tmp_path):
    (tmp_path / "meters.yaml").write_text("meters: []\n")
    client = FakeDockerClient(held={"joulebench:dev": FakeImage(IMAGE_ID, {"Id": IMAGE_ID})})
    with pytest.raises(InputError) as err:
        run_in_container("joulebench:dev", ARGV + ["--meters", str(tmp_path / "meters.yaml")], tmp_path, gpus=False, client=client)
    assert "meters.yaml" in str(err.value)
    assert client.containers.create_calls == []
