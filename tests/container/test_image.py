"""The image, for real: built from the repository's Dockerfile, the smoke track run inside it, its locks enforced.

The base is the local Debian of scripts/build_base_image.sh (no registry here);
torch is the CPU build from the local disk. That build has no torchvision
beside it (PyPI's torchvision does not import with it), so the smoke workloads
that need torchvision are left out here; the image for real sites gets torch
and torchvision from its CUDA base.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from joulebench import catalog
from joulebench.cli import main
from joulebench.measure.container import ContainerError, run_in_container
from joulebench.records import read_record as load_record
from tests.container import imagebuild

PROBE = (
    "import importlib.util, json, platform, torch; "
    "print(json.dumps({'python': platform.python_version(), 'torch': torch.__version__, "
    "'libraries': [m for m in ('torchvision', 'transformers') if importlib.util.find_spec(m)]}))"
)


@pytest.fixture(scope="module")
def inside(docker_client, suite_image) -> dict:
    """What the image holds, asked of the image itself."""
    output = docker_client.containers.run(suite_image, entrypoint="python", command=["-c", PROBE], remove=True)
    return json.loads(output)


def test_the_smoke_track_runs_inside_the_image_and_every_record_names_it(docker_client, suite_image, inside, tmp_path, capsys):
    specs = [s for s in catalog.load_workloads("smoke") if s.model.library in inside["libraries"]]
    assert specs, f"no smoke workload can be built from {inside['libraries']}"
    out = tmp_path / "results"
    only = [arg for spec in specs for arg in ("--only", spec.id)]
    # Through the CLI, as a user types it: run --container hands the run to the image.
    code = main(["run", "--container", suite_image, "--track", "smoke", "--profile", "x86-cpu-server",
                 "--site", "ci-container", "--idle-seconds", "0", "--allow-unmetered", "--out", str(out), *only])
    assert code == 0, capsys.readouterr().err[-3000:]

    files = sorted((out / "ci-container").glob("*.json"))
    assert len(files) == sum(s.repeats for s in specs)
    for path in files:
        record = load_record(path)
        assert record.environment.container_image_digest == suite_image  # a local build: its image id
        # It ran in the image, not on this host: the image's Python and torch.
        assert (record.environment.python, record.environment.torch) == (inside["python"], inside["torch"])
        assert path.stat().st_uid == os.getuid()  # the caller owns what the container wrote
    assert {load_record(p).workload.id for p in files} == {s.id for s in specs}


def test_the_image_is_labelled_runs_as_a_user_and_enters_joulebench(docker_client, suite_image, suite_version):
    image = docker_client.images.get(suite_image)
    labels = image.labels
    assert labels["org.opencontainers.image.version"] == suite_version
    assert labels["org.opencontainers.image.revision"] == "ci-test"
    assert labels["org.opencontainers.image.base.name"] == imagebuild.BASE_TAG
    assert image.attrs["Config"]["User"].split(":")[0] not in ("", "0", "root")
    assert image.attrs["Config"]["Entrypoint"] == ["joulebench"]
    output = docker_client.containers.run(suite_image, command=["--version"], remove=True)
    assert output.decode().strip() == f"joulebench {suite_version}"


def test_a_gpu_request_reaches_the_engine(docker_client, suite_image, tmp_path):
    if "nvidia" in (docker_client.info().get("Runtimes") or {}):
        pytest.skip("this engine has the NVIDIA runtime: the request would be granted, not refused")
    with pytest.raises(ContainerError) as err:
        run_in_container(suite_image, ["run", "--track", "smoke", "--profile", "nvidia-h100-sxm", "--site", "x"],
                         tmp_path, gpus=True, client=docker_client)
    assert "NVIDIA Container Toolkit" in str(err.value)
    assert not docker_client.containers.list(all=True, filters={"label": "org.joulebench.role=run"})


def _rich_block(text: str) -> str:
    return re.search(r"^rich==.*?(?=^\S)", text, flags=re.S | re.M).group(0)


def tamper_lock_hash(relative: str, path: Path) -> bytes | None:
    """Every hash pinned for `rich` replaced: the real wheel no longer matches its lock."""
    if relative != "requirements.lock":
        return None
    text = path.read_text()
    block = _rich_block(text)
    forged = re.sub(r"sha256:[0-9a-f]{64}", "sha256:" + "0" * 64, block)
    return text.replace(block, forged).encode()


def tamper_wheel(relative: str, path: Path) -> bytes | None:
    """The `rich` wheel with one byte more: a file that is not the one the lock names."""
    if not re.fullmatch(r"container-image/wheels/rich-.*\.whl", relative):
        return None
    return path.read_bytes() + b"\0"


@pytest.mark.parametrize("tamper", [tamper_lock_hash, tamper_wheel], ids=["hash-in-lock", "wheel-file"])
def test_a_file_that_does_not_match_the_lock_fails_the_build(docker_client, base_image, wheelhouse, suite_version,
                                                             suite_image, tamper, tmp_path):
    # suite_image (the same context, untampered) built: the only difference here is the tampering.
    context = imagebuild.write_context(tmp_path / "context.tar", wheelhouse, replace=tamper)
    with pytest.raises(imagebuild.BuildFailed) as failed:
        imagebuild.build(docker_client, context, "joulebench-test:tampered", base_image, suite_version)
    assert "DO NOT MATCH THE HASHES" in failed.value.log
    assert re.search(r"^\s*rich==", failed.value.log, flags=re.M)
