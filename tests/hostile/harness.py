"""The hostile-input corpus: each case is a command, the files it is handed, and what must come back.

A case writes its files under a fresh folder, runs `joulebench` on them (in
this process through `joulebench.cli.main`, or as a real process for what
could block: FIFOs), and asserts:

- the exit code;
- every expected fragment of the message (it names the file, the field, and
  what was expected);
- no Python traceback, no terminal control character, and at most a few
  lines (never a file's content: a message is capped well below any file);
- nothing written: on failure the folder is exactly as it was (no file
  created, changed or removed, no temporary file left behind).

Case names say what each one tries; `SURFACES` counts them per surface for
the issue's closing note (tests/hostile/test_corpus_counts.py prints them).
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import joulebench
from joulebench.cli import main

SUITE = str(Path(joulebench.__file__).resolve().parent.parent)
MAX_LINES = 35
MAX_CHARS = 8000
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x1b]")


@dataclass(frozen=True)
class Case:
    name: str  # what it tries
    make: Callable[[Path], list[str]]  # writes the files under the folder; returns argv
    code: int
    says: tuple[str, ...] = ()
    process: bool = False  # run as a real process (a FIFO, anything that could block)
    patch: Callable[[Any], None] | None = None  # monkeypatch -> None (e.g. a 2-core VM's hardware)
    writes: bool = False  # success cases that write their output
    check: Callable[[Path, str, str], None] | None = None  # (folder, stdout, stderr) -> asserts

    def __str__(self) -> str:
        return self.name


def cases_ids(cases: list[Case]) -> list[str]:
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), sorted({n for n in names if names.count(n) > 1})
    return names


def tree(folder: Path) -> dict[str, tuple]:
    """Every entry under folder (links not followed, FIFOs not opened): path -> (kind, size, mtime_ns)."""
    found = {}
    for root, dirs, files in os.walk(folder, followlinks=False):
        for name in dirs + files:
            path = Path(root) / name
            info = os.lstat(path)
            kind = stat.S_IFMT(info.st_mode)
            size = info.st_size if stat.S_ISREG(info.st_mode) else 0
            found[path.relative_to(folder).as_posix()] = (kind, size, info.st_mtime_ns)
    return found


def invoke(argv: list[str]) -> int:
    try:
        return int(main(argv) or 0)
    except SystemExit as exc:  # argparse: usage and a message on stderr, exit 2
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)


def run_case(case: Case, tmp_path: Path, capsys, monkeypatch) -> tuple[int, str, str]:
    work = tmp_path / "w"
    work.mkdir()
    argv = case.make(work)
    before = tree(work)
    if case.process:
        env = {**os.environ, "PYTHONPATH": SUITE + os.pathsep + os.environ.get("PYTHONPATH", "")}
        proc = subprocess.run([sys.executable, "-m", "joulebench", *argv], capture_output=True, text=True,
                              timeout=120, env=env, cwd=work)
        code, out, err = proc.returncode, proc.stdout, proc.stderr
    else:
        monkeypatch.chdir(work)
        if case.patch is not None:
            case.patch(monkeypatch)
        code = invoke(argv)
        out, err = capsys.readouterr()
    after = tree(work)
    text = out + err
    assert "Traceback" not in text, text[-3000:]
    assert code == case.code, f"exit {code}, expected {case.code}:\n{text[-3000:]}"
    for fragment in case.says:
        assert fragment in text, f"{fragment!r} not in:\n{text[-3000:]}"
    assert not CONTROL.search(err), f"a control character reached the terminal: {err[-500:]!r}"
    if code != 0:
        assert len(err.splitlines()) <= MAX_LINES, f"{len(err.splitlines())} lines:\n{err[:3000]}"
        assert len(err) <= MAX_CHARS, f"{len(err)} characters (a file's content?):\n{err[:2000]}"
    if not case.writes:
        changed = sorted(set(before.items()) ^ set(after.items()))
        assert not changed, f"written or changed: {changed[:10]}"
    if case.check is not None:
        case.check(work, out, err)
    return code, out, err


def parametrize(cases: list[Case]):
    return pytest.mark.parametrize("case", cases, ids=cases_ids(cases))


# --------------------------------------------------------------------------- file builders


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")
    return path


def sparse(path: Path, size: int) -> Path:
    """A file of `size` bytes that costs no disk (holes), to go over a cap without writing it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        handle.write(b"{")
        handle.truncate(size)
    return path


def fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


def link(path: Path, target: str | Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, path)
    return path


def deep_json(depth: int) -> str:
    return "[" * depth + "]" * depth


def dumps(data: Any) -> str:
    return json.dumps(data, allow_nan=True)


SURFACES: dict[str, int] = {}


def register(surface: str, cases: list[Case]) -> list[Case]:
    SURFACES[surface] = SURFACES.get(surface, 0) + len(cases)
    return cases
