"""QuickMomentum: the demo strategy of the default config. A fast EMA crossover with a tight ROI
ladder and a trailing stop, so a new user sees trades open and close within a minute or two on the
simulated market. Not meant to make money."""

from __future__ import annotations

from typing import Any, ClassVar

from pandas import DataFrame

from bot.strategy import Strategy


class QuickMomentum(Strategy):
    timeframe: ClassVar[str] = "5m"
    startup_candle_count: ClassVar[int] = 20
    minimal_roi: ClassVar[dict[str, float]] = {"0": 0.02, "30": 0.01, "90": 0.0}
    stoploss: ClassVar[float] = -0.03
    trailing_stop: ClassVar[bool] = True
    trailing_stop_positive: ClassVar[float | None] = 0.005
    trailing_stop_positive_offset: ClassVar[float] = 0.01
    trailing_only_offset_is_reached: ClassVar[bool] = True

    def populate_indicators(self, dataframe: DataFrame, metadata: dict[str, Any]) -> DataFrame:
        close = dataframe["close"]
        dataframe["ema_fast"] = close.ewm(span=5, adjust=False).mean()
        dataframe["ema_slow"] = close.ewm(span=13, adjust=False).mean()
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict[str, Any]) -> DataFrame:
        fast, slow = dataframe["ema_fast"], dataframe["ema_slow"]
        cross_up = (fast > slow) & (fast.shift(1) <= slow.shift(1))
        dataframe["enter_long"] = cross_up.astype("int8")
        dataframe["enter_tag"] = cross_up.map({True: "ema_cross", False: None})
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict[str, Any]) -> DataFrame:
        fast, slow = dataframe["ema_fast"], dataframe["ema_slow"]
        dataframe["exit_long"] = ((fast < slow) & (fast.shift(1) >= slow.shift(1))).astype("int8")
        return dataframe
