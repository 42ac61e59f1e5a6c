"""The only readers of time. Decisions take `now_ms` from a clock; nothing else reads the wall clock."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """A source of 'now' in epoch milliseconds (UTC)."""

    def now_ms(self) -> int: ...


class SystemClock:
    """Wall-clock time, for live trading and for anything a person reads (ages, log stamps)."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def monotonic_s(self) -> float:
        """Elapsed-time source for timeouts and latencies; never compared with market time."""
        return time.monotonic()


class SteppedClock:
    """Market time that moves only when told to: the simulated market and replays advance it one
    candle per scheduler tick, so a slow machine slows the simulation down instead of skipping
    candles."""

    def __init__(self, start_ms: int) -> None:
        self._now_ms = start_ms

    def now_ms(self) -> int:
        return self._now_ms

    def advance_to(self, ts_ms: int) -> None:
        if ts_ms < self._now_ms:
            raise ValueError(f"clock cannot go back from {self._now_ms} to {ts_ms}")
        self._now_ms = ts_ms


class FixedClock(SteppedClock):
    """A stepped clock by another name, for tests that pin time."""


def ms_to_datetime(ts_ms: int) -> datetime:
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC)


def iso_ms(ts_ms: int) -> str:
    """ISO-8601 UTC with seconds precision, the format used in every report."""
    return ms_to_datetime(ts_ms).isoformat(timespec="seconds")


def parse_iso_ms(text: str) -> int:
    """Parse an ISO-8601 date or datetime; naive values are taken as UTC."""
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)
