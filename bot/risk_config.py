"""The `risk` and `protections` sections of config.json."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field, model_validator

from bot.config_section import Section


class RiskConfig(Section):
    """Entry caps and sizing, the equity breakers (off unless set; a trip pauses or halts as
    `on_breach` says) and the machinery's circuit breakers."""

    daily_loss_limit_frac: Decimal | None = Field(default=None, gt=0, lt=1)
    max_drawdown_frac: Decimal | None = Field(default=None, gt=0, lt=1)
    max_losing_streak: int | None = Field(default=None, ge=1)
    on_breach: Literal["pause", "halt"] = "pause"
    max_stake_quote: Decimal | None = Field(default=None, gt=0)
    max_exposure_quote: Decimal | None = Field(default=None, gt=0)
    risk_per_trade_frac: Decimal | None = Field(default=None, gt=0, lt=1)
    max_exchange_errors: int = Field(default=5, ge=1)  # failed calls within the window open the circuit
    exchange_error_window_s: float = Field(default=300, gt=0)
    exchange_error_cooldown_s: float = Field(default=120, gt=0)
    stale_candles: bool = True
    max_latency_ms: float | None = Field(default=None, gt=0)
    volatility_brake_k: float | None = Field(default=None, gt=1)
    volatility_lookback: int = Field(default=48, ge=2)


class ProtectionConfig(Section):
    """One entry of `protections`, written as freqtrade writes it; durations in candles or minutes."""

    method: Literal["CooldownPeriod", "StoplossGuard", "LowProfitPairs", "MaxDrawdown"]
    stop_duration_candles: int | None = Field(default=None, ge=1)
    stop_duration: float | None = Field(default=None, gt=0)  # minutes
    lookback_period_candles: int | None = Field(default=None, ge=1)
    lookback_period: float | None = Field(default=None, gt=0)  # minutes
    trade_limit: int = Field(default=1, ge=1)
    only_per_pair: bool | None = None  # default: per pair for CooldownPeriod and LowProfitPairs
    required_profit: float = 0.0
    max_allowed_drawdown: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _one_duration(self) -> ProtectionConfig:
        if (self.stop_duration_candles is None) == (self.stop_duration is None):
            raise ValueError(f"{self.method}: give stop_duration_candles or stop_duration (minutes), one of them")
        return self
