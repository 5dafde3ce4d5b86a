"""FakeDockerClient: a test double of the Docker SDK's client, no engine behind it.

It holds a few images by reference, records what `containers.create` was asked,
and plays back a scripted container (its log lines and exit status), so the
flow of `joulebench.measure.container.run_in_container` can be checked where no engine runs.
The real engine is exercised in tests/container/.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import docker


@dataclass
class FakeImage:
    id: str
    attrs: dict[str, Any]


@dataclass
class FakeContainer:
    log_lines: list[bytes]
    status_code: int = 0
    oom_killed: bool = False
    start_error: Exception | None = None
    started: bool = False
    removed: bool = False
    attrs: dict[str, Any] = field(default_factory=dict)

    def start(self):
        if self.start_error is not None:
            raise self.start_error
        self.started = True

    def logs(self, stream: bool = False, follow: bool = False):
        return iter(self.log_lines)

    def wait(self):
        return {"StatusCode": self.status_code}

    def reload(self):
        self.attrs = {"State": {"OOMKilled": self.oom_killed, "ExitCode": self.status_code}}

    def remove(self, force: bool = False):
        self.removed = True


class _Images:
    def __init__(self, held: dict[str, FakeImage], pullable: dict[str, FakeImage]):
        self.held = held
        self.pullable = pullable
        self.pulled: list[str] = []

    def get(self, reference: str) -> FakeImage:
        if reference in self.held:
            return self.held[reference]
        raise docker.errors.ImageNotFound(f"No such image: {reference}")

    def pull(self, reference: str) -> FakeImage:
        self.pulled.append(reference)
        if reference in self.pullable:
            self.held[reference] = self.pullable[reference]
            return self.held[reference]
        raise docker.errors.NotFound(f"pull access denied for {reference}")


class _Containers:
    def __init__(self, container: FakeContainer):
        self.container = container
        self.create_calls: list[dict[str, Any]] = []

    def create(self, **options):
        self.create_calls.append(options)
        return self.container


class FakeDockerClient:
    def __init__(
        self,
        held: dict[str, FakeImage] | None = None,
        pullable: dict[str, FakeImage] | None = None,
        container: FakeContainer | None = None,
    ):
        self.images = _Images(dict(held or {}), dict(pullable or {}))
        self.containers = _Containers(container or FakeContainer([b"ok\n"]))
