"""The `ml` section of config.json: retraining an ML strategy inside the daemon. Off unless
`retrain_every` is set; LightGBM is imported only then."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, field_validator

from bot.config_section import Section
from bot.errors import ConfigError
from bot.timeframes import timeframe_ms

if TYPE_CHECKING:
    from bot.strategy.base import Strategy


class MLConfig(Section):
    retrain_every: str | None = None  # market time between trainings, e.g. "12h", "7d", "2w"
    # a new model replaces the served one unless its out-of-sample AUC (or IC) is lower by more than this
    tolerance: float = Field(default=0.01, ge=0, le=0.5)
    # the AUC (or IC) every new model must reach out of sample; default 0.52 (AUC), 0.02 (IC)
    min_metric: float | None = Field(default=None, ge=-1, le=1)
    # candles per pair to train on; default: the strategy's training window plus four test windows
    history_candles: int | None = Field(default=None, ge=500, le=5_000_000)
    seed: int = 42

    @field_validator("retrain_every")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            ms = timeframe_ms(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a duration such as 12h, 7d or 2w") from None
        if ms < 60_000:
            raise ValueError(f"{value!r} is shorter than a minute")
        return value

    def floor(self, metric: str) -> float:
        if self.min_metric is not None:
            return self.min_metric
        return 0.02 if metric == "ic" else 0.52

    @property
    def every_ms(self) -> int | None:
        return None if self.retrain_every is None else timeframe_ms(self.retrain_every)


def check_ml(ml: MLConfig, strategy: Strategy) -> None:
    """`ml.retrain_every` needs an ML strategy (checked at start and on /reload)."""
    if ml.every_ms is None:
        return
    from bot.ml.strategy import MLStrategy  # LightGBM only when retraining is on

    if not isinstance(strategy, MLStrategy):
        raise ConfigError(f"ml.retrain_every: {type(strategy).__name__} is not an ML strategy; remove the key")
