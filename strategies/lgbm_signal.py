"""LgbmSignal: a LightGBM model's probability that the next 12 candles gain more than 0.5 % after
fees. Buys above 0.6, sells below 0.4; stop at -5 %. Train it first (`kestrel train --datadir DIR`),
then promote a version (`kestrel models promote LgbmSignal v0001`); until then it never enters."""

from __future__ import annotations

from typing import ClassVar

from bot.ml.features import FeatureSet
from bot.ml.strategy import MLStrategy


class LgbmSignal(MLStrategy):
    timeframe: ClassVar[str] = "5m"
    startup_candle_count: ClassVar[int] = 150
    minimal_roi: ClassVar[dict[str, float]] = {"0": 0.03}
    stoploss: ClassVar[float] = -0.05
    feature_set: ClassVar[FeatureSet] = FeatureSet()
    label_horizon: ClassVar[int] = 12
    label_threshold: ClassVar[float] = 0.005
    entry_probability: ClassVar[float] = 0.6
    exit_probability: ClassVar[float] = 0.4
