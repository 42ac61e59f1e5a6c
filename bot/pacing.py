"""When the daemon ticks, and at what market time. The daemon asks its pacer and never needs to
know which venue it drives: the simulated market steps its own clock, live and dry-run trading
follow the wall clock to candle closes."""

from __future__ import annotations

from typing import Protocol

from bot.clock import Clock, SteppedClock

MIN_INTERVAL_S = 0.01


class Pacer(Protocol):
    interval_s: float  # wall seconds between scheduler runs

    def next_tick_ms(self, last_done_ms: int | None, *, first: bool) -> int | None:
        """Market time of the tick to run now (moving market time there if it is ours to move),
        or None when there is nothing to do now."""
        ...

    def finished(self) -> bool:
        """True when there will never be another tick (a replay that ran out of candles)."""
        ...


class SimulatedPacer:
    """One candle of market time per scheduler run, `timeframe / speed` wall seconds apart. On the
    first run after a start, a tick a crash interrupted is run again at its market time."""

    def __init__(self, clock: SteppedClock, tf_ms: int, speed: float, last_candle_ms: int | None) -> None:
        self._clock = clock
        self._tf_ms = tf_ms
        self._last_candle_ms = last_candle_ms
        self._finished = False
        # a tick takes milliseconds; firing faster only makes the scheduler skip runs
        self.interval_s = max(tf_ms / 1000 / speed, MIN_INTERVAL_S)

    def next_tick_ms(self, last_done_ms: int | None, *, first: bool) -> int | None:
        now = self._clock.now_ms()
        resume = first and (last_done_ms is None or last_done_ms < now)
        target = now if resume else now + self._tf_ms
        if self._last_candle_ms is not None and target > self._last_candle_ms + self._tf_ms:
            self._finished = True
            return None
        self._clock.advance_to(target)
        return target

    def finished(self) -> bool:
        return self._finished


class WallPacer:
    """Live and dry-run: one tick per closed candle, shortly after it closes on the wall clock. The
    scheduler polls a few times per candle (cheap: nothing happens until a candle has closed), so a
    tick is late by at most one poll. After a restart, the newest closed candle is traded unless
    it already was."""

    def __init__(self, clock: Clock, tf_ms: int, *, settle_ms: int | None = None) -> None:
        self._clock = clock
        self._tf_ms = tf_ms
        # wait this long after a close, so the exchange has published the candle
        self._settle_ms = min(2_000, tf_ms // 5) if settle_ms is None else settle_ms
        self._last_ms: int | None = None
        self.interval_s = max(0.25, min(tf_ms / 1000 / 4, 5.0))

    def next_tick_ms(self, last_done_ms: int | None, *, first: bool) -> int | None:
        closed_ms = self._clock.now_ms() - self._settle_ms
        target = closed_ms - closed_ms % self._tf_ms  # the close of the newest closed candle
        if first and last_done_ms is not None:
            self._last_ms = last_done_ms  # traded before the restart: not again
        if self._last_ms is not None and target <= self._last_ms:
            return None
        self._last_ms = target
        return target

    def finished(self) -> bool:
        return False
