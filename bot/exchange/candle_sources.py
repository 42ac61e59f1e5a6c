"""Where the simulated market's prices come from: a seeded GARCH process, or a replay of candle
files. Both serve the same numpy columns so the market does not care which it has."""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from bot.candles import dates_ms, fill_gaps
from bot.errors import ConfigError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_DEFAULT_START_PRICES = {
    "BTC": 60_000.0,
    "ETH": 3_000.0,
    "SOL": 150.0,
    "BNB": 600.0,
    "XRP": 0.6,
    "DOGE": 0.15,
    "ADA": 0.5,
    "LTC": 80.0,
    "LINK": 15.0,
    "AVAX": 30.0,
    "TRX": 0.12,
    "BCH": 400.0,
}
_MINUTES_PER_YEAR = 365.25 * 24 * 60


@dataclass
class CandleColumns:
    """Candles of one symbol as parallel arrays, `ts_ms` = candle open, oldest first."""

    ts_ms: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray

    def between(self, start_ms: int, end_ms: int) -> tuple[int, int]:
        """Index range of candles opening in [start_ms, end_ms)."""
        lo = int(np.searchsorted(self.ts_ms, start_ms, side="left"))
        hi = int(np.searchsorted(self.ts_ms, end_ms, side="left"))
        return lo, hi

    def frame(self, lo: int, hi: int) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "date": pd.to_datetime(self.ts_ms[lo:hi], unit="ms", utc=True),
                "open": self.open[lo:hi],
                "high": self.high[lo:hi],
                "low": self.low[lo:hi],
                "close": self.close[lo:hi],
                "volume": self.volume[lo:hi],
            }
        )


class CandleSource(Protocol):
    timeframe_ms: int

    def symbols(self) -> list[str]: ...

    def columns(self, symbol: str, until_ms: int) -> CandleColumns:
        """All candles of `symbol` opening before `until_ms` (more may be included)."""
        ...

    def first_ms(self) -> int:
        """Open time of the earliest candle the source can serve."""
        ...

    def last_ms(self) -> int | None:
        """Open time of the last candle, or None when the source never ends."""
        ...

    def start_price(self, symbol: str) -> float: ...


def default_start_price(symbol: str, configured: dict[str, float]) -> float:
    if symbol in configured:
        return configured[symbol]
    return _DEFAULT_START_PRICES.get(symbol.split("/", maxsplit=1)[0], 100.0)


def price_decimals(price: float) -> int:
    """Decimals of the price tick for a generated market: five significant digits below the price."""
    return max(0, 5 - math.floor(math.log10(price)))


def tick_for(price: float) -> Decimal:
    return Decimal(1).scaleb(-price_decimals(price))


def step_for(price: float) -> Decimal:
    """Amount step worth about a cent of quote or less, as exchanges usually set it."""
    return Decimal(1).scaleb(math.floor(math.log10(0.01 / price)))


@dataclass
class _GarchState:
    rng: np.random.Generator
    sigma2: float
    last_close: float
    decimals: int
    chunks: list[CandleColumns] = field(default_factory=list)
    count: int = 0
    merged: CandleColumns | None = None


class GeneratedCandles:
    """A GARCH(1,1) price process with fat-tailed shocks and an intra-candle path, per symbol.

    Volatility clusters (calm and wild stretches alternate) the way crypto prices do, so exits and
    breakers meet realistic conditions. Candle i opens at origin_ms + i * timeframe and depends only
    on (seed, symbol), so a restart regenerates exactly the same market."""

    CHUNK = 2048
    SUBSTEPS = 8
    ALPHA = 0.08
    BETA = 0.9
    TAIL_DOF = 4.0

    def __init__(
        self,
        *,
        symbols: list[str],
        origin_ms: int,
        timeframe_ms: int,
        seed: int,
        annual_volatility: float,
        start_prices: dict[str, float],
    ) -> None:
        self.timeframe_ms = timeframe_ms
        self._origin_ms = origin_ms
        candles_per_year = _MINUTES_PER_YEAR / (timeframe_ms / 60_000)
        self._var_target = (annual_volatility / math.sqrt(candles_per_year)) ** 2
        self._states: dict[str, _GarchState] = {}
        for symbol in symbols:
            price = default_start_price(symbol, start_prices)
            entropy = [seed, zlib.crc32(symbol.encode())]
            self._states[symbol] = _GarchState(
                rng=np.random.default_rng(np.random.SeedSequence(entropy)),
                sigma2=self._var_target,
                last_close=round(price, price_decimals(price)),
                decimals=price_decimals(price),
            )

    def symbols(self) -> list[str]:
        return list(self._states)

    def first_ms(self) -> int:
        return self._origin_ms

    def last_ms(self) -> int | None:
        return None

    def start_price(self, symbol: str) -> float:
        state = self._states[symbol]
        return state.chunks[0].open[0] if state.chunks else state.last_close

    def columns(self, symbol: str, until_ms: int) -> CandleColumns:
        state = self._states[symbol]
        needed = max(0, -(-(until_ms - self._origin_ms) // self.timeframe_ms))
        while state.count < needed:
            state.chunks.append(self._chunk(state))
            state.count += self.CHUNK
            state.merged = None
        if state.merged is None:
            state.merged = _concat(state.chunks) if state.chunks else _empty()
        return state.merged

    def _chunk(self, state: _GarchState) -> CandleColumns:
        n, k = self.CHUNK, self.SUBSTEPS
        rng = state.rng
        mix = (self.TAIL_DOF - 2.0) / rng.chisquare(self.TAIL_DOF, size=n)
        steps = rng.standard_normal((n, k)) * np.sqrt(mix / k)[:, None]
        volume_noise = rng.standard_normal(n)
        shock = steps.sum(axis=1)  # unit-variance innovation of each candle
        sigma = np.empty(n)
        omega = self._var_target * (1 - self.ALPHA - self.BETA)
        s2 = state.sigma2
        for i in range(n):
            sigma[i] = math.sqrt(s2)
            s2 = omega + (self.ALPHA * shock[i] * shock[i] + self.BETA) * s2
        state.sigma2 = s2
        log_path = np.cumsum(steps * sigma[:, None], axis=1)
        log_open = np.log(state.last_close) + np.concatenate(([0.0], np.cumsum(log_path[:-1, -1])))
        path = np.exp(log_open[:, None] + log_path)
        dec = state.decimals
        open_ = np.round(np.exp(log_open), dec)
        close = np.round(path[:, -1], dec)
        high = np.maximum(np.round(path.max(axis=1), dec), np.maximum(open_, close))
        low = np.minimum(np.round(path.min(axis=1), dec), np.minimum(open_, close))
        state.last_close = float(close[-1])
        base_volume = 1_000_000.0 / max(float(open_[0]), 1e-12)
        volume = base_volume * np.exp(0.5 * volume_noise) * (1.0 + np.abs(shock))
        start = state.count
        ts = self._origin_ms + (np.arange(start, start + n, dtype=np.int64) * self.timeframe_ms)
        return CandleColumns(ts, open_, high, low, close, np.round(volume, 4))


class ReplayCandles:
    """Candles read from freqtrade-style feather files (`BTC_USDT-5m.feather`). Missing candles are
    filled on load (flat at the previous close, volume 0), exactly as the backtester fills them, so a
    replayed market and a backtest of the same file see the same rows."""

    def __init__(self, *, directory: Path, symbols: list[str], timeframe: str, timeframe_ms: int) -> None:
        self.timeframe_ms = timeframe_ms
        self._columns: dict[str, CandleColumns] = {}
        for symbol in symbols:
            path = directory / f"{symbol.replace('/', '_')}-{timeframe}.feather"
            self._columns[symbol] = _read_feather(path, timeframe_ms)

    def symbols(self) -> list[str]:
        return list(self._columns)

    def first_ms(self) -> int:
        return min(int(c.ts_ms[0]) for c in self._columns.values())

    def last_ms(self) -> int | None:
        return max(int(c.ts_ms[-1]) for c in self._columns.values())

    def start_price(self, symbol: str) -> float:
        return float(self._columns[symbol].open[0])

    def columns(self, symbol: str, until_ms: int) -> CandleColumns:  # noqa: ARG002 (a replay holds it all)
        return self._columns[symbol]

    def frame(self, symbol: str) -> pd.DataFrame:
        cols = self._columns[symbol]
        return cols.frame(0, len(cols.ts_ms))


def _read_feather(path: Path, timeframe_ms: int) -> CandleColumns:
    try:
        df = pd.read_feather(path)
    except FileNotFoundError:
        raise ConfigError(f"simulated.candles_dir: no candle file {path}") from None
    except (OSError, ValueError, pa.ArrowException) as e:  # a corrupt or foreign file
        raise ConfigError(f"simulated.candles_dir: cannot read {path}: {e}") from None
    missing = {"date", "open", "high", "low", "close", "volume"} - set(df.columns)
    if missing or df.empty:
        raise ConfigError(f"simulated.candles_dir: {path} lacks columns {sorted(missing)} or is empty")
    df = fill_gaps(df, timeframe_ms)
    ts = dates_ms(df["date"])
    return CandleColumns(
        ts,
        df["open"].to_numpy(np.float64),
        df["high"].to_numpy(np.float64),
        df["low"].to_numpy(np.float64),
        df["close"].to_numpy(np.float64),
        df["volume"].to_numpy(np.float64),
    )


def _concat(chunks: list[CandleColumns]) -> CandleColumns:
    return CandleColumns(
        np.concatenate([c.ts_ms for c in chunks]),
        np.concatenate([c.open for c in chunks]),
        np.concatenate([c.high for c in chunks]),
        np.concatenate([c.low for c in chunks]),
        np.concatenate([c.close for c in chunks]),
        np.concatenate([c.volume for c in chunks]),
    )


def _empty() -> CandleColumns:
    return CandleColumns(*(np.empty(0, dtype=np.int64),), *(np.empty(0) for _ in range(5)))
