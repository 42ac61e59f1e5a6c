"""The class users subclass. Shaped like freqtrade's IStrategy (same attribute and method names), so
a long-only spot strategy ports by changing its import and base class."""

from __future__ import annotations

from typing import Any, ClassVar

from pandas import DataFrame


class Strategy:
    """Vectorised signals over a candle DataFrame (columns date, open, high, low, close, volume).

    `populate_entry_trend` sets `enter_long` to 1 on candles after which to buy (optionally
    `enter_tag`); `populate_exit_trend` sets `exit_long` to 1 on candles after which to sell. A
    signal on a closed candle is acted on at the next candle's open, live and in backtests alike."""

    timeframe: ClassVar[str] = "5m"
    startup_candle_count: ClassVar[int] = 0
    minimal_roi: ClassVar[dict[str, float]] = {}
    stoploss: ClassVar[float] = -0.10
    trailing_stop: ClassVar[bool] = False
    trailing_stop_positive: ClassVar[float | None] = None
    trailing_stop_positive_offset: ClassVar[float] = 0.0
    trailing_only_offset_is_reached: ClassVar[bool] = False
    use_exit_signal: ClassVar[bool] = True
    can_short: ClassVar[bool] = False
    # other pairs whose candles (same timeframe, up to the same candle) come in metadata["informative"];
    # each must be whitelisted: the daemon, the backtest and training all read them
    informative_pairs: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.config = dict(config or {})

    def populate_indicators(self, dataframe: DataFrame, metadata: dict[str, Any]) -> DataFrame:
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict[str, Any]) -> DataFrame:
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict[str, Any]) -> DataFrame:
        return dataframe
