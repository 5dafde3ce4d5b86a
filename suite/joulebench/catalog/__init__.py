"""The pinned suite (workloads/) and the declared hardware (profiles/), shipped as package data.

Every file is validated in full; all problems in a file are reported at once,
each with the file, the field and what was expected. Files are walked in sorted
order so listings are deterministic. A file whose name starts with `_` is a
base that others `include`; it is not an entry of its own.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from joulebench.errors import InputError
from joulebench.files import load_yaml_model
from joulebench.formats import HardwareProfile, WorkloadSpec

# Package data, found the same way from a checkout, an editable install or a wheel.
_DATA = Path(str(resources.files(__name__)))
WORKLOADS_DIR = _DATA / "workloads"
PROFILES_DIR = _DATA / "profiles"


def _entry_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*.yaml") if not p.name.startswith("_"))


def load_workload(path: Path) -> WorkloadSpec:
    # A track may build on another track's bases (gpu-v1-multi includes gpu-v1's), never on files outside the catalog.
    spec = load_yaml_model(WorkloadSpec, path, root=Path(path).parent.parent)
    if spec.id != path.stem:
        raise InputError(f"{path}: field 'id': expected the file name {path.stem!r}, got {spec.id!r}")
    if spec.track != path.parent.name:
        raise InputError(f"{path}: field 'track': expected the folder name {path.parent.name!r}, got {spec.track!r}")
    return spec


def load_profile(path: Path) -> HardwareProfile:
    profile = load_yaml_model(HardwareProfile, path)
    if profile.id != path.stem:
        raise InputError(f"{path}: field 'id': expected the file name {path.stem!r}, got {profile.id!r}")
    return profile


def load_workloads(track: str | None = None, root: Path = WORKLOADS_DIR) -> list[WorkloadSpec]:
    """All workloads, or those of one track; an unknown track names the valid ones."""
    tracks = list_tracks(root)
    if track is not None and track not in tracks:
        raise InputError(f"unknown track {track!r}; tracks are: {', '.join(tracks)}")
    folders = [root / track] if track else [root / t for t in tracks]
    specs = [load_workload(p) for folder in folders for p in _entry_files(folder)]
    return specs


def list_tracks(root: Path = WORKLOADS_DIR) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))


def load_profiles(root: Path = PROFILES_DIR) -> list[HardwareProfile]:
    return [load_profile(p) for p in _entry_files(root)]


def _did_you_mean(name: str, choices: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, choices, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"{hint} Valid: {', '.join(choices)}"


def get_profile(profile_id: str, root: Path = PROFILES_DIR) -> HardwareProfile:
    import re

    from joulebench.formats import ID_PATTERN

    path = root / f"{profile_id}.yaml"
    if len(profile_id) > 120 or not re.match(ID_PATTERN, profile_id) or not path.is_file():
        choices = [p.stem for p in _entry_files(root)]
        raise InputError(f"unknown hardware profile {profile_id[:60]!r}.{_did_you_mean(profile_id[:60], choices)}")
    return load_profile(path)


def select_workloads(track: str, only: list[str] | None = None, root: Path = WORKLOADS_DIR) -> list[WorkloadSpec]:
    specs = load_workloads(track, root)
    if not only:
        return specs
    by_id = {s.id: s for s in specs}
    unknown = [w for w in only if w not in by_id]
    if unknown:
        raise InputError(f"unknown workload {unknown[0]!r} in track {track!r}.{_did_you_mean(unknown[0], list(by_id))}")
    return [by_id[w] for w in only]
