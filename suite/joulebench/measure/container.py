"""`joulebench run --container IMAGE`: the same run, inside the pinned image.

The image is the suite's promise that a workload runs the same way on every
site, so every record written inside it names the exact image it ran in. This
module resolves the image through the Docker engine (the `docker` SDK, the
`[container]` extra), starts `joulebench run` in it with the results folder
mounted and the GPUs requested, and hands the resolved digest to the runner
inside through JOULEBENCH_IMAGE_DIGEST (joulebench.measure.environment reads it into
`Environment.container_image_digest`).

Which digest is recorded (`image_digest`):
- `name@sha256:<manifest digest>` from the image's RepoDigests when the engine
  has one, i.e. the image came from (or went to) a registry. That is what a
  registry serves and what `docker pull name@sha256:...` fetches again, so the
  record names an image anyone can get.
- otherwise the image ID, `sha256:<config digest>`: a locally built or imported
  image has no RepoDigests until it is pushed. The ID is content-addressed too
  (the same layers and config give the same ID), but it names the image only on
  engines that hold it; a record with a bare `sha256:` ID says exactly that.

A certified run refuses an image referenced by tag only: a tag can be moved to
other content after the run, a digest cannot.

A run with `--meters FILE` (a BMC or wall meter) gets that file, the password
and CA files it names (read-only, at the same paths) and the environment
variables it names; nothing else of the host is mounted but the results folder.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from joulebench.errors import InputError, JoulebenchError
from joulebench.measure.environment import IMAGE_DIGEST_ENV

# Where the results folder appears inside the container; the runner's argv writes there.
CONTAINER_RESULTS = "/results"

_DIGEST = r"sha256:[0-9a-f]{64}"
_PINNED = re.compile(rf"^(?P<name>[^@\s]+)@(?P<digest>{_DIGEST})$")
_IMAGE_ID = re.compile(rf"^{_DIGEST}$")


class ContainerError(JoulebenchError):
    """The Docker engine could not do what a container run needs."""


# --------------------------------------------------------------------------- references


def pinned_digest(reference: str) -> str | None:
    """The `sha256:...` of a `name@sha256:...` reference, or None for a tag."""
    match = _PINNED.match(reference.strip())
    return match.group("digest") if match else None


def require_pinned(reference: str) -> None:
    """A certified run names its image by digest, never by a tag alone."""
    if pinned_digest(reference) is None:
        raise InputError(
            f"--container {reference!r}: a certified run needs an image pinned by digest "
            "(name@sha256:<64 hex digits>), not a tag; a tag can later point at other content. "
            "`docker image inspect --format '{{index .RepoDigests 0}}' IMAGE` prints it"
        )


def repository(reference: str) -> str:
    """`registry:5000/ns/name:tag` or `name@sha256:...` -> the repository, normalised as the engine writes it."""
    name = reference.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:  # a tag (a ':' before the last '/' is a registry port)
        name = name[: len(name) - len(last)] + last.split(":", 1)[0]
    for prefix in ("docker.io/", "index.docker.io/"):
        if name.startswith(prefix):
            name = name[len(prefix):]
    if name.startswith("library/"):
        name = name[len("library/"):]
    return name


def image_digest(attrs: dict[str, Any], reference: str) -> str:
    """The identity a run record carries (see the module docstring for which and why)."""
    repo_digests = sorted(attrs.get("RepoDigests") or [])
    wanted = pinned_digest(reference)
    name = repository(reference)
    for entry in repo_digests:
        entry_name, _, entry_digest = entry.partition("@")
        if entry_name == name and (wanted is None or entry_digest == wanted):
            return entry
    if repo_digests and not _IMAGE_ID.match(reference):
        return repo_digests[0]
    image_id = attrs.get("Id", "")
    if not _IMAGE_ID.match(image_id):
        raise ContainerError(f"the Docker engine reported no usable id for image {reference!r}: {image_id!r}")
    return image_id


# --------------------------------------------------------------------------- the engine


def docker_client():
    """A client for the local engine, or a clear error saying what is missing."""
    try:
        import docker
    except ImportError:
        raise ContainerError(
            "running in a container needs the Docker SDK: pip install 'joulebench[container]'"
        ) from None
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        raise ContainerError(f"cannot reach the Docker engine ({os.environ.get('DOCKER_HOST', 'the default socket')}): {exc}") from None
    return client


def resolve_image(client, reference: str):
    """The image the engine holds under `reference`, pulled first when it has none."""
    import docker

    try:
        return client.images.get(reference)
    except docker.errors.ImageNotFound:
        pass
    except docker.errors.APIError as exc:
        raise ContainerError(f"the Docker engine could not look up image {reference!r}: {exc.explanation or exc}") from None
    try:
        return client.images.pull(reference)
    except docker.errors.DockerException as exc:
        raise InputError(f"image {reference!r}: not on this Docker engine, and pulling it failed: {exc}") from None


def _results_argv(argv: Sequence[str]) -> list[str]:
    """argv with its results folder set to the mount point inside the container."""
    argv = list(argv)
    if "--out" in argv:
        index = argv.index("--out")
        if index + 1 >= len(argv) or argv[index + 1] != CONTAINER_RESULTS:
            raise ValueError(f"argv must write its results to {CONTAINER_RESULTS} (the mounted folder), got {argv!r}")
        return argv
    return argv + ["--out", CONTAINER_RESULTS]


@dataclass
class SiteFiles:
    """What a `--meters FILE` run needs from the host, shown read-only at the same paths inside."""

    argv: list[str]
    files: list[Path] = field(default_factory=list)
    environment: dict[str, str] = field(default_factory=dict)
    home: str | None = None


def site_files(argv: Sequence[str], environ: dict[str, str] | None = None, cwd: Path | None = None) -> SiteFiles:
    """The meters file, the password and CA files it names, and the variables it names.

    Paths inside resolve as they do on the host: the meters file is given by
    its absolute path, the container starts in the caller's working folder,
    and `~` means the caller's home when the file uses it.
    """
    argv = list(argv)
    if "--meters" not in argv:
        return SiteFiles(argv)
    from joulebench.measure.meters.config import load_meters_config

    env = dict(os.environ if environ is None else environ)
    cwd = Path(cwd or Path.cwd())
    index = argv.index("--meters")
    meters_path = (cwd / Path(argv[index + 1]).expanduser()).resolve()
    argv[index + 1] = str(meters_path)
    config = load_meters_config(meters_path)
    found = SiteFiles(argv, files=[meters_path])
    for entry in config.meters:
        named: list[tuple[str, Path]] = []
        credentials = entry.credentials
        if credentials is not None:
            for name in (credentials.username_env, credentials.password_env):
                if name and name in env:
                    found.environment[name] = env[name]
            if credentials.password_file:
                named.append((credentials.password_file, meters_path.parent))
        ca_file = getattr(entry, "ca_file", None)
        if ca_file:
            named.append((ca_file, cwd))
        for text, base in named:
            if text.startswith("~"):
                found.home = env.get("HOME")
            path = Path(text).expanduser()
            path = path if path.is_absolute() else base / path
            if path.exists() and path not in found.files:
                found.files.append(path)  # a missing one is reported by the runner inside, with its field
    return found


def container_options(
    image_id: str, argv: Sequence[str], out_dir: Path, gpus: bool, digest: str, site: SiteFiles | None = None
) -> dict[str, Any]:
    """Everything `containers.create` is given; separate so tests can read it without an engine."""
    from docker.types import DeviceRequest

    site = site or site_files(argv)
    options: dict[str, Any] = {
        # The resolved ID, not the reference: a tag moved meanwhile cannot swap the image.
        "image": image_id,
        "command": _results_argv(site.argv),
        "environment": {
            IMAGE_DIGEST_ENV: digest,
            # The caller's uid has no home in the image; caches go to /tmp.
            "HOME": site.home or "/tmp",
            **site.environment,
        },
        "volumes": {
            str(out_dir): {"bind": CONTAINER_RESULTS, "mode": "rw"},
            **{str(path): {"bind": str(path), "mode": "ro"} for path in site.files},
        },
        # The caller's uid:gid: records belong to whoever ran the command, and
        # the container reads exactly the meters (RAPL files) its caller may read.
        "user": f"{os.getuid()}:{os.getgid()}",
        "init": True,
        "shm_size": "1g",
        "labels": {"org.joulebench.role": "run"},
    }
    if site.files:
        options["working_dir"] = str(Path.cwd())  # relative paths in the meters file mean what they mean here
    if gpus:
        # Every GPU the engine has, with the capabilities NVML and CUDA need (docker run --gpus all).
        options["device_requests"] = [DeviceRequest(count=-1, capabilities=[["gpu"]])]
    return options


def _gpu_error(exc) -> ContainerError:
    return ContainerError(
        f"the Docker engine could not give the container GPUs: {exc}. "
        "A GPU profile needs the NVIDIA Container Toolkit on the host (nvidia-ctk runtime configure --runtime=docker)"
    )


def run_in_container(
    image: str,
    argv: Sequence[str],
    out_dir: Path,
    gpus: bool,
    certified: bool = False,
    client=None,
    log: IO[str] | None = None,
) -> int:
    """Run `joulebench <argv>` inside `image`; returns the container's exit status.

    `argv` is the `joulebench run` command line without --container; its
    results go to /results, where `out_dir` is mounted. The container's output
    is streamed to `log` (stderr by default). The container is removed
    afterwards, also when interrupted.
    """
    if certified:
        require_pinned(image)
    site = site_files(argv)  # a bad meters file is reported before any engine is asked
    log = log or sys.stderr
    client = client or docker_client()
    import docker

    resolved = resolve_image(client, image)
    digest = image_digest(resolved.attrs, image)
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    options = container_options(resolved.id, argv, out_dir, gpus, digest, site)
    log.write(f"joulebench: running in {image} ({digest})\n")
    try:
        container = client.containers.create(**options)
    except docker.errors.APIError as exc:
        raise ContainerError(f"the Docker engine could not create a container of {image!r}: {exc.explanation or exc}") from None
    try:
        try:
            container.start()
        except docker.errors.APIError as exc:
            if gpus and "device driver" in str(exc):
                raise _gpu_error(exc) from None
            raise ContainerError(f"the Docker engine could not start {image!r}: {exc.explanation or exc}") from None
        for chunk in container.logs(stream=True, follow=True):
            log.write(chunk.decode("utf-8", errors="replace"))
            log.flush()
        status = container.wait()
        code = int(status.get("StatusCode", 1))
        container.reload()
        if container.attrs.get("State", {}).get("OOMKilled"):
            log.write(f"joulebench: the container ran out of memory and was killed (exit {code})\n")
        return code
    finally:
        try:
            container.remove(force=True)
        except docker.errors.APIError:
            pass  # already gone; nothing of ours is left behind
