"""systemd's notify protocol through sdnotify: READY once the daemon may trade, STATUS after each
tick, WATCHDOG from a heartbeat that keeps beating only while the tick job is alive, RELOADING on
/reload, STOPPING on a stop. Without NOTIFY_SOCKET (not under systemd) every call does nothing."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Mapping

from loguru import logger
from sdnotify import SystemdNotifier

STALE_TICK_JOB_S = 300.0  # a tick job stuck this long (a hung call) stops the watchdog: systemd restarts


def watchdog_every_s(environ: Mapping[str, str], pid: int) -> float | None:
    """Half of systemd's WatchdogSec (WATCHDOG_USEC), if the watchdog is on and meant for this pid."""
    usec = environ.get("WATCHDOG_USEC", "")
    owner = environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) <= 0 or (owner.isdigit() and int(owner) != pid):
        return None
    return int(usec) / 1_000_000 / 2


def alive(now_s: float, last_done_s: float, running_since_s: float | None, stale_s: float = STALE_TICK_JOB_S) -> bool:
    """The tick job finished recently, or the one running has not been stuck too long: a long
    timeframe (jobs find nothing to do, quickly) or an exchange backing off (a job that takes a while
    but ends) keeps it alive; a call that never returns does not."""
    if running_since_s is not None:
        return now_s - running_since_s < stale_s
    return now_s - last_done_s < stale_s


class ServiceNotifier:
    def __init__(self, environ: Mapping[str, str] | None = None, pid: int | None = None) -> None:
        environ = os.environ if environ is None else environ
        self.enabled = bool(environ.get("NOTIFY_SOCKET"))
        self.watchdog_every_s = watchdog_every_s(environ, os.getpid() if pid is None else pid) if self.enabled else None
        self._sd = _notifier(environ["NOTIFY_SOCKET"]) if self.enabled else None

    def _send(self, *fields: str) -> None:
        if self._sd is not None:
            self._sd.notify("\n".join(fields))

    def ready(self, status: str) -> None:
        logger.debug("sd_notify READY: {}", status)
        self._send("READY=1", f"STATUS={status}")

    def status(self, text: str) -> None:
        self._send(f"STATUS={text}")

    def watchdog(self) -> None:
        self._send("WATCHDOG=1")

    def reloading(self, monotonic_s: float) -> None:
        """`monotonic_s`: CLOCK_MONOTONIC now (systemd 253+ wants it with RELOADING=1)."""
        usec = int(monotonic_s * 1_000_000)
        self._send("RELOADING=1", f"MONOTONIC_USEC={usec}", "STATUS=reloading config and strategy")

    def still_starting(self, why: str, seconds: float) -> None:
        """The start waits (an exchange down): systemd's start timeout is pushed on, the watchdog fed."""
        usec = int((seconds + 60) * 1_000_000)
        self._send(f"EXTEND_TIMEOUT_USEC={usec}", "WATCHDOG=1", f"STATUS={why[:200]}")

    def stopping(self) -> None:
        self._send("STOPPING=1", "STATUS=stopping")


def _notifier(address: str) -> SystemdNotifier:
    """sdnotify's notifier, connected to `address` (it reads os.environ itself; ours may differ)."""
    notifier = SystemdNotifier()
    if getattr(notifier, "socket", None) is not None:
        with contextlib.suppress(OSError):
            notifier.socket.close()
    notifier.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    with contextlib.suppress(OSError):  # a socket that is gone: sends fail quietly, as sdnotify's do
        notifier.socket.connect("\0" + address[1:] if address.startswith("@") else address)
    return notifier
