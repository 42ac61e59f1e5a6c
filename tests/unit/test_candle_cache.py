"""The daemon's candle window: only candles closed by the tick's time, however late the tick runs."""

from __future__ import annotations

import pandas as pd

from bot.candles import dates_ms
from bot.market_data import CandleCache
from tests.conftest import candle_frame

TF_MS = 60_000


class LateVenue:
    """Serves every candle that has closed on its own clock, which runs ahead of the tick's time,
    as the wall clock does when a tick starts late."""

    def __init__(self, frame: pd.DataFrame, clock_ms: int) -> None:
        self.frame = frame
        self.clock_ms = clock_ms

    async def candles(self, symbol: str, timeframe: str, *, since_ms: int, limit: int) -> pd.DataFrame:
        ms = dates_ms(self.frame["date"])
        rows = self.frame[(ms >= since_ms) & (ms + TF_MS <= self.clock_ms)]
        return rows.iloc[:limit].reset_index(drop=True)


def _ms(frame: pd.DataFrame) -> list[int]:
    return [int(x) for x in dates_ms(frame["date"])]


async def test_a_late_tick_does_not_see_the_candle_of_the_next_tick() -> None:
    frame = candle_frame("2024-01-01", "1m", [(100.0, 101.0, 99.0, 100.5, 1.0)] * 120)
    start = _ms(frame)[0]
    venue = LateVenue(frame, clock_ms=start + 61 * TF_MS)  # the wall clock is one candle ahead
    cache = CandleCache(venue, "1m", TF_MS, window=50)  # type: ignore[arg-type]
    now = start + 60 * TF_MS
    first = await cache.refresh("BTC/USDT", now)
    assert _ms(first)[-1] == now - TF_MS  # the candle that closed at the tick, not the one after
    assert len(first) == 50

    venue.clock_ms = now + 3 * TF_MS  # the next tick comes even later
    second = await cache.refresh("BTC/USDT", now + TF_MS)
    assert _ms(second)[-1] == now  # exactly one candle more, none skipped, none ahead
    assert _ms(second) == sorted(set(_ms(second))) and len(second) == 50
