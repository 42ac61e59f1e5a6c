"""Equity breakers with hand-computed numbers."""

from decimal import Decimal as D

import pytest

from bot.book import Position
from bot.risk.equity import DAY_MS, EquityLimits, EquityMarks, equity_breaches, equity_of, losing_streak, roll_marks

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
    ("marks", "equity", "now_ms", "reset_ms", "expected"),
    [
        (None, D(990), DAY + 5, 0, EquityMarks(DAY, D(990), D(990), 0)),  # first sample
        (MARKS, D(1200), DAY + 5, 0, EquityMarks(DAY, D(1000), D(1200), 0)),  # a new high
        (MARKS, D(950), DAY + DAY_MS + 1, 0, EquityMarks(DAY + DAY_MS, D(950), D(1100), 0)),  # a new day opens
        (MARKS, D(900), DAY + 7, 7, EquityMarks(DAY, D(900), D(900), 7)),  # a person resumed: all reset
    ],
)
def test_marks_roll(marks: EquityMarks | None, equity: D, now_ms: int, reset_ms: int, expected: EquityMarks) -> None:
    assert roll_marks(marks, equity, now_ms, reset_ms) == expected


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
    ("profits", "expected"),
    [([], 0), ([D(-1), D(-2), D(3), D(-4)], 2), ([D(0), D(-1)], 0), ([D("-0.01")] * 4, 4)],
)
def test_losing_streak_counts_the_newest_losses(profits: list[D], expected: int) -> None:
    assert losing_streak(profits) == expected
