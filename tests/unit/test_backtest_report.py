"""The HTML report: one offline document, three charts, every user-provided string escaped."""

from __future__ import annotations

import itertools
import re
from html.parser import HTMLParser
from typing import Any

import pandas as pd
import pytest

from bot.backtest.metrics import REQUIRED_COLUMNS, compute_summary
from bot.backtest.report import render_report
from bot.backtest.svg_charts import bar_chart, nice_ticks, spaced_labels

HOSTILE = "<script>alert(1)</script>/USDT"
VOID = {"meta", "br", "hr", "img", "input", "link"}


def trade(pair: str, day: int, profit_abs: float, reason: str = "roi") -> dict[str, Any]:
    opened = pd.Timestamp("2024-01-28", tz="UTC") + pd.Timedelta(days=day)
    return {
        "pair": pair,
        "open_date": opened,
        "close_date": opened + pd.Timedelta(hours=3),
        "open_rate": 10.0,
        "close_rate": 10.0 + profit_abs / 10,
        "amount": 10.0,
        "profit_ratio": profit_abs / 100,
        "profit_abs": profit_abs,
        "exit_reason": reason,
    }


def report_for(rows: list[dict[str, Any]], *, title: str = "Backtest", **kwargs: Any) -> str:
    trades = pd.DataFrame(rows, columns=list(REQUIRED_COLUMNS))
    start = int(pd.Timestamp("2024-01-28", tz="UTC").value // 1_000_000)
    summary = compute_summary(
        trades, wallet=1000.0, stake_currency="USDT", start_ms=start, end_ms=start + 10 * 86_400_000
    )
    return render_report(trades, summary, title=title, **kwargs)


MIXED = [trade("BTC/USDT", 0, 50.0), trade(HOSTILE, 1, -20.0, "stop_loss"), trade("ETH/USDT", 5, 30.0)]


class _TagBalance(HTMLParser):
    """Collects tags that close out of order or never close: a cheap well-formedness check."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(tag)


def assert_well_formed(html: str) -> None:
    assert html.startswith("<!DOCTYPE html>")
    assert html.rstrip().endswith("</html>")
    parser = _TagBalance()
    parser.feed(html)
    assert parser.errors == []
    assert parser.stack == []


@pytest.mark.parametrize("rows", [MIXED, MIXED[:1], []], ids=["three", "one", "none"])
def test_report_is_one_offline_document_with_three_charts(rows: list[dict[str, Any]]) -> None:
    html = report_for(rows)
    assert_well_formed(html)
    assert html.count("<svg") == 3
    lowered = html.lower()
    for needle in ("http://", "https://", "src=", "url(", "@import", "<link", "<script"):
        assert needle not in lowered, needle


def test_pair_names_and_title_are_escaped() -> None:
    html = report_for(MIXED, title='Run "A" & <b>B</b>')
    assert "&lt;script&gt;alert(1)&lt;/script&gt;/USDT" in html
    assert "<script" not in html.lower()
    assert "<title>Run &quot;A&quot; &amp; &lt;b&gt;B&lt;/b&gt;</title>" in html
    assert "<b>" not in html


def test_report_shows_the_headline_and_the_monthly_bars() -> None:
    html = report_for(MIXED)
    assert "Profit factor" in html
    assert "4.00" in html  # 80 / 20
    # January: +50 - 20 on 1000 = +3.0 %; February: +30 on 1030 = +2.9 %
    assert "2024-01" in html
    assert "2024-02" in html
    assert "+3.0%" in html
    assert "+2.9%" in html


def test_empty_report_says_so() -> None:
    html = report_for([])
    assert "No trades." in html
    assert "Trades" in html


def test_a_huge_trades_table_shows_head_and_tail_and_says_so() -> None:
    rows = [trade(f"P{i:02d}/USDT", i % 9, 1.0) for i in range(10)]
    assert len(rows) == 10
    html = report_for(rows, max_trade_rows=4)
    assert "10 trades: the first 2 and the last 2 are shown, 6 in between are not." in html
    table = html.split("<h2>Trades</h2>")[1]
    shown = set(re.findall(r"P\d\d/USDT", table))
    # in open order: P00 and P09 (day 0), P01 (day 1) ... P07 (day 7), P08 (day 8)
    assert shown == {"P00/USDT", "P09/USDT", "P07/USDT", "P08/USDT"}


def test_bar_chart_colours_by_sign_and_labels_each_bar() -> None:
    svg = bar_chart([("2024-01", 5.0), ("2024-02", -2.5)], title="m", unit="%")
    assert svg.count("<rect") == 3  # two bars and the frame
    assert 'fill="#1a7f37"' in svg
    assert 'fill="#cf222e"' in svg
    assert "+5.0%" in svg
    assert "-2.5%" in svg
    assert "2024-01" in svg
    assert "2024-02" in svg


@pytest.mark.parametrize(("lo", "hi"), [(0.0, 1.0), (950.0, 1123.4), (-7.27, 0.0), (5.0, 5.0), (0.001, 0.0013)])
def test_nice_ticks_cover_the_range_with_even_steps(lo: float, hi: float) -> None:
    ticks = nice_ticks(lo, hi)
    assert ticks[0] <= lo
    assert ticks[-1] >= hi
    steps = [b - a for a, b in itertools.pairwise(ticks)]
    assert len(steps) >= 1
    assert max(steps) - min(steps) < 1e-9 * max(1.0, abs(hi))


def test_spaced_labels_keep_both_ends() -> None:
    labels = [f"d{i}" for i in range(100)]
    picks = spaced_labels(labels, count=5)
    assert [label for _, label in picks] == ["d0", "d25", "d50", "d74", "d99"]
    assert spaced_labels(labels[:3]) == [(0.0, "d0"), (1.0, "d1"), (2.0, "d2")]
    assert spaced_labels([]) == []
