"""The corpus itself: at least 150 named cases across every surface, each with a message to find.

`python -m tests.hostile.test_corpus` prints the cases per surface and the exit codes they get now.
"""

from __future__ import annotations

from collections import Counter

from tests.hostile import (
    test_commands,
    test_records,
    test_submissions,
    test_trust,
    test_yaml_files,
)
from tests.hostile.harness import SURFACES, Case

MODULES = (test_yaml_files, test_records, test_submissions, test_trust, test_commands)


def all_cases() -> list[Case]:
    cases = []
    for module in MODULES:
        for name in dir(module):
            value = getattr(module, name)
            if name.isupper() and isinstance(value, list) and value and all(isinstance(c, Case) for c in value):
                cases += value
    return cases


def test_at_least_150_cases_each_named_and_each_expecting_a_message():
    cases = all_cases()
    assert len(cases) >= 150
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), [n for n, k in Counter(names).items() if k > 1]
    assert sum(SURFACES.values()) == len(cases)
    for case in cases:
        assert case.says, f"{case.name}: no expected message"
        assert case.name.replace("_", "").isalnum() and case.name == case.name.lower(), case.name


def summary() -> str:
    lines = []
    by_surface: dict[str, list[Case]] = {}
    for module in MODULES:
        for name in dir(module):
            value = getattr(module, name)
            if name.isupper() and isinstance(value, list) and value and all(isinstance(c, Case) for c in value):
                by_surface.setdefault(module.__name__.rsplit(".", 1)[-1] + "." + name, []).extend(value)
    for surface, cases in by_surface.items():
        codes = Counter(c.code for c in cases)
        lines.append(f"{surface:40} {len(cases):4}  " + ", ".join(f"exit {k}: {v}" for k, v in sorted(codes.items())))
    lines.append(f"{'total':40} {sum(len(c) for c in by_surface.values()):4}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(summary())
