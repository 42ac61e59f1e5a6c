"""Protections' locks from closed trades, with hand-picked trades and times (minutes)."""

from decimal import Decimal as D

import pytest

from bot.risk.protections import ClosedTrade, Lock, Protection, active_locks, entry_lock

M = 60_000


def trade(pair: str, minute: int, profit: str, reason: str = "exit_signal") -> ClosedTrade:
    return ClosedTrade(pair, minute * M, D(profit), reason)


COOLDOWN = Protection("CooldownPeriod", duration_ms=10 * M)
GUARD = Protection("StoplossGuard", duration_ms=30 * M, lookback_ms=60 * M, trade_limit=2, per_pair=False)
LOW = Protection("LowProfitPairs", duration_ms=20 * M, lookback_ms=60 * M, trade_limit=2, required_profit=D("0.01"))
DRAWDOWN = Protection(
    "MaxDrawdown", duration_ms=15 * M, lookback_ms=100 * M, trade_limit=3, per_pair=False, max_drawdown=D("0.05")
)


@pytest.mark.parametrize(
    ("protection", "trades", "now", "expected"),
    [
        (COOLDOWN, [trade("A", 100, "0.02")], 105, [("A", 110)]),
        (COOLDOWN, [trade("A", 100, "0.02")], 110, []),  # over at its end
        (COOLDOWN, [trade("A", 100, "0.02")], 99, []),  # a trade closed later does not count yet
        # two stop losses within the hour lock every pair from the second one
        (
            GUARD,
            [trade("A", 100, "-0.03", "stop_loss"), trade("B", 150, "-0.02", "trailing_stop_loss")],
            160,
            [(None, 180)],
        ),
        (
            GUARD,
            [trade("A", 100, "-0.03", "stop_loss"), trade("B", 170, "-0.02", "stop_loss")],
            175,
            [],
        ),  # 70 min apart
        (
            GUARD,
            [trade("A", 100, "-0.03", "stop_loss"), trade("B", 150, "0.01", "trailing_stop_loss")],
            160,
            [],
        ),  # a won stop
        # A: +0.5% and +0.4% in the hour is below 1%: locked from its second trade; B's one trade is too few
        (LOW, [trade("A", 100, "0.005"), trade("A", 140, "0.004"), trade("B", 141, "-0.05")], 150, [("A", 160)]),
        (LOW, [trade("A", 100, "0.005"), trade("A", 140, "0.006")], 150, []),  # 1.1%
        # +2%, -4%, -3%: 7% below the +2% peak after the third trade
        (DRAWDOWN, [trade("A", 10, "0.02"), trade("B", 20, "-0.04"), trade("A", 30, "-0.03")], 40, [(None, 45)]),
        (DRAWDOWN, [trade("A", 10, "0.02"), trade("B", 20, "-0.04")], 25, []),  # two trades: too few
    ],
)
def test_locks(
    protection: Protection, trades: list[ClosedTrade], now: int, expected: list[tuple[str | None, int]]
) -> None:
    locks = active_locks(trades, [protection], now * M)
    assert [(lock.pair, lock.until_ms // M) for lock in locks] == expected


def test_an_entry_is_held_by_the_longest_lock_on_its_pair_or_on_all() -> None:
    locks = (Lock("A", 10, "a"), Lock(None, 30, "all"), Lock("B", 50, "b"))
    assert entry_lock(locks, "A") == Lock(None, 30, "all")
    assert entry_lock(locks, "B") == Lock("B", 50, "b")
    assert entry_lock(locks[:1], "C") is None


def test_the_reason_says_what_tripped() -> None:
    trades = [trade("A", 100, "-0.03", "stop_loss"), trade("B", 150, "-0.02", "stop_loss")]
    (lock,) = active_locks(trades, [GUARD], 160 * M)
    assert lock.reason == "StoplossGuard: 2 stop losses within 60 min"
