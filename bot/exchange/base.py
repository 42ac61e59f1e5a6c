"""The venue contract and the values that cross it. Live, paper and simulated implement it alike."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Protocol

import pandas as pd

CANDLE_COLUMNS = ("date", "open", "high", "low", "close", "volume")


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"  # stop-market: becomes a market order when the price trades at or below/above it


class OrderStatus(StrEnum):
    OPEN = "open"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_final(self) -> bool:
        return self is not OrderStatus.OPEN


def quantize(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    """Round to a multiple of `step`; the one place precision rounding happens."""
    if step.as_tuple().digits == (1,):  # a power of ten, the usual tick: the fast exact path
        return value.quantize(step, rounding=rounding)
    return (value / step).to_integral_value(rounding=rounding) * step


@dataclass(frozen=True)
class Market:
    """What the venue allows for one symbol. Amounts and prices are rounded here, at the boundary."""

    symbol: str
    base: str
    quote: str
    price_tick: Decimal
    amount_step: Decimal
    min_amount: Decimal = Decimal(0)
    min_notional: Decimal = Decimal(0)
    stop_orders: bool = True  # the venue takes stop-market sells for this symbol

    def round_amount_down(self, amount: Decimal) -> Decimal:
        return quantize(amount, self.amount_step, ROUND_DOWN)

    def round_price(self, price: Decimal) -> Decimal:
        return quantize(price, self.price_tick, ROUND_HALF_EVEN)

    def round_price_up(self, price: Decimal) -> Decimal:
        return quantize(price, self.price_tick, ROUND_CEILING)


@dataclass(frozen=True)
class OrderRequest:
    """One order as the engine wants it. `client_id` is chosen and journaled by us before sending.
    `oco_with` names a sibling order: when either fills, the venue cancels the other (one amount
    protected by a stop and a take-profit at once)."""

    client_id: str
    symbol: str
    side: Side
    type: OrderType
    amount: Decimal
    price: Decimal | None = None
    stop_price: Decimal | None = None
    oco_with: str | None = None


@dataclass(frozen=True)
class OrderState:
    """The venue's view of an order. Fees are in the quote currency."""

    client_id: str
    symbol: str
    side: Side
    type: OrderType
    status: OrderStatus
    amount: Decimal
    filled: Decimal = Decimal(0)
    average: Decimal | None = None
    fee_quote: Decimal = Decimal(0)
    price: Decimal | None = None
    stop_price: Decimal | None = None
    venue_id: str = ""
    fee_base: Decimal = Decimal(0)  # a fee taken from the bought coins (Binance's default on buys)
    updated_ms: int = 0
    reason: str = ""


@dataclass(frozen=True)
class Balance:
    free: Decimal
    used: Decimal = Decimal(0)

    @property
    def total(self) -> Decimal:
        return self.free + self.used


@dataclass(frozen=True)
class VenueInfo:
    """Static facts the engine needs about a venue (for sizing and reporting)."""

    name: str
    fee_frac: Decimal
    paper: bool
    markets: Mapping[str, Market] = field(default_factory=dict)


class Exchange(Protocol):
    """Everything the engine may ask of a venue. Live, paper and simulated implement it alike."""

    async def markets(self) -> Mapping[str, Market]: ...

    async def candles(self, symbol: str, timeframe: str, *, since_ms: int, limit: int) -> pd.DataFrame:
        """Closed candles only, oldest first, columns CANDLE_COLUMNS, `date` = candle open (UTC)."""
        ...

    async def price(self, symbol: str) -> Decimal:
        """The price a market order sent now would be expected to fill at."""
        ...

    async def balances(self) -> Mapping[str, Balance]: ...

    async def submit(self, order: OrderRequest) -> OrderState: ...

    async def cancel(self, symbol: str, client_id: str) -> OrderState: ...

    async def order(self, symbol: str, client_id: str) -> OrderState | None:
        """Look an order up by our client id; None is a confirmed 'not found'."""
        ...

    async def open_orders(self, symbols: Sequence[str]) -> list[OrderState]: ...

    async def close(self) -> None: ...
