"""Log sinks: one short line per event on stderr, the full story (tracebacks included) in a
rotating file under user_data/logs/."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from loguru import logger


def _short(_record: Any) -> str:
    # A callable format gets no automatic "{exception}" appended: stderr stays one line per event.
    return "{time:YYYY-MM-DD HH:mm:ss} | {level: <7} | {message}\n"


class _ToLoguru(logging.Handler):
    """Libraries log through `logging`; their records go to the same sinks as ours."""

    def emit(self, record: logging.LogRecord) -> None:
        level = record.levelname if record.levelname in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL") else "INFO"
        logger.opt(depth=6, exception=record.exc_info).log(level, "{}: {}", record.name, record.getMessage())


def setup_logging(level: str, log_dir: Path | None) -> None:
    logging.basicConfig(handlers=[_ToLoguru()], level=logging.WARNING, force=True)
    # APScheduler reports a skipped run (a tick still busy) at WARNING; that is expected under load.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    logger.remove()
    logger.add(sys.stderr, level=level, format=_short, colorize=False, backtrace=False, diagnose=False)
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        logger.add(
            log_dir / "kestrel.log",
            level="DEBUG",
            rotation="10 MB",
            retention=5,
            encoding="utf-8",
            backtrace=True,
            diagnose=False,
            enqueue=False,
        )
