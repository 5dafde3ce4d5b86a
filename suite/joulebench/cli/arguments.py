"""Argument types and the help style every command shares."""

from __future__ import annotations

import argparse
import re

from joulebench.formats import ID_PATTERN


class Parser(argparse.ArgumentParser):
    """Every parser and sub-parser: `--help` shows each option's default."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", DefaultsFormatter)
        super().__init__(*args, **kwargs)


class DefaultsFormatter(argparse.HelpFormatter):
    """Appends "(default: X)" to an option's help when it has a default worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text.lower() or action.default in (None, False, argparse.SUPPRESS) or action.option_strings == []:
            return text
        if isinstance(action.default, (list, tuple)) and not action.default:
            return text
        return f"{text} (default: %(default)s)"


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


def non_negative_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (0.0 <= value < 1e6):
        raise argparse.ArgumentTypeError(f"expected seconds between 0 and 1e6, got {text!r}")
    return value


def identifier(text: str) -> str:
    """A site or estimator id: lowercase letters, digits, '.', '_' or '-'."""
    if not re.match(ID_PATTERN, text) or len(text) > 120:
        raise argparse.ArgumentTypeError(f"expected lowercase letters, digits, '.', '_' or '-', got {text!r}")
    return text


def commit(text: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{7,40}", text):
        raise argparse.ArgumentTypeError(f"expected a git commit (7 to 40 lowercase hex digits), got {text!r}")
    return text


def argv_for(parser: argparse.ArgumentParser, args: argparse.Namespace, leave_out: set[str]) -> list[str]:
    """The options of `args` that differ from their defaults, as argv for `parser` again.

    Built from the parser's own actions, so a flag added to the command is
    carried along without anyone listing it here.
    """
    argv: list[str] = []
    for action in parser._actions:  # argparse keeps its actions in this list; there is no public accessor
        if not action.option_strings or action.dest in leave_out or isinstance(action, argparse._HelpAction):
            continue
        value = getattr(args, action.dest, None)
        if value is None or value == action.default:
            continue
        flag = action.option_strings[-1] if action.option_strings[-1].startswith("--") else action.option_strings[0]
        if isinstance(action, argparse._StoreTrueAction):
            argv.append(flag)
        elif isinstance(action, argparse._AppendAction):
            for item in value:
                argv += [flag, str(item)]
        else:
            argv += [flag, str(value)]
    return argv
