"""Where a secret comes from, in order: the variable itself (`KESTREL_EXCHANGE_KEY`), a file named
by `<VARIABLE>_FILE`, systemd's credentials (`LoadCredential=exchange_key:...`, read from
`$CREDENTIALS_DIRECTORY`), then the config. A file holding a secret that group or others may read is
refused with the one line that says which and how to fix it; so is a config.json holding one."""

from __future__ import annotations

import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from bot.errors import ConfigError

CREDENTIALS_DIR_ENV = "CREDENTIALS_DIRECTORY"
# the config keys, at any depth (exchange.ccxt_config included), whose values are secrets
SECRET_KEYS = frozenset(
    {"key", "secret", "password", "token", "apiKey", "uid", "privateKey", "walletAddress", "passphrase"}
)
_SEEN: set[str] = set()  # every secret handed out, so the log sinks can scrub them (logs.py)


def known_secrets() -> frozenset[str]:
    return frozenset(_SEEN)


def secret_values(value: Any) -> set[str]:
    """Every secret a config holds (a dump of it), at any depth."""
    if isinstance(value, dict):
        found = {v for k, v in value.items() if k in SECRET_KEYS and isinstance(v, str) and v}
        return found.union(*(secret_values(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(secret_values(v) for v in value))
    return set()


def register(values: Iterable[str]) -> None:
    """Secrets read some other way (the config's, ccxt_config's): scrubbed from the logs too."""
    for value in values:
        _seen(value)


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
            value = (Path(directory) / credential).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as e:
            raise SecretFileError(f"credential {credential}: cannot read: {e}") from None
        if value:  # an empty credential file stands for "none": the config decides
            return value
    return config_value


def check_config_file(path: Path, holds_secret: bool) -> None:
    """A config.json with a key, secret or token in it must be private like a key file."""
    if holds_secret:
        check_private(path, "config holding a secret (a key, secret, password or token)")
