"""Log sinks: one short line per event on stderr (no timestamp under journald, which adds its own),
the full story (tracebacks included) in a rotating file under user_data/logs/, optionally as JSON
lines. Every sink writes through `scrub`: no key, secret, bot token or request signature reaches a
log, whatever text an error carries."""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Callable, Mapping
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

from loguru import logger

from bot.secrets_source import known_secrets

REDACTED = "***"
_PATTERNS = [  # (what looks like a secret, what it becomes)
    (re.compile(r"(?<![0-9])\d{6,}:AA[A-Za-z0-9_-]{30,}"), REDACTED),  # a Telegram bot token (also after "/bot")
    (re.compile(r"(?i)(signature=)[0-9a-f]{16,}"), rf"\1{REDACTED}"),  # a signed request's HMAC
    (  # key=value, "key": "value", also JSON-escaped (\"key\": \"value\") and header names (X-MBX-APIKEY, API-Key)
        re.compile(
            r"(?i)((?:[\w-]*(?:api[-_]?key|access[-_]key|passphrase)|secret|password|token)"
            r"\\?[\"']?\s*[:=]\s*\\?[\"']?)[^\s\"'\\&,}]{8,}"
        ),
        rf"\1{REDACTED}",
    ),
]


def scrub(text: str) -> str:
    """`text` without the secrets Kestrel read (exact values) or anything shaped like one."""
    for value in sorted(known_secrets(), key=len, reverse=True):
        text = text.replace(value, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _short(journald: bool) -> Callable[[Any], str]:
    # A callable format gets no automatic "{exception}" appended: stderr stays one line per event.
    line = "{level: <7} | {message}\n" if journald else "{time:YYYY-MM-DD HH:mm:ss} | {level: <7} | {message}\n"
    return lambda _record: line


class _ToLoguru(logging.Handler):
    """Libraries log through `logging`; their records go to the same sinks as ours."""

    def emit(self, record: logging.LogRecord) -> None:
        level = record.levelname if record.levelname in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL") else "INFO"
        logger.opt(depth=6, exception=record.exc_info).log(level, "{}: {}", record.name, record.getMessage())


class _RotatingText:
    """A size-rotated file for already formatted text (loguru's own file sink cannot be scrubbed)."""

    def __init__(self, path: Path, max_bytes: int = 10 * 2**20, backups: int = 5) -> None:
        self._handler = RotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
        self._handler.setFormatter(logging.Formatter("%(message)s"))
        self._handler.terminator = ""

    def write(self, text: str) -> None:
        self._handler.emit(logging.LogRecord("kestrel", logging.INFO, "", 0, text, None, None))


def under_journald(environ: Mapping[str, str]) -> bool:
    """systemd sets JOURNAL_STREAM when stderr goes to the journal."""
    return bool(environ.get("JOURNAL_STREAM"))


def setup_logging(
    level: str, log_dir: Path | None, *, json: bool = False, environ: Mapping[str, str] | None = None
) -> None:
    environ = os.environ if environ is None else environ
    logging.basicConfig(handlers=[_ToLoguru()], level=logging.WARNING, force=True)
    # APScheduler reports a skipped run (a tick still busy) at WARNING; that is expected under load.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    logger.remove()

    def to_stderr(message: Any) -> None:
        sys.stderr.write(scrub(str(message)))

    if json:
        logger.add(to_stderr, level=level, serialize=True, backtrace=False, diagnose=False)
    else:
        logger.add(to_stderr, level=level, format=_short(under_journald(environ)), backtrace=False, diagnose=False)
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        rotating = _RotatingText(log_dir / ("kestrel.jsonl" if json else "kestrel.log"))

        def to_file(message: Any) -> None:
            rotating.write(scrub(str(message)))

        logger.add(to_file, level="DEBUG", serialize=json, backtrace=True, diagnose=False)
