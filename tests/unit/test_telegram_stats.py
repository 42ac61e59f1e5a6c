"""The numbers behind /trades, /profit, /daily, /weekly, /monthly, /performance and /count, checked
against sums done by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D

from bot.store.records import TradeRecord
from bot.telegram import stats


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def trade(
    tid: int, pair: str, opened: str, closed: str | None, profit: str | None, ratio: str | None, stake: str = "100"
) -> TradeRecord:
    return TradeRecord(
        id=tid,
        pair=pair,
        status="closed" if closed else "open",
        stake_quote=D(stake),
        amount=D(1),
        open_rate=D(100),
        open_ms=ms(opened),
        open_fee=D(0),
        close_rate=D(100) if closed else None,
        close_ms=ms(closed) if closed else None,
        close_fee=D(0),
        exit_reason="roi" if closed else None,
        enter_tag=None,
        signal_ms=ms(opened),
        max_rate=None,
        profit_quote=D(profit) if profit is not None else None,
        profit_ratio=D(ratio) if ratio is not None else None,
    )


TRADES = [
    trade(1, "BTC/USDT", "2026-01-30 10:00", "2026-01-31 12:00", "5", "0.05"),  # Saturday, January
    trade(2, "ETH/USDT", "2026-02-01 09:00", "2026-02-01 10:00", "-2", "-0.02"),  # Sunday
    trade(3, "BTC/USDT", "2026-02-02 08:00", "2026-02-02 09:30", "3", "0.03"),  # Monday: a new week
    trade(4, "SOL/USDT", "2026-02-02 11:00", "2026-02-02 11:30", "0", "0"),
    trade(5, "ETH/USDT", "2026-02-02 12:00", None, None, None, stake="50"),  # still open
]
NOW = ms("2026-02-02 18:00")


def test_closed_only_keeps_closed_trades_in_close_order() -> None:
    shuffled = [TRADES[3], TRADES[4], TRADES[0], TRADES[2], TRADES[1]]
    assert [t.id for t in stats.closed_only(shuffled)] == [1, 2, 3, 4]


def test_profit_sums_and_counts() -> None:
    p = stats.profit(stats.closed_only(TRADES))
    assert (p.closed, p.wins, p.losses) == (4, 2, 1)
    assert p.realised == D(6) and p.staked == D(400) and p.ratio == D("0.015")
    assert p.best is not None and p.best.id == 1 and p.worst is not None and p.worst.id == 2
    assert p.avg_duration_ms == (26 + 1 + 1.5 + 0.5) * 3_600_000 / 4
    text = stats.profit_text(p, open_count=1, unrealised=D("-1.25"), currency="USDT")
    assert "realised  6 USDT (+1.50% of the stake used)" in text
    assert "4 closed: 2 won, 1 lost, 1 even (+50.00% won)" in text
    assert "best      #1 BTC/USDT +5.00%" in text and "worst     #2 ETH/USDT -2.00%" in text
    assert text.endswith("open      1 trades, unrealised -1.25 USDT")


def test_profit_without_closed_trades() -> None:
    p = stats.profit([])
    assert p.ratio is None and p.best is None
    assert stats.profit_text(p, 0, None, "USDT") == "no closed trades yet\nopen      0 trades, unrealised -"


def test_daily_rows_include_empty_days_newest_first() -> None:
    rows = stats.by_period(stats.closed_only(TRADES), NOW, "day", 4)
    assert [(r.start, r.profit, r.trades, r.wins) for r in rows] == [
        (date(2026, 2, 2), D(3), 2, 1),
        (date(2026, 2, 1), D(-2), 1, 0),
        (date(2026, 1, 31), D(5), 1, 1),
        (date(2026, 1, 30), D(0), 0, 0),
    ]
    text = stats.period_text(rows, "day", "USDT")
    assert text.splitlines()[-1].split() == ["total", "6", "4", "2"]


def test_weeks_start_on_monday_and_months_on_the_first() -> None:
    weeks = stats.by_period(stats.closed_only(TRADES), NOW, "week", 2)
    assert [(r.start, r.profit, r.trades) for r in weeks] == [(date(2026, 2, 2), D(3), 2), (date(2026, 1, 26), D(3), 2)]
    months = stats.by_period(stats.closed_only(TRADES), NOW, "month", 3)
    assert [(r.start, r.profit, r.trades) for r in months] == [
        (date(2026, 2, 1), D(1), 3),
        (date(2026, 1, 1), D(5), 1),
        (date(2025, 12, 1), D(0), 0),
    ]
    assert "2026-02 " in stats.period_text(months, "month", "USDT")


def test_performance_ranks_pairs_by_total_profit() -> None:
    rows = stats.performance(stats.closed_only(TRADES))
    assert [(r.pair, r.profit, r.trades, r.mean_ratio) for r in rows] == [
        ("BTC/USDT", D(8), 2, D("0.04")),
        ("SOL/USDT", D(0), 1, D(0)),
        ("ETH/USDT", D(-2), 1, D("-0.02")),
    ]
    assert stats.performance_text([], "USDT") == "no closed trades yet"


def test_trades_and_count_texts() -> None:
    text = stats.trades_text(stats.closed_only(TRADES), 2, "USDT")
    lines = text.splitlines()
    assert len(lines) == 3 and lines[1].split()[:2] == ["4", "SOL/USDT"] and lines[2].split()[:2] == ["3", "BTC/USDT"]
    assert stats.trades_text([], 5, "USDT") == "no closed trades yet"
    open_trades = [t for t in TRADES if t.status == "open"]
    assert stats.count_text(open_trades, 3, "USDT") == "open trades 1 of 3; stake in them 50 USDT"
