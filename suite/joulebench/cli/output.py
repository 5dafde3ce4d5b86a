"""How the command line writes to people: tables, numbers, warnings and notes, in one style.

- Tables never cut an id: on a terminal, long cells fold onto the next line;
  when stdout is not a terminal (a pipe, a file, CI), plain columns separated
  by two spaces, one row per line, so `grep` and `cut` work.
- One number format for counts (parameters, FLOPs): three significant digits
  and a k/M/B/T suffix (25.6M, 1.30B).
- Warnings and notes go to stderr as single lines, prefixed `warning:` or
  `note:`, never hard-wrapped, so a reader can grep them.
- Text that came from a file or a device is shown without terminal control
  characters.
"""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Sequence
from typing import Any, TextIO

# Control characters (escape sequences, NUL, CR, DEL, C1) and bidirectional overrides; tab and newline stay.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# Whole escape sequences first (CSI "ESC [ ... letter", OSC "ESC ] ... BEL"), so no "[2J" is left behind.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]")


def clean(text: Any) -> str:
    """A value as text with terminal control characters (escape sequences, NUL, CR) removed."""
    return _CONTROL.sub("", _ESCAPES.sub("", str(text)))


def count(value: float | int | None) -> str:
    """A large count, e.g. 25_557_032 -> '25.6M', 1.3e9 -> '1.30B', 5e11 FLOPs -> '500B'."""
    if value is None:
        return ""
    for threshold, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= threshold:
            scaled = value / threshold
            return f"{scaled:.3g}{suffix}" if scaled < 100 else f"{scaled:.0f}{suffix}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)) and abs(value) >= 1e4:
        return count(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(cell(v) for v in value)
    return clean(value)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str], title: str = "", stream: TextIO | None = None) -> None:
    """Print rows as a table: folded on a terminal, plain aligned columns otherwise."""
    stream = stream or sys.stdout
    cells = [[cell(row.get(c)) for c in columns] for row in rows]
    if stream.isatty():
        from rich.console import Console
        from rich.table import Table

        rich_table = Table(title=title or None)
        for c in columns:
            rich_table.add_column(c, overflow="fold")
        for values in cells:
            rich_table.add_row(*values)
        Console(file=stream, markup=False, width=max(shutil.get_terminal_size().columns, 40)).print(rich_table)
        return
    stream.write(plain_table(cells, columns))


def plain_table(cells: Sequence[Sequence[str]], columns: Sequence[str], title: str = "") -> str:
    """Aligned columns separated by two spaces, every cell whole."""
    widths = [max([len(c), *(len(v[i]) for v in cells)]) for i, c in enumerate(columns)]
    lines = [title] if title else []
    lines.append("  ".join(h.ljust(w) for h, w in zip(columns, widths)).rstrip())
    lines += ["  ".join(v.ljust(w) for v, w in zip(values, widths)).rstrip() for values in cells]
    return "\n".join(lines) + "\n"


def warning(text: str) -> None:
    sys.stderr.write(f"warning: {clean(text)}\n")


def note(text: str) -> None:
    sys.stderr.write(f"note: {clean(text)}\n")


def say(text: str) -> None:
    """A progress or summary line for people (stderr, so stdout stays data)."""
    sys.stderr.write(clean(text) + "\n")
