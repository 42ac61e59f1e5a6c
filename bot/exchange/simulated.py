"""The embedded default venue: an offline market inside the process, with a wallet and an order
book of our own orders, persisted in its own SQLite file like a real exchange keeps its own books.

Time is the market clock's. Market orders fill at the open of the forming candle; resting stop and
limit orders are matched against each candle after it closes, by the shared fill model (fills.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pandas as pd

from bot.clock import Clock
from bot.errors import InsufficientFundsError, OrderNotFoundError, OrderRejectedError, UnsupportedError
from bot.exchange.base import Balance, Market, OrderRequest, OrderState, OrderStatus, OrderType, Side
from bot.exchange.candle_sources import CandleSource
from bot.exchange.fills import (
    candle_bar,
    candle_price,
    fee_quote,
    is_marketable,
    match_order_priority,
    resting_fill_price,
    taker_price,
)
from bot.exchange.simulated_state import Resting, VenueSnapshot, VenueStateFile
from bot.timeframes import floor_ms, timeframe_ms


class SimulatedExchange:
    """Implements the Exchange protocol over a CandleSource."""

    def __init__(
        self,
        *,
        clock: Clock,
        source: CandleSource,
        markets: Mapping[str, Market],
        timeframe: str,
        fee_frac: Decimal,
        state_path: Path,
        initial_balances: Mapping[str, Decimal],
        slippage_frac: Decimal = Decimal(0),
    ) -> None:
        self._clock = clock
        self._source = source
        self._markets = dict(markets)
        self._timeframe = timeframe
        self._tf_ms = timeframe_ms(timeframe)
        self.fee_frac = fee_frac
        self._slippage = slippage_frac
        self._file = VenueStateFile(state_path)
        self._orders: dict[str, Resting] = {}
        self._balances: dict[str, Balance] = {}
        self._settled_ms = 0  # every candle closing at or before this time has been matched
        if not self._load():
            self._balances = {asset: Balance(free=amount) for asset, amount in initial_balances.items()}
            self._settled_ms = clock.now_ms()
            self._save()

    # -- the Exchange protocol -------------------------------------------------------------

    async def markets(self) -> Mapping[str, Market]:
        return self._markets

    async def candles(self, symbol: str, timeframe: str, *, since_ms: int, limit: int) -> pd.DataFrame:
        self._check_symbol(symbol)
        if timeframe != self._timeframe:
            raise UnsupportedError(f"the simulated market serves {self._timeframe} candles, not {timeframe}")
        end_ms = floor_ms(self._clock.now_ms(), self._tf_ms)  # candles opening before this are closed
        cols = self._source.columns(symbol, end_ms)
        lo, hi = cols.between(since_ms, end_ms)
        return cols.frame(lo, min(hi, lo + limit))

    async def price(self, symbol: str) -> Decimal:
        self._check_symbol(symbol)
        return self._price(symbol)

    async def balances(self) -> Mapping[str, Balance]:
        self.settle()
        return dict(self._balances)

    async def submit(self, order: OrderRequest) -> OrderState:
        self.settle()
        self._check_symbol(order.symbol)
        if order.client_id in self._orders:
            raise OrderRejectedError(f"{order.symbol}: duplicate client order id {order.client_id}")
        market = self._markets[order.symbol]
        self._validate(order, market)
        now = self._clock.now_ms()
        reference = self._price(order.symbol)
        if is_marketable(order, reference):
            sibling = self._orders.get(order.oco_with) if order.oco_with else None
            if sibling is not None and sibling.state.status is OrderStatus.OPEN:
                self._cancel(sibling, now, f"OCO sibling {order.client_id} filled")
            state = self._fill_now(order, taker_price(order.side, reference, self._slippage), now)
            self._orders[order.client_id] = Resting(order, state, now, Decimal(0))
        else:
            reserved = self._reserve(order)
            state = OrderState(
                client_id=order.client_id,
                symbol=order.symbol,
                side=order.side,
                type=order.type,
                status=OrderStatus.OPEN,
                amount=order.amount,
                price=order.price,
                stop_price=order.stop_price,
                venue_id=f"sim-{len(self._orders) + 1}",
                updated_ms=now,
            )
            self._orders[order.client_id] = Resting(order, state, now, reserved)
        self._save()
        return self._orders[order.client_id].state

    async def cancel(self, symbol: str, client_id: str) -> OrderState:
        self.settle()
        book = self._orders.get(client_id)
        if book is None or book.request.symbol != symbol:
            raise OrderNotFoundError(f"{symbol}: no order {client_id}")
        if book.state.status.is_final:
            return book.state
        self._cancel(book, self._clock.now_ms(), "canceled by request")
        self._save()
        return self._orders[client_id].state

    async def order(self, symbol: str, client_id: str) -> OrderState | None:
        self.settle()
        book = self._orders.get(client_id)
        if book is None or book.request.symbol != symbol:
            return None
        return book.state

    async def open_orders(self, symbols: Sequence[str]) -> list[OrderState]:
        self.settle()
        wanted = set(symbols)
        return [
            b.state for b in self._orders.values() if b.state.status is OrderStatus.OPEN and b.request.symbol in wanted
        ]

    async def close(self) -> None:
        self._save()
        self._file.close()

    # -- matching --------------------------------------------------------------------------

    def settle(self) -> None:
        """Match resting orders against every candle that closed since the last call."""
        now = self._clock.now_ms()
        end_ms = floor_ms(now, self._tf_ms)  # candles opening before end_ms are closed
        if end_ms <= self._settled_ms:
            return
        resting = {b.request.symbol for b in self._orders.values() if b.state.status is OrderStatus.OPEN}
        for symbol in sorted(resting & self._markets.keys()):  # an unlisted symbol's orders wait
            self._settle_symbol(symbol, self._settled_ms, end_ms)
        self._settled_ms = end_ms
        self._save()

    def _settle_symbol(self, symbol: str, start_ms: int, end_ms: int) -> None:
        cols = self._source.columns(symbol, end_ms)
        lo, hi = cols.between(start_ms, end_ms)
        for i in range(lo, hi):
            bar = candle_bar(
                int(cols.ts_ms[i]), (cols.open[i], cols.high[i], cols.low[i], cols.close[i]), self._markets[symbol]
            )
            candidates = sorted(
                (
                    b
                    for b in self._orders.values()
                    if b.state.status is OrderStatus.OPEN and b.request.symbol == symbol and b.placed_ms <= bar.open_ms
                ),
                key=lambda b: (match_order_priority(b.request), b.placed_ms),
            )
            for book in candidates:
                if self._orders[book.request.client_id].state.status is not OrderStatus.OPEN:
                    continue  # its OCO sibling filled earlier in this candle
                price = resting_fill_price(book.request, bar)
                if price is None:
                    continue
                try:
                    self._fill_resting(book, price, bar.open_ms)
                except InsufficientFundsError as e:
                    # never wedge the market on one order: it expires, with the reason
                    self._expire(book.request.client_id, bar.open_ms, f"could not be filled: {e}")
            if not any(
                b.state.status is OrderStatus.OPEN and b.request.symbol == symbol for b in self._orders.values()
            ):
                return

    def _fill_resting(self, book: Resting, price: Decimal, now_ms: int) -> None:
        self._release_group(book)
        sibling = self._sibling(book)
        state = replace(self._fill_now(book.request, price, now_ms, maker=True), venue_id=book.state.venue_id)
        self._orders[book.request.client_id] = replace(book, state=state, reserved=Decimal(0))
        if sibling is not None and sibling.state.status is OrderStatus.OPEN:
            self._orders[sibling.request.client_id] = replace(
                sibling,
                state=replace(
                    sibling.state,
                    status=OrderStatus.CANCELED,
                    updated_ms=now_ms,
                    reason=f"OCO sibling {book.request.client_id} filled",
                ),
                reserved=Decimal(0),
            )

    def _fill_now(self, order: OrderRequest, price: Decimal, now_ms: int, *, maker: bool = False) -> OrderState:
        market = self._markets[order.symbol]
        fee = fee_quote(order.amount, price, self.fee_frac)
        quote, base = self._bal(market.quote), self._bal(market.base)
        if order.side is Side.BUY:
            cost = order.amount * price + fee
            if cost > quote.free:
                raise InsufficientFundsError(f"{order.symbol}: buy needs {cost} {market.quote}, free {quote.free}")
            self._balances[market.quote] = replace(quote, free=quote.free - cost)
            self._balances[market.base] = replace(base, free=base.free + order.amount)
        else:
            if order.amount > base.free:
                raise InsufficientFundsError(f"{order.symbol}: sell of {order.amount} {market.base}, free {base.free}")
            self._balances[market.base] = replace(base, free=base.free - order.amount)
            self._balances[market.quote] = replace(quote, free=quote.free + order.amount * price - fee)
        return OrderState(
            client_id=order.client_id,
            symbol=order.symbol,
            side=order.side,
            type=order.type,
            status=OrderStatus.FILLED,
            amount=order.amount,
            filled=order.amount,
            average=price,
            fee_quote=fee,
            price=order.price,
            stop_price=order.stop_price,
            venue_id=f"sim-{len(self._orders) + 1}",
            updated_ms=now_ms,
            reason="maker" if maker else "taker",
        )

    # -- reservations ----------------------------------------------------------------------

    def _reserve(self, order: OrderRequest) -> Decimal:
        market = self._markets[order.symbol]
        sibling = self._orders.get(order.oco_with) if order.oco_with else None
        if sibling is not None and sibling.state.status is OrderStatus.OPEN:
            if sibling.request.side is not order.side or sibling.request.amount != order.amount:
                raise OrderRejectedError(f"{order.symbol}: OCO legs must have the same side and amount")
            return Decimal(0)
        if order.side is Side.SELL:
            asset, need = market.base, order.amount
        else:
            limit = order.price if order.price is not None else order.stop_price
            if limit is None:
                raise OrderRejectedError(f"{order.symbol}: a resting buy needs a price")
            asset, need = market.quote, order.amount * limit * (1 + self.fee_frac)
        bal = self._bal(asset)
        if need > bal.free:
            raise InsufficientFundsError(f"{order.symbol}: needs {need} {asset}, free {bal.free}")
        self._balances[asset] = Balance(free=bal.free - need, used=bal.used + need)
        return need

    def _release_group(self, book: Resting) -> None:
        """Free the reservation that covers this order, whichever OCO leg holds it (for a fill)."""
        holder = book if book.reserved > 0 else self._sibling(book)
        if holder is None or holder.reserved == 0:
            return
        market = self._markets[book.request.symbol]
        asset = market.base if book.request.side is Side.SELL else market.quote
        bal = self._bal(asset)
        self._balances[asset] = Balance(free=bal.free + holder.reserved, used=bal.used - holder.reserved)
        self._orders[holder.request.client_id] = replace(self._orders[holder.request.client_id], reserved=Decimal(0))

    def _cancel(self, book: Resting, now_ms: int, reason: str) -> None:
        """Cancel one leg. An open sibling keeps protecting the amount: it inherits this leg's
        reservation, or keeps its own; only a lone order gives its reservation back."""
        sibling = self._sibling(book)
        if book.reserved > 0:
            if sibling is not None and sibling.state.status is OrderStatus.OPEN:
                self._orders[sibling.request.client_id] = replace(sibling, reserved=book.reserved)
            else:
                self._release_group(book)
        self._close(book.request.client_id, OrderStatus.CANCELED, now_ms, reason)

    def _expire(self, client_id: str, now_ms: int, reason: str) -> None:
        book = self._orders[client_id]
        if book.reserved > 0:
            self._release_group(book)
        self._close(client_id, OrderStatus.EXPIRED, now_ms, reason)

    def _close(self, client_id: str, status: OrderStatus, now_ms: int, reason: str) -> None:
        current = self._orders[client_id]
        self._orders[client_id] = replace(
            current,
            reserved=Decimal(0),
            state=replace(current.state, status=status, updated_ms=now_ms, reason=reason),
        )

    def _sibling(self, book: Resting) -> Resting | None:
        if book.request.oco_with and book.request.oco_with in self._orders:
            return self._orders[book.request.oco_with]
        for other in self._orders.values():
            if other.request.oco_with == book.request.client_id:
                return other
        return None

    # -- helpers ---------------------------------------------------------------------------

    def _bal(self, asset: str) -> Balance:
        return self._balances.get(asset, Balance(free=Decimal(0)))

    def _price(self, symbol: str) -> Decimal:
        now = self._clock.now_ms()
        cols = self._source.columns(symbol, now + self._tf_ms)
        _, hi = cols.between(0, now + 1)  # candles opening at or before now
        if hi == 0:
            raise OrderRejectedError(f"{symbol}: no price yet, the market opens later")
        i = hi - 1
        if int(cols.ts_ms[i]) + self._tf_ms <= now:
            # no candle is forming: a replay that has run out of candles is a closed market
            raise OrderRejectedError(f"{symbol}: no trading after the last candle of the replay")
        return candle_price(cols.open[i], self._markets[symbol])

    def _check_symbol(self, symbol: str) -> None:
        if symbol not in self._markets:
            raise OrderRejectedError(f"{symbol}: not listed on the simulated market")

    def _validate(self, order: OrderRequest, market: Market) -> None:
        if order.amount <= 0 or market.round_amount_down(order.amount) != order.amount:
            raise OrderRejectedError(
                f"{order.symbol}: amount {order.amount} is not a positive multiple of {market.amount_step}"
            )
        if order.amount < market.min_amount:
            raise OrderRejectedError(f"{order.symbol}: amount {order.amount} below minimum {market.min_amount}")
        for label, price in (("price", order.price), ("stop price", order.stop_price)):
            if price is not None and (price <= 0 or market.round_price(price) != price):
                raise OrderRejectedError(
                    f"{order.symbol}: {label} {price} is not a positive multiple of {market.price_tick}"
                )
        if order.type is OrderType.LIMIT and order.price is None:
            raise OrderRejectedError(f"{order.symbol}: limit order without a price")
        if order.type is OrderType.STOP and order.stop_price is None:
            raise OrderRejectedError(f"{order.symbol}: stop order without a stop price")
        reference = order.price or order.stop_price or self._price(order.symbol)
        if order.amount * reference < market.min_notional:
            raise OrderRejectedError(
                f"{order.symbol}: order value {order.amount * reference} below minimum {market.min_notional}"
            )

    # -- persistence -----------------------------------------------------------------------

    def _save(self) -> None:
        self._file.save(VenueSnapshot(self._settled_ms, self._clock.now_ms(), dict(self._balances), dict(self._orders)))

    def _load(self) -> bool:
        snapshot = self._file.load()
        if snapshot is None:
            return False
        self._settled_ms = snapshot.settled_ms
        self._balances = dict(snapshot.balances)
        self._orders = dict(snapshot.orders)
        return True

    @staticmethod
    def saved_now_ms(state_path: Path) -> int | None:
        """The market time at which a previous run stopped, so a restart resumes the same market."""
        return VenueStateFile.saved_now_ms(state_path)
