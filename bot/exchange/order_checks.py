"""The checks every exchange makes before it accepts an order: lot step, tick, minimum amount and
minimum order value. Ours (the paper book) and the ccxt adapter both run them, so an order a real
exchange would refuse is refused here with the reason and never leaves. Pure."""

from __future__ import annotations

from decimal import Decimal

from bot.errors import OrderRejectedError
from bot.exchange.base import Market, OrderRequest, OrderType


def validate(order: OrderRequest, market: Market, reference: Decimal) -> None:
    """The checks an exchange makes before accepting an order: lot step, tick, minimums."""
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
    value = order.amount * (order.price or order.stop_price or reference)
    if value < market.min_notional:
        raise OrderRejectedError(f"{order.symbol}: order value {value} below minimum {market.min_notional}")
