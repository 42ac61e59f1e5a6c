"""Candle frames: gap filling and merging. Pure, used by the daemon's cache, the simulated market's
replay and the backtester alike, so all of them see the same rows."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd

from bot.exchange.base import CANDLE_COLUMNS


def fill_gaps(df: pd.DataFrame, tf_ms: int) -> pd.DataFrame:
    """Insert the candles an exchange did not print: open = high = low = close = previous close,
    volume 0 (what freqtrade does too, so strategies see the same rows in both)."""
    if len(df) < 2:
        return df.reset_index(drop=True)
    ts = dates_ms(df["date"])
    expected = (int(ts[-1]) - int(ts[0])) // tf_ms + 1
    if expected == len(df):
        return df.reset_index(drop=True)
    full = np.arange(int(ts[0]), int(ts[-1]) + tf_ms, tf_ms, dtype=np.int64)
    out = df.set_index(pd.Index(ts)).reindex(full)
    close = out["close"].ffill()
    for column in ("open", "high", "low"):
        out[column] = out[column].fillna(close)
    out["close"] = close
    out["volume"] = out["volume"].fillna(0.0)
    out["date"] = pd.to_datetime(full, unit="ms", utc=True)
    return out[list(CANDLE_COLUMNS)].reset_index(drop=True)


def dates_ms(dates: pd.Series) -> np.ndarray:
    """Epoch milliseconds of a datetime column, whatever its resolution (ns, us or ms)."""
    index = pd.DatetimeIndex(dates)
    if index.tz is None:
        index = index.tz_localize("UTC")
    return np.asarray(index.as_unit("ms").asi8, dtype=np.int64)


def append_candles(old: pd.DataFrame, new: pd.DataFrame, tf_ms: int, window: int) -> pd.DataFrame:
    """Newer rows replace older rows of the same date; gaps are filled; only the newest `window` stay."""
    if old.empty:
        merged = new
    elif new.empty:
        merged = old
    else:
        merged = pd.concat([old, new], ignore_index=True).drop_duplicates("date", keep="last")
    merged = fill_gaps(merged.sort_values("date", kind="stable"), tf_ms)
    if len(merged) > window:
        merged = merged.iloc[-window:].reset_index(drop=True)
    return merged


def price_decimals(values: np.ndarray) -> int:
    """Decimals needed to write every price exactly: the smallest d with round(v, d) == v for all
    values (rounded to 14 decimals first, to see through binary noise)."""
    v = np.round(np.asarray(values, dtype=np.float64), 14)
    v = v[np.isfinite(v)]
    for decimals in range(16):
        if np.array_equal(np.round(v, decimals), v):
            return decimals
    return 15


def infer_price_tick(frame: pd.DataFrame) -> Decimal:
    """The price tick of a market known only from its candles (a replay, a backtest): one unit of
    the last decimal its prices use. freqtrade's backtests infer it from the data as well."""
    values = frame[["open", "high", "low", "close"]].to_numpy(np.float64).ravel()
    return Decimal(1).scaleb(-price_decimals(values))
