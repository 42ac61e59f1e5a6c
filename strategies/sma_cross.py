"""SmaCross: the 10/30 simple-moving-average crossover, rule for rule the strategy freqtrade's
reference backtest ran (../shared/reference/README.md), so the two systems can be compared."""

from __future__ import annotations

from typing import Any, ClassVar

from pandas import DataFrame

from bot.strategy import Strategy


class SmaCross(Strategy):
    timeframe: ClassVar[str] = "5m"
    startup_candle_count: ClassVar[int] = 30
    minimal_roi: ClassVar[dict[str, float]] = {"0": 0.05}
    stoploss: ClassVar[float] = -0.05
    trailing_stop: ClassVar[bool] = False
    use_exit_signal: ClassVar[bool] = True

    fast_window = 10
    slow_window = 30

    def populate_indicators(self, dataframe: DataFrame, metadata: dict[str, Any]) -> DataFrame:
        close = dataframe["close"]
        dataframe["sma_fast"] = close.rolling(self.fast_window, min_periods=self.fast_window).mean()
        dataframe["sma_slow"] = close.rolling(self.slow_window, min_periods=self.slow_window).mean()
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict[str, Any]) -> DataFrame:
        fast, slow = dataframe["sma_fast"], dataframe["sma_slow"]
        dataframe.loc[(fast > slow) & (fast.shift(1) <= slow.shift(1)), "enter_long"] = 1
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict[str, Any]) -> DataFrame:
        fast, slow = dataframe["sma_fast"], dataframe["sma_slow"]
        dataframe.loc[(fast < slow) & (fast.shift(1) >= slow.shift(1)), "exit_long"] = 1
        return dataframe
