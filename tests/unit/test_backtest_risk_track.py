"""The backtester's equity bookkeeping over skipped ticks against the daemon's, sample by sample:
the marks rolled over a stretch of ticks at once equal the marks rolled tick by tick, and the next
tick the scheduler proposes is never later than the first tick whose sample trips a limit."""

from __future__ import annotations

from decimal import Decimal as D

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.backtest.risk_track import Holding, RiskSettings, RiskTrack
from bot.backtest.series import PairSeries
from bot.exchange.base import Market
from bot.risk.equity import DAY_MS, EquityLimits, equity_step, roll_marks
from bot.risk.trading_state import TradingState

TF = 3_600_000
FIRST = 19_700 * DAY_MS - 5 * TF  # 19:00 UTC: days turn inside the stretch
MARKET = Market("TST/USDT", "TST", "USDT", price_tick=D("0.01"), amount_step=D("0.001"))


def series_of(closes: list[float]) -> PairSeries:
    c = np.array(closes)
    n = len(c)
    return PairSeries(
        "TST/USDT", MARKET, FIRST, TF, c, c * 1.01, c * 0.99, c, np.ones(n), np.zeros(n, bool), np.zeros(n, bool), {}
    )


closes_st = st.lists(st.floats(80, 120).map(lambda x: round(x, 3)), min_size=60, max_size=80)
amount_st = st.decimals(D("0.5"), D("5"), places=3)


@settings(max_examples=150, deadline=None)
@given(closes=closes_st, amount=amount_st, start=st.integers(1, 20), length=st.integers(1, 38))
def test_marks_rolled_over_a_stretch_equal_marks_rolled_tick_by_tick(
    closes: list[float], amount: D, start: int, length: int
) -> None:
    series = series_of(closes)
    limits = RiskSettings(EquityLimits(daily_loss_frac=D("0.5")))
    track = RiskTrack([series], TF, limits, FIRST + TF, FIRST + len(closes) * TF)
    holding = [Holding(0, 1, amount, D(100))]
    quote = D("500")
    t0 = FIRST + start * TF
    track.catch_up(t0, quote, holding)
    end = t0 + length * TF
    track.catch_up(end, quote, holding)

    marks = None
    for t in range(FIRST + TF, end, TF):
        equity = quote + amount * MARKET.round_price(D(repr(closes[(t - TF - FIRST) // TF])))
        marks = roll_marks(marks, equity, t)
    assert track.marks == marks


@settings(max_examples=150, deadline=None)
@given(
    closes=closes_st,
    amount=amount_st,
    daily=st.sampled_from([None, D("0.002"), D("0.005"), D("0.01")]),
    drawdown=st.sampled_from([None, D("0.003"), D("0.008"), D("0.02")]),
)
def test_the_proposed_tick_is_never_after_the_first_trip(
    closes: list[float], amount: D, daily: D | None, drawdown: D | None
) -> None:
    series = series_of(closes)
    limits = EquityLimits(daily_loss_frac=daily, max_drawdown_frac=drawdown)
    end = FIRST + len(closes) * TF
    track = RiskTrack([series], TF, RiskSettings(limits), FIRST + TF, end)
    holding = [Holding(0, 1, amount, D(100))]
    quote = D("500")
    t0 = FIRST + TF
    track.step(t0, quote, holding, [])
    if not track.state.allows_entries:
        return  # tripped on the first sample: nothing to schedule
    proposed = track.next_tick(t0, end + TF, quote, holding, [])

    marks, first_trip = track.marks, end + TF
    for t in range(t0 + TF, end + TF, TF):
        equity = quote + amount * MARKET.round_price(D(repr(closes[min((t - TF - FIRST) // TF, len(closes) - 1)])))
        step = equity_step(TradingState(), marks, equity, closed=[], limits=limits, now_ms=t)
        marks = step.marks
        if step.breach is not None:
            first_trip = t
            break
    assert proposed <= first_trip
