"""One tick of the daemon: the imperative shell around the pure engine. Fetch, decide, act, record,
in the same order every time: orders refreshed, candles refreshed, signals, exits, entries,
protections, wallet snapshot."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd
from loguru import logger

from bot.book import Book
from bot.candles import dates_ms
from bot.clock import iso_ms
from bot.engine import plan_entries, plan_exits, plan_protections
from bot.errors import BooksDisagreeError, ExchangeError, StrategyError
from bot.exchange.base import Balance, Exchange, Market
from bot.exchange.fills import candle_price
from bot.market_data import CandleCache
from bot.orders.executor import Executor
from bot.orders.reconcile import ReconcileReport, refresh_orders
from bot.risk.exits import ExitRules
from bot.risk.sizing import EntryLimits
from bot.store.repo import Repo, TradeRecord
from bot.strategy.base import Strategy
from bot.strategy.guard import PairSignal, last_signal


@dataclass(frozen=True)
class TickReport:
    now_ms: int
    signals: int
    exits: int
    entries: int
    protections: int
    skipped: tuple[str, ...]
    open_trades: int


class Trader:
    def __init__(
        self,
        *,
        venue: Exchange,
        repo: Repo,
        executor: Executor,
        cache: CandleCache,
        strategy: Strategy,
        rules: ExitRules,
        limits: EntryLimits,
        markets: Mapping[str, Market],
        whitelist: Sequence[str],
        managed: Sequence[str],
        tf_ms: int,
        stake_currency: str,
    ) -> None:
        self._venue = venue
        self._repo = repo
        self._executor = executor
        self._cache = cache
        self._strategy = strategy
        self._rules = rules
        self._limits = limits
        self._markets = markets
        self._whitelist = list(whitelist)
        self._managed = list(managed)  # the whitelist plus pairs that still hold a position
        self._tf_ms = tf_ms
        self._stake_currency = stake_currency
        self._reported_errors: dict[str, str] = {}

    async def reconcile(self, now_ms: int) -> ReconcileReport:
        """Before the first tick: every unfinished journal order looked up, then every open
        position checked against what the venue holds. Books that disagree stop the start."""
        report = await refresh_orders(self._venue, self._repo, now_ms)
        message = (
            f"checked {report.checked} open journal orders: {report.changed} updated, "
            f"{report.not_sent} never sent, {report.unresolved} unresolved"
        )
        logger.info("reconciled with the venue: {}", message)
        await self._repo.add_event("reconciled", message, ts_ms=now_ms)
        gaps = holdings_gaps(await self._repo.trades(live_only=True), await self._venue.balances(), self._markets)
        if gaps:
            text = "; ".join(gaps)
            await self._repo.add_event("books_disagree", text, ts_ms=now_ms)
            raise BooksDisagreeError(
                f"the journal's open positions are not all held at the venue ({text}); refusing to trade. "
                "Was the venue's state file replaced or deleted?"
            )
        return report

    async def tick(self, now_ms: int) -> TickReport:
        await refresh_orders(self._venue, self._repo, now_ms)
        frames = {pair: await self._cache.refresh(pair, now_ms) for pair in self._managed}
        signals = await self._signals(frames, now_ms)
        book = await self._book()
        await self._track_highs(book, frames)

        exits = plan_exits(book, signals, self._rules)
        for exit_intent in exits:
            await self._executor.exit(exit_intent, now_ms)

        prices = await self._prices(signals)
        entries, skipped = plan_entries(
            await self._book(closed_since_ms=now_ms),
            signals,
            whitelist=self._whitelist,
            prices=prices,
            markets=self._markets,
            limits=self._limits,
        )
        for skip in skipped:
            logger.debug("entry skipped: {}", skip.reason)
        for entry in entries:
            await self._executor.enter(entry, now_ms)

        book = await self._book()
        protections = plan_protections(book, self._rules, self._markets, self._limits.fee_frac, now_ms)
        for intent in protections:
            await self._executor.protect(intent, now_ms)

        await self._snapshot(now_ms)
        return TickReport(
            now_ms,
            len(signals),
            len(exits),
            len(entries),
            len(protections),
            tuple(s.reason for s in skipped),
            len(book.positions),
        )

    async def _signals(self, frames: Mapping[str, pd.DataFrame], now_ms: int) -> dict[str, PairSignal]:
        """Signals on the candle that closed at `now_ms`. A pair whose newest candle is missing, or
        whose strategy code fails, gets none this tick; its exits keep resting on the venue."""
        expected_ms = now_ms - self._tf_ms
        signals = {}
        for pair, frame in frames.items():
            if frame.empty or int(dates_ms(frame["date"].iloc[-1:])[0]) != expected_ms:
                logger.debug("{}: no candle for {} yet, no signal this tick", pair, iso_ms(expected_ms))
                continue
            try:
                signals[pair] = last_signal(self._strategy, frame, pair, expected_ms)
            except StrategyError as e:
                await self._strategy_failed(pair, str(e), now_ms)
                continue
            if self._reported_errors.pop(pair, None) is not None:
                logger.info("{}: strategy works again", pair)
        return signals

    async def _strategy_failed(self, pair: str, error: str, now_ms: int) -> None:
        """One log line and one event per new error, not one per tick while it persists."""
        if self._reported_errors.get(pair) == error:
            return
        self._reported_errors[pair] = error
        logger.error("strategy error, {} skipped this tick (exits still managed): {}", pair, error)
        await self._repo.add_event("strategy_error", error, ts_ms=now_ms, pair=pair)

    async def _track_highs(self, book: Book, frames: Mapping[str, pd.DataFrame]) -> None:
        """Raise each position's highest seen price with the candles closed since it opened."""
        for pos in book.positions:
            frame = frames.get(pos.pair)
            if frame is None or frame.empty:
                continue
            since = frame[dates_ms(frame["date"]) >= pos.open_ms]
            if not since.empty:
                await self._repo.raise_max_rate(
                    pos.trade_id, candle_price(float(since["high"].max()), self._markets[pos.pair])
                )

    async def _prices(self, signals: Mapping[str, PairSignal]) -> dict[str, Decimal]:
        prices = {}
        for pair, sig in signals.items():
            if not sig.enter:
                continue
            try:
                prices[pair] = await self._venue.price(pair)
            except ExchangeError as e:
                logger.warning("{}: no price: {}", pair, e)
        return prices

    async def _book(self, *, closed_since_ms: int | None = None) -> Book:
        """The book as the journal and the wallet stand now; for entries, with the pairs that
        closed a trade on this candle (they may not re-enter on it)."""
        balances = await self._venue.balances()
        free = balances[self._stake_currency].free if self._stake_currency in balances else Decimal(0)
        closed = frozenset() if closed_since_ms is None else await self._repo.closed_pairs_since(closed_since_ms)
        return await self._repo.book(free, closed)

    async def _snapshot(self, now_ms: int) -> None:
        balances = await self._venue.balances()
        await self._repo.set_state(
            {
                "last_tick_ms": now_ms,
                "balances": {asset: [str(b.free), str(b.used)] for asset, b in balances.items() if b.total > 0},
            }
        )


def holdings_gaps(
    trades: Sequence[TradeRecord], balances: Mapping[str, Balance], markets: Mapping[str, Market]
) -> list[str]:
    """Assets the journal says we hold (open positions) that the venue does not. Pure."""
    wanted: dict[str, Decimal] = {}
    for t in trades:
        if t.status in ("open", "closing") and t.pair in markets:
            base = markets[t.pair].base
            wanted[base] = wanted.get(base, Decimal(0)) + t.amount
    gaps = []
    for asset, amount in sorted(wanted.items()):
        held = balances[asset].total if asset in balances else Decimal(0)
        if held < amount:
            gaps.append(f"{asset}: journal {amount}, venue {held}")
    return gaps
