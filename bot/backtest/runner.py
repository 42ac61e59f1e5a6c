"""The backtester: the daemon's tick, run only at the market times where something can happen.

Every processed tick does what `Trader.tick` does, in the same order and with the same pure
functions: resting fills of the candle that closed, signals, `plan_exits`, `plan_entries`,
`plan_protections`, and the shared fill model. What makes it fast is skipping: between two events
(a fill, an exit signal, an ROI step, a new high under a trailing stop, an entry signal while a slot
is free) nothing can change, so those ticks are not run at all (scan.py finds the next event)."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

import numpy as np

from bot.backtest.outcome import BacktestResult, BacktestTrade, closed_trade, fill_order, merge_fills
from bot.backtest.risk_track import Holding, RiskSettings, RiskTrack
from bot.backtest.scan import NEVER, EntryCandidates, cheapest_entry, next_fill, next_new_high, protection_orders
from bot.backtest.series import PairSeries
from bot.book import Book, Position
from bot.engine import EntryIntent, ProtectIntent, plan_entries, plan_exits, plan_protections
from bot.exchange.base import OrderRequest, OrderType, Side
from bot.exchange.fills import FillModel, candle_price, fee_quote, is_marketable
from bot.ledger import ENTRY, EXIT, JournalOrder
from bot.orders.policy import OrderPolicy
from bot.risk.exits import ExitRules
from bot.risk.protections import ClosedTrade, Lock, Protection, active_locks
from bot.risk.sizing import EntryLimits
from bot.strategy.guard import PairSignal


@dataclass(frozen=True)
class BacktestSettings:
    limits: EntryLimits
    rules: ExitRules
    wallet: Decimal
    tf_ms: int
    policy: OrderPolicy = field(default_factory=OrderPolicy)  # only its order types are read
    fills: FillModel = field(default_factory=FillModel)
    protections: tuple[Protection, ...] = ()
    risk: RiskSettings = field(default_factory=RiskSettings)  # equity breakers, volatility brake


@dataclass
class _Position:
    trade_id: int
    s: int  # index of the pair's series
    entry: JournalOrder
    amount: Decimal  # still held
    open_rate: Decimal
    open_ms: int
    max_rate: Decimal
    max_idx: int  # the last candle whose high is in max_rate
    tag: str | None
    stop: Decimal | None = None
    stop_reason: str = "stop_loss"
    take_profit: Decimal | None = None
    placed_idx: int = 0  # first candle the resting protection is matched against
    next_ms: int = NEVER
    fill: tuple[int, Decimal, str, Decimal] | None = None  # candle, price, exit reason, amount
    take_profit_fills: JournalOrder | None = None  # what the resting take-profit sold so far
    sold: list[JournalOrder] = field(default_factory=list)  # earlier take-profits, partly filled


@dataclass
class _State:
    quote: Decimal
    positions: dict[int, _Position] = field(default_factory=dict)
    trades: list[BacktestTrade] = field(default_factory=list)
    closed_at: dict[str, int] = field(default_factory=dict)  # pair -> close time of its last trade
    closed: list[tuple[int, int, Decimal]] = field(default_factory=list)  # (close_ms, id, profit), sorted
    next_id: int = 1


def run_backtest(
    series: Sequence[PairSeries],
    settings: BacktestSettings,
    *,
    first_tick_ms: int,
    last_tick_ms: int,
    every_tick: bool = False,
) -> BacktestResult:
    """`every_tick` runs the ticks where nothing can happen too: slow, and the same result."""
    return _Run(series, settings, first_tick_ms, last_tick_ms, every_tick).run()


class _Run:
    def __init__(
        self, series: Sequence[PairSeries], settings: BacktestSettings, first: int, last: int, every_tick: bool
    ) -> None:
        self.series = list(series)
        self.cfg = settings
        self.tf = settings.tf_ms
        self.first, self.last = first, last
        self.whitelist = [s.pair for s in self.series]
        self.markets = {s.pair: s.market for s in self.series}
        self.state = _State(quote=settings.wallet)
        self.exit_rows = [np.flatnonzero(s.exit & ~s.enter) for s in self.series]
        self.candidates = EntryCandidates(self.series, self.tf, first, last)
        self.cheapest_entry = cheapest_entry(self.series, settings.limits)
        self.ticks_run = 0
        self.every_tick = every_tick
        self.risk = RiskTrack(series, self.tf, settings.risk, first, last) if settings.risk.active else None

    # -- the loop ---------------------------------------------------------------------------

    def run(self) -> BacktestResult:
        now = self.first if self.every_tick else self.candidates.next_after(self.first - 1)
        while now <= self.last:
            self._tick(now)
            self.ticks_run += 1
            now = self._next_tick_after(now)
        self._force_exit()
        trades = sorted(self.state.trades, key=lambda t: t.trade_id)
        return BacktestResult(
            trades,
            self.state.quote,
            self.first,
            self.last,
            self.ticks_run,
            sum(len(s) for s in self.series),
            self.risk.events if self.risk else [],
        )

    def _slots_full(self) -> bool:
        limit = self.cfg.limits.max_open_trades
        return limit is not None and len(self.state.positions) >= limit

    def _next_tick_after(self, now: int) -> int:
        if self.every_tick:
            return now + self.tf
        st = self.state
        nxt = min((p.next_ms for p in st.positions.values()), default=NEVER)
        may_enter = self.risk is None or self.risk.entries_may_come
        if may_enter and not self._slots_full() and st.quote >= self.cheapest_entry:
            nxt = self.candidates.next_useful(now, nxt, held={p.s for p in st.positions.values()})
        if self.risk is not None:
            nxt = self.risk.next_tick(now, nxt, st.quote, self._holdings(), reversed(st.closed))
        return nxt

    def _tick(self, now: int) -> None:
        st = self.state
        if self.risk is not None:  # the ticks skipped since the last one sampled the book as it was
            self.risk.catch_up(now, st.quote, self._holdings())
        due = [p for p in st.positions.values() if p.next_ms == now]
        for pos in sorted(due, key=lambda p: p.trade_id):
            if pos.fill is not None and self.series[pos.s].open_ms(pos.fill[0]) + self.tf == now:
                row, price, reason, amount = pos.fill
                self._fill_resting(pos, price, reason, amount, self.series[pos.s].open_ms(row))
        due = [p for p in due if p.trade_id in st.positions]
        if self.risk is not None:
            self.risk.step(now, st.quote, self._holdings(), reversed(st.closed))
        signals = self._signals(now, due)
        self._track_highs(now, due)
        # positions without an event now have no exit signal now (exit signals are events), so the
        # exit plan over the due ones is the plan over all
        for exit_intent in plan_exits(self._book(due), signals, self.cfg.rules):
            pos = st.positions[exit_intent.trade_id]
            ref = self._market_price(pos.s, now)
            if ref is not None:  # no candle forms after the data ends: the venue would refuse
                self._close(pos, self._exit_price(pos, ref, exit_intent.reason), exit_intent.reason, now)
        self._enter(now, signals)
        if self.risk is not None and self.risk.halted:
            self._flatten(now)
            return
        # only positions with an event now (or new ones) can want new protection: the scheduler
        # guarantees that every change of what plan_protections wants is an event
        touched = {p.trade_id for p in due} | {p.trade_id for p in st.positions.values() if p.open_ms == now}
        book = Book(
            tuple(self._position(st.positions[t]) for t in sorted(touched) if t in st.positions), frozenset(), st.quote
        )
        for intent in plan_protections(book, self.cfg.rules, self.markets, self.cfg.limits.fee_frac, now):
            self._protect(st.positions[intent.trade_id], intent, now)
        for pos in list(st.positions.values()):
            if pos.trade_id in touched or pos.next_ms <= now:
                self._schedule(pos, now)

    def _enter(self, now: int, signals: dict[str, PairSignal]) -> None:
        prices = {}
        for pair, sig in signals.items():
            ref = self._market_price(self.whitelist.index(pair), now) if sig.enter and not sig.exit else None
            if ref is not None:
                prices[pair] = ref
        if not prices:  # without a priced entry signal the entry plan is empty
            return
        closed_now = frozenset(pair for pair, ms in self.state.closed_at.items() if ms >= now)
        book = replace(self._book(None, closed_now), locks=self._locks(now))

        def planned(halted_reason: str | None) -> list[EntryIntent]:
            gated = replace(book, halted_reason=halted_reason)
            limits = self.cfg.limits
            return plan_entries(
                gated, signals, whitelist=self.whitelist, prices=prices, markets=self.markets, limits=limits
            )[0]

        block = self.risk.entry_block(now) if self.risk is not None else None
        entries = planned(block)
        if block is not None and self.risk is not None and self.risk.entries_may_come:  # the volatility brake
            self.risk.note_skipped(now, block, [e.pair for e in planned(None)])
        for entry in entries:
            self._open(entry, now)

    # -- what the daemon's venue and executor do -------------------------------------------

    def _market_price(self, s: int, now: int) -> Decimal | None:
        """Open of the candle forming at `now`, the price of a market order sent then."""
        series = self.series[s]
        row = series.index_of(now, self.tf)
        return candle_price(series.open[row], series.market) if 0 <= row < len(series) else None

    def _signals(self, now: int, due: list[_Position]) -> dict[str, PairSignal]:
        """Signals of the candle that closed at `now`, for the pairs that can act on one: positions
        with an event now and pairs with an entry signal now."""
        wanted = {p.s for p in due} | self.candidates.at(now)
        signals = {}
        for s in sorted(wanted):
            series = self.series[s]
            row = series.index_of(now - self.tf, self.tf)
            if 0 <= row < len(series) and (series.enter[row] or series.exit[row]):
                signals[series.pair] = PairSignal(
                    series.pair, now - self.tf, bool(series.enter[row]), bool(series.exit[row]), series.tags.get(row)
                )
        return signals

    def _track_highs(self, now: int, due: list[_Position]) -> None:
        """Highs since entry, caught up for the positions that may re-plan their protection now."""
        for pos in due:
            series = self.series[pos.s]
            last = min(series.index_of(now - self.tf, self.tf), len(series) - 1)
            if last > pos.max_idx:
                high = candle_price(float(series.high[pos.max_idx + 1 : last + 1].max()), series.market)
                pos.max_rate = max(pos.max_rate, high)
                pos.max_idx = last

    def _open(self, intent: EntryIntent, now: int) -> None:
        st = self.state
        s = self.whitelist.index(intent.pair)
        kind = self.cfg.policy.entry_type
        limit = self.markets[intent.pair].round_price(intent.price) if kind is OrderType.LIMIT else None
        order = OrderRequest("bt-e", intent.pair, Side.BUY, kind, intent.amount, price=limit)
        price = self.cfg.fills.immediate_price(order, intent.price)
        fee = fee_quote(intent.amount, price, self.cfg.limits.fee_frac)
        st.quote -= intent.amount * price + fee
        entry = fill_order(
            st.next_id, intent.pair, ENTRY, amount=intent.amount, price=price, fee=fee, ms=now, reason=None
        )
        row = self.series[s].index_of(now, self.tf)
        st.positions[st.next_id] = _Position(
            st.next_id, s, entry, intent.amount, price, now, price, row - 1, intent.tag
        )
        st.next_id += 1

    def _protect(self, pos: _Position, intent: ProtectIntent, now: int) -> None:
        """As the executor: place the stop; if it trades at once the position is gone; else place
        the take-profit, which may trade at once too."""
        ref = self._market_price(pos.s, now)
        if ref is None:
            return
        p = intent.protection
        if pos.take_profit_fills is not None:  # the executor cancels the old pair first
            pos.sold.append(pos.take_profit_fills)
            pos.take_profit_fills = None
        stop, tp = protection_orders(intent.pair, pos.amount, p.stop_price, p.take_profit_price)
        assert stop is not None
        if is_marketable(stop, ref):
            self._close(pos, self.cfg.fills.immediate_price(stop, ref), p.stop_reason, now)
            return
        if tp is not None and is_marketable(tp, ref):
            self._close(pos, self._exit_price(pos, ref, "roi"), "roi", now)
            return
        pos.stop, pos.stop_reason, pos.take_profit = p.stop_price, p.stop_reason, p.take_profit_price
        pos.placed_idx = self.series[pos.s].index_of(now, self.tf)

    def _exit_price(self, pos: _Position, ref: Decimal, reason: str) -> Decimal:
        """What the executor's exit order for `reason` trades at, sent when the price is `ref`."""
        kind = self.cfg.policy.exit_type_for(reason)
        pair = self.series[pos.s].pair
        order = OrderRequest("bt-x", pair, Side.SELL, kind, pos.amount, price=ref if kind is OrderType.LIMIT else None)
        return self.cfg.fills.immediate_price(order, ref)

    def _fill_resting(self, pos: _Position, price: Decimal, reason: str, amount: Decimal, fill_ms: int) -> None:
        """A resting stop or take-profit traded. A take-profit the candle's volume filled only in
        part leaves the position open, smaller, still under the same stop and target."""
        if reason != "roi":
            self._close(pos, price, reason, fill_ms)
            return
        fee = fee_quote(amount, price, self.cfg.limits.fee_frac)
        self.state.quote += amount * price - fee
        order = fill_order(
            pos.trade_id, pos.entry.pair, EXIT, amount=amount, price=price, fee=fee, ms=fill_ms, reason=reason
        )
        so_far = order if pos.take_profit_fills is None else merge_fills(pos.take_profit_fills, order)
        pos.amount -= amount
        if pos.amount > 0:
            pos.take_profit_fills = so_far
            return
        pos.take_profit_fills = None
        self._record_closed(pos, [*pos.sold, so_far], reason, fill_ms)

    def _close(self, pos: _Position, price: Decimal, reason: str, close_ms: int) -> None:
        """Sell what is still held at `price` and close the trade."""
        fee = fee_quote(pos.amount, price, self.cfg.limits.fee_frac)
        self.state.quote += pos.amount * price - fee
        exit_order = fill_order(
            pos.trade_id, pos.entry.pair, EXIT, amount=pos.amount, price=price, fee=fee, ms=close_ms, reason=reason
        )
        earlier = [*pos.sold, *([pos.take_profit_fills] if pos.take_profit_fills else [])]
        self._record_closed(pos, [*earlier, exit_order], reason, close_ms)

    def _record_closed(self, pos: _Position, exits: list[JournalOrder], reason: str, close_ms: int) -> None:
        self.state.trades.append(
            closed_trade(pos.entry, exits, open_ms=pos.open_ms, close_ms=close_ms, reason=reason, tag=pos.tag)
        )
        self.state.closed_at[pos.entry.pair] = close_ms
        bisect.insort(self.state.closed, (close_ms, pos.trade_id, self.state.trades[-1].profit_abs))
        del self.state.positions[pos.trade_id]

    def _flatten(self, now: int) -> None:
        """The kill switch: every position sold at market."""
        for pos in sorted(self.state.positions.values(), key=lambda p: p.trade_id):
            ref = self._market_price(pos.s, now)
            if ref is not None:
                sell = OrderRequest("bt-k", pos.entry.pair, Side.SELL, OrderType.MARKET, pos.amount)
                self._close(pos, self.cfg.fills.immediate_price(sell, ref), "kill_switch", now)

    def _holdings(self) -> list[Holding]:
        return [
            Holding(p.s, p.trade_id, p.amount, p.open_rate)
            for p in sorted(self.state.positions.values(), key=lambda p: p.trade_id)
        ]

    def _force_exit(self) -> None:
        for pos in sorted(self.state.positions.values(), key=lambda p: p.trade_id):
            series = self.series[pos.s]
            end = min(len(series) - 1, series.index_of(self.last - self.tf, self.tf))
            self._close(
                pos, candle_price(series.close[end], series.market), "force_exit", series.open_ms(end) + self.tf
            )

    # -- scheduling ------------------------------------------------------------------------

    def _schedule(self, pos: _Position, now: int) -> None:
        """When this position next needs a tick: its first resting fill, exit signal, ROI step or
        (under a trailing stop) new high, whichever comes first."""
        series = self.series[pos.s]
        start = max(series.index_of(now, self.tf), 0)
        end = min(len(series), series.index_of(self.last - self.tf, self.tf) + 1)
        events = [NEVER]
        pos.fill = None
        if pos.stop is not None or pos.take_profit is not None:
            stop, tp = protection_orders(series.pair, pos.amount, pos.stop, pos.take_profit)
            found = next_fill(series, max(start, pos.placed_idx), end, stop, tp, model=self.cfg.fills)
            if found is not None:
                row, price, order, amount = found
                pos.fill = (row, price, pos.stop_reason if order is stop else "roi", amount)
                events.append(series.open_ms(row) + self.tf)
        if self.cfg.rules.use_exit_signal:
            rows = self.exit_rows[pos.s]
            k = int(np.searchsorted(rows, start))
            if k < len(rows) and rows[k] < end:
                events.append(series.open_ms(int(rows[k])) + self.tf)
        for minutes, _ in self.cfg.rules.roi:
            step_ms = series.tick_at_or_after(pos.open_ms + minutes * 60_000)
            if step_ms > now:
                events.append(step_ms)
        if self.cfg.rules.trailing_stop:
            high_row = next_new_high(series, max(start, pos.max_idx + 1), end, pos.max_rate)
            if high_row is not None:
                events.append(series.open_ms(high_row) + self.tf)
        pos.next_ms = min(events)
        if pos.fill is not None and series.open_ms(pos.fill[0]) + self.tf > pos.next_ms:
            pos.fill = None  # something else happens first; the fill is looked for again then

    def _locks(self, now: int) -> tuple[Lock, ...]:
        """The protections' locks, from the trades closed so far, as the daemon finds them."""
        closed = (ClosedTrade(t.pair, t.close_ms, t.profit_ratio, t.exit_reason) for t in self.state.trades)
        return active_locks(closed, self.cfg.protections, now)

    def _position(self, pos: _Position) -> Position:
        return Position(
            pos.trade_id,
            self.series[pos.s].pair,
            pos.amount,
            pos.open_rate,
            pos.open_ms,
            pos.max_rate,
            stop_price=pos.stop,
            take_profit_price=pos.take_profit,
        )

    def _book(self, only: list[_Position] | None, closed: frozenset[str] = frozenset()) -> Book:
        chosen = self.state.positions.values() if only is None else only
        positions = tuple(self._position(p) for p in sorted(chosen, key=lambda p: p.trade_id))
        return Book(positions, frozenset(), self.state.quote, closed_this_candle=closed)
