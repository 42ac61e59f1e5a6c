"""Per-pair candle windows for the daemon: fetches only what is new, fills gaps, keeps the newest
`window` candles so memory stays flat over months."""

from __future__ import annotations

import numpy as np
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
        self._last_ms: dict[str, int] = {}

    async def refresh(self, pair: str, now_ms: int) -> pd.DataFrame:
        """Closed candles of `pair` up to `now_ms`, oldest first."""
        frame = self._frames.get(pair)
        last = self._last_ms.get(pair)
        if frame is None or last is None:
            since = now_ms - self._window * self._tf_ms
            frame = pd.DataFrame({c: [] for c in CANDLE_COLUMNS})
        else:
            since = last + self._tf_ms
        while since < now_ms:
            page = await self._venue.candles(pair, self._timeframe, since_ms=since, limit=_PAGE)
            fetched = len(page)
            # a tick that runs late may see the next candle closed already: it belongs to the next tick
            page = page[dates_ms(page["date"]) + self._tf_ms <= now_ms]
            if page.empty:
                break
            page_ms = dates_ms(page["date"])
            if last is not None and int(page_ms[0]) == last + self._tf_ms and _contiguous(page_ms, self._tf_ms):
                # the usual tick: the next candle(s), in order, nothing to merge or fill
                frame = pd.concat([frame, page], ignore_index=True)
                if len(frame) > self._window:
                    frame = frame.iloc[-self._window :].reset_index(drop=True)
            else:
                frame = append_candles(frame, page, self._tf_ms, self._window)
            last = int(page_ms[-1])
            since = last + self._tf_ms
            if fetched < _PAGE or len(page) < fetched:
                break
        self._frames[pair] = frame
        if last is not None:
            self._last_ms[pair] = last
        return frame

    def frame(self, pair: str) -> pd.DataFrame | None:
        """The window held for `pair` (None before its first refresh)."""
        return self._frames.get(pair)

    def last_closes(self) -> dict[str, float]:
        """The newest close of every pair refreshed so far (what Telegram shows as the price)."""
        return {pair: float(frame["close"].iloc[-1]) for pair, frame in self._frames.items() if len(frame)}


def _contiguous(ts_ms: np.ndarray, tf_ms: int) -> bool:
    return bool(np.all(np.diff(ts_ms) == tf_ms))
