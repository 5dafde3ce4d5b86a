"""The shape of the package: one-way data flow, argparse only in cli/, no private imports, the source hash."""

from __future__ import annotations

import ast
import io
from pathlib import Path

import pytest

import joulebench

PACKAGE = Path(joulebench.__file__).resolve().parent

# The data flow, upstream first: spec -> run -> record -> estimate -> score -> page.
# A module may import from its own layer or any layer above it in this list, never below.
LAYERS: list[tuple[str, ...]] = [
    ("joulebench", "joulebench.errors", "joulebench.files", "joulebench.registry"),
    ("joulebench.formats",),
    ("joulebench.catalog",),
    ("joulebench.records",),
    ("joulebench.measure", "joulebench.importers", "joulebench.cluster"),
    ("joulebench.estimators",),
    ("joulebench.certify",),
    ("joulebench.scoring",),
    ("joulebench.board",),
    ("joulebench.cli", "joulebench.__main__"),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int:
    best, index = "", -1
    for i, names in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > len(best):
                best, index = name, i
    assert index >= 0, f"{module} belongs to no layer; add it to LAYERS"
    return index


def modules() -> list[tuple[str, ast.Module]]:
    return [(module_name(p), ast.parse(p.read_text(), str(p))) for p in sorted(PACKAGE.rglob("*.py"))]


def imports(tree: ast.Module, current: str, is_package: bool) -> list[tuple[str, list[str], int]]:
    """(module imported, names taken from it, line) for every import, at any depth (lazy ones too)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = current.split(".")
                parts = parts if is_package else parts[:-1]
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(parts + ([base] if base else []))
            found.append((base, [a.name for a in node.names], node.lineno))
    return found


@pytest.fixture(scope="module")
def parsed():
    return modules()


def test_every_import_points_up_the_data_flow(parsed):
    wrong = []
    for name, tree in parsed:
        is_package = (PACKAGE.parent / Path(*name.split("."))).is_dir()
        for target, names, line in imports(tree, name, is_package):
            if not target.startswith("joulebench"):
                continue
            candidates = [f"{target}.{n}" for n in names] if names else [target]
            for imported in candidates:
                if layer_of(imported) > layer_of(name):
                    wrong.append(f"{name}:{line} imports {imported} (a later stage of the data flow)")
    assert wrong == []


def test_argparse_lives_only_in_the_cli(parsed):
    users = [name for name, tree in parsed for target, _, _ in imports(tree, name, False)
             if target == "argparse" and not name.startswith("joulebench.cli")]
    assert users == []


def test_no_module_imports_a_private_name_of_another(parsed):
    private = []
    for name, tree in parsed:
        is_package = (PACKAGE.parent / Path(*name.split("."))).is_dir()
        for target, names, line in imports(tree, name, is_package):
            if target.startswith("joulebench"):
                private += [f"{name}:{line} imports {target}.{n}" for n in names if n.startswith("_") and n != "__version__"]
    assert private == []


def test_the_record_store_is_one_module(parsed):
    """Only joulebench.records writes or finds run records by their file layout."""
    owners = [name for name, tree in parsed for node in ast.walk(tree)
              if isinstance(node, ast.FunctionDef) and node.name in ("record_path", "load_records", "write_record", "read_record")]
    assert set(owners) == {"joulebench.records"}


def test_source_hash_follows_the_package_files(tmp_path, monkeypatch):
    from joulebench.measure import environment

    fake = tmp_path / "joulebench"
    (fake / "sub").mkdir(parents=True)
    (fake / "a.py").write_text("x = 1\n")
    (fake / "sub" / "b.yaml").write_text("k: v\n")
    (fake / "__pycache__").mkdir()
    (fake / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0")
    monkeypatch.setattr(environment.resources, "files", lambda _: fake)
    environment.source_sha256.cache_clear()
    try:
        first = environment.source_sha256()
        (fake / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\1")
        assert environment.source_sha256.__wrapped__() == first  # caches do not count
        (fake / "sub" / "b.yaml").write_text("k: w\n")
        assert environment.source_sha256.__wrapped__() != first
    finally:
        environment.source_sha256.cache_clear()


def test_records_carry_the_source_hash():
    from joulebench.measure.environment import fingerprint

    env = fingerprint()
    assert env.joulebench == joulebench.__version__
    assert env.joulebench_source_sha256 is not None and len(env.joulebench_source_sha256) == 64


# --------------------------------------------------------------------------- the command line


def test_every_run_flag_reaches_a_container_run():
    """`run --container` rebuilds the command from the parser, so a new flag is never dropped."""
    from joulebench.cli import build_parser
    from joulebench.cli.arguments import argv_for

    parser = build_parser()
    argv = ["run", "--track", "smoke", "--profile", "x86-cpu-server", "--site", "s", "--only", "a", "--only", "b",
            "--repeats", "2", "--idle-seconds", "1.5", "--device", "cpu", "--meters", "m.yaml",
            "--live-estimator", "codecarbon", "--allow-unmetered", "--container", "img", "--certified", "--out", "o"]
    args = parser.parse_args(argv)
    again = argv_for(args.parser, args, leave_out={"container", "certified", "out", "parser"})
    reparsed = parser.parse_args(["run", *again])
    for action in args.parser._actions:
        if action.dest not in ("help", "container", "certified", "out", "parser"):
            assert getattr(reparsed, action.dest) == getattr(args, action.dest), action.dest


def every_parser():
    from joulebench.cli import build_parser

    todo, seen = [build_parser()], []
    while todo:
        parser = todo.pop()
        seen.append(parser)
        for action in parser._actions:
            if action.choices and isinstance(action.choices, dict):
                todo += list(action.choices.values())
    return seen


def test_every_help_shows_the_defaults():
    missing = []
    for parser in every_parser():
        help_text = parser.format_help()
        for action in parser._actions:
            if action.option_strings and action.default not in (None, False, [], "==SUPPRESS=="):
                shown = " ".join(help_text.split())
                if not action.help or ("default" not in action.help.lower() and f"(default: {action.default})" not in shown):
                    missing.append(f"{parser.prog} {action.option_strings[-1]}")
        assert "(default: results) (default: results)" not in " ".join(help_text.split())
    assert missing == []


def test_tables_never_cut_an_id():
    from joulebench.cli import output

    long_id = "green-algorithms-with-a-very-long-plugin-name-that-goes-past-eighty-columns"
    stream = io.StringIO()
    output.table([{"id": long_id, "version": "1.0", "params": 25_557_032}], ["id", "version", "params"], stream=stream)
    text = stream.getvalue()
    assert long_id in text and "25.6M" in text and "…" not in text


def test_one_number_format_for_counts():
    from joulebench.cli.output import count

    assert [count(v) for v in (950, 25_557_032, 1.3e9, 5.2e11, 1.0e13)] == ["950", "25.6M", "1.3B", "520B", "10T"]


def test_warnings_are_single_prefixed_lines(capsys):
    from joulebench.cli import output

    output.warning("hardware differs from x: " + "a fairly long phrase " * 8 + "\x1b[31m")
    err = capsys.readouterr().err
    assert err.startswith("warning: hardware differs") and err.count("\n") == 1 and "\x1b" not in err
