"""Backtest metrics against numbers worked out by hand (plain arithmetic here, never the code under test)."""

from __future__ import annotations

import json
import math
import statistics
from typing import Any

import pandas as pd
import pytest

from bot.backtest.metrics import REQUIRED_COLUMNS, compute_summary, format_summary

DAY_MS = 86_400_000


def ms(text: str) -> int:
    return int(pd.Timestamp(text, tz="UTC").value // 1_000_000)


def trade(pair: str, opened: str, closed: str, profit_abs: float, profit_ratio: float, reason: str) -> dict[str, Any]:
    return {
        "pair": pair,
        "open_date": pd.Timestamp(opened, tz="UTC"),
        "close_date": pd.Timestamp(closed, tz="UTC"),
        "open_rate": 100.0,
        "close_rate": 100.0 * (1 + profit_ratio),
        "amount": 1.0,
        "profit_ratio": profit_ratio,
        "profit_abs": profit_abs,
        "exit_reason": reason,
    }


def table(*rows: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=list(REQUIRED_COLUMNS))


# Four trades over 5 days (2024-01-30 .. 2024-02-03), given out of close order on purpose.
# Equity after each close: 1100, 1050, 1020, 1100.
FOUR = table(
    trade("BTC/USDT", "2024-02-01 00:00", "2024-02-01 12:00", -30.0, -0.03, "stop_loss"),
    trade("BTC/USDT", "2024-01-30 01:00", "2024-01-30 05:00", 100.0, 0.10, "roi"),
    trade("SOL/USDT", "2024-02-02 00:00", "2024-02-02 02:00", 80.0, 0.08, "roi"),
    trade("ETH/USDT", "2024-01-30 06:00", "2024-01-31 06:00", -50.0, -0.05, "stop_loss"),
)
START, END = ms("2024-01-30"), ms("2024-02-04")


@pytest.fixture
def four() -> dict[str, Any]:
    assert len(FOUR) == 4, "fixture must hold trades or the checks prove nothing"
    return compute_summary(FOUR, wallet=1000.0, stake_currency="USDT", start_ms=START, end_ms=END)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("trades", 4),
        ("wins", 2),
        ("losses", 2),
        ("draws", 0),
        ("win_rate", 0.5),
        ("profit_total_abs", 100.0),
        ("profit_total_ratio", 0.1),
        ("final_balance", 1100.0),
        ("profit_factor", 180.0 / 80.0),
        ("expectancy_abs", 25.0),
        ("expectancy_ratio", (0.10 - 0.05 - 0.03 + 0.08) / 4),
        ("avg_duration_minutes", (240 + 1440 + 720 + 120) / 4),
        ("max_drawdown_abs", 80.0),
        ("max_drawdown_ratio", 80.0 / 1100.0),
        ("range_days", 5.0),
    ],
)
def test_headline_numbers(four: dict[str, Any], key: str, expected: float) -> None:
    assert four[key] == pytest.approx(expected)


def test_drawdown_runs_from_the_last_peak_to_the_trough(four: dict[str, Any]) -> None:
    assert four["max_drawdown_start"] == "2024-01-30T05:00:00+00:00"
    assert four["max_drawdown_end"] == "2024-02-01T12:00:00+00:00"


def test_a_drawdown_from_the_first_trade_starts_at_the_range_start() -> None:
    trades = table(trade("A/B", "2024-01-01 01:00", "2024-01-01 02:00", -10.0, -0.01, "stop_loss"))
    s = compute_summary(trades, wallet=100.0, stake_currency="B", start_ms=ms("2024-01-01"), end_ms=ms("2024-01-03"))
    assert s["max_drawdown_start"] == "2024-01-01T00:00:00+00:00"
    assert s["max_drawdown_end"] == "2024-01-01T02:00:00+00:00"
    assert s["max_drawdown_ratio"] == pytest.approx(0.1)


def test_best_and_worst_trade(four: dict[str, Any]) -> None:
    assert four["best_trade"] == {"pair": "BTC/USDT", "profit_ratio": 0.10, "profit_abs": 100.0}
    assert four["worst_trade"] == {"pair": "ETH/USDT", "profit_ratio": -0.05, "profit_abs": -50.0}


def test_per_pair_is_sorted_by_profit(four: dict[str, Any]) -> None:
    assert [(p["pair"], p["trades"], p["profit_abs"]) for p in four["per_pair"]] == [
        ("SOL/USDT", 1, 80.0),
        ("BTC/USDT", 2, 70.0),
        ("ETH/USDT", 1, -50.0),
    ]
    btc = four["per_pair"][1]
    assert btc["profit_ratio_mean"] == pytest.approx(0.035)
    assert btc["win_rate"] == 0.5


def test_per_pair_ties_are_broken_by_name() -> None:
    trades = table(
        trade("ZZZ/USDT", "2024-01-01 01:00", "2024-01-01 02:00", 5.0, 0.05, "roi"),
        trade("AAA/USDT", "2024-01-01 01:00", "2024-01-01 03:00", 5.0, 0.05, "roi"),
    )
    s = compute_summary(trades, wallet=100.0, stake_currency="USDT", start_ms=ms("2024-01-01"), end_ms=ms("2024-01-02"))
    assert [p["pair"] for p in s["per_pair"]] == ["AAA/USDT", "ZZZ/USDT"]


def test_per_exit_reason(four: dict[str, Any]) -> None:
    rows = {r["exit_reason"]: r for r in four["per_exit_reason"]}
    assert set(rows) == {"roi", "stop_loss"}
    assert (rows["roi"]["trades"], rows["roi"]["profit_abs"], rows["roi"]["win_rate"]) == (2, 180.0, 1.0)
    assert (rows["stop_loss"]["trades"], rows["stop_loss"]["profit_abs"], rows["stop_loss"]["win_rate"]) == (
        2,
        -80.0,
        0.0,
    )


def test_daily_series_covers_every_day(four: dict[str, Any]) -> None:
    daily = four["daily"]
    assert [d["date"] for d in daily] == ["2024-01-30", "2024-01-31", "2024-02-01", "2024-02-02", "2024-02-03"]
    assert [d["profit_abs"] for d in daily] == pytest.approx([100, -50, -30, 80, 0])
    assert [d["equity"] for d in daily] == pytest.approx([1100, 1050, 1020, 1100, 1100])
    assert [d["drawdown_ratio"] for d in daily] == pytest.approx([0, 50 / 1100, 80 / 1100, 0, 0])


def test_sharpe_and_sortino_from_daily_returns(four: dict[str, Any]) -> None:
    returns = [100 / 1000, -50 / 1100, -30 / 1050, 80 / 1020, 0.0]
    mean = sum(returns) / 5
    sample_std = math.sqrt(sum((r - mean) ** 2 for r in returns) / 4)
    downside = math.sqrt(((50 / 1100) ** 2 + (30 / 1050) ** 2) / 5)
    assert four["sharpe"] == pytest.approx(mean / sample_std * math.sqrt(365))
    assert four["sortino"] == pytest.approx(mean / downside * math.sqrt(365))
    assert statistics.stdev(returns) == pytest.approx(sample_std)  # the hand formula is the usual one


def test_cagr_and_calmar(four: dict[str, Any]) -> None:
    cagr = 1.1 ** (365.25 / 5) - 1
    assert four["cagr"] == pytest.approx(cagr)
    assert four["calmar"] == pytest.approx(cagr / (80 / 1100))


def test_monthly_aggregation_across_a_month_boundary(four: dict[str, Any]) -> None:
    assert four["monthly"] == [
        {"month": "2024-01", "trades": 2, "profit_abs": 50.0, "return_ratio": pytest.approx(0.05)},
        {"month": "2024-02", "trades": 2, "profit_abs": 50.0, "return_ratio": pytest.approx(50 / 1050)},
    ]


@pytest.mark.parametrize(
    ("final_profit", "range_ms", "expected"),
    [
        (100.0, int(365.25 * DAY_MS), 0.1),  # 1000 -> 1100 in exactly one year
        (210.0, int(2 * 365.25 * DAY_MS), 0.1),  # 1000 -> 1210 in two years
        (100.0, DAY_MS - 1, None),  # under a day: no meaningful annual rate
        (-1000.0, int(365.25 * DAY_MS), None),  # wiped out
    ],
)
def test_cagr_table(final_profit: float, range_ms: int, expected: float | None) -> None:
    start = ms("2023-01-01")
    trades = table(trade("BTC/USDT", "2023-01-01 00:00", "2023-01-01 12:00", final_profit, 0.1, "roi"))
    s = compute_summary(trades, wallet=1000.0, stake_currency="USDT", start_ms=start, end_ms=start + range_ms)
    assert s["cagr"] == (None if expected is None else pytest.approx(expected))
    if expected is None:
        assert s["calmar"] is None


def test_no_losses_leave_profit_factor_sortino_and_calmar_undefined() -> None:
    trades = table(
        trade("BTC/USDT", "2024-01-01 01:00", "2024-01-01 02:00", 10.0, 0.01, "roi"),
        trade("ETH/USDT", "2024-01-02 01:00", "2024-01-02 02:00", 0.0, 0.0, "exit_signal"),
    )
    s = compute_summary(
        trades, wallet=1000.0, stake_currency="USDT", start_ms=ms("2024-01-01"), end_ms=ms("2024-01-04")
    )
    assert (s["wins"], s["losses"], s["draws"]) == (1, 0, 1)
    assert s["profit_factor"] is None
    assert s["sortino"] is None
    assert s["max_drawdown_abs"] == 0.0
    assert s["max_drawdown_start"] is None
    assert s["calmar"] is None
    assert s["sharpe"] is not None


def test_a_close_after_the_range_widens_the_daily_series() -> None:
    trades = table(trade("BTC/USDT", "2024-01-01 01:00", "2024-01-03 02:00", 10.0, 0.01, "force_exit"))
    s = compute_summary(
        trades, wallet=1000.0, stake_currency="USDT", start_ms=ms("2024-01-01"), end_ms=ms("2024-01-02")
    )
    assert [d["date"] for d in s["daily"]] == ["2024-01-01", "2024-01-02", "2024-01-03"]
    assert s["daily"][-1]["equity"] == pytest.approx(1010.0)


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_datetime_resolution_does_not_matter(unit: str) -> None:
    trades = FOUR.assign(
        open_date=FOUR["open_date"].dt.as_unit(unit),
        close_date=FOUR["close_date"].dt.as_unit(unit),
    )
    s = compute_summary(trades, wallet=1000.0, stake_currency="USDT", start_ms=START, end_ms=END)
    assert s["avg_duration_minutes"] == pytest.approx(630.0)
    assert s["max_drawdown_end"] == "2024-02-01T12:00:00+00:00"


EMPTY_TABLES = {
    "typed": FOUR.iloc[0:0],
    "untyped": pd.DataFrame(columns=list(REQUIRED_COLUMNS)),
}


@pytest.mark.parametrize("name", sorted(EMPTY_TABLES))
@pytest.mark.parametrize("end", [START, END])
def test_no_trades_give_zeros_and_nones(name: str, end: int) -> None:
    s = compute_summary(EMPTY_TABLES[name], wallet=500.0, stake_currency="USDT", start_ms=START, end_ms=end)
    assert (s["trades"], s["wins"], s["losses"], s["draws"]) == (0, 0, 0, 0)
    assert (s["profit_total_abs"], s["profit_total_ratio"], s["final_balance"]) == (0.0, 0.0, 500.0)
    assert (s["max_drawdown_abs"], s["max_drawdown_ratio"]) == (0.0, 0.0)
    for key in ("win_rate", "profit_factor", "expectancy_abs", "expectancy_ratio", "avg_duration_minutes"):
        assert s[key] is None, key
    for key in ("sharpe", "sortino", "calmar", "best_trade", "worst_trade", "max_drawdown_start"):
        assert s[key] is None, key
    assert s["cagr"] == (0.0 if end == END else None)
    assert s["per_pair"] == []
    assert s["per_exit_reason"] == []
    assert s["daily"]
    assert all(d["equity"] == 500.0 for d in s["daily"])
    json.dumps(s, allow_nan=False)
    assert "(no trades)" in format_summary(s)


def _only_plain_json_types(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _only_plain_json_types(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_only_plain_json_types(v) for v in value)
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or type(value) in (str, int, bool)


def test_summary_is_plain_json(four: dict[str, Any]) -> None:
    assert _only_plain_json_types(four)
    assert json.loads(json.dumps(four, allow_nan=False))["trades"] == 4


@pytest.mark.parametrize(
    ("trades", "wallet", "end", "message"),
    [
        (FOUR.drop(columns=["exit_reason"]), 1000.0, END, "exit_reason"),
        (FOUR, 0.0, END, "wallet"),
        (FOUR, 1000.0, START - 1, "before"),
        (FOUR.assign(profit_abs=[1.0, float("nan"), 2.0, 3.0]), 1000.0, END, "non-finite"),
        (FOUR.assign(close_date=pd.NaT), 1000.0, END, "missing dates"),
    ],
)
def test_contract_violations_are_reported(trades: pd.DataFrame, wallet: float, end: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compute_summary(trades, wallet=wallet, stake_currency="USDT", start_ms=START, end_ms=end)


def test_format_summary_is_plain_fixed_width_text(four: dict[str, Any]) -> None:
    text = format_summary(four)
    assert "\x1b" not in text
    lines = text.splitlines()
    assert any(line.startswith("Win rate") and line.endswith("50.00%") for line in lines)
    assert any("Profit factor" in line and "2.25" in line for line in lines)
    pair_rows = [line for line in lines if line.startswith(("SOL/USDT", "BTC/USDT", "ETH/USDT"))]
    assert [row.split()[0] for row in pair_rows] == ["SOL/USDT", "BTC/USDT", "ETH/USDT"]
    assert len({len(row) for row in pair_rows}) == 1, "columns are right-aligned to one width"
    assert any(line.startswith("stop_loss") for line in lines)
    assert "Risk events" not in text


@pytest.mark.parametrize(("n", "shown"), [(1, 1), (20, 20), (23, 20)])
def test_format_summary_lists_the_risk_events(four: dict[str, Any], n: int, shown: int) -> None:
    events = [{"time": f"2024-01-01T{i:02d}:00:00+00:00", "event": f"breaker:drawdown: event {i}"} for i in range(n)]
    lines = format_summary({**four, "risk_events": events}).splitlines()
    start = lines.index(f"Risk events ({n})")
    listed = [line for line in lines[start + 1 :] if "breaker:drawdown" in line]
    assert listed == [f"{e['time']}  {e['event']}" for e in events[:shown]]
    assert (f"... {n - shown} more in summary.json" in lines) == (n > shown)
