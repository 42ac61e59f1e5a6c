"""The `ml` section of config.json: retraining an ML strategy inside the daemon. Off unless
`retrain_every` is set; LightGBM is imported only then."""

from __future__ import annotations

from pydantic import Field, field_validator

from bot.config_section import Section
from bot.timeframes import timeframe_ms


class MLConfig(Section):
    retrain_every: str | None = None  # market time between trainings, e.g. "12h", "7d", "2w"
    # a new model replaces the served one unless its out-of-sample AUC is lower by more than this
    tolerance: float = Field(default=0.01, ge=0, le=0.5)
    # with no model served yet, the AUC a first model must reach (0.5 is a coin toss)
    min_metric: float = Field(default=0.52, ge=0, le=1)
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

    @property
    def every_ms(self) -> int | None:
        return None if self.retrain_every is None else timeframe_ms(self.retrain_every)
