"""The candles a retraining learns from, gathered through the running venue (any venue: the
simulated market, dry-run or live through ccxt) into the candle files under
`user_data/data/<exchange>/`, the layout `kestrel train --datadir` and backtests read. Each run
fetches only what the files do not hold yet; a file is replaced by an atomic rename."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from bot.candles import dates_ms
from bot.data.candle_files import candle_path, empty_candles, merge_candles, read_candles, write_candles_atomic
from bot.exchange.base import Exchange
from bot.timeframes import floor_ms

PAGE = 1000


async def gather(
    venue: Exchange,
    *,
    exchange: str,
    pairs: Sequence[str],
    timeframe: str,
    tf_ms: int,
    now_ms: int,
    candles: int,
    datadir: Path,
) -> dict[str, pd.DataFrame]:
    """The last `candles` closed candles of each pair (fewer when the venue has fewer)."""
    end_ms = floor_ms(now_ms, tf_ms)  # candles opening before this have closed
    start_ms = end_ms - candles * tf_ms
    frames = {}
    for pair in pairs:
        path = candle_path(datadir, exchange, pair, timeframe)
        stored = read_candles(path)
        stamps = dates_ms(stored["date"])
        covered = len(stamps) > 0 and int(stamps[0]) <= start_ms
        # the last two stored candles again: one fetched right at its close may have changed since
        since = int(stamps[-1]) - tf_ms if covered else start_ms
        fetched = await _pages(venue, pair, timeframe, tf_ms=tf_ms, since_ms=since, end_ms=end_ms)
        merged = merge_candles(stored, fetched) if len(fetched) else stored
        if len(fetched):
            write_candles_atomic(path, merged)
        opened = dates_ms(merged["date"])
        frames[pair] = merged[(opened >= start_ms) & (opened < end_ms)].reset_index(drop=True)
    return frames


async def _pages(venue: Exchange, pair: str, timeframe: str, *, tf_ms: int, since_ms: int, end_ms: int) -> pd.DataFrame:
    parts = []
    while since_ms < end_ms:
        page = await venue.candles(pair, timeframe, since_ms=since_ms, limit=PAGE)
        if page.empty:
            break
        opened = dates_ms(page["date"])
        page = page[opened < end_ms]
        if page.empty:
            break
        parts.append(page)
        next_ms = int(dates_ms(page["date"])[-1]) + tf_ms
        if next_ms <= since_ms:  # a venue that ignores `since`: stop rather than loop
            break
        since_ms = next_ms
    return pd.concat(parts, ignore_index=True) if parts else empty_candles()
