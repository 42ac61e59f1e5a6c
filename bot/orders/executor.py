"""Carries out the engine's intents, journal first: every order is written with its client id
before it is sent, and a send that fails ambiguously is resolved by looking the id up, never by
sending again."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal

from loguru import logger

from bot.engine import EntryIntent, ExitIntent, ProtectIntent
from bot.errors import ExchangeError, OrderNotFoundError, OrderRejectedError
from bot.exchange.base import Exchange, Market, OrderRequest, OrderState, OrderStatus, OrderType, Side
from bot.exchange.fills import is_marketable
from bot.ledger import BY_HAND, ENTRY, EXIT, STOP, TAKE_PROFIT, JournalOrder
from bot.orders.announce import announce
from bot.orders.ids import client_id
from bot.orders.policy import OrderPolicy, exits_given_up, stale_orders
from bot.store.repo import Repo


class Executor:
    def __init__(
        self,
        *,
        venue: Exchange,
        repo: Repo,
        markets: Mapping[str, Market],
        prefix: str,
        native_oco: bool = True,
        policy: OrderPolicy | None = None,
    ) -> None:
        self._venue = venue
        self._repo = repo
        self._markets = markets
        self._prefix = prefix
        self._policy = policy or OrderPolicy()
        # our own books link a stop and a take-profit on one amount; an exchange would refuse the
        # second order for want of coins, so there the take-profit is watched by the bot instead
        self._native_oco = native_oco

    async def enter(self, intent: EntryIntent, now_ms: int) -> JournalOrder | None:
        limit = self._policy.entry_type is OrderType.LIMIT
        price = self._markets[intent.pair].round_price(intent.price) if limit else None

        def request_for(trade_id: int) -> OrderRequest:
            cid = client_id(self._prefix, trade_id, ENTRY, 0)
            return OrderRequest(cid, intent.pair, Side.BUY, self._policy.entry_type, intent.amount, price=price)

        request = await self._repo.open_trade(
            pair=intent.pair,
            stake_quote=intent.stake_quote,
            signal_ms=intent.signal_ms,
            tag=intent.tag,
            now_ms=now_ms,
            request_for=request_for,
        )
        return await self._send(request, now_ms)

    async def exit(self, intent: ExitIntent, now_ms: int, *, at_market: bool = False) -> JournalOrder | None:
        if not await self._cancel_protection(intent.trade_id, now_ms):
            return None  # a protective order filled meanwhile: the position is already gone
        return await self._exit_order(
            intent.trade_id, intent.pair, intent.amount, intent.reason, now_ms, at_market=at_market
        )

    async def _exit_order(
        self, trade_id: int, pair: str, amount: Decimal, reason: str, now_ms: int, *, at_market: bool = False
    ) -> JournalOrder | None:
        """Sell what is held: at market, or with a limit at the last price when `order_types.exit`
        says so (a stop that was hit, or an exit that timed out too often, always at market)."""
        amount = await self._sellable(pair, amount)
        if amount <= 0:
            logger.warning("trade {}: nothing of {} left to sell; reconciliation will close it", trade_id, pair)
            return None
        kind = OrderType.MARKET if at_market else self._policy.exit_type_for(reason)
        price = None
        if kind is OrderType.LIMIT:
            try:
                price = self._markets[pair].round_price(await self._venue.price(pair))
            except ExchangeError as e:
                logger.warning("trade {}: no price for a limit exit ({}); selling at market", trade_id, e)
                kind = OrderType.MARKET
        seq = await self._repo.count_orders(trade_id, EXIT)
        request = OrderRequest(client_id(self._prefix, trade_id, EXIT, seq), pair, Side.SELL, kind, amount, price=price)
        await self._repo.journal_order(trade_id, request, EXIT, reason, now_ms)
        return await self._send(request, now_ms)

    async def protect(self, intent: ProtectIntent, now_ms: int) -> None:
        """Replace the position's resting stop and take-profit with the ones the rules want now."""
        if not self._native_oco:
            await self._protect_on_exchange(intent, now_ms)
            return
        if not await self._cancel_protection(intent.trade_id, now_ms):
            return
        p = intent.protection
        planned = await self._stop_request(intent)
        if planned is None:
            return
        stop, seq = planned
        intent = replace(intent, amount=stop.amount)
        if p.take_profit_price is not None and not await self._marketable(stop):
            target = OrderRequest("", intent.pair, Side.SELL, OrderType.LIMIT, intent.amount, price=p.take_profit_price)
            if await self._marketable(target):
                # the ROI step in force is already below the market (a new step, or a "roi -1" time
                # limit): sell at market; a limit far below the price may be refused as too small
                await self._exit_order(intent.trade_id, intent.pair, intent.amount, "roi", now_ms)
                return
        await self._repo.journal_order(intent.trade_id, stop, STOP, p.stop_reason, now_ms)
        placed = await self._send(stop, now_ms)
        if placed is None or placed.status != "open" or p.take_profit_price is None:
            return
        tp = OrderRequest(
            client_id(self._prefix, intent.trade_id, TAKE_PROFIT, seq),
            intent.pair,
            Side.SELL,
            OrderType.LIMIT,
            intent.amount,
            price=p.take_profit_price,
            oco_with=stop.client_id,
        )
        await self._repo.journal_order(intent.trade_id, tp, TAKE_PROFIT, "roi", now_ms)
        await self._send(tp, now_ms)

    async def _protect_on_exchange(self, intent: ProtectIntent, now_ms: int) -> None:
        """A real exchange: the stop rests there (moved only when the rules move it); the ROI target
        and the stop itself are also checked here against the price, so a target reached or a stop
        the exchange does not hold still sells, at market."""
        p = intent.protection
        try:
            price: Decimal | None = await self._venue.price(intent.pair)
        except ExchangeError as e:
            logger.warning("{}: no price to check the exits against: {}", intent.pair, e)
            price = None
        resting = [o for o in await self._repo.orders_of(intent.trade_id) if o.purpose == STOP and not o.is_final]
        reason = None
        if price is not None and p.take_profit_price is not None and price >= p.take_profit_price:
            reason = "roi"
        elif price is not None and price <= p.stop_price and not resting:
            reason = p.stop_reason
        if reason is not None:
            if await self._cancel_protection(intent.trade_id, now_ms):
                await self._exit_order(intent.trade_id, intent.pair, intent.amount, reason, now_ms)
            return
        if not (self._policy.stop_on_exchange and self._markets[intent.pair].stop_orders):
            return  # the stop is the bot's alone: checked above at every tick
        if any(o.stop_price == p.stop_price for o in resting):
            return
        if not await self._cancel_protection(intent.trade_id, now_ms):
            return
        planned = await self._stop_request(intent)
        if planned is None:
            return
        stop, _ = planned
        await self._repo.journal_order(intent.trade_id, stop, STOP, p.stop_reason, now_ms)
        await self._send(stop, now_ms)

    async def _stop_request(self, intent: ProtectIntent) -> tuple[OrderRequest, int] | None:
        """The next stop order for a position (and its sequence number), for what is sellable; None
        when nothing is left to protect."""
        amount = await self._sellable(intent.pair, intent.amount)
        if amount <= 0:
            return None
        seq = await self._repo.count_orders(intent.trade_id, STOP)
        stop = OrderRequest(
            client_id(self._prefix, intent.trade_id, STOP, seq),
            intent.pair,
            Side.SELL,
            OrderType.STOP,
            amount,
            stop_price=intent.protection.stop_price,
        )
        return stop, seq

    async def cancel_stale(self, now_ms: int) -> None:
        """`unfilledtimeout`: entries and exits resting too long are cancelled. What filled stays (a
        partly filled entry is a smaller position); a cancelled exit leaves the position to the rules,
        which sell again if they still want out, or at market after `exit_timeout_count` tries."""
        for order in stale_orders(await self._repo.nonfinal_orders(), now_ms, self._policy):
            try:
                state = await self._cancel_or_look_up(order)
            except ExchangeError as e:
                logger.warning("order {} is stale but could not be cancelled ({}); next tick", order.client_id, e)
                continue
            if state is None:
                await self._repo.mark_final(order.client_id, "not_sent", "venue has no such order", now_ms)
                continue
            recorded = await self._repo.record_state(state, now_ms)
            if recorded.status == OrderStatus.FILLED.value:
                await self._event("order_filled", recorded, now_ms)
                continue
            logger.info("order {} unfilled after the timeout: cancelled, {} filled", order.client_id, recorded.filled)
            await self._event("order_timed_out", recorded, now_ms)
            if order.purpose == EXIT and self._policy.exit_timeout_count:
                await self._exit_after_timeouts(order, now_ms)

    async def cancel_order(self, order: JournalOrder, now_ms: int) -> JournalOrder:
        """Cancel one journal order and record how it ended (filled meanwhile, cancelled with what
        filled, or never at the venue)."""
        state = await self._cancel_or_look_up(order)
        if state is None:
            return await self._repo.mark_final(order.client_id, "not_sent", "venue has no such order", now_ms)
        recorded = await self._repo.record_state(state, now_ms)
        if recorded.status == OrderStatus.FILLED.value:
            await self._event("order_filled", recorded, now_ms)
        return recorded

    async def sell_at_market(
        self, trade_id: int, pair: str, amount: Decimal, reason: str, now_ms: int
    ) -> JournalOrder | None:
        """Sell what the trade holds at market now (the kill switch)."""
        return await self._exit_order(trade_id, pair, amount, reason, now_ms, at_market=True)

    async def _cancel_or_look_up(self, order: JournalOrder) -> OrderState | None:
        """The order's final state after a cancel; if the venue no longer has it open, as it is
        there (None: it never got it)."""
        try:
            return await self._venue.cancel(order.pair, order.client_id)
        except OrderNotFoundError:
            return await self._venue.order(order.pair, order.client_id)

    async def _exit_after_timeouts(self, timed_out: JournalOrder, now_ms: int) -> None:
        trade = await self._repo.trade(timed_out.trade_id)
        if trade is None or trade.status != "open":
            return
        if exits_given_up(await self._repo.orders_of(trade.id)) < self._policy.exit_timeout_count:
            return
        logger.warning("trade {}: {} exits timed out; selling at market", trade.id, self._policy.exit_timeout_count)
        reason = timed_out.exit_reason or "exit_signal"
        await self._exit_order(trade.id, trade.pair, Decimal(trade.amount), reason, now_ms, at_market=True)

    async def _sellable(self, pair: str, amount: Decimal) -> Decimal:
        """What an exit may sell: never more than the wallet holds free (a fee taken in the coin, a
        partial sale by hand), rounded down to the lot step."""
        market = self._markets[pair]
        try:
            held = (await self._venue.balances()).get(market.base)
        except ExchangeError as e:
            logger.warning("{}: no balance to check the exit against ({}); selling the journal's amount", pair, e)
            held = None
        if held is not None:
            amount = min(amount, held.free)
        return market.round_amount_down(amount)

    async def record_hand_sale(self, trade_id: int, pair: str, amount: Decimal, now_ms: int) -> None:
        """The venue no longer holds the trade's coins: record their sale at the market price now
        (the real price of a sale made elsewhere is unknown), so the trade closes and the books
        balance. The reason says it was not the bot."""
        try:
            price = await self._venue.price(pair)
        except ExchangeError as e:
            logger.warning("trade {}: coins gone but no price to record the sale at ({}); later", trade_id, e)
            return
        seq = await self._repo.count_orders(trade_id, BY_HAND)
        request = OrderRequest(
            client_id(self._prefix, trade_id, BY_HAND, seq), pair, Side.SELL, OrderType.MARKET, amount
        )
        await self._repo.journal_order(trade_id, request, BY_HAND, "sold_by_hand", now_ms)
        state = OrderState(
            client_id=request.client_id,
            symbol=pair,
            side=Side.SELL,
            type=OrderType.MARKET,
            status=OrderStatus.FILLED,
            amount=amount,
            filled=amount,
            average=price,
            updated_ms=now_ms,
            reason="not held at the venue any more: sold or moved outside the bot; priced at the market",
        )
        await self._event("order_filled", await self._repo.record_state(state, now_ms), now_ms)

    async def _marketable(self, order: OrderRequest) -> bool:
        try:
            return is_marketable(order, await self._venue.price(order.symbol))
        except ExchangeError:
            return False  # no price now: the venue decides when the order reaches it

    async def _cancel_protection(self, trade_id: int, now_ms: int) -> bool:
        """Cancel the trade's resting stop and take-profit. False if one of them had already filled."""
        for order in await self._repo.orders_of(trade_id):
            if order.purpose not in (STOP, TAKE_PROFIT) or order.is_final:
                continue
            try:
                state = await self._venue.cancel(order.pair, order.client_id)
            except OrderNotFoundError:
                await self._repo.mark_final(order.client_id, "not_sent", "venue has no such order", now_ms)
                continue
            recorded = await self._repo.record_state(state, now_ms)
            if recorded.status == OrderStatus.FILLED.value:
                await self._event("order_filled", recorded, now_ms)
                return False
        return True

    async def _send(self, request: OrderRequest, now_ms: int) -> JournalOrder | None:
        """Submit a journaled order. Returns its recorded state, or None while it is unresolved."""
        try:
            state = await self._venue.submit(request)
        except OrderRejectedError as e:
            order = await self._repo.mark_final(request.client_id, "rejected", str(e), now_ms)
            logger.warning("order {} rejected: {}", request.client_id, e)
            await self._repo.add_event(
                "order_rejected", str(e), ts_ms=now_ms, pair=request.symbol, client_id=request.client_id
            )
            return order
        except ExchangeError as e:
            return await self._resolve_ambiguous(request, e, now_ms)
        order = await self._repo.record_state(state, now_ms)
        await self._event("order_filled" if order.status == "filled" else "order_sent", order, now_ms)
        return order

    async def _resolve_ambiguous(self, request: OrderRequest, error: Exception, now_ms: int) -> JournalOrder | None:
        """The venue may or may not have the order: look it up by client id, never resend."""
        logger.warning("submit of {} failed ambiguously ({}); looking it up", request.client_id, error)
        try:
            state = await self._venue.order(request.symbol, request.client_id)
        except ExchangeError as e:
            logger.warning("lookup of {} failed too ({}); reconciliation will resolve it", request.client_id, e)
            return None
        if state is None:
            return await self._repo.mark_final(
                request.client_id, "not_sent", f"confirmed not found after: {error}", now_ms
            )
        order = await self._repo.record_state(state, now_ms)
        await self._event("order_adopted", order, now_ms)
        return order

    async def _event(self, kind: str, order: JournalOrder, now_ms: int) -> None:
        await announce(self._repo, kind, order, now_ms)
