"""Equity breakers: stop trading before a bad day becomes a disaster. Equity counts open positions
at current prices, not only closed trades, so a crash trips a breaker while it happens. Pure: the
caller samples the equity and keeps the marks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from bot.book import Position

DAY_MS = 86_400_000


@dataclass(frozen=True)
class EquityLimits:
    daily_loss_frac: Decimal | None = None  # of the day's opening equity (the day starts 00:00 UTC)
    max_drawdown_frac: Decimal | None = None  # from the high-water mark
    max_losing_streak: int | None = None  # closed trades in a row with a loss

    @property
    def any(self) -> bool:
        return any(v is not None for v in (self.daily_loss_frac, self.max_drawdown_frac, self.max_losing_streak))


@dataclass(frozen=True)
class EquityMarks:
    """What the breakers measure against: the day's opening equity and the high-water mark, both
    since `reset_ms` (the last time a person resumed trading: they acknowledged the loss)."""

    day_ms: int
    day_start: Decimal
    high: Decimal
    reset_ms: int


@dataclass(frozen=True)
class Breach:
    breaker: str  # daily_loss, drawdown, losing_streak
    reason: str


def equity_of(quote_total: Decimal, positions: Sequence[Position], prices: Mapping[str, Decimal]) -> Decimal:
    """The stake currency held (free and in orders) plus each position at its price; a position
    without a price counts at its entry rate rather than at nothing."""
    held = sum((p.amount * prices.get(p.pair, p.open_rate) for p in positions), Decimal(0))
    return quote_total + held


def roll_marks(marks: EquityMarks | None, equity: Decimal, now_ms: int, reset_ms: int) -> EquityMarks:
    """The marks after a new sample: reset after a person resumed, a new opening at a new UTC day,
    and the high-water mark raised."""
    day = now_ms - now_ms % DAY_MS
    if marks is None or reset_ms > marks.reset_ms:
        return EquityMarks(day, equity, equity, reset_ms)
    if day != marks.day_ms:
        marks = replace(marks, day_ms=day, day_start=equity)
    return replace(marks, high=max(marks.high, equity))


def losing_streak(profits_newest_first: Sequence[Decimal]) -> int:
    count = 0
    for profit in profits_newest_first:
        if profit >= 0:
            break
        count += 1
    return count


def equity_breaches(marks: EquityMarks, equity: Decimal, streak: int, limits: EquityLimits) -> list[Breach]:
    breaches = []
    if limits.daily_loss_frac is not None and marks.day_start > 0:
        loss = (marks.day_start - equity) / marks.day_start
        if loss >= limits.daily_loss_frac:
            breaches.append(
                Breach(
                    "daily_loss",
                    f"equity {equity:.2f} is {loss:.2%} below today's opening {marks.day_start:.2f} "
                    f"(risk.daily_loss_limit_frac {limits.daily_loss_frac})",
                )
            )
    if limits.max_drawdown_frac is not None and marks.high > 0:
        drawdown = (marks.high - equity) / marks.high
        if drawdown >= limits.max_drawdown_frac:
            breaches.append(
                Breach(
                    "drawdown",
                    f"equity {equity:.2f} is {drawdown:.2%} below its high {marks.high:.2f} "
                    f"(risk.max_drawdown_frac {limits.max_drawdown_frac})",
                )
            )
    if limits.max_losing_streak is not None and streak >= limits.max_losing_streak:
        breaches.append(
            Breach(
                "losing_streak", f"{streak} losing trades in a row (risk.max_losing_streak {limits.max_losing_streak})"
            )
        )
    return breaches
