"""A pair's history as the backtester needs it: candles as arrays, the strategy's signals per
candle, and the market's rules. Loaded and analysed once; the event loop only reads arrays."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from bot.candles import dates_ms, fill_gaps
from bot.config import SimulatedConfig
from bot.errors import ConfigError
from bot.exchange.base import CANDLE_COLUMNS, Market
from bot.exchange.sim_markets import replay_market
from bot.strategy.base import Strategy
from bot.strategy.guard import analyze
from bot.timeframes import ceil_ms

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class PairSeries:
    pair: str
    market: Market
    first_ms: int  # open time of row 0; rows are one timeframe apart (gaps are filled)
    tf_ms: int
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray
    enter: BoolArray  # enter_long on the candle
    exit: BoolArray  # exit_long on the candle
    tags: dict[int, str]  # enter_tag of the rows that have one

    def index_of(self, ts_ms: int, tf_ms: int) -> int:
        """Row of the candle that opens at `ts_ms` (may be out of range)."""
        return (ts_ms - self.first_ms) // tf_ms

    def open_ms(self, row: int) -> int:
        return self.first_ms + row * self.tf_ms

    def tick_at_or_after(self, ts_ms: int) -> int:
        """The first tick at or after `ts_ms` (ticks fall on this pair's candle boundaries)."""
        offset = self.first_ms % self.tf_ms
        return ceil_ms(ts_ms - offset, self.tf_ms) + offset

    @property
    def last_ms(self) -> int:
        return self.open_ms(len(self) - 1)

    def __len__(self) -> int:
        return len(self.open)


def candle_file(datadir: Path, pair: str, timeframe: str) -> Path:
    """`BTC_USDT-5m.feather` directly in `datadir`, or one folder down (`<datadir>/binance/...`,
    where `kestrel download-data` writes)."""
    name = f"{pair.replace('/', '_')}-{timeframe}.feather"
    direct = datadir / name
    if direct.exists():
        return direct
    nested = sorted(datadir.glob(f"*/{name}"))
    if nested:
        return nested[0]
    raise ConfigError(f"{datadir}: no candle file {name} for {pair} {timeframe}")


def read_candles(path: Path) -> pd.DataFrame:
    try:
        df = pd.read_feather(path)
    except (OSError, ValueError, pa.ArrowException) as e:
        raise ConfigError(f"{path}: cannot read candles: {e}") from None
    missing = set(CANDLE_COLUMNS) - set(df.columns)
    if missing:
        raise ConfigError(f"{path}: missing columns {sorted(missing)}")
    df = df[list(CANDLE_COLUMNS)]
    df["date"] = pd.to_datetime(df["date"], utc=True)
    return df.sort_values("date", kind="stable").drop_duplicates("date", keep="last").reset_index(drop=True)


def informative_frames(strategy: Strategy, datadir: Path, timeframe: str, tf_ms: int) -> dict[str, pd.DataFrame]:
    """The whole files of the strategy's informative pairs, gaps filled; a strategy reads each
    only up to the candle it is deciding on (the lookahead check holds it to that)."""
    return {
        pair: fill_gaps(read_candles(candle_file(datadir, pair, timeframe)), tf_ms)
        for pair in strategy.informative_pairs
    }


def load_series(
    strategy: Strategy,
    pairs: Sequence[str],
    *,
    datadir: Path,
    timeframe: str,
    tf_ms: int,
    sim: SimulatedConfig,
    from_ms: int | None,
    until_ms: int | None,
) -> list[PairSeries]:
    """Candles in [from_ms, until_ms) (whole files when None), gaps filled as the daemon's replay
    fills them, analysed by the strategy in one vectorised pass per pair."""
    out = []
    others = informative_frames(strategy, datadir, timeframe, tf_ms)
    for pair in pairs:
        df = read_candles(candle_file(datadir, pair, timeframe))
        df = fill_gaps(df, tf_ms)
        market = replay_market(pair, df, sim)  # the whole file, as the daemon's replay sees it
        ts = dates_ms(df["date"])
        keep = np.ones(len(df), dtype=bool)
        if from_ms is not None:
            keep &= ts >= from_ms
        if until_ms is not None:
            keep &= ts < until_ms
        df = df[keep].reset_index(drop=True)
        if df.empty:
            continue
        signals = analyze(strategy, df, pair, others)
        tags = {
            i: t
            for i, t in zip(
                np.flatnonzero(signals["enter_long"].to_numpy(bool)).tolist(),
                signals["enter_tag"][signals["enter_long"]].tolist(),
                strict=True,
            )
            if isinstance(t, str) and t
        }
        out.append(
            PairSeries(
                pair=pair,
                market=market,
                first_ms=int(dates_ms(df["date"].iloc[:1])[0]),
                tf_ms=tf_ms,
                open=df["open"].to_numpy(np.float64),
                high=df["high"].to_numpy(np.float64),
                low=df["low"].to_numpy(np.float64),
                close=df["close"].to_numpy(np.float64),
                volume=df["volume"].to_numpy(np.float64),
                enter=signals["enter_long"].to_numpy(bool),
                exit=signals["exit_long"].to_numpy(bool),
                tags=tags,
            )
        )
    return out
