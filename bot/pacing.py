"""When the daemon ticks, and at what market time. The daemon asks its pacer and never needs to
know which venue it drives: the simulated market steps its own clock, live trading (later) follows
the wall clock to candle closes."""

from __future__ import annotations

from typing import Protocol

from bot.clock import SteppedClock

MIN_INTERVAL_S = 0.01


class Pacer(Protocol):
    interval_s: float  # wall seconds between scheduler runs

    def next_tick_ms(self, last_done_ms: int | None, *, first: bool) -> int | None:
        """Market time of the tick to run now (moving market time there if it is ours to move),
        or None when there is nothing more to trade (a replay that ran out of candles)."""
        ...


class SimulatedPacer:
    """One candle of market time per scheduler run, `timeframe / speed` wall seconds apart. On the
    first run after a start, a tick a crash interrupted is run again at its market time."""

    def __init__(self, clock: SteppedClock, tf_ms: int, speed: float, last_candle_ms: int | None) -> None:
        self._clock = clock
        self._tf_ms = tf_ms
        self._last_candle_ms = last_candle_ms
        # a tick takes milliseconds; firing faster only makes the scheduler skip runs
        self.interval_s = max(tf_ms / 1000 / speed, MIN_INTERVAL_S)

    def next_tick_ms(self, last_done_ms: int | None, *, first: bool) -> int | None:
        now = self._clock.now_ms()
        resume = first and (last_done_ms is None or last_done_ms < now)
        target = now if resume else now + self._tf_ms
        if self._last_candle_ms is not None and target > self._last_candle_ms + self._tf_ms:
            return None
        self._clock.advance_to(target)
        return target
