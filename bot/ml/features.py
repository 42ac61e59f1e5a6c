"""Features for ML strategies, from the candles alone: each value on candle t is computed from
candles up to t and never after (`frame_is_causal` checks exactly that). Vectorised with pandas
rolling windows; a window still filling is NaN, never a guess. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from bot.timeframes import timeframe_ms


@dataclass(frozen=True)
class FeatureSet:
    """What a strategy asks for; its `name` goes into the model's metadata."""

    return_horizons: tuple[int, ...] = (1, 3, 12, 48)
    volatility_windows: tuple[int, ...] = (12, 48)
    rsi_period: int | None = 14
    atr_period: int | None = 14
    volume_z_window: int | None = 48
    candle_shape: bool = True
    calendar: bool = True  # hour of day, day of week (UTC), as sine and cosine

    @property
    def warmup(self) -> int:
        """Candles before the first row with every feature defined."""
        windows = [*self.return_horizons, *(w + 1 for w in self.volatility_windows)]
        windows += [p * 3 for p in (self.rsi_period, self.atr_period) if p]  # smoothing settles
        windows += [self.volume_z_window or 0]
        return max(windows, default=0)


def build_features(candles: pd.DataFrame, spec: FeatureSet) -> pd.DataFrame:
    """One row per candle (same index), one column per feature, named `f_...`."""
    close = candles["close"].astype("float64")
    high = candles["high"].astype("float64")
    low = candles["low"].astype("float64")
    volume = candles["volume"].astype("float64")
    log_close = _log(close)
    out: dict[str, pd.Series] = {}
    for h in spec.return_horizons:
        out[f"f_ret_{h}"] = log_close.diff(h)
    one = log_close.diff()
    for w in spec.volatility_windows:
        out[f"f_vol_{w}"] = one.rolling(w, min_periods=w).std()
    if spec.rsi_period:
        out[f"f_rsi_{spec.rsi_period}"] = _rsi(close, spec.rsi_period)
    if spec.atr_period:
        out[f"f_atr_{spec.atr_period}"] = _atr(high, low, close, spec.atr_period) / close
    if spec.volume_z_window:
        w = spec.volume_z_window
        mean = volume.rolling(w, min_periods=w).mean()
        std = volume.rolling(w, min_periods=w).std()
        out[f"f_volz_{w}"] = (volume - mean) / std.replace(0.0, np.nan)
    if spec.candle_shape:
        span = (high - low).replace(0.0, np.nan)
        out["f_body"] = (close - candles["open"]) / span
        opened = candles["open"].astype("float64")
        out["f_upper_wick"] = (high - pd.concat([close, opened], axis=1).max(axis=1)) / span
        out["f_lower_wick"] = (pd.concat([close, opened], axis=1).min(axis=1) - low) / span
    if spec.calendar:
        dates = pd.to_datetime(candles["date"], utc=True)
        hour = dates.dt.hour + dates.dt.minute / 60
        day = dates.dt.day_of_week
        for name, value, period in (("hour", hour, 24), ("dow", day, 7)):
            angle = 2 * np.pi * value.to_numpy(dtype="float64") / period
            out[f"f_{name}_sin"] = pd.Series(np.sin(angle), index=candles.index)
            out[f"f_{name}_cos"] = pd.Series(np.cos(angle), index=candles.index)
    return pd.DataFrame(out, index=candles.index)


def _log(values: pd.Series) -> pd.Series:
    return pd.Series(np.log(values.to_numpy(dtype="float64")), index=values.index)


def _rsi(close: pd.Series, period: int) -> pd.Series:
    """Wilder's RSI, 0..1 (an exponential mean is causal: each value uses the past only)."""
    change = close.diff()
    gain = change.clip(lower=0).ewm(alpha=1 / period, adjust=False, min_periods=period).mean()
    loss = (-change).clip(lower=0).ewm(alpha=1 / period, adjust=False, min_periods=period).mean()
    total = (gain + loss).replace(0.0, np.nan)
    return gain / total


def _atr(high: pd.Series, low: pd.Series, close: pd.Series, period: int) -> pd.Series:
    previous = close.shift(1)
    true_range = pd.concat([high - low, (high - previous).abs(), (low - previous).abs()], axis=1).max(axis=1)
    return true_range.ewm(alpha=1 / period, adjust=False, min_periods=period).mean()


def informative_features(candles: pd.DataFrame, other: pd.DataFrame, spec: FeatureSet, prefix: str) -> pd.DataFrame:
    """Another pair's features (e.g. BTC/USDT for an altcoin) on this pair's candles: for each
    candle, the other pair's row of the same open time, or the latest before it; never a later one."""
    theirs = build_features(other, spec).add_prefix(f"{prefix}_")
    theirs["_t"] = _ns(other["date"])
    return _as_of(candles, theirs)


def _ns(dates: pd.Series) -> np.ndarray:
    """Open times as int64 nanoseconds since 1970 (whatever unit pandas stores them in)."""
    utc = pd.to_datetime(dates, utc=True).dt.tz_convert(None).astype("datetime64[ns]")
    return utc.to_numpy().astype("int64")


def _as_of(candles: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """For each candle, `table`'s latest row whose `_t` is at or before the candle's open time."""
    ours = pd.DataFrame({"_t": _ns(candles["date"])})
    merged = pd.merge_asof(ours, table.sort_values("_t"), on="_t", direction="backward")
    merged.index = candles.index
    return merged.drop(columns="_t")


def higher_timeframe(candles: pd.DataFrame, spec: FeatureSet, tf_ms: int, higher_ms: int, prefix: str) -> pd.DataFrame:
    """Features of the candles resampled to a longer timeframe, placed on the first candle after the
    longer candle has closed: a 1h candle's values appear from the 5m candle opening at its close.
    A longer candle not yet complete in the data is left out."""
    opened_ms = _ns(candles["date"]) // 1_000_000
    bucket = (opened_ms // higher_ms) * higher_ms
    grouped = candles.assign(_bucket=bucket).groupby("_bucket", sort=True)
    wide = pd.DataFrame(
        {
            "open": grouped["open"].first(),
            "high": grouped["high"].max(),
            "low": grouped["low"].min(),
            "close": grouped["close"].last(),
            "volume": grouped["volume"].sum(),
            "_count": grouped["open"].count(),
        }
    )
    wide = wide[wide["_count"] == higher_ms // tf_ms].drop(columns="_count")
    starts = wide.index.to_numpy().astype("int64")
    wide = wide.reset_index(drop=True)
    wide["date"] = pd.to_datetime(starts, unit="ms", utc=True)
    features = build_features(wide, spec).add_prefix(f"{prefix}_")
    features["_t"] = (starts + higher_ms) * 1_000_000  # usable once the long candle has closed
    return _as_of(candles, features)


def strategy_features(
    candles: pd.DataFrame,
    spec: FeatureSet,
    *,
    timeframe: str,
    higher: Sequence[str] = (),
    informative: Mapping[str, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """A strategy's whole feature frame: `spec` on its own candles; the same features (without the
    calendar, which a longer candle or another pair repeats) on each longer timeframe in `higher`,
    named `h1h_f_...`, each from the first candle after the longer one closed; and on each other
    pair in `informative` (in its order), named `i_BTC_USDT_f_...`."""
    out = build_features(candles, spec)
    tf_ms = timeframe_ms(timeframe)
    wide_spec = replace(spec, calendar=False)
    for tf in higher:
        out = out.join(higher_timeframe(candles, wide_spec, tf_ms, timeframe_ms(tf), f"h{tf}"))
    for pair, other in (informative or {}).items():
        out = out.join(informative_features(candles, other, wide_spec, "i_" + pair.replace("/", "_")))
    return out


def frame_is_causal(build: object, candles: pd.DataFrame, cuts: Sequence[int]) -> list[str]:
    """For each cut k, the features built on candles[:k] must equal the first k rows built on all of
    them; one line per column that differs (empty: causal). `build(candles) -> DataFrame`."""
    assert callable(build)
    full = build(candles)
    problems = []
    for k in cuts:
        part = build(candles.iloc[:k])
        for column in full.columns:
            a = full[column].to_numpy(dtype="float64")[:k]
            b = part[column].to_numpy(dtype="float64")
            same = np.isclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True)
            if not same.all():
                row = int(np.flatnonzero(~same)[0])
                problems.append(f"{column}: row {row} differs when the data ends at row {k - 1}: it looks ahead")
    return problems
