"""Vectorised look-ahead over one pair's candle arrays: where does the next thing happen? Each scan
only proposes a candle; the exact decision is made by the shared scalar rules (the fill model),
so numpy's floats never decide a fill on their own."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from decimal import Decimal

import numpy as np

from bot.backtest.series import BoolArray, PairSeries
from bot.exchange.base import OrderRequest, OrderType, Side
from bot.exchange.fills import Bar, FillModel, candle_bar, candle_price, resting_fill_price
from bot.risk.sizing import EntryLimits

_FIRST_WINDOW = 64
NEVER = 2**62
_SLACK = 1e-9  # float comparisons are widened a hair; the Decimal check below is exact


def bar_at(series: PairSeries, i: int) -> Bar:
    return candle_bar(
        series.open_ms(i),
        (series.open[i], series.high[i], series.low[i], series.close[i]),
        series.market,
        series.volume[i],
    )


def first_true(mask_fn: Callable[[int, int], BoolArray], start: int, stop: int) -> int | None:
    """First index in [start, stop) where the mask is true, looking in growing windows so a trade
    that ends soon costs little however long the history is."""
    lo, width = start, _FIRST_WINDOW
    while lo < stop:
        hi = min(stop, lo + width)
        hits = np.flatnonzero(mask_fn(lo, hi))
        if hits.size:
            return lo + int(hits[0])
        lo, width = hi, width * 4
    return None


def next_fill(
    series: PairSeries,
    start: int,
    stop: int,
    stop_order: OrderRequest | None,
    take_profit: OrderRequest | None,
    *,
    model: FillModel,
) -> tuple[int, Decimal, OrderRequest, Decimal] | None:
    """The first candle in [start, stop) in which a resting stop or take-profit fills, with the
    fill price, the order that filled (stops are matched first, as on the venue) and how much of
    it filled (less than its amount when the candle's volume caps a take-profit)."""
    stop_f = float(stop_order.stop_price) * (1 + _SLACK) if stop_order and stop_order.stop_price else -np.inf
    tp_f = float(take_profit.price) * (1 - _SLACK) if take_profit and take_profit.price else np.inf
    low, high = series.low, series.high

    def touched(lo: int, hi: int) -> BoolArray:
        return (low[lo:hi] <= stop_f) | (high[lo:hi] >= tp_f)

    i = start
    while i < stop:
        found = first_true(touched, i, stop)
        if found is None:
            return None
        bar = bar_at(series, found)
        for order in (stop_order, take_profit):
            if order is None:
                continue
            price = resting_fill_price(order, bar)
            if price is None:
                continue
            amount = model.resting_amount(order, order.amount, bar, series.market)
            if amount > 0:
                return found, price, order, amount
        i = found + 1  # the float test was a hair too generous, or the candle traded too little
    return None


def next_new_high(series: PairSeries, start: int, stop: int, max_rate: Decimal) -> int | None:
    """First candle in [start, stop) whose high exceeds `max_rate` (a trailing stop may move after it)."""
    level = float(max_rate)
    high = series.high

    def above(lo: int, hi: int) -> BoolArray:
        return high[lo:hi] > level

    while True:
        found = first_true(above, start, stop)
        if found is None or candle_price(high[found], series.market) > max_rate:
            return found
        start = found + 1


def protection_orders(
    pair: str, amount: Decimal, stop_price: Decimal | None, take_profit_price: Decimal | None
) -> tuple[OrderRequest | None, OrderRequest | None]:
    """The resting orders a position's protection stands for (ids do not matter to the matcher)."""
    stop = (
        OrderRequest("bt-s", pair, Side.SELL, OrderType.STOP, amount, stop_price=stop_price)
        if stop_price is not None
        else None
    )
    tp = (
        OrderRequest("bt-p", pair, Side.SELL, OrderType.LIMIT, amount, price=take_profit_price)
        if take_profit_price is not None
        else None
    )
    return stop, tp


def cheapest_entry(series: Sequence[PairSeries], limits: EntryLimits) -> Decimal:
    """A floor under what any entry can cost: the stake less one amount step at the highest price
    a pair ever had, plus the fee. With less free money than this no entry can pass the gate."""
    worst = max(
        (candle_price(float(s.high.max()), s.market) * s.market.amount_step for s in series if len(s)),
        default=Decimal(0),
    )
    stake = limits.least_stake()
    if stake is None:  # sized from the book: no floor is safe
        return Decimal(0)
    return (stake - worst) * (1 + limits.fee_frac)


class EntryCandidates:
    """The ticks at which a pair has an entry signal (and no exit signal), in time order and
    whitelist order within a tick: the only ticks at which an entry can happen."""

    def __init__(self, series: Sequence[PairSeries], tf_ms: int, first_ms: int, last_ms: int) -> None:
        ticks, owners = [], []
        for i, s in enumerate(series):
            rows = np.flatnonzero(s.enter & ~s.exit)
            at = s.first_ms + rows.astype(np.int64) * tf_ms + tf_ms
            at = at[(at >= first_ms) & (at <= last_ms)]
            ticks.append(at)
            owners.append(np.full(len(at), i, dtype=np.int64))
        all_ticks = np.concatenate(ticks) if ticks else np.empty(0, dtype=np.int64)
        all_owners = np.concatenate(owners) if owners else np.empty(0, dtype=np.int64)
        order = np.lexsort((all_owners, all_ticks))
        self.ms: list[int] = all_ticks[order].tolist()
        self.owners: list[int] = all_owners[order].tolist()

    def next_after(self, after_ms: int) -> int:
        i = bisect.bisect_right(self.ms, after_ms)
        return self.ms[i] if i < len(self.ms) else NEVER

    def next_useful(self, after_ms: int, before_ms: int, held: set[int]) -> int:
        """The next tick before `before_ms` with an entry signal for a pair that holds no position
        (`held`: series indexes; a pair in a position cannot enter), else `before_ms`."""
        i = bisect.bisect_right(self.ms, after_ms)
        while i < len(self.ms) and self.ms[i] < before_ms:
            if self.owners[i] not in held:
                return self.ms[i]
            i += 1
        return before_ms

    def at(self, now_ms: int) -> set[int]:
        """The series with an entry signal acting at `now_ms`."""
        i = bisect.bisect_left(self.ms, now_ms)
        out = set()
        while i < len(self.ms) and self.ms[i] == now_ms:
            out.add(self.owners[i])
            i += 1
        return out
