"""A wallet and an order book of our own orders, matched by the shared fill model and kept in a
small SQLite file of its own. The simulated market and the dry-run paper broker are both this book;
they differ only in where prices and candles come from, so a paper fill is a simulated fill.

Synchronous and free of I/O except the state file: callers pass the reference price and the closed
candles in."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from bot.errors import InsufficientFundsError, OrderNotFoundError, OrderRejectedError
from bot.exchange.base import Balance, Market, OrderRequest, OrderState, OrderStatus, OrderType, Side
from bot.exchange.fills import (
    Bar,
    FillModel,
    average_after,
    fee_quote,
    is_marketable,
    match_order_priority,
    resting_fill_price,
)
from bot.exchange.order_checks import validate
from bot.exchange.simulated_state import Resting, VenueSnapshot, VenueStateFile


class PaperBook:
    def __init__(
        self,
        *,
        fee_frac: Decimal,
        state_path: Path,
        initial_balances: Mapping[str, Decimal],
        now_ms: int,
        model: FillModel | None = None,
    ) -> None:
        self.fee_frac = fee_frac
        self._model = model or FillModel()
        self._file = VenueStateFile(state_path)
        self._orders: dict[str, Resting] = {}
        self._balances: dict[str, Balance] = {}
        self.settled_ms = 0  # every candle closing at or before this time has been matched
        self.saved_now_ms = now_ms
        if not self._load():
            self._balances = {asset: Balance(free=amount) for asset, amount in initial_balances.items()}
            self.settled_ms = now_ms
            self.save(now_ms)

    # -- reads -----------------------------------------------------------------------------

    def balances(self) -> dict[str, Balance]:
        return dict(self._balances)

    def order(self, symbol: str, client_id: str) -> OrderState | None:
        book = self._orders.get(client_id)
        if book is None or book.request.symbol != symbol:
            return None
        return book.state

    def open_orders(self, symbols: Iterable[str]) -> list[OrderState]:
        wanted = set(symbols)
        return [
            b.state for b in self._orders.values() if b.state.status is OrderStatus.OPEN and b.request.symbol in wanted
        ]

    def resting_symbols(self) -> set[str]:
        return {b.request.symbol for b in self._orders.values() if b.state.status is OrderStatus.OPEN}

    # -- orders ----------------------------------------------------------------------------

    def submit(self, order: OrderRequest, market: Market, reference: Decimal, now_ms: int) -> OrderState:
        """Fill at once at `reference` (moved by the slippage) if marketable, else rest."""
        if order.client_id in self._orders:
            raise OrderRejectedError(f"{order.symbol}: duplicate client order id {order.client_id}")
        validate(order, market, reference)
        if is_marketable(order, reference):
            sibling = self._orders.get(order.oco_with) if order.oco_with else None
            if sibling is not None and sibling.state.status is OrderStatus.OPEN:
                self._cancel(sibling, now_ms, f"OCO sibling {order.client_id} filled")
            state = self._fill_now(order, market, self._model.immediate_price(order, reference), now_ms)
            self._orders[order.client_id] = Resting(order, state, now_ms, Decimal(0), now_ms)
        else:
            reserved = self._reserve(order, market)
            self._orders[order.client_id] = Resting(order, self._accepted(order, now_ms), now_ms, reserved, now_ms)
        self.save(now_ms)
        return self._orders[order.client_id].state

    def cancel(self, symbol: str, client_id: str, now_ms: int) -> OrderState:
        book = self._orders.get(client_id)
        if book is None or book.request.symbol != symbol:
            raise OrderNotFoundError(f"{symbol}: no order {client_id}")
        if book.state.status.is_final:
            return book.state
        self._cancel(book, now_ms, "canceled by request")
        self.save(now_ms)
        return self._orders[client_id].state

    # -- matching --------------------------------------------------------------------------

    def match_bars(self, symbol: str, market: Market, bars: Iterable[Bar]) -> None:
        """Match the symbol's resting orders against closed candles, oldest first. An order is
        matched only against candles that opened after it was placed, and against each candle once
        (a partly filled order must not fill again from a candle it already traded in)."""
        for bar in bars:
            candidates = sorted(
                (
                    b
                    for b in self._orders.values()
                    if b.state.status is OrderStatus.OPEN
                    and b.request.symbol == symbol
                    and b.next_bar_ms <= bar.open_ms
                ),
                key=lambda b: (match_order_priority(b.request), b.placed_ms),
            )
            for candidate in candidates:
                cid = candidate.request.client_id
                book = self._orders[cid]
                if book.state.status is not OrderStatus.OPEN:
                    continue  # its OCO sibling filled earlier in this candle
                self._orders[cid] = book = replace(book, next_bar_ms=bar.open_ms + 1)
                price = resting_fill_price(book.request, bar)
                if price is None:
                    continue
                amount = self._model.resting_amount(book.request, self._remaining(book), bar, market)
                if amount <= 0:
                    continue  # the candle traded too little for any of it
                try:
                    self._fill_resting(book, market, price, amount, bar.open_ms)
                except InsufficientFundsError as e:
                    # never wedge the market on one order: it expires, with the reason
                    self._expire(cid, bar.open_ms, f"could not be filled: {e}")
            if symbol not in self.resting_symbols():
                return

    @staticmethod
    def _due(book: Resting, bar: Bar) -> bool:
        return book.state.status is OrderStatus.OPEN and book.next_bar_ms <= bar.open_ms

    def _remaining(self, book: Resting) -> Decimal:
        """What is left to fill. The legs of an OCO share one amount: a partly filled take-profit
        leaves its stop protecting only the rest."""
        sibling = self._sibling(book)
        done = book.state.filled + (sibling.state.filled if sibling is not None else Decimal(0))
        return book.request.amount - done

    def _fill_resting(self, book: Resting, market: Market, price: Decimal, amount: Decimal, now_ms: int) -> None:
        remaining = self._remaining(book)
        self._release_share(book, amount, remaining)
        fee = self._settle(book.request, market, amount, price)
        cid = book.request.client_id
        book = self._orders[cid]
        whole = amount >= remaining
        state = replace(
            book.state,
            status=OrderStatus.FILLED if whole else OrderStatus.OPEN,
            filled=book.state.filled + amount,
            average=average_after(book.state.filled, book.state.average, amount, price),
            fee_quote=book.state.fee_quote + fee,
            updated_ms=now_ms,
            reason="maker" if book.request.type is OrderType.LIMIT else "stop triggered",
        )
        self._orders[cid] = replace(book, state=state)
        sibling = self._sibling(book)
        if whole and sibling is not None and sibling.state.status is OrderStatus.OPEN:
            self._close(sibling.request.client_id, OrderStatus.CANCELED, now_ms, f"OCO sibling {cid} filled")

    def _fill_now(self, order: OrderRequest, market: Market, price: Decimal, now_ms: int) -> OrderState:
        fee = self._settle(order, market, order.amount, price)
        accepted = self._accepted(order, now_ms)
        return replace(
            accepted, status=OrderStatus.FILLED, filled=order.amount, average=price, fee_quote=fee, reason="taker"
        )

    def _accepted(self, order: OrderRequest, now_ms: int) -> OrderState:
        """An order as the book takes it in: open, nothing filled, with a venue id of its own."""
        return OrderState(
            client_id=order.client_id,
            symbol=order.symbol,
            side=order.side,
            type=order.type,
            status=OrderStatus.OPEN,
            amount=order.amount,
            price=order.price,
            stop_price=order.stop_price,
            venue_id=f"paper-{len(self._orders) + 1}",
            updated_ms=now_ms,
        )

    def _settle(self, order: OrderRequest, market: Market, amount: Decimal, price: Decimal) -> Decimal:
        """Move the money of one fill between the free balances; returns its fee (in the quote).
        Checks before it changes anything."""
        fee = fee_quote(amount, price, self.fee_frac)
        quote, base = self._bal(market.quote), self._bal(market.base)
        if order.side is Side.BUY:
            cost = amount * price + fee
            if cost > quote.free:
                raise InsufficientFundsError(f"{order.symbol}: buy needs {cost} {market.quote}, free {quote.free}")
            self._balances[market.quote] = replace(quote, free=quote.free - cost)
            self._balances[market.base] = replace(base, free=base.free + amount)
        else:
            if amount > base.free:
                raise InsufficientFundsError(f"{order.symbol}: sell of {amount} {market.base}, free {base.free}")
            self._balances[market.base] = replace(base, free=base.free - amount)
            self._balances[market.quote] = replace(quote, free=quote.free + amount * price - fee)
        return fee

    # -- reservations ----------------------------------------------------------------------

    def _reserve(self, order: OrderRequest, market: Market) -> Decimal:
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

    def _release_share(self, book: Resting, amount: Decimal, remaining: Decimal) -> None:
        """Free the part of the group's reservation that a fill of `amount` out of `remaining` uses."""
        holder = book if book.reserved > 0 else self._sibling(book)
        if holder is None or holder.reserved <= 0:
            return
        if amount >= remaining:
            self._give_back(holder)
            return
        share = holder.reserved * amount / remaining
        self._give_back(holder, share)

    def _release_group(self, book: Resting) -> None:
        """Free the reservation that covers this order, whichever OCO leg holds it."""
        holder = book if book.reserved > 0 else self._sibling(book)
        if holder is not None and holder.reserved > 0:
            self._give_back(holder)

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
        self._release_group(self._orders[client_id])
        self._close(client_id, OrderStatus.EXPIRED, now_ms, reason)

    def _give_back(self, holder: Resting, share: Decimal | None = None) -> None:
        """Return a reservation (or `share` of it) to the free balance."""
        request = holder.request
        amount = holder.reserved if share is None else share
        # a sell reserves the base asset, a buy the quote: both are named in the symbol
        base, _, quote = request.symbol.partition("/")
        asset = base if request.side is Side.SELL else quote
        bal = self._bal(asset)
        self._balances[asset] = Balance(free=bal.free + amount, used=bal.used - amount)
        current = self._orders[request.client_id]
        self._orders[request.client_id] = replace(current, reserved=current.reserved - amount)

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

    def _bal(self, asset: str) -> Balance:
        return self._balances.get(asset, Balance(free=Decimal(0)))

    # -- persistence -----------------------------------------------------------------------

    def save(self, now_ms: int) -> None:
        self.saved_now_ms = now_ms
        self._file.save(VenueSnapshot(self.settled_ms, now_ms, dict(self._balances), dict(self._orders)))

    def close(self) -> None:
        self._file.close()

    def _load(self) -> bool:
        snapshot = self._file.load()
        if snapshot is None:
            return False
        self.settled_ms = snapshot.settled_ms
        self.saved_now_ms = snapshot.now_ms
        self._balances = dict(snapshot.balances)
        self._orders = dict(snapshot.orders)
        return True
