"""Orders a person asks for (/forceexit, /forceentry): the same executor, journal and entry checks
as the strategy's own orders, run between ticks. A forced entry skips only the strategy's signal:
the trading state, locks, open-trade slots, stake and the venue's minimums still apply."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal

from bot.engine import ExitIntent, plan_entries
from bot.errors import ExchangeError, KestrelError
from bot.exchange.base import Exchange, Market
from bot.ledger import JournalOrder
from bot.orders.executor import Executor
from bot.risk.protections import Lock
from bot.risk.sizing import EntryLimits
from bot.store.repo import Repo
from bot.store.trading_control import read_trading_state
from bot.strategy.guard import PairSignal

FORCE_EXIT = "force_exit"
FORCE_ENTRY = "force_entry"


class ManualOrderError(KestrelError):
    """The order cannot be made; the message says why (no such trade, a check refused it)."""


class ManualOrders:
    def __init__(
        self,
        *,
        venue: Exchange,
        repo: Repo,
        executor: Executor,
        markets: dict[str, Market],
        limits: EntryLimits,
        whitelist: Sequence[str],
        stake_currency: str,
        tf_ms: int,
    ) -> None:
        self._venue = venue
        self._repo = repo
        self._executor = executor
        self._markets = markets
        self._limits = limits
        self._whitelist = list(whitelist)
        self._stake_currency = stake_currency
        self._tf_ms = tf_ms

    async def force_exit(self, trade_id: int | None, now_ms: int) -> list[str]:
        """Sell one open trade (or every one, `trade_id` None) as an ordinary exit would; one line each."""
        live = [t for t in reversed(await self._repo.trades(live_only=True)) if trade_id in (None, t.id)]
        if trade_id is not None and not live:
            raise ManualOrderError(f"id: no open trade {trade_id}; /status lists the open ones")
        if not live:
            return ["no open trades"]
        lines = []
        for trade in live:
            if trade.status != "open":
                lines.append(f"trade {trade.id} ({trade.pair}): already exiting")
                continue
            intent = ExitIntent(trade.id, trade.pair, trade.amount, FORCE_EXIT)
            try:
                order = await self._executor.exit(intent, now_ms, at_market=True)
            except ExchangeError as e:
                lines.append(f"trade {trade.id} ({trade.pair}): not sent ({e}); try again")
                continue
            if order is None and (after := await self._repo.trade(trade.id)) is not None and after.status == "closed":
                lines.append(f"trade {trade.id} ({trade.pair}): already sold by its stop or take-profit")
                continue
            lines.append(f"trade {trade.id} ({trade.pair}): {_outcome(order)}")
        return lines

    async def force_entry(self, pair: str, now_ms: int) -> str:
        if pair not in self._whitelist or pair not in self._markets:
            raise ManualOrderError(f"pair: {pair!r} is not traded; the pairs are {', '.join(self._whitelist)}")
        state = await read_trading_state(self._repo)
        blocked = await self._repo.get_state("entries_blocked")
        if blocked:
            raise ManualOrderError(f"no entry: entries are stopped ({blocked})")
        try:
            price = await self._venue.price(pair)
            balances = await self._venue.balances()
        except ExchangeError as e:
            raise ManualOrderError(f"no entry: the venue did not answer ({e}); try again") from e
        free = balances[self._stake_currency].free if self._stake_currency in balances else Decimal(0)
        book = await self._repo.book(free, await self._repo.closed_pairs_since(now_ms - now_ms % self._tf_ms))
        locks = tuple(
            Lock(None if p == "*" else p, until, why) for p, until, why in await self._repo.locks(until_after_ms=now_ms)
        )
        book = replace(book, locks=locks, halted_reason=None if state.allows_entries else state.describe())
        candle_ms = now_ms - now_ms % self._tf_ms - self._tf_ms
        signal = PairSignal(pair, candle_ms, enter=True, exit=False, tag=FORCE_ENTRY)
        entries, skipped = plan_entries(
            book, {pair: signal}, whitelist=[pair], prices={pair: price}, markets=self._markets, limits=self._limits
        )
        if not entries:
            reason = skipped[0].reason if skipped else "a trade on it closed on this candle"
            raise ManualOrderError(f"no entry: {reason}")
        order = await self._executor.enter(entries[0], now_ms)
        return f"{pair}: entry of {entries[0].amount} at about {price}: {_outcome(order)}"


def _outcome(order: JournalOrder | None) -> str:
    if order is None:
        return "sent; not confirmed yet (the next tick reconciles it)"
    if order.status == "rejected":
        return "refused by the venue (see /logs)"
    return f"{order.type} order {order.status}"
