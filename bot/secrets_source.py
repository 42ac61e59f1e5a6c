"""Where a secret comes from, in order: the variable itself (`KESTREL_EXCHANGE_KEY`), a file named
by `<VARIABLE>_FILE`, systemd's credentials (`LoadCredential=exchange_key:...`, read from
`$CREDENTIALS_DIRECTORY`), then the config. A file holding a secret that group or others may read is
refused with the one line that says which and how to fix it; so is a config.json holding one."""

from __future__ import annotations

import stat
from collections.abc import Mapping
from pathlib import Path

from bot.errors import ConfigError

CREDENTIALS_DIR_ENV = "CREDENTIALS_DIRECTORY"
_SEEN: set[str] = set()  # every secret handed out, so the log sinks can scrub them (logs.py)


def known_secrets() -> frozenset[str]:
    return frozenset(_SEEN)


def _seen(value: str) -> str:
    if len(value) >= 6:  # shorter ones would blank ordinary words
        _SEEN.add(value)
    return value


class SecretFileError(ConfigError):
    """A secret's file cannot be used: missing, unreadable, or open to group or others."""


def check_private(path: Path, what: str) -> None:
    """Refuses a file that group or others may read (or write)."""
    try:
        mode = path.stat().st_mode
    except OSError as e:
        raise SecretFileError(f"{what}: {path}: {e.strerror or e}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretFileError(
            f"{what}: {path} is open to group or others (mode {stat.S_IMODE(mode):04o}); run: chmod 600 {path}"
        )


def _read(path: Path, what: str) -> str:
    check_private(path, what)
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as e:
        raise SecretFileError(f"{what}: {path}: cannot read: {e}") from None


def secret(env: str, credential: str, environ: Mapping[str, str], config_value: str = "") -> str:
    """The secret or "" when none is set anywhere. `credential`: its name under systemd's
    LoadCredential (files there are the service's own, 0400, so they are not checked)."""
    return _seen(_find(env, credential, environ, config_value))


def _find(env: str, credential: str, environ: Mapping[str, str], config_value: str) -> str:
    if environ.get(env):
        return environ[env]
    named = environ.get(f"{env}_FILE")
    if named:
        return _read(Path(named), f"{env}_FILE")
    directory = environ.get(CREDENTIALS_DIR_ENV)
    if directory and (Path(directory) / credential).is_file():
        try:
            return (Path(directory) / credential).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as e:
            raise SecretFileError(f"credential {credential}: cannot read: {e}") from None
    return config_value


def check_config_file(path: Path, holds_secret: bool) -> None:
    """A config.json with a key, secret or token in it must be private like a key file."""
    if holds_secret:
        check_private(path, "config holding a secret (exchange.key, exchange.secret or telegram.token)")
