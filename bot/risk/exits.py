"""Exit rules: the ROI ladder, the stoploss and the trailing stop. Pure.

The daemon and the backtester ask the same questions of the same ExitRules: which exit a closed
candle's signal asks for, and at what prices a position's stop and take-profit should rest for the
candle that is about to start."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from bot.exchange.base import Market


@dataclass(frozen=True)
class ExitRules:
    roi: tuple[tuple[int, float], ...]  # (minutes since entry, minimum profit ratio), ascending
    stoploss: float
    trailing_stop: bool = False
    trailing_stop_positive: float | None = None
    trailing_stop_positive_offset: float = 0.0
    trailing_only_offset_is_reached: bool = False
    use_exit_signal: bool = True

    def roi_at(self, minutes: int) -> float | None:
        """The ROI step in force `minutes` after entry (the largest key not above it)."""
        current = None
        for start, ratio in self.roi:
            if start <= minutes:
                current = ratio
        return current


def exit_rules(attributes: object, overrides: Mapping[str, object]) -> ExitRules:
    """Rules from a strategy's attributes, with config keys of the same name taking precedence."""

    def pick(name: str) -> object:
        value = overrides.get(name)
        return getattr(attributes, name) if value is None else value

    roi_map = pick("minimal_roi")
    assert isinstance(roi_map, dict)
    roi = tuple(sorted((int(k), float(v)) for k, v in roi_map.items()))
    tsp = pick("trailing_stop_positive")
    return ExitRules(
        roi=roi,
        stoploss=float(pick("stoploss")),  # type: ignore[arg-type]
        trailing_stop=bool(pick("trailing_stop")),
        trailing_stop_positive=None if tsp is None else float(tsp),  # type: ignore[arg-type]
        trailing_stop_positive_offset=float(pick("trailing_stop_positive_offset")),  # type: ignore[arg-type]
        trailing_only_offset_is_reached=bool(pick("trailing_only_offset_is_reached")),
        use_exit_signal=bool(pick("use_exit_signal")),
    )


@dataclass(frozen=True)
class Protection:
    """Where a position's resting exit orders belong for the next candle."""

    stop_price: Decimal
    stop_reason: str  # "stop_loss" or "trailing_stop_loss"
    take_profit_price: Decimal | None


def wants_signal_exit(rules: ExitRules, enter: bool, exit_: bool) -> bool:
    """An exit signal counts only when the same candle does not also ask to enter."""
    return rules.use_exit_signal and exit_ and not enter


def initial_stop(rules: ExitRules, open_rate: Decimal, market: Market) -> Decimal:
    """Rounded up to the tick, so the stop never sits further away than the stoploss allows."""
    return market.round_price_up(open_rate * Decimal(repr(1 + rules.stoploss)))


def stop_price(rules: ExitRules, open_rate: Decimal, max_rate: Decimal, market: Market) -> tuple[Decimal, str]:
    """The stop for the next candle, given the highest price seen since entry. It never moves down."""
    first = initial_stop(rules, open_rate, market)
    if not rules.trailing_stop:
        return first, "stop_loss"
    offset_reached = max_rate / open_rate - 1 > Decimal(repr(rules.trailing_stop_positive_offset))
    if rules.trailing_only_offset_is_reached and not offset_reached:
        return first, "stop_loss"
    use_positive = rules.trailing_stop_positive is not None and offset_reached
    distance = rules.trailing_stop_positive if use_positive else -rules.stoploss
    assert distance is not None
    trailed = market.round_price_up(max_rate * (1 - Decimal(repr(distance))))
    if trailed > first:
        return trailed, "trailing_stop_loss"
    return first, "stop_loss"


def roi_price(rules: ExitRules, open_rate: Decimal, minutes: int, fee_frac: Decimal, market: Market) -> Decimal | None:
    """The sell price that books exactly the ROI step's profit after fees on both sides."""
    roi = rules.roi_at(minutes)
    if roi is None:
        return None
    raw = open_rate * (1 + fee_frac) * (1 + Decimal(repr(roi))) / (1 - fee_frac)
    return max(market.round_price(raw), market.price_tick)


def protection(
    rules: ExitRules,
    *,
    open_rate: Decimal,
    open_ms: int,
    max_rate: Decimal,
    now_ms: int,
    fee_frac: Decimal,
    market: Market,
) -> Protection:
    stop, reason = stop_price(rules, open_rate, max_rate, market)
    # a real venue stamps the fill after the candle close the tick runs at: never a negative age
    minutes = max(0, now_ms - open_ms) // 60_000
    return Protection(stop, reason, roi_price(rules, open_rate, minutes, fee_frac, market))
