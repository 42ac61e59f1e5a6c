"""One tick of the daemon: the imperative shell around the pure engine. Fetch, decide, act, record,
in the same order every time: orders refreshed, candles refreshed, signals, exits, entries,
protections, wallet snapshot."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

import pandas as pd
from loguru import logger

from bot.book import Book
from bot.breaker_board import BreakerBoard
from bot.candles import dates_ms
from bot.clock import iso_ms
from bot.decisions import Decision, explain_entries
from bot.engine import plan_entries, plan_exits, plan_protections
from bot.equity_watch import EquityWatch
from bot.errors import BooksDisagreeError, ExchangeError, StrategyError
from bot.exchange.base import Exchange, Market
from bot.exchange.fills import candle_price
from bot.market_data import CandleCache
from bot.orders.executor import Executor
from bot.orders.flatten import flatten
from bot.orders.holdings import HeldTrade, HoldingGap, holdings_gaps
from bot.orders.reconcile import ReconcileReport, adopt_orphans, refresh_orders
from bot.risk.exits import ExitRules
from bot.risk.protections import ClosedTrade, Lock, Protection, active_locks
from bot.risk.sizing import EntryLimits
from bot.risk.trading_state import Mode, TradingState
from bot.store.repo import Repo
from bot.store.trading_control import mark_flattened, read_trading_state, status_line
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
        markets: dict[str, Market],
        whitelist: Sequence[str],
        managed: Sequence[str],
        tf_ms: int,
        stake_currency: str,
        prefix: str,
        books_are_ours: bool,
        equity: EquityWatch,
        protections: Sequence[Protection] = (),
        board: BreakerBoard | None = None,
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
        self._prefix = prefix
        self._books_are_ours = books_are_ours
        self._equity = equity
        self._protections = tuple(protections)
        self._board = board
        self._reported_errors: dict[str, str] = {}
        self._last_state: TradingState | None = None
        self.decisions: dict[str, Decision] = {}  # the last tick's reasons, per pair (/why)

    async def reconcile(self, now_ms: int) -> ReconcileReport:
        """Before the first tick: every unfinished journal order looked up, orphans with our prefix
        adopted, then every open position checked against what the venue holds. On a venue whose
        books are ours (simulated, paper) a gap means its file was lost: the start is refused."""
        report = await refresh_orders(self._venue, self._repo, now_ms)
        adopted = await adopt_orphans(self._venue, self._repo, self._managed, self._prefix, now_ms)
        message = (
            f"checked {report.checked} open journal orders: {report.changed} updated, "
            f"{report.not_sent} never sent, {report.unresolved} unresolved; {adopted} orphan orders adopted"
        )
        logger.info("reconciled with the venue: {}", message)
        await self._repo.add_event("reconciled", message, ts_ms=now_ms)
        gaps = await self._holdings_gaps()
        if gaps and self._books_are_ours:
            text = "; ".join(g.describe() for g in gaps)
            await self._repo.add_event("books_disagree", text, ts_ms=now_ms)
            raise BooksDisagreeError(
                f"the journal's open positions are not all held at the venue ({text}); refusing to trade. "
                "Was the venue's state file replaced or deleted?"
            )
        await self._settle_gaps(gaps, now_ms)
        return report

    async def _holdings_gaps(self) -> list[HoldingGap]:
        held = [
            HeldTrade(t.id, t.pair, t.amount)
            for t in await self._repo.trades(live_only=True)
            if t.status in ("open", "closing")
        ]
        return holdings_gaps(held, await self._venue.balances(), self._markets)

    async def _settle_gaps(self, gaps: Sequence[HoldingGap], now_ms: int) -> None:
        """Coins that are gone were sold by hand: their trades are closed as such. A shortfall that
        nothing explains stops new entries (exits go on) until the balances agree again."""
        short = []
        for gap in gaps:
            if not gap.gone:
                short.append(gap)
                continue
            for trade in gap.trades:
                logger.warning(
                    "trade {}: {} is no longer held at the venue; closing it as sold by hand",
                    trade.trade_id,
                    trade.pair,
                )
                await self._executor.record_hand_sale(trade.trade_id, trade.pair, trade.amount, now_ms)
        blocked = "; ".join(g.describe() for g in short)
        if blocked == (await self._repo.get_state("entries_blocked") or ""):
            return
        await self._repo.set_state({"entries_blocked": blocked})
        if blocked:
            logger.error("balances short of the journal ({}); no new entries until they agree", blocked)
            await self._repo.add_event("balance_gap", f"entries stopped: {blocked}", ts_ms=now_ms)
        else:
            logger.info("balances agree with the journal again; entries resume")
            await self._repo.add_event("balance_gap_resolved", "entries resume", ts_ms=now_ms)

    async def tick(self, now_ms: int) -> TickReport:
        if self._board is not None:
            await self._board.check_venue(now_ms)
        state = await self._trading_state()
        await self._refresh_markets()
        await refresh_orders(self._venue, self._repo, now_ms)
        if not self._books_are_ours:  # people and other programs may trade on a real account
            await adopt_orphans(self._venue, self._repo, self._managed, self._prefix, now_ms)
            await self._settle_gaps(await self._holdings_gaps(), now_ms)
        if state.mode is Mode.HALTED:
            return await self._halted_tick(state, now_ms)
        await self._executor.cancel_stale(now_ms)
        frames = {pair: await self._cache.refresh(pair, now_ms) for pair in self._managed}
        book = await self._book()
        await self._track_highs(book, frames)
        quote_total = await self._quote_total()
        # the money's breakers before the machinery's: a new day's lift of the daily pause must not
        # slip past a volatility brake tripped on this very candle
        equity = await self._equity.check(book, quote_total, self._last_prices(book, frames), now_ms)
        if self._board is not None:
            await self._board.check_candles(frames, now_ms)
        signals = await self._signals(frames, now_ms)

        exits = plan_exits(book, signals, self._rules)
        for exit_intent in exits:
            await self._executor.exit(exit_intent, now_ms)

        prices = await self._prices(signals)
        strategy_said = signals
        blocked = await self._repo.get_state("entries_blocked") or ""
        if blocked:
            signals = {pair: sig for pair, sig in signals.items() if not sig.enter}
        book = await self._book(closed_since_ms=now_ms)
        state = await self._trading_state()  # a pause or a kill may have come in during this tick
        if not state.allows_entries:
            book = replace(book, halted_reason=state.describe())
        book = replace(book, locks=await self._locks(now_ms))
        entries, skipped = plan_entries(
            book,
            signals,
            whitelist=self._whitelist,
            prices=prices,
            markets=self._markets,
            limits=self._limits,
        )
        for skip in skipped:
            logger.debug("entry skipped: {}", skip.reason)
        self.decisions.update(
            explain_entries(self._whitelist, strategy_said, entries, skipped, blocked=blocked, tick_ms=now_ms)
        )
        for entry in entries:
            await self._executor.enter(entry, now_ms)

        if state.mode is Mode.HALTED:
            return await self._halted_tick(state, now_ms)
        book = await self._book()
        protections = plan_protections(book, self._rules, self._markets, self._limits.fee_frac, now_ms)
        for intent in protections:
            await self._executor.protect(intent, now_ms)

        await self._snapshot(now_ms, (now_ms, equity, quote_total))
        return TickReport(
            now_ms,
            len(signals),
            len(exits),
            len(entries),
            len(protections),
            tuple(s.reason for s in skipped),
            len(book.positions),
        )

    async def halt_now(self, now_ms: int) -> None:
        """A kill from inside the daemon (Telegram): flatten now, not at the next candle."""
        state = await self._trading_state()
        if state.mode is Mode.HALTED and not state.flattened:
            await refresh_orders(self._venue, self._repo, now_ms)
            await self._halted_tick(state, now_ms)

    async def _trading_state(self) -> TradingState:
        """The stored state (the CLI may change it at any time), logged when it changed."""
        state = await read_trading_state(self._repo)
        if state != self._last_state:
            if self._last_state is not None or state.mode is not Mode.RUNNING:
                log = logger.info if state.mode is Mode.RUNNING else logger.warning
                log("{}", status_line(state))
            self._last_state = state
        return state

    async def _locks(self, now_ms: int) -> tuple[Lock, ...]:
        """The protections' locks from the closed trades (the backtester's own function); each new
        one is stored and announced once."""
        if not self._protections:
            return ()
        closed = [
            ClosedTrade(t.pair, t.close_ms, t.profit_ratio or Decimal(0), t.exit_reason or "")
            for t in await self._repo.trades()
            if t.status == "closed" and t.close_ms is not None
        ]
        lifted = set(await self._repo.locks(until_after_ms=now_ms, lifted=True))  # by hand (/unlock)
        locks = tuple(
            lock
            for lock in active_locks(closed, self._protections, now_ms)
            if (lock.pair or "*", lock.until_ms, lock.reason) not in lifted
        )
        for lock in locks:
            if await self._repo.record_lock(lock.pair, lock.until_ms, lock.reason, now_ms):
                text = f"{lock.pair or 'every pair'} locked until {iso_ms(lock.until_ms)}: {lock.reason}"
                logger.warning("{}", text)
                await self._repo.add_event("pair_locked", text, ts_ms=now_ms, pair=lock.pair)
        return locks

    async def _halted_tick(self, state: TradingState, now_ms: int) -> TickReport:
        """The kill switch: flatten until flat, then no order at all; the journal still follows the
        venue (orders refreshed, wallet snapshot) so `status` stays true."""
        if not state.flattened:
            report = await flatten(self._executor, self._repo, now_ms)
            if report.done:
                logger.warning("kill switch: {}; no orders until `kestrel resume`", report.describe())
                await mark_flattened(self._repo, ts_ms=now_ms, message=report.describe())
        book = await self._book()
        quote_total = await self._quote_total()
        equity = await self._equity.check(book, quote_total, {}, now_ms)
        await self._snapshot(now_ms, (now_ms, equity, quote_total))
        return TickReport(now_ms, 0, 0, 0, 0, (), len(book.positions))

    async def _refresh_markets(self) -> None:
        """The venue's rules as it states them now (it reloads them hourly, and after a rejection),
        updated in place: the executor shares this mapping."""
        try:
            fresh = await self._venue.markets()
        except ExchangeError as e:
            logger.warning("markets not refreshed ({}); trading on the rules already known", e)
            return
        for pair in self._managed:
            if pair in fresh and fresh[pair] != self._markets[pair]:
                logger.info("{}: the venue's rules changed: {}", pair, fresh[pair])
                self._markets[pair] = fresh[pair]

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
                signals[pair] = last_signal(self._strategy, frame, pair, expected_ms, frames)
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

    def _last_prices(self, book: Book, frames: Mapping[str, pd.DataFrame]) -> dict[str, Decimal]:
        """Each position's price for the equity: the close of its newest candle."""
        prices = {}
        for pos in book.positions:
            frame = frames.get(pos.pair)
            if frame is not None and not frame.empty:
                prices[pos.pair] = candle_price(float(frame["close"].iloc[-1]), self._markets[pos.pair])
        return prices

    async def _quote_total(self) -> Decimal:
        balance = (await self._venue.balances()).get(self._stake_currency)
        return balance.total if balance is not None else Decimal(0)

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

    async def _snapshot(self, now_ms: int, equity: tuple[int, Decimal, Decimal]) -> None:
        balances = await self._venue.balances()
        await self._repo.set_state(
            {
                "last_tick_ms": now_ms,
                "rate_limited": getattr(self._venue, "rate_limited", 0),  # 429/418 answers met (ccxt venues)
                "balances": {asset: [str(b.free), str(b.used)] for asset, b in balances.items() if b.total > 0},
            },
            equity=equity,
        )
