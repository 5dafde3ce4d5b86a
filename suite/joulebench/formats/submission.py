"""A leaderboard submission: submissions/<id>/submission.yaml (`joulebench schema submission`).

One folder per estimator, named by its id. The manifest says who made the
estimator and under which licence, where its source lives, which boundaries it
claims, what kind of thing joulebench is given to score and how anyone can
reproduce its numbers:

- kind `package`: a Python package in the folder (its own pyproject.toml) that
  registers the estimator under the submission's id in the
  `joulebench.estimators` entry-point group. joulebench installs it and runs it
  itself: a static estimator at scoring time, a live one beside `joulebench run`;
- kind `estimates`: an estimates file in the folder (`joulebench schema
  estimate`), made by the author and scored as given (self-reported);
- kind `image`: a Dockerfile in the folder; joulebench builds the image on a
  local base and runs it in the sandbox over the run facts.

`fitted_on` names the data an estimator was fitted or calibrated on, as a
selector over run records, so the runs it is scored on that overlap with its
own fitting data are counted and flagged, and it is also scored without them.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from joulebench.formats.vocabulary import Boundary, Identifier, Strict, Task

SUBMISSION_MANIFEST = "submission.yaml"
SubmissionKind = Literal["package", "estimates", "image"]
SUBMISSION_KINDS: tuple[str, ...] = ("package", "estimates", "image")
# The local Debian base the container tests build (scripts/build_base_image.sh); nothing is pulled.
DEFAULT_BASE_IMAGE = "joulebench-ci-base:bookworm-py311"

Text = Annotated[str, Field(min_length=1, max_length=2000)]


def _relative(value: str) -> str:
    """A path inside the submission folder: relative, no '..', forward slashes."""
    path = PurePosixPath(value)
    if not value or "\\" in value or path.is_absolute() or ".." in path.parts:
        raise ValueError(f"expected a path inside the submission folder (relative, no '..'), got {value!r}")
    return value


RelativePath = Annotated[str, Field(min_length=1, max_length=300)]


class PackageEntry(Strict):
    """A pip-installable package in the folder that registers the estimator under the submission's id."""

    distribution: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=120,
                                       description="the project name in its pyproject.toml")]
    path: RelativePath = Field(default=".", description="the folder holding pyproject.toml, relative to the submission")
    estimator: Literal["static", "live"] = Field(
        description="static: joulebench runs it on every run's facts when scoring; live: it runs beside "
        "`joulebench run` and its outputs are stored in the run records"
    )

    @field_validator("path")
    @classmethod
    def _inside_path(cls, value: str) -> str:
        return _relative(value)


class EstimatesEntry(Strict):
    """An estimates file in the folder, CSV or JSON (`joulebench schema estimate`)."""

    file: RelativePath = Field(description="relative to the submission folder; .csv or .json")

    @field_validator("file")
    @classmethod
    def _inside_file(cls, value: str) -> str:
        return _relative(value)


class ImageEntry(Strict):
    """A Dockerfile in the folder; the image reads run facts (JSON) on stdin and writes estimates on stdout."""

    dockerfile: RelativePath = "Dockerfile"
    base_image: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        default=DEFAULT_BASE_IMAGE,
        description="passed as the build argument BASE_IMAGE; must already be on the engine (nothing is pulled)",
    )
    command: list[Annotated[str, Field(min_length=1, max_length=500)]] | None = Field(
        default=None, description="what to run in the image; default: its ENTRYPOINT and CMD"
    )

    @field_validator("dockerfile")
    @classmethod
    def _inside_dockerfile(cls, value: str) -> str:
        return _relative(value)


class RunMatch(Strict):
    """Which run records a selector picks: each pattern given must be found (Python regex search) in its field."""

    study: str | None = Field(default=None, description="the record's provenance: importer id, source and citation")
    site: str | None = None
    accelerator: str | None = Field(default=None, description="the hardware profile's accelerator model")
    workload: str | None = Field(default=None, description="'track/id' of the workload, and its description")
    task: Task | None = None

    @model_validator(mode="after")
    def _patterns(self) -> RunMatch:
        given = {k: v for k, v in self.model_dump().items() if v is not None}
        if not given:
            raise ValueError("give at least one of study, site, accelerator, workload, task")
        for name, pattern in given.items():
            if name == "task":
                continue
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{name}: not a valid regular expression ({exc})") from None
        return self


class FittedOn(Strict):
    """Data the estimator was fitted or calibrated on; runs it picks are flagged as in-sample."""

    description: Text
    url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    runs: RunMatch


class SubmissionManifest(Strict):
    """submissions/<id>/submission.yaml: one estimator entered for the leaderboard."""

    schema_version: Literal[1] = 1
    id: Identifier = Field(description="the estimator's id; the folder has the same name")
    name: Annotated[str, Field(min_length=1, max_length=120)]
    version: Annotated[str, Field(min_length=1, max_length=64, description="the version its results are filed under")]
    authors: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(min_length=1)
    licence: Annotated[str, Field(min_length=1, max_length=100, description="SPDX id of the estimator's licence")]
    source_url: str = Field(pattern=r"^https?://\S+$", description="where its source (or method) is published")
    boundaries: list[Boundary] = Field(min_length=1, description="the boundaries it claims to estimate")
    kind: SubmissionKind
    package: PackageEntry | None = None
    estimates: EstimatesEntry | None = None
    image: ImageEntry | None = None
    reproduce: Text = Field(description="how anyone reproduces its numbers, as commands")
    description: str = Field(default="", max_length=20000, description="what it is and its defaults (Markdown)")
    fitted_on: list[FittedOn] = Field(default_factory=list)

    @field_validator("boundaries")
    @classmethod
    def _each_once(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"each boundary once, got {value}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SubmissionManifest:
        problems = []
        for kind in SUBMISSION_KINDS:
            section = getattr(self, kind)
            article = "an" if kind[0] in "aeiou" else "a"
            if kind == self.kind and section is None:
                problems.append(f"kind {self.kind!r} needs {article} '{kind}' section")
            elif kind != self.kind and section is not None:
                problems.append(f"{article} '{kind}' section does not belong to kind {self.kind!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self
