"""Breakout: buy when an hourly close clears the highest daily high of the 20 completed UTC days
before it; take profit at +7 %, stop out at -16 %. Slow and patient by design."""

from __future__ import annotations

from typing import Any, ClassVar

from pandas import DataFrame

from bot.strategy import Strategy


class Breakout(Strategy):
    timeframe: ClassVar[str] = "1h"
    startup_candle_count: ClassVar[int] = 21 * 24
    minimal_roi: ClassVar[dict[str, float]] = {"0": 0.07}
    stoploss: ClassVar[float] = -0.16
    use_exit_signal: ClassVar[bool] = False

    lookback_days = 20

    def populate_indicators(self, dataframe: DataFrame, metadata: dict[str, Any]) -> DataFrame:
        day = dataframe["date"].dt.floor("1D")
        daily_high = dataframe.groupby(day)["high"].max()
        # shift(1): only days that are over count, so an hour never sees its own day's later highs
        level = daily_high.shift(1).rolling(self.lookback_days, min_periods=self.lookback_days).max()
        dataframe["breakout_level"] = day.map(level)
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict[str, Any]) -> DataFrame:
        dataframe.loc[dataframe["close"] > dataframe["breakout_level"], "enter_long"] = 1
        return dataframe
