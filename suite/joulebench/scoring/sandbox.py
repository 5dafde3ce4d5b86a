"""Scoring estimators from strangers: a submitted static estimator runs in a sandbox.

A submission is an image (and optionally the command to run in it). The run
facts go in as JSON on standard input: a list of `RunFacts`, what any user
could know about each run and never its metered energy. The estimates come out
as JSON on standard output: a list of
`{"run_id", "boundary", "energy_j", "estimator_id", "estimator_version"}`.

The container gets nothing else: no network (`--network none`), a read-only
root filesystem with a small /tmp in memory, no capabilities and no privilege
gain, and limits on memory (no swap), CPU, processes and wall time. Nothing of
the host is mounted, so the scorer, the repository and the results are out of
its reach. Its output is read here with a byte limit, parsed strictly (NaN,
Infinity, wrong types, unknown runs and fields are refused) and handed back
as `Estimate`s; an estimator that is killed, late, too loud or wrong is
rejected with a message that says which, and nothing it produced is kept.

`joulebench sandbox estimate --image IMG --runs results --out FILE` writes the
estimates as an estimates file; `joulebench score --submission FILE` scores it.
"""

from __future__ import annotations

import json
import math
import re
import select
import shlex
import socket
import struct
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from joulebench.errors import InputError
from joulebench.formats import BOUNDARIES, Estimate, RunFacts

# The unprivileged "nobody" of Debian and most bases; the image's own user is not trusted.
SANDBOX_USER = "65534:65534"
STDERR_TAIL_BYTES = 4096
MAX_PROBLEMS_SHOWN = 20


class EstimatorRejected(InputError):
    """A sandboxed estimator failed or produced output that cannot be scored (exit 2)."""


@dataclass(frozen=True)
class SandboxLimits:
    memory_mib: int = 512
    cpus: float = 1.0
    pids: int = 64
    time_s: float = 120.0
    max_output_bytes: int = 16 * 1024 * 1024
    tmp_mib: int = 16

    def __post_init__(self) -> None:
        problems = []
        if self.memory_mib < 8:
            problems.append(f"memory_mib: at least 8, got {self.memory_mib}")
        if not (0 < self.cpus <= 64):
            problems.append(f"cpus: between 0 and 64, got {self.cpus}")
        if self.pids < 1:
            problems.append(f"pids: at least 1, got {self.pids}")
        if not (0 < self.time_s <= 24 * 3600):
            problems.append(f"time_s: between 0 and 86400, got {self.time_s}")
        if self.max_output_bytes < 2:
            problems.append(f"max_output_bytes: at least 2, got {self.max_output_bytes}")
        if self.tmp_mib < 1:
            problems.append(f"tmp_mib: at least 1, got {self.tmp_mib}")
        if problems:
            raise InputError("sandbox limits: " + "; ".join(problems))


def host_config_options(limits: SandboxLimits) -> dict[str, Any]:
    """What confines the container; no key here mounts anything of the host."""
    from docker.types import LogConfig, Ulimit

    return {
        "network_mode": "none",
        "read_only": True,
        "mem_limit": f"{limits.memory_mib}m",
        # Equal to mem_limit: no swap, so going past the limit is a kill, not a slowdown.
        "memswap_limit": f"{limits.memory_mib}m",
        "nano_cpus": int(limits.cpus * 1e9),
        "pids_limit": limits.pids,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "tmpfs": {"/tmp": f"rw,noexec,nosuid,nodev,size={limits.tmp_mib}m"},
        "shm_size": f"{limits.tmp_mib}m",
        "ulimits": [Ulimit(name="nofile", soft=256, hard=256), Ulimit(name="core", soft=0, hard=0)],
        # Output is read from the attached stream with a limit; the engine keeps no log on disk.
        "log_config": LogConfig(type=LogConfig.types.NONE),
    }


# --------------------------------------------------------------------------- running it


@dataclass
class Outcome:
    """What happened to one sandboxed run."""

    stdout: bytes
    stderr_tail: bytes
    status: int | None
    oom_killed: bool
    timed_out: bool
    output_overflow: bool
    seconds: float


class _Frames:
    """Splits the engine's attach stream (8-byte header: stream, 0, 0, 0, size) into (stream, bytes)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self._buffer += data
        frames = []
        while len(self._buffer) >= 8:
            stream, size = self._buffer[0], struct.unpack(">I", self._buffer[4:8])[0]
            if len(self._buffer) < 8 + size:
                break
            frames.append((stream, bytes(self._buffer[8 : 8 + size])))
            del self._buffer[: 8 + size]
        return frames


def _feed_stdin(sock: socket.socket, payload: bytes) -> None:
    """Write the facts, then close our sending half: the estimator sees end of input."""
    try:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass  # the estimator exited or was killed without reading all of it


def run_contained(client, image_id: str, command: Sequence[str] | None, stdin: bytes, limits: SandboxLimits) -> Outcome:
    """Run one container under `limits`, feed it `stdin`, collect its output; always removes it."""
    api = client.api
    host_config = api.create_host_config(**host_config_options(limits))
    created = api.create_container(
        image=image_id,
        command=list(command) if command else None,
        user=SANDBOX_USER,
        stdin_open=True,  # with attach: stdin closes when we close our half
        network_disabled=True,
        working_dir="/tmp",
        environment={"HOME": "/tmp", "PYTHONDONTWRITEBYTECODE": "1"},
        labels={"org.joulebench.role": "sandbox"},
        host_config=host_config,
    )
    container_id = created["Id"]
    try:
        return _exchange(api, container_id, stdin, limits)
    finally:
        try:
            api.remove_container(container_id, force=True)
        except Exception:  # noqa: BLE001 - already gone is fine; the outcome matters more
            pass


def _hang_up(response_socket, sock: socket.socket) -> None:
    for closable in (sock, response_socket):
        try:
            closable.close()
        except OSError:
            pass


def _exchange(api, container_id: str, stdin: bytes, limits: SandboxLimits) -> Outcome:
    # Attach before start so that no output can be missed.
    response_socket = api.attach_socket(container_id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
    sock: socket.socket = getattr(response_socket, "_sock", response_socket)
    sock.setblocking(True)
    started = time.monotonic()
    deadline = started + limits.time_s
    api.start(container_id)
    writer = threading.Thread(target=_feed_stdin, args=(sock, stdin), daemon=True)
    writer.start()

    frames = _Frames()
    stdout = bytearray()
    stderr_tail = bytearray()
    timed_out = overflow = False
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            ready, _, _ = select.select([sock], [], [], min(remaining, 0.5))
            if not ready:
                continue
            try:
                chunk = sock.recv(1 << 16)
            except OSError:
                break
            if not chunk:
                break  # the container's streams closed: it has exited
            for stream, data in frames.feed(chunk):
                if stream == 1:
                    stdout += data
                    if len(stdout) > limits.max_output_bytes:
                        overflow = True
                elif stream == 2:
                    stderr_tail = (stderr_tail + data)[-STDERR_TAIL_BYTES:]
            if overflow:
                break
        status = None
        if not (timed_out or overflow):
            # Its streams are closed, but it may still be running (it closed them itself).
            try:
                status = api.wait(container_id, timeout=max(1.0, deadline - time.monotonic())).get("StatusCode")
            except Exception:  # noqa: BLE001 - the engine's read timed out: the clock ran out
                timed_out = True
        if timed_out or overflow:
            # Hang up first: the engine will not report the exit while it is
            # still trying to hand us output nobody reads.
            _hang_up(response_socket, sock)
            try:
                api.kill(container_id)
            except Exception:  # noqa: BLE001 - it may have exited in the meantime
                pass
            status = api.wait(container_id, timeout=60).get("StatusCode")
        state = api.inspect_container(container_id).get("State", {})
    finally:
        _hang_up(response_socket, sock)
    return Outcome(
        stdout=bytes(stdout[: limits.max_output_bytes + 1]),
        stderr_tail=bytes(stderr_tail),
        status=status,
        oom_killed=bool(state.get("OOMKilled")),
        timed_out=timed_out,
        output_overflow=overflow,
        seconds=time.monotonic() - started,
    )


# --------------------------------------------------------------------------- judging the output


def _stderr_excerpt(tail: bytes) -> str:
    text = tail.decode("utf-8", errors="replace")
    text = re.sub(r"[^\S\n]+", " ", re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", "?", text))
    lines = [line for line in text.strip().splitlines() if line.strip()][-15:]
    return "".join(f"\n  | {line[:300]}" for line in lines)


def judge(outcome: Outcome, limits: SandboxLimits, who: str) -> None:
    """Refuse an outcome whose output must not be read; the message says what happened."""
    if outcome.timed_out:
        raise EstimatorRejected(
            f"{who}: did not finish within its time limit of {limits.time_s:g} s and was stopped"
            + _stderr_excerpt(outcome.stderr_tail)
        )
    if outcome.output_overflow:
        raise EstimatorRejected(
            f"{who}: wrote more than {limits.max_output_bytes:,} bytes to standard output (the limit); "
            "it was stopped and its output refused"
        )
    if outcome.oom_killed:
        raise EstimatorRejected(
            f"{who}: was killed for going past its memory limit of {limits.memory_mib} MiB (exit status {outcome.status})"
            + _stderr_excerpt(outcome.stderr_tail)
        )
    if outcome.status != 0:
        raise EstimatorRejected(f"{who}: exited with status {outcome.status}; its output is refused" + _stderr_excerpt(outcome.stderr_tail))


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows (estimates must be finite)")


def _problem(index: int, err: dict) -> str:
    loc = ".".join(str(p) for p in err["loc"]) or "(item)"
    got = err.get("input")
    shown = repr(got) if len(repr(got)) <= 60 else repr(got)[:57] + "..."
    if err["type"] == "extra_forbidden":
        return f"[{index}]: field '{loc}': unknown field (expected run_id, boundary, energy_j, estimator_id, estimator_version)"
    if err["type"] == "missing":
        return f"[{index}]: field '{loc}': required field is missing"
    return f"[{index}]: field '{loc}': {err['msg']} (got {shown})"


def parse_estimates(raw: bytes, run_ids: set[str], who: str, max_bytes: int | None = None,
                    allow_empty: bool = False) -> list[Estimate]:
    """Strictly parse an estimator's standard output; every problem is listed, then it is refused whole.

    `allow_empty`: an empty list is an answer (it covers none of these runs) rather than a refusal; the
    registry allows it, since an image cannot know which runs a results folder holds.
    """
    if max_bytes is not None and len(raw) > max_bytes:
        raise EstimatorRejected(f"{who}: output of {len(raw):,} bytes is over the {max_bytes:,}-byte limit")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EstimatorRejected(f"{who}: output is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if not text.strip():
        raise EstimatorRejected(f"{who}: wrote nothing to standard output; expected a JSON list of estimates")
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise EstimatorRejected(f"{who}: output is nested too deeply to be a list of estimates") from None
    except ValueError as exc:
        raise EstimatorRejected(f"{who}: output is not valid JSON: {exc}") from None
    if not isinstance(data, list):
        raise EstimatorRejected(f"{who}: output must be a JSON list of estimates, got a JSON {type(data).__name__}")
    if not data:
        if allow_empty:
            return []
        raise EstimatorRejected(f"{who}: output is an empty list; it estimated nothing")
    most = len(run_ids) * len(BOUNDARIES)
    if len(data) > most:
        raise EstimatorRejected(f"{who}: {len(data):,} estimates for {len(run_ids)} run(s); at most one per run and boundary ({most})")

    problems: list[str] = []
    estimates: list[Estimate] = []
    seen: dict[tuple[str, str], int] = {}
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            problems.append(f"[{index}]: expected an object, got a JSON {type(item).__name__}")
            continue
        try:
            # strict: "12" is not a number and true is not 1.0; a stranger's output is taken literally.
            estimate = Estimate.model_validate(item, strict=True)
        except ValidationError as exc:
            problems.extend(_problem(index, err) for err in exc.errors())
            continue
        if not math.isfinite(estimate.energy_j):
            problems.append(f"[{index}]: field 'energy_j': expected a finite number, got {estimate.energy_j!r}")
            continue
        if estimate.run_id not in run_ids:
            problems.append(f"[{index}]: field 'run_id': {estimate.run_id[:120]!r} is not one of the runs it was given")
            continue
        key = (estimate.run_id, estimate.boundary)
        if key in seen:
            problems.append(f"[{index}]: a second estimate for run {estimate.run_id!r}, boundary {estimate.boundary} (first at [{seen[key]}])")
            continue
        seen[key] = index
        estimates.append(estimate)
    names = sorted({(e.estimator_id, e.estimator_version) for e in estimates})
    if len(names) > 1:
        listed = ", ".join(f"{i} {v}" for i, v in names[:5])
        problems.append(f"one submission is one estimator, but the output names {len(names)}: {listed}")
    if problems:
        shown = problems[:MAX_PROBLEMS_SHOWN]
        more = f"\n  ... and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
        raise EstimatorRejected(f"{who}: {len(problems)} problem(s) in its output; none of it is kept:\n  " + "\n  ".join(shown) + more)
    return estimates


# --------------------------------------------------------------------------- the whole step


def facts_payload(facts: Sequence[RunFacts]) -> bytes:
    return json.dumps([f.model_dump(mode="json") for f in facts], separators=(",", ":")).encode("utf-8")


def estimate_in_sandbox(
    image: str,
    facts: Sequence[RunFacts],
    command: Sequence[str] | None = None,
    limits: SandboxLimits = SandboxLimits(),
    client=None,
    allow_empty: bool = False,
) -> list[Estimate]:
    """Run a submitted estimator over `facts` in the sandbox; its validated estimates, or EstimatorRejected."""
    from joulebench.measure.container import docker_client, resolve_image

    if not facts:
        raise InputError("no run facts to give the estimator")
    client = client or docker_client()
    resolved = resolve_image(client, image)
    who = f"estimator image {image}"
    if command:
        shown = " ".join(shlex.quote(part) for part in command).replace("\n", " ")
        who += f" (command: {shown if len(shown) <= 60 else shown[:57] + '...'})"
    outcome = run_contained(client, resolved.id, command, facts_payload(facts), limits)
    judge(outcome, limits, who)
    return parse_estimates(outcome.stdout, {f.run_id for f in facts}, who, limits.max_output_bytes, allow_empty)


class ImageUnavailable(Exception):
    """An image submission cannot be built on this machine (no SDK, no engine, no base image): not its fault."""


def docker_engine():
    """The local engine's client, or ImageUnavailable saying what is missing."""
    from joulebench.errors import JoulebenchError
    from joulebench.measure.container import docker_client

    try:
        return docker_client()
    except JoulebenchError as exc:
        raise ImageUnavailable(str(exc)) from None


def build_image(client, folder: Path, dockerfile: str, base_image: str, tag: str) -> str:
    """Build a submission's image from its folder on a local base (nothing is pulled); returns the image id.

    ImageUnavailable when the base is not on this engine; InputError with the build's log when the
    Dockerfile fails to build.
    """
    import docker

    try:
        client.images.get(base_image)
    except docker.errors.ImageNotFound:
        raise ImageUnavailable(f"its base image {base_image} is not on this Docker engine (nothing is pulled; "
                               "scripts/build_base_image.sh builds the Debian base locally)") from None
    except docker.errors.DockerException as exc:
        raise ImageUnavailable(f"the Docker engine could not look up {base_image}: {exc}") from None
    log: list[str] = []
    image_id = None
    try:
        for event in client.api.build(path=str(folder), dockerfile=dockerfile, tag=tag, rm=True, forcerm=True,
                                      pull=False, decode=True, buildargs={"BASE_IMAGE": base_image},
                                      labels={"org.joulebench.role": "submission"}):
            if "stream" in event:
                log.append(str(event["stream"]))
            if "error" in event:
                log.append(str(event["error"]))
                tail = "".join(log).strip().splitlines()[-15:]
                raise InputError("the image does not build:" + "".join(f"\n  | {line[:300]}" for line in tail))
            if "aux" in event and isinstance(event["aux"], dict) and "ID" in event["aux"]:
                image_id = event["aux"]["ID"]
    except docker.errors.DockerException as exc:
        raise InputError(f"the image does not build: {exc}") from None
    if image_id is None:
        image_id = client.images.get(tag).id
    return image_id


def facts_from_runs(runs_dir: Path) -> list[RunFacts]:
    from joulebench.records import load_records

    records = load_records(Path(runs_dir))
    if not records:
        raise InputError(f"no runs in {runs_dir} (expected run records at {runs_dir}/<site>/<run_id>.json)")
    return [RunFacts.from_record(record) for record in records]
