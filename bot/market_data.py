"""Per-pair candle windows for the daemon: fetches only what is new, fills gaps, keeps the newest
`window` candles so memory stays flat over months."""

from __future__ import annotations

import pandas as pd

from bot.candles import append_candles, dates_ms
from bot.exchange.base import CANDLE_COLUMNS, Exchange

_PAGE = 1000


class CandleCache:
    def __init__(self, venue: Exchange, timeframe: str, tf_ms: int, window: int) -> None:
        self._venue = venue
        self._timeframe = timeframe
        self._tf_ms = tf_ms
        self._window = window
        self._frames: dict[str, pd.DataFrame] = {}

    async def refresh(self, pair: str, now_ms: int) -> pd.DataFrame:
        """Closed candles of `pair` up to `now_ms`, oldest first."""
        frame = self._frames.get(pair)
        if frame is None or frame.empty:
            since = now_ms - self._window * self._tf_ms
            frame = pd.DataFrame({c: [] for c in CANDLE_COLUMNS})
        else:
            since = int(dates_ms(frame["date"].iloc[-1:])[0]) + self._tf_ms
        while since < now_ms:
            page = await self._venue.candles(pair, self._timeframe, since_ms=since, limit=_PAGE)
            if page.empty:
                break
            frame = append_candles(frame, page, self._tf_ms, self._window)
            since = int(dates_ms(page["date"].iloc[-1:])[0]) + self._tf_ms
            if len(page) < _PAGE:
                break
        self._frames[pair] = frame
        return frame
