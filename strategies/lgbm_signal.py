"""LgbmSignal: a LightGBM model's probability that the next 12 candles gain more than 0.5 % after
fees, from 5m features and the same features on 1h candles. Buys above 0.6, sells below 0.4; stop
at -5 %. Train it first (`kestrel train --datadir DIR`), then promote a version (`kestrel models
promote v0001 --strategy LgbmSignal`), or let the daemon do both (`ml.retrain_every`); until a
model is promoted it never enters."""

from __future__ import annotations

from typing import ClassVar

from bot.ml.features import FeatureSet
from bot.ml.strategy import MLStrategy


class LgbmSignal(MLStrategy):
    timeframe: ClassVar[str] = "5m"
    startup_candle_count: ClassVar[int] = 600  # the 1h features settle after 49 hourly candles
    minimal_roi: ClassVar[dict[str, float]] = {"0": 0.03}
    stoploss: ClassVar[float] = -0.05
    feature_set: ClassVar[FeatureSet] = FeatureSet()
    higher_timeframes: ClassVar[tuple[str, ...]] = ("1h",)
    label_horizon: ClassVar[int] = 12
    label_threshold: ClassVar[float] = 0.005
    entry_probability: ClassVar[float] = 0.6
    exit_probability: ClassVar[float] = 0.4
