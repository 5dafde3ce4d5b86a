"""One lazy registry for everything joulebench finds by name: estimators, meter probes, importers, commands.

An entry is a "module:attribute" string, imported only when that entry is
asked for, so listing names never pulls torch, CodeCarbon or a plugin's
dependencies. The built-ins are listed in the code; other packages add
entries through an entry-point group (`joulebench.<kind>s`):

    [project.entry-points."joulebench.estimators"]
    my-estimator = "my_package.estimator:MyEstimator"

A plugin that claims a built-in's name, or a name two plugins claim, is kept
with the problem attached (reported when asked for), never dropped silently.
An unknown name is an InputError that suggests the closest valid one.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Generic, TypeVar

from joulebench.errors import InputError, JoulebenchError

T = TypeVar("T")


class EntryLoadError(JoulebenchError):
    """An entry exists but cannot be loaded (a broken plugin, a clash of names)."""


@dataclass
class Entry:
    name: str
    target: str  # "module:attribute"
    source: str  # "builtin" or where the entry point came from
    problem: str = ""


@functools.lru_cache(maxsize=32)
def _entry_points_on(group: str, search_path: tuple[str, ...]) -> tuple[metadata.EntryPoint, ...]:
    # Scanning every installed distribution costs ~20 ms and a build asks many times.
    # Keyed on sys.path, so a plugin folder added to the path is seen.
    return tuple(metadata.entry_points(group=group))


def import_target(target: str) -> Any:
    """The object a "module:attribute.path" string names."""
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise ValueError(f"entry {target!r} is not 'module:attribute'")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def did_you_mean(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"{hint} Valid: {', '.join(choices)}"


class Registry(Generic[T]):
    """Named, lazily imported entries of one kind: built-ins first, then entry points."""

    def __init__(self, kind: str, builtins: dict[str, str], *, group: str | None = None,
                 check: Callable[[str, Any], T] | None = None):
        self.kind = kind
        self.group = group
        self._builtins = dict(builtins)
        self._check = check

    def entries(self) -> dict[str, Entry]:
        entries = {name: Entry(name, target, "builtin") for name, target in self._builtins.items()}
        if self.group is None:
            return entries
        for ep in sorted(_entry_points_on(self.group, tuple(sys.path)), key=lambda e: (e.name, e.value)):
            dist = getattr(ep.dist, "name", None) or "unknown distribution"
            source = f"entry point {ep.name} = {ep.value} ({dist})"
            existing = entries.get(ep.name)
            if existing is None:
                entries[ep.name] = Entry(ep.name, ep.value, source)
            elif existing.target == ep.value:
                continue  # joulebench's own pyproject declares its built-ins in the group too
            elif existing.source == "builtin":
                # The built-in keeps its name; the clash is reported, not resolved silently.
                key = f"{ep.name} ({dist})"
                entries[key] = Entry(key, ep.value, source, f"{self.kind} {ep.name!r} is a built-in's name; rename the entry point")
            else:
                existing.problem = f"two entry points claim {self.kind} {ep.name!r}: {existing.target} and {ep.value}"
        return entries

    def names(self) -> list[str]:
        return sorted(self.entries())

    def unknown(self, name: str, choices: list[str] | None = None) -> InputError:
        return InputError(f"unknown {self.kind} {name!r}.{did_you_mean(name, choices or self.names())}")

    def entry(self, name: str) -> Entry:
        entries = self.entries()
        if name not in entries:
            raise self.unknown(name, sorted(entries))
        return entries[name]

    def load_entry(self, entry: Entry) -> T:
        if entry.problem:
            raise EntryLoadError(f"{self.kind} {entry.name!r} is unavailable: {entry.problem}")
        try:
            obj = import_target(entry.target)
            return self._check(entry.name, obj) if self._check else obj
        except Exception as exc:  # a plugin's import error is its own, reported with its target
            raise EntryLoadError(
                f"{self.kind} {entry.name!r} could not be loaded from {entry.target}: {type(exc).__name__}: {exc}"
            ) from exc

    def load(self, name: str) -> T:
        """The object registered under `name`; InputError when unknown, EntryLoadError when broken."""
        return self.load_entry(self.entry(name))
