"""What /health reports about the daemon itself: how late the event loop runs, the memory it holds,
and which breakers are tripped (from the events, newest first)."""

from __future__ import annotations

import asyncio
import resource
from pathlib import Path
from typing import TYPE_CHECKING

from bot.store.records import EventRecord
from bot.store.repo import Repo
from bot.store.trading_control import read_trading_state, status_line
from bot.telegram.views import Health

if TYPE_CHECKING:  # the daemon imports this module; python-telegram-bot only when Telegram is on
    from bot.telegram.outbox import Outbox

_STATM = Path("/proc/self/statm")


class LoopLag:
    """Sleeps `every_s` again and again and keeps how much later than asked it woke: a loop blocked
    by a slow call shows here before it shows anywhere else."""

    def __init__(self, every_s: float = 0.5) -> None:
        self._every_s = every_s
        self.last_ms = 0.0
        self.worst_ms = 0.0

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(self._every_s)
            self.last_ms = max(0.0, (loop.time() - started - self._every_s) * 1000)
            self.worst_ms = max(self.worst_ms, self.last_ms)


def memory_mb() -> float:
    """Resident memory now (Linux), else the peak the kernel reports."""
    try:
        pages = int(_STATM.read_text().split()[1])
        return pages * resource.getpagesize() / 2**20
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _latest_breaker_events(repo: Repo) -> dict[str, EventRecord]:
    """Each breaker seen in the recent events, with its latest trip or recovery."""
    latest: dict[str, EventRecord] = {}
    for event in await repo.events(limit=500):  # newest first
        if event.kind in ("breaker_tripped", "breaker_recovered"):
            name = event.message.split(":", 2)[1] if event.message.startswith("breaker:") else event.message
            latest.setdefault(name.strip(), event)
    return latest


async def breaker_states(repo: Repo) -> dict[str, bool]:
    """Each breaker seen in the events: True while its latest event is a trip."""
    return {name: e.kind == "breaker_tripped" for name, e in (await _latest_breaker_events(repo)).items()}


async def tripped_breakers(repo: Repo) -> list[str]:
    """Each breaker whose latest event is a trip, with that event's text."""
    return [e.message for e in (await _latest_breaker_events(repo)).values() if e.kind == "breaker_tripped"]


async def gather_health(repo: Repo, lag: LoopLag, outbox: Outbox) -> Health:
    return Health(
        last_tick_wall_ms=await repo.get_state("last_tick_wall_ms"),
        last_tick_market_ms=await repo.get_state("last_tick_ms"),
        loop_lag_ms=lag.last_ms,
        trading_line=status_line(await read_trading_state(repo)),
        breakers=await tripped_breakers(repo),
        memory_mb=memory_mb(),
        outbox_queued=outbox.queued,
        outbox_waited_s=outbox.waited_s,
    )
