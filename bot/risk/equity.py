"""Equity breakers: stop trading before a bad day becomes a disaster. Equity counts open positions
at current prices, not only closed trades, so a crash trips a breaker while it happens. Pure: the
caller samples the equity and keeps the marks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from bot.book import Position
from bot.risk.trading_state import PEOPLE, Mode, TradingState

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
    since `reset_ms`, the first sample after a person last resumed trading (they acknowledged the
    loss). `resumed_ms` is that resume's own stamp: the CLI writes wall time, which is not the
    market's time in a replay, so it only identifies the resume."""

    day_ms: int
    day_start: Decimal
    high: Decimal
    reset_ms: int
    resumed_ms: int = 0


@dataclass(frozen=True)
class Breach:
    breaker: str  # daily_loss, drawdown, losing_streak
    reason: str


def equity_of(quote_total: Decimal, positions: Sequence[Position], prices: Mapping[str, Decimal]) -> Decimal:
    """The stake currency held (free and in orders) plus each position at its price; a position
    without a price counts at its entry rate rather than at nothing."""
    held = sum((p.amount * prices.get(p.pair, p.open_rate) for p in positions), Decimal(0))
    return quote_total + held


def roll_marks(marks: EquityMarks | None, equity: Decimal, now_ms: int, resumed_ms: int = 0) -> EquityMarks:
    """The marks after a new sample: reset after a person resumed (`resumed_ms`: the stamp of the
    latest resume by a person), a new opening at a new UTC day, and the high-water mark raised."""
    day = now_ms - now_ms % DAY_MS
    if marks is None or resumed_ms != marks.resumed_ms:
        return EquityMarks(day, equity, equity, now_ms if marks is not None else 0, resumed_ms)
    if day != marks.day_ms:
        marks = replace(marks, day_ms=day, day_start=equity)
    return replace(marks, high=max(marks.high, equity))


def losing_streak(newest_first: Iterable[tuple[int, int, Decimal]], since_ms: int) -> int:
    """Losses in a row among the trades closed after `since_ms`: (close_ms, trade_id, profit) each,
    newest first by close time, then by trade id (`newest_first` sorts them so)."""
    count = 0
    for close_ms, _, profit in newest_first:
        if close_ms <= since_ms or profit >= 0:
            break
        count += 1
    return count


def newest_first(closed: Iterable[tuple[int, int, Decimal]]) -> list[tuple[int, int, Decimal]]:
    return sorted(closed, key=lambda t: (t[0], t[1]), reverse=True)


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


@dataclass(frozen=True)
class EquityStep:
    marks: EquityMarks
    lift_daily: bool = False  # a new UTC day lifts the daily loss limit's pause
    breach: Breach | None = None


DAILY = "breaker:daily_loss"


def equity_step(
    state: TradingState,
    marks: EquityMarks | None,
    equity: Decimal,
    *,
    closed: Iterable[tuple[int, int, Decimal]],
    limits: EquityLimits,
    now_ms: int,
) -> EquityStep:
    """One tick of the equity breakers, the same in the daemon and the backtest: the marks moved,
    and whether the daily pause lifts or a limit trips. They trip while trading runs, or while only
    a machinery breaker pauses it; a daily-loss pause lifts itself at the next UTC day. `closed`:
    the closed trades as (close_ms, trade_id, profit), newest first, for the losing streak."""
    person = state.by in PEOPLE and state.mode is Mode.RUNNING
    before = marks
    marks = roll_marks(marks, equity, now_ms, state.since_ms if person else (before.resumed_ms if before else 0))
    if state.mode is Mode.PAUSED and state.by == DAILY and marks.day_ms > state.since_ms:
        return EquityStep(marks, lift_daily=True)
    if state.mode is not Mode.RUNNING and not state.machinery_paused:
        return EquityStep(marks)
    streak = losing_streak(closed, marks.reset_ms) if limits.max_losing_streak is not None else 0
    breaches = equity_breaches(marks, equity, streak, limits)
    return EquityStep(marks, breach=breaches[0] if breaches else None)
