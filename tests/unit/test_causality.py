"""The lookahead check catches a leaky strategy and passes every shipped one."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.backtest.causality import lookahead_problems
from bot.strategy.loader import load_strategy
from tests.conftest import REPO, SHARED


def random_walk(n: int, freq: str = "5min", seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.concatenate(([100.0], close[:-1]))
    return pd.DataFrame(
        {
            "date": pd.date_range("2024-01-01", periods=n, freq=freq, tz="UTC"),
            "open": open_,
            "high": np.maximum(open_, close) * 1.002,
            "low": np.minimum(open_, close) * 0.998,
            "close": close,
            "volume": 1.0,
        }
    )


LEAKY = """
from bot.strategy import Strategy


class Peeker(Strategy):
    def populate_entry_trend(self, df, metadata):
        df.loc[df["close"].shift(-1) > df["close"] * 1.005, "enter_long"] = 1
        return df
"""


def test_a_strategy_that_peeks_at_the_next_candle_is_caught(tmp_path: Path) -> None:
    (tmp_path / "peek.py").write_text(LEAKY)
    problems = lookahead_problems(load_strategy(tmp_path, "Peeker"), random_walk(600), "AAA/USDT")
    assert problems, "the leak must be reported"
    assert all(
        p.startswith("AAA/USDT: enter_long on the candle of ") and p.endswith("the strategy looks ahead")
        for p in problems
    )


@pytest.mark.parametrize(
    ("name", "freq", "n"), [("SmaCross", "5min", 800), ("QuickMomentum", "5min", 800), ("Breakout", "1h", 24 * 60)]
)
def test_every_shipped_strategy_is_causal_on_generated_data(name: str, freq: str, n: int) -> None:
    strategy = load_strategy(REPO / "strategies", name)
    candles = random_walk(n, freq)
    assert lookahead_problems(strategy, candles, "BTC/USDT") == []


@pytest.mark.parametrize(
    ("name", "file"),
    [
        ("SmaCross", "binance_BTC_USDT-5m.feather"),
        ("QuickMomentum", "binance_ETH_USDT-5m.feather"),
        ("Breakout", "binance_BTC_USDT-1h.feather"),
    ],
)
def test_every_shipped_strategy_is_causal_on_real_data(name: str, file: str) -> None:
    path = SHARED / "data" / "ohlcv" / file
    if not path.exists():
        pytest.skip(f"{path} not available")
    candles = pd.read_feather(path).iloc[:6000].reset_index(drop=True)
    strategy = load_strategy(REPO / "strategies", name)
    from bot.backtest.causality import analyze

    assert analyze(strategy, candles, "X/USDT")["enter_long"].any(), "the strategy must signal on this data"
    assert lookahead_problems(strategy, candles, "X/USDT") == []
