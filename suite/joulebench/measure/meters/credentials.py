"""Credentials for external meters: from an environment variable or a private file.

Never from the command line (visible to every user in `ps`) nor from the meters
file itself (which gets copied, committed and pasted into issues). A resolved
password is wrapped in `Secret`, whose repr and str never show the value, so
it cannot leak through a log line, a traceback's locals or a record.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from joulebench.errors import InputError
from joulebench.files import MAX_SECRET_BYTES, decode_text, read_bytes


class Secret:
    """A string that does not print."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True)
class Credentials:
    username: str | None
    password: Secret | None

    def secret_values(self) -> tuple[str, ...]:
        return (self.password.reveal(),) if self.password else ()


def read_secret_file(path: Path, where: str) -> Secret:
    """A password file readable by its owner only (as ssh insists for keys)."""
    path = Path(path).expanduser()
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise InputError(f"{where}: password file {path} not found") from None
    except OSError as exc:
        raise InputError(f"{where}: password file {path} cannot be read: {exc.strerror}") from None
    if stat.S_ISREG(mode) and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InputError(
            f"{where}: password file {path} is readable by other users (mode {stat.filemode(mode)}); "
            f"run `chmod 600 {path}`"
        )
    try:
        # Its content is never quoted: the messages name only the file and what is wrong with it.
        value = decode_text(read_bytes(path, "password file", max_bytes=MAX_SECRET_BYTES), str(path), "password file").strip()
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None
    if not value:
        raise InputError(f"{where}: password file {path} is empty")
    if "\n" in value or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise InputError(f"{where}: password file {path} holds more than one line, or control characters; "
                         "expected the password alone")
    return Secret(value)


def resolve_credentials(
    username: str | None,
    username_env: str | None,
    password_env: str | None,
    password_file: str | None,
    where: str,
    environ: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
) -> Credentials:
    """Resolve the declared sources; `where` names the file and field for errors."""
    env = os.environ if environ is None else environ
    if username_env is not None:
        if username_env not in env:
            raise InputError(f"{where}.username_env: environment variable {username_env} is not set")
        username = env[username_env]
    password: Secret | None = None
    if password_env is not None:
        if not env.get(password_env):
            raise InputError(f"{where}.password_env: environment variable {password_env} is not set or empty")
        password = Secret(env[password_env])
    elif password_file is not None:
        path = Path(password_file).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        password = read_secret_file(path, f"{where}.password_file")
    return Credentials(username=username, password=password)
