"""The engine's settings from a config and a strategy: exit rules, entry limits, fee, timeframe.
One function each, used by the daemon's wiring and by the backtester, so both always trade by the
same rules from the same config."""

from __future__ import annotations

from decimal import Decimal

from bot.breaker_board import MachineryLimits
from bot.config import Config
from bot.exchange.base import OrderType
from bot.exchange.fills import FillModel
from bot.orders.policy import OrderPolicy
from bot.risk.circuit import ErrorBreakerConfig
from bot.risk.equity import EquityLimits
from bot.risk.exits import ExitRules, exit_rules
from bot.risk.protections import Protection
from bot.risk.sizing import EntryLimits
from bot.strategy.base import Strategy

DEFAULT_FEE = Decimal("0.001")
RULE_KEYS = (
    "minimal_roi",
    "stoploss",
    "trailing_stop",
    "trailing_stop_positive",
    "trailing_stop_positive_offset",
    "trailing_only_offset_is_reached",
)


def fee_for(config: Config) -> Decimal:
    return config.fee if config.fee is not None else DEFAULT_FEE


def rules_for(config: Config, strategy: Strategy) -> ExitRules:
    """The strategy's exit rules, with the config's keys of the same name taking precedence."""
    return exit_rules(strategy, {key: getattr(config, key) for key in RULE_KEYS})


def limits_for(config: Config, rules: ExitRules) -> EntryLimits:
    risk = config.risk
    return EntryLimits(
        stake_quote=None if config.stake_amount == "unlimited" else config.stake_amount,
        max_open_trades=config.max_slots,
        fee_frac=fee_for(config),
        stop_floor_frac=Decimal(repr(1 + rules.stoploss)),
        max_stake_quote=risk.max_stake_quote,
        max_exposure_quote=risk.max_exposure_quote,
        tradable_ratio=config.tradable_balance_ratio,
        risk_per_trade_frac=risk.risk_per_trade_frac,
    )


def timeframe_for(config: Config, strategy: Strategy) -> str:
    return config.timeframe or strategy.timeframe


def fill_model_for(config: Config) -> FillModel:
    return FillModel(slippage_frac=config.paper_fills.slippage, volume_share=config.paper_fills.volume_share)


def equity_limits_for(config: Config) -> EquityLimits:
    risk = config.risk
    return EquityLimits(risk.daily_loss_limit_frac, risk.max_drawdown_frac, risk.max_losing_streak)


def protections_for(config: Config, tf_ms: int) -> tuple[Protection, ...]:
    def ms(candles: int | None, minutes: float | None) -> int:
        return candles * tf_ms if candles is not None else int((minutes or 0) * 60_000)

    return tuple(
        Protection(
            method=p.method,
            duration_ms=ms(p.stop_duration_candles, p.stop_duration),
            lookback_ms=ms(p.lookback_period_candles, p.lookback_period),
            trade_limit=p.trade_limit,
            per_pair=p.only_per_pair
            if p.only_per_pair is not None
            else p.method in ("CooldownPeriod", "LowProfitPairs"),
            required_profit=Decimal(repr(p.required_profit)),
            max_drawdown=Decimal(repr(p.max_allowed_drawdown)),
        )
        for p in config.protections
    )


def machinery_limits_for(config: Config) -> MachineryLimits:
    risk = config.risk
    errors = ErrorBreakerConfig(
        risk.max_exchange_errors, int(risk.exchange_error_window_s * 1000), int(risk.exchange_error_cooldown_s * 1000)
    )
    return MachineryLimits(
        errors, risk.stale_candles, risk.max_latency_ms, risk.volatility_brake_k, risk.volatility_lookback
    )


def policy_for(config: Config) -> OrderPolicy:
    """`order_types` and `unfilledtimeout` as the executor reads them. The backtester reads only the
    order types: its limits are priced at the market and trade at once, as on Kestrel's own venues."""
    return OrderPolicy(
        entry_type=OrderType(config.order_types.entry),
        exit_type=OrderType(config.order_types.exit),
        stop_on_exchange=config.order_types.stoploss_on_exchange,
        entry_timeout_ms=config.unfilledtimeout.ms("entry"),
        exit_timeout_ms=config.unfilledtimeout.ms("exit"),
        exit_timeout_count=config.unfilledtimeout.exit_timeout_count,
    )
