"""The fill model shared by the simulated market, the paper broker and the backtester. Pure.

Resting orders are matched against a candle once it has closed, in a fixed order: stop orders
before limit orders (the pessimistic reading when one candle reaches both). A stop fills at its
trigger, or at the candle's open when the candle opens beyond it (a gap). A resting limit order is
a maker order and fills at its own price. An order that is marketable when placed fills at once at
the current price, like a taker, moved against it by the slippage (a limit never beyond its price).

Partial fills: with a volume share set, a resting limit order takes at most that share of each
candle's traded volume, and the rest keeps resting for the next candles. Stops fill whole, as
stop-market orders do. Without a share every touched order fills whole, which is what freqtrade's
backtests assume."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.exchange.base import Market, OrderRequest, OrderType, Side


@dataclass(frozen=True)
class Bar:
    """One closed candle in exact numbers, as the matcher sees it."""

    open_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal = Decimal(0)  # in the base asset


@dataclass(frozen=True)
class FillModel:
    """What the config may change about paper fills (`paper_fills`), the same for the simulated
    market, the dry-run broker and the backtester."""

    slippage_frac: Decimal = Decimal(0)
    volume_share: Decimal | None = None  # None: a touched resting order fills whole

    def immediate_price(self, order: OrderRequest, reference: Decimal) -> Decimal:
        """The price of an order that trades on arrival at `reference`."""
        price = taker_price(order.side, reference, self.slippage_frac)
        if order.type is OrderType.LIMIT and order.price is not None:
            return min(price, order.price) if order.side is Side.BUY else max(price, order.price)
        return price

    def resting_amount(self, order: OrderRequest, remaining: Decimal, bar: Bar, market: Market) -> Decimal:
        """How much of `remaining` a resting order that `bar` reached fills in it (0: none this candle)."""
        if order.type is not OrderType.LIMIT or self.volume_share is None:
            return remaining
        return min(remaining, market.round_amount_down(bar.volume * self.volume_share))


def to_decimal(value: float) -> Decimal:
    """A float price from a candle as the decimal it was printed as (shortest repr, no binary noise)."""
    return Decimal(repr(float(value)))


def candle_price(value: float, market: Market) -> Decimal:
    """A candle price as the market quotes it: on its tick. Stored candles carry float noise
    (0.00009073000000000001); every venue and the backtester read prices through here, so fills,
    stops and highs are all exchange prices."""
    return market.round_price(to_decimal(value))


def candle_bar(open_ms: int, prices: tuple[float, float, float, float], market: Market, volume: float = 0.0) -> Bar:
    o, h, low, c = prices
    return Bar(
        open_ms,
        candle_price(o, market),
        candle_price(h, market),
        candle_price(low, market),
        candle_price(c, market),
        to_decimal(volume),
    )


def average_after(filled: Decimal, average: Decimal | None, amount: Decimal, price: Decimal) -> Decimal:
    """The average price of an order after one more fill of `amount` at `price`."""
    if filled <= 0 or average is None:
        return price
    return (filled * average + amount * price) / (filled + amount)


def fee_quote(amount: Decimal, price: Decimal, fee_frac: Decimal) -> Decimal:
    return amount * price * fee_frac


def taker_price(side: Side, reference: Decimal, slippage_frac: Decimal) -> Decimal:
    """A market order pays the reference price moved against it by the slippage."""
    if side is Side.BUY:
        return reference * (1 + slippage_frac)
    return reference * (1 - slippage_frac)


def is_marketable(order: OrderRequest, reference: Decimal) -> bool:
    """Would this order trade at once if it reached the book at `reference`?"""
    if order.type is OrderType.MARKET:
        return True
    if order.type is OrderType.LIMIT:
        limit = _required(order.price, order, "price")
        return reference <= limit if order.side is Side.BUY else reference >= limit
    stop = _required(order.stop_price, order, "stop price")
    return reference >= stop if order.side is Side.BUY else reference <= stop


def resting_fill_price(order: OrderRequest, bar: Bar) -> Decimal | None:
    """The price a resting order fills at during `bar`, or None if the bar does not reach it."""
    if order.type is OrderType.STOP:
        stop = _required(order.stop_price, order, "stop price")
        if order.side is Side.SELL:
            if bar.open <= stop:
                return bar.open
            return stop if bar.low <= stop else None
        if bar.open >= stop:
            return bar.open
        return stop if bar.high >= stop else None
    if order.type is OrderType.LIMIT:
        limit = _required(order.price, order, "price")
        if order.side is Side.SELL:
            return limit if bar.high >= limit else None
        return limit if bar.low <= limit else None
    return None


def match_order_priority(order: OrderRequest) -> int:
    """Stops are matched before limits within one candle."""
    return 0 if order.type is OrderType.STOP else 1


def _required(value: Decimal | None, order: OrderRequest, what: str) -> Decimal:
    if value is None:
        raise ValueError(f"{order.symbol}: {order.type} order {order.client_id} has no {what}")
    return value
