"""The simulated market's price process: deterministic, realistic in the ways exits care about."""

from pathlib import Path

import numpy as np
import pytest

from bot.exchange.candle_sources import GeneratedCandles, ReplayCandles, step_for, tick_for
from tests.conftest import candle_frame, write_candles

TF = 300_000


def gen(seed: int = 42, symbols: tuple[str, ...] = ("BTC/USDT", "ETH/USDT")) -> GeneratedCandles:
    return GeneratedCandles(
        symbols=list(symbols), origin_ms=0, timeframe_ms=TF, seed=seed, annual_volatility=0.7, start_prices={}
    )


def test_same_seed_same_market_whatever_the_order_of_requests() -> None:
    a, b = gen(), gen()
    a.columns("BTC/USDT", TF * 10)
    a.columns("BTC/USDT", TF * 5000)
    full_b = b.columns("BTC/USDT", TF * 5000)
    full_a = a.columns("BTC/USDT", TF * 5000)
    assert np.array_equal(full_a.close, full_b.close)
    assert not np.array_equal(gen(seed=43).columns("BTC/USDT", TF * 100).close[:100], full_a.close[:100])
    assert not np.array_equal(full_a.close[:100], a.columns("ETH/USDT", TF * 100).close[:100] * 20)


def test_candles_are_consistent_and_on_the_tick() -> None:
    cols = gen().columns("ETH/USDT", TF * 4096)
    assert np.all(cols.high >= np.maximum(cols.open, cols.close))
    assert np.all(cols.low <= np.minimum(cols.open, cols.close))
    assert np.all(cols.low > 0)
    assert np.all(np.diff(cols.ts_ms) == TF)
    ticks = cols.close / float(tick_for(3000.0))
    assert np.allclose(ticks, np.round(ticks))
    assert np.array_equal(cols.open[1:], cols.close[:-1])  # a continuous market: no gaps between candles


def test_volatility_clusters_and_tails_are_fat() -> None:
    cols = gen().columns("BTC/USDT", TF * 40_000)
    r = np.diff(np.log(cols.close))
    lag1 = np.corrcoef(r[:-1], r[1:])[0, 1]
    abs_lag1 = np.corrcoef(np.abs(r[:-1]), np.abs(r[1:]))[0, 1]
    kurtosis = np.mean((r - r.mean()) ** 4) / np.var(r) ** 2
    assert abs(lag1) < 0.03  # no free lunch in the direction
    assert abs_lag1 > 0.1  # calm and wild stretches: a plain random walk gives about 0
    assert kurtosis > 4  # fat tails: a normal random walk gives 3
    per_candle = 0.7 / np.sqrt(365.25 * 24 * 12)
    assert 0.7 * per_candle < r.std() < 1.3 * per_candle


def test_ticks_and_steps_follow_the_price() -> None:
    assert str(tick_for(60_000.0)) == "0.1"
    assert str(tick_for(0.6)) == "0.000001"
    assert str(step_for(60_000.0)) == "1E-7"
    assert str(step_for(0.15)) == "0.01"


def test_replay_fills_gaps_like_the_backtester(tmp_path: Path) -> None:
    frame = candle_frame("2024-01-01", "5m", [(1, 2, 0.5, 1.5, 10), (1.5, 2, 1, 1.8, 10), (2, 3, 1.9, 2.5, 10)])
    frame = frame.drop(index=1)  # the exchange printed nothing for the second candle
    write_candles(tmp_path, "AAA/USDT", "5m", frame)
    cols = ReplayCandles(directory=tmp_path, symbols=["AAA/USDT"], timeframe="5m", timeframe_ms=TF).columns(
        "AAA/USDT", 0
    )
    assert cols.close.tolist() == [1.5, 1.5, 2.5]
    assert (cols.open[1], cols.high[1], cols.low[1], cols.volume[1]) == (1.5, 1.5, 1.5, 0.0)


def test_replay_without_the_file_says_which(tmp_path: Path) -> None:
    from bot.errors import ConfigError

    with pytest.raises(ConfigError, match=r"simulated.candles_dir: no candle file .*BBB_USDT-5m.feather"):
        ReplayCandles(directory=tmp_path, symbols=["BBB/USDT"], timeframe="5m", timeframe_ms=TF)
