"""Runs user strategy code on candles and turns whatever it does into clean signals or one
StrategyError line. The only place (with the loader) that catches everything user code may raise."""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bot.errors import ConfigError, StrategyError
from bot.strategy.base import Strategy
from bot.strategy.loader import describe_user_error, strategy_file


@dataclass(frozen=True)
class PairSignal:
    """What the strategy says about the last closed candle of one pair."""

    pair: str
    candle_ms: int
    enter: bool
    exit: bool
    tag: str | None = None
    values: tuple[tuple[str, float], ...] = ()  # the strategy's own columns on that candle (/why)


def analyze(
    strategy: Strategy, candles: pd.DataFrame, pair: str, informative: Mapping[str, pd.DataFrame] | None = None
) -> pd.DataFrame:
    """Indicators and signals for every row. `enter_long`/`exit_long` come back as clean booleans:
    NaN, missing or 0 means no signal. `informative`: the candles of the pairs the strategy reads
    besides this one (it gets those it declares in `informative_pairs`)."""
    path = strategy_file(strategy)
    others = {p: informative[p] for p in strategy.informative_pairs if informative is not None and p in informative}
    metadata = {"pair": pair, "timeframe": strategy.timeframe, "informative": others}
    df = candles.copy()
    n = len(df)
    for method in ("populate_indicators", "populate_entry_trend", "populate_exit_trend"):
        try:
            out = getattr(strategy, method)(df, metadata)
        except Exception as e:  # user code: the strategy guard boundary
            raise StrategyError(describe_user_error(e, path, f"{method} for {pair}")) from None
        df = _checked(out, n, path, method, pair)
    try:
        df["enter_long"] = _flag(df, "enter_long")
        df["exit_long"] = _flag(df, "exit_long")
        if "enter_tag" not in df.columns:
            df["enter_tag"] = None
    except Exception as e:  # whatever shape the user's columns have, it is this pair's problem only
        raise StrategyError(f"{path}: unusable signal columns for {pair}: {type(e).__name__}: {e}") from None
    return df


def last_signal(
    strategy: Strategy,
    candles: pd.DataFrame,
    pair: str,
    candle_ms: int,
    informative: Mapping[str, pd.DataFrame] | None = None,
) -> PairSignal:
    """The signal on the newest candle, which must be the candle that opened at `candle_ms`."""
    df = analyze(strategy, candles, pair, informative)
    if df.empty:
        return PairSignal(pair, candle_ms, enter=False, exit=False)
    row = df.iloc[-1]
    tag = row["enter_tag"]
    return PairSignal(
        pair,
        candle_ms,
        enter=bool(row["enter_long"]),
        exit=bool(row["exit_long"]),
        tag=str(tag) if isinstance(tag, str) and tag else None,
        values=_indicator_values(row),
    )


_NOT_INDICATORS = frozenset({"date", "open", "high", "low", "close", "volume", "enter_long", "exit_long"})


def _indicator_values(row: pd.Series) -> tuple[tuple[str, float], ...]:
    """The numeric columns the strategy added, as they stand on the signal candle (at most 16)."""
    out = []
    for name, value in row.items():
        if str(name) in _NOT_INDICATORS or isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
            continue
        out.append((str(name), float(value)))
    return tuple(out[:16])


def _checked(out: object, n: int, path: Path, method: str, pair: str) -> pd.DataFrame:
    if not isinstance(out, pd.DataFrame):
        raise StrategyError(f"{path}: {method} for {pair} returned {type(out).__name__}, expected the DataFrame")
    if len(out) != n:
        raise StrategyError(f"{path}: {method} for {pair} returned {len(out)} rows, expected {n}")
    return out


def _flag(df: pd.DataFrame, column: str) -> pd.Series:
    if column not in df.columns:
        return pd.Series(np.zeros(len(df), dtype=bool), index=df.index)
    values = pd.to_numeric(df[column], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return pd.Series(np.nan_to_num(values, nan=0.0) == 1.0, index=df.index)


def check_informative(strategy: Strategy, whitelist: Sequence[str]) -> None:
    """Every informative pair must be whitelisted: the daemon refreshes only those pairs' candles."""
    for pair in strategy.informative_pairs:
        if pair not in whitelist:
            raise ConfigError(
                f"{type(strategy).__name__}.informative_pairs: {pair} is not in exchange.pair_whitelist "
                "(only whitelisted pairs' candles are read); add it"
            )
