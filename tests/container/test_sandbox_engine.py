"""The estimator sandbox against a real engine: a well-behaved estimator and hostile ones.

Each hostile estimator would print valid estimates if the sandbox let it do
what it tries, so a rejection can only come from the sandbox. The estimators
are short Python programs run in the local Debian base image.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import threading
import time

import pytest

from joulebench.cli import main
from joulebench.formats import RunFacts
from joulebench.scoring.sandbox import (
    EstimatorRejected,
    SandboxLimits,
    estimate_in_sandbox,
)
from tests.doubles.records import make_record, write_records

# Reads the facts from stdin and answers TDP x time for every run: a valid submission.
ANSWER = (
    "import json, sys\n"
    "facts = json.load(sys.stdin)\n"
    "print(json.dumps([{'run_id': f['run_id'], 'boundary': 'gpu', 'energy_j': 700.0 * f['duration_s'],\n"
    "                   'estimator_id': 'tdp-toy', 'estimator_version': '1'} for f in facts]))\n"
)
LIMITS = SandboxLimits(memory_mib=64, cpus=1.0, pids=32, time_s=20, max_output_bytes=1 << 20)


@pytest.fixture(scope="module")
def facts() -> list[RunFacts]:
    records = [make_record("resnet50-train", truth={"gpu": 5000.0}, repeat=r, duration_s=8.0) for r in (1, 2)]
    return [RunFacts.from_record(r) for r in records]


def python(script: str) -> list[str]:
    return ["python3", "-c", script]


def test_a_well_behaved_estimator_is_read(docker_client, base_image, facts):
    estimates = estimate_in_sandbox(base_image, facts, python(ANSWER), LIMITS, docker_client)
    assert {(e.run_id, e.boundary, e.energy_j) for e in estimates} == {(f.run_id, "gpu", 5600.0) for f in facts}


class Listener:
    """A TCP server on this host that counts who got through."""

    def __init__(self):
        self.server = socket.create_server(("0.0.0.0", 0))
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                connection, _ = self.server.accept()
            except OSError:
                continue
            self.accepted += 1
            connection.close()

    def close(self):
        self._stop.set()
        self._thread.join()
        self.server.close()


def test_an_estimator_that_opens_a_socket_fails(docker_client, base_image, facts):
    config = docker_client.networks.get("bridge").attrs["IPAM"]["Config"][0]
    # The host's address on the engine's bridge (the engine leaves Gateway out when it is the default).
    gateway = config.get("Gateway") or str(ipaddress.ip_network(config["Subnet"])[1])
    listener = Listener()
    try:
        connect = f"import socket\nsocket.create_connection(({gateway!r}, {listener.port}), timeout=5).close()\n"
        # Control: on the engine's ordinary network the same connection does reach this host.
        docker_client.containers.run(base_image, python(connect), remove=True)
        assert listener.accepted == 1
        phone_home = connect + ANSWER
        with pytest.raises(EstimatorRejected) as err:
            estimate_in_sandbox(base_image, facts, python(phone_home), LIMITS, docker_client)
        time.sleep(0.5)
        assert listener.accepted == 1  # nothing more got through
    finally:
        listener.close()
    assert "exited with status 1" in str(err.value) and "Network is unreachable" in str(err.value)


HOG = "blob = b'x' * (256 << 20)\n" + ANSWER  # touches every page: 256 MiB resident


def test_an_estimator_past_its_memory_limit_is_killed_and_reported(docker_client, base_image, facts):
    with pytest.raises(EstimatorRejected) as err:
        estimate_in_sandbox(base_image, facts, python(HOG), LIMITS, docker_client)
    assert "killed for going past its memory limit of 64 MiB" in str(err.value)
    # Control: with room for it, the same program answers.
    roomy = SandboxLimits(memory_mib=1024, time_s=LIMITS.time_s)
    assert len(estimate_in_sandbox(base_image, facts, python(HOG), roomy, docker_client)) == len(facts)


@pytest.mark.parametrize(
    "stall",
    ["import time\ntime.sleep(60)\n", "import os, time\nos.close(1)\nos.close(2)\ntime.sleep(60)\n"],
    ids=["sleeps", "closes-its-output-then-sleeps"],
)
def test_an_estimator_past_its_time_limit_is_stopped(docker_client, base_image, facts, stall):
    limits = SandboxLimits(memory_mib=64, time_s=2)
    started = time.monotonic()
    with pytest.raises(EstimatorRejected) as err:
        estimate_in_sandbox(base_image, facts, python(stall + ANSWER), limits, docker_client)
    assert time.monotonic() - started < 20
    assert "did not finish within its time limit of 2 s and was stopped" in str(err.value)


def test_a_flood_of_output_is_cut_off_and_refused(docker_client, base_image, facts):
    flood = "import sys\nwhile True:\n    sys.stdout.write('[' * 65536)\n"
    started = time.monotonic()
    with pytest.raises(EstimatorRejected) as err:
        estimate_in_sandbox(base_image, facts, python(flood), LIMITS, docker_client)
    assert time.monotonic() - started < LIMITS.time_s  # stopped at the byte limit, not at the clock
    assert "more than 1,048,576 bytes" in str(err.value)


@pytest.mark.parametrize(
    "script, expected",
    [
        ("open('/etc/joulebench-was-here', 'w').write('x')\n" + ANSWER, "Read-only file system"),
        ("print('[{\"run_id\": \"x\", \"boundary\": \"gpu\", \"energy_j\": NaN}]')", "NaN"),
        ("print(json.dumps([{'run_id': 'x'}]))\nimport json", "exited with status 1"),
        ("import json, sys\nfacts = json.load(sys.stdin)\nprint(json.dumps([{'run_id': facts[0]['run_id'], 'boundary': 'gpu', "
         "'energy_j': '5000', 'estimator_id': 'tdp-toy', 'estimator_version': '1'}]))", "'energy_j'"),
    ],
    ids=["writes-to-root", "nan", "crashes", "string-energy"],
)
def test_hostile_or_broken_estimators_are_refused(docker_client, base_image, facts, script, expected):
    with pytest.raises(EstimatorRejected) as err:
        estimate_in_sandbox(base_image, facts, python(script), LIMITS, docker_client)
    assert expected in str(err.value)
    assert not docker_client.containers.list(all=True, filters={"label": "org.joulebench.role=sandbox"})


def test_cli_writes_an_estimates_file_the_scorer_accepts(docker_client, base_image, tmp_path, capsys):
    runs = write_records(tmp_path / "results", [
        make_record(workload_id, truth={"gpu": 5000.0}, duration_s=8.0) for workload_id in ("resnet50-train", "bert-infer")
    ])
    out = tmp_path / "estimates.json"
    code = main(["sandbox", "estimate", "--image", base_image, "--runs", str(runs), "--out", str(out),
                 "--memory-mib", "64", "--time-limit-s", "20", "--", *python(ANSWER)])
    assert code == 0, capsys.readouterr().err
    written = json.loads(out.read_text())
    assert len(written["estimates"]) == 2
    capsys.readouterr()
    assert main(["score", "--runs", str(runs), "--submission", str(out), "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert "tdp-toy" in {e["id"] for e in summary["estimators"]}
