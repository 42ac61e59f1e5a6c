"""One daemon per database: a second `kestrel trade` on the same files would place every order
twice. An advisory lock held for the life of the process (released by the OS even on kill -9)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import TextIO

from bot.errors import KestrelError


class AlreadyRunningError(KestrelError):
    """Another daemon holds the lock for this database."""


class InstanceLock:
    """Locks every file the daemon owns (its database, the simulated market's books)."""

    def __init__(self, *owned: Path) -> None:
        self.paths = [p.with_name(p.name + ".lock") for p in owned]
        self._files: list[TextIO] = []

    def acquire(self) -> None:
        try:
            for path in self.paths:
                self._files.append(_lock(path))
        except AlreadyRunningError:
            self.release()
            raise

    def release(self) -> None:
        for handle in self._files:
            handle.close()
        self._files.clear()


def _lock(path: Path) -> TextIO:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "?"
        handle.close()
        raise AlreadyRunningError(f"{path}: another Kestrel daemon (pid {holder}) is using this file") from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle
