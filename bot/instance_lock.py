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
    def __init__(self, db_path: Path) -> None:
        self.path = db_path.with_name(db_path.name + ".lock")
        self._file: TextIO | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            handle.close()
            raise AlreadyRunningError(
                f"{self.path}: another Kestrel daemon (pid {holder}) is running on this database"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
