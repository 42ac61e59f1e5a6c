"""Equity breakers with hand-computed numbers."""

from decimal import Decimal as D

import pytest

from bot.book import Position
from bot.risk.equity import (
    DAILY,
    DAY_MS,
    EquityLimits,
    EquityMarks,
    equity_breaches,
    equity_of,
    equity_step,
    losing_streak,
    newest_first,
    roll_marks,
)
from bot.risk.trading_state import Mode, TradingState

DAY = 20_000 * DAY_MS  # a midnight, UTC
MARKS = EquityMarks(day_ms=DAY, day_start=D(1000), high=D(1100), reset_ms=0)


def test_equity_counts_open_positions_at_their_price() -> None:
    positions = (
        Position(1, "BTC/USDT", D("0.01"), D(50_000), 0, D(50_000)),
        Position(2, "ETH/USDT", D("0.5"), D(2_000), 0, D(2_000)),
    )
    # 700 USDT + 0.01 BTC at 45,000 + 0.5 ETH with no price: at its entry rate, 2,000
    assert equity_of(D(700), positions, {"BTC/USDT": D(45_000)}) == D(700) + D(450) + D(1000)


@pytest.mark.parametrize(
    ("marks", "equity", "now_ms", "resumed_ms", "expected"),
    [
        (None, D(990), DAY + 5, 0, EquityMarks(DAY, D(990), D(990), 0)),  # first sample
        (MARKS, D(1200), DAY + 5, 0, EquityMarks(DAY, D(1000), D(1200), 0)),  # a new high
        (MARKS, D(950), DAY + DAY_MS + 1, 0, EquityMarks(DAY + DAY_MS, D(950), D(1100), 0)),  # a new day opens
        # a person resumed (stamped in wall time, 3 days on): all reset at the sample's own time
        (MARKS, D(900), DAY + 7, DAY + 3 * DAY_MS, EquityMarks(DAY, D(900), D(900), DAY + 7, DAY + 3 * DAY_MS)),
    ],
)
def test_marks_roll(marks: EquityMarks | None, equity: D, now_ms: int, resumed_ms: int, expected: EquityMarks) -> None:
    assert roll_marks(marks, equity, now_ms, resumed_ms) == expected


@pytest.mark.parametrize(
    ("equity", "streak", "limits", "tripped"),
    [
        (D(951), 0, EquityLimits(daily_loss_frac=D("0.05")), []),  # 4.9% down on the day
        (D(950), 0, EquityLimits(daily_loss_frac=D("0.05")), ["daily_loss"]),  # exactly 5%
        (D(990), 0, EquityLimits(max_drawdown_frac=D("0.10")), ["drawdown"]),  # 1100 -> 990 is 10%
        (D(991), 0, EquityLimits(max_drawdown_frac=D("0.10")), []),
        (D(1000), 2, EquityLimits(max_losing_streak=3), []),
        (D(1000), 3, EquityLimits(max_losing_streak=3), ["losing_streak"]),
        (D(900), 5, EquityLimits(D("0.05"), D("0.10"), 3), ["daily_loss", "drawdown", "losing_streak"]),
        (D(500), 9, EquityLimits(), []),  # nothing configured, nothing trips
    ],
)
def test_breaches(equity: D, streak: int, limits: EquityLimits, tripped: list[str]) -> None:
    assert [b.breaker for b in equity_breaches(MARKS, equity, streak, limits)] == tripped


def test_the_reason_says_how_far_and_which_key() -> None:
    (breach,) = equity_breaches(MARKS, D(940), 0, EquityLimits(daily_loss_frac=D("0.05")))
    assert breach.reason == "equity 940.00 is 6.00% below today's opening 1000.00 (risk.daily_loss_limit_frac 0.05)"


@pytest.mark.parametrize(
    ("closed", "since_ms", "expected"),
    [
        ([], 0, 0),
        ([(40, 1, D(-1)), (30, 2, D(-2)), (20, 3, D(3)), (10, 4, D(-4))], 0, 2),
        ([(20, 1, D(0)), (10, 2, D(-1))], 0, 0),  # break-even ends a streak
        ([(t, t, D("-0.01")) for t in (1, 2, 3, 4)], 0, 4),
        ([(t, t, D("-0.01")) for t in (1, 2, 3, 4)], 2, 2),  # only trades closed after a person's resume
        # newest by close time, not by id: trade 9 (a win) closed last
        ([(10, 7, D(-1)), (11, 8, D(-1)), (12, 9, D(5))], 0, 0),
        ([(12, 7, D(-1)), (11, 8, D(-1)), (10, 9, D(5))], 0, 2),
        ([(10, 7, D(5)), (10, 8, D(-1))], 0, 1),  # closed at once: the higher id is the newer
    ],
)
def test_losing_streak_counts_the_newest_losses(closed: list[tuple[int, int, D]], since_ms: int, expected: int) -> None:
    assert losing_streak(newest_first(closed), since_ms) == expected


RUNNING = TradingState()
DAILY_PAUSE = TradingState(Mode.PAUSED, "down 4%", DAILY, DAY + 60_000)
LIMITS = EquityLimits(daily_loss_frac=D("0.05"), max_losing_streak=2)
LOSSES = [(DAY - 2, 1, D(-1)), (DAY - 1, 2, D(-1))]


@pytest.mark.parametrize(
    ("state", "equity", "closed", "now_ms", "lift", "breach"),
    [
        (RUNNING, D(960), [], DAY + 5, False, None),
        (RUNNING, D(950), [], DAY + 5, False, "daily_loss"),
        (RUNNING, D(1000), LOSSES, DAY + 5, False, "losing_streak"),
        # a machinery pause does not hide a loss: the money's breaker takes the pause over
        (TradingState(Mode.PAUSED, "wild", "breaker:volatility", DAY), D(900), [], DAY + 5, False, "daily_loss"),
        # a person's pause or halt, or the daily pause itself: no new trip
        (TradingState(Mode.PAUSED, "", "cli", DAY), D(900), [], DAY + 5, False, None),
        (TradingState(Mode.HALTED, "", "telegram", DAY), D(900), LOSSES, DAY + 5, False, None),
        (DAILY_PAUSE, D(900), [], DAY + 5 * 60_000, False, None),
        # the next UTC day lifts the daily pause, and nothing trips on that tick
        (DAILY_PAUSE, D(900), LOSSES, DAY + DAY_MS, True, None),
        # a drawdown pause waits for a person, whatever the day
        (TradingState(Mode.PAUSED, "", "breaker:drawdown", DAY), D(900), [], DAY + DAY_MS, False, None),
    ],
)
def test_equity_step(
    state: TradingState, equity: D, closed: list[tuple[int, int, D]], now_ms: int, lift: bool, breach: str | None
) -> None:
    step = equity_step(state, MARKS, equity, closed=newest_first(closed), limits=LIMITS, now_ms=now_ms)
    assert step.lift_daily is lift
    assert (step.breach.breaker if step.breach else None) == breach


def test_a_persons_resume_restarts_the_marks_and_the_streak() -> None:
    resumed = TradingState(Mode.RUNNING, "", "cli", 99 * DAY_MS)  # wall time, far from the market's
    step = equity_step(resumed, MARKS, D(900), closed=newest_first(LOSSES), limits=LIMITS, now_ms=DAY + 60_000)
    assert step.marks == EquityMarks(DAY, D(900), D(900), DAY + 60_000, 99 * DAY_MS)
    assert step.breach is None  # the losses closed before the resume; 900 is the new opening
    closed = newest_first([*LOSSES, (DAY + 120_000, 3, D(-50))])
    again = equity_step(resumed, step.marks, D(850), closed=closed, limits=LIMITS, now_ms=DAY + 180_000)
    assert again.marks.reset_ms == DAY + 60_000  # the same resume does not reset twice
    assert again.breach is not None and again.breach.breaker == "daily_loss"  # 850 is 5.6% below 900
