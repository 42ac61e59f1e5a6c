"""Candles with a planted, learnable pattern (returns that carry on: AR(1) 0.6) and an ML strategy
sized for them, shared by the ML tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

PLANTED = """
from bot.ml.features import FeatureSet
from bot.ml.strategy import MLStrategy


class Planted(MLStrategy):
    timeframe = "5m"
    startup_candle_count = 60
    minimal_roi = {"0": 0.02}
    stoploss = -0.05
    feature_set = FeatureSet(return_horizons=(1, 3, 12), volatility_windows=(12,), rsi_period=None,
                             atr_period=None, volume_z_window=None, candle_shape=False, calendar=False)
    label_horizon = 6
    label_threshold = 0.002
    train_rows = 3000
    test_rows = 1500


class PlantedReturn(Planted):
    label_kind = "regression"  # the forward return after fees; enter above log(1.002), exit below 0
"""


def planted_candles(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    returns = np.zeros(n)
    for t in range(1, n):
        returns[t] = 0.6 * returns[t - 1] + rng.normal(0, 0.004)
    close = 100 * np.exp(np.cumsum(returns))
    opened = np.concatenate([[100.0], close[:-1]])
    return pd.DataFrame(
        {
            "date": pd.date_range("2024-01-01", periods=n, freq="5min", tz="UTC"),
            "open": opened,
            "high": np.maximum(opened, close) * 1.001,
            "low": np.minimum(opened, close) * 0.999,
            "close": close,
            "volume": rng.lognormal(3, 0.5, n),
        }
    )
