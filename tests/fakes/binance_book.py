"""The state and rules behind the fake Binance trading desk: an account's balances (free and locked)
and a SPOT order book that matches by Binance's rules, driven by the test (no HTTP here; the desk in
binance_trading.py serves it).

* Orders obey the symbol's exchangeInfo (order types, PRICE_FILTER, LOT_SIZE, MARKET_LOT_SIZE,
  MIN_NOTIONAL/NOTIONAL, MAX_NUM_ORDERS, MAX_NUM_ALGO_ORDERS -> -1013 "Filter failure: ..."),
  client ids unique among open orders (-2010 "Duplicate order sent."), funds locked by open orders
  (-2010 "Account has insufficient balance for requested action.").
* MARKET orders and marketable limits fill at once at the last price (`set_price`); an empty book
  (no price yet) expires them. Resting orders fill when the test says (`fill`); stops trigger when
  `set_price` reaches them, and then fill at that price.
* Commission (0.1 % by default) is taken from the asset received: the base on buys, the quote on
  sells, as Binance does without BNB fee payment.
* Order types served: MARKET, LIMIT (GTC/IOC/FOK), LIMIT_MAKER, STOP_LOSS and TAKE_PROFIT.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any, NamedTuple

from tests.fakes.binance_http import BinanceApiError

SERVED_TYPES = ("MARKET", "LIMIT", "LIMIT_MAKER", "STOP_LOSS", "TAKE_PROFIT")
STOP_TYPES = ("STOP_LOSS", "TAKE_PROFIT")
OPEN = ("NEW", "PARTIALLY_FILLED")
INSUFFICIENT = "Account has insufficient balance for requested action."
_E8 = Decimal("0.00000001")
_ZERO = Decimal(0)


class Funds(NamedTuple):
    free: Decimal
    locked: Decimal


@dataclass
class DeskOrder:
    order_id: int
    client_id: str
    symbol: str
    side: str  # BUY | SELL
    type: str  # MARKET | LIMIT | LIMIT_MAKER | STOP_LOSS | TAKE_PROFIT
    qty: Decimal
    price: Decimal  # 0 unless a limit price
    stop_price: Decimal  # 0 unless a stop
    time_in_force: str
    time_ms: int
    update_ms: int
    working_ms: int  # -1 while a stop waits for its trigger, as Binance reports it
    quote_order_qty: Decimal = _ZERO
    status: str = "NEW"
    executed: Decimal = _ZERO
    cum_quote: Decimal = _ZERO
    locked: Decimal = _ZERO  # funds still held: quote for a buy, base for a sell

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    @property
    def remaining(self) -> Decimal:
        return self.qty - self.executed


@dataclass(frozen=True)
class DeskTrade:
    trade_id: int
    order_id: int
    symbol: str
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    commission: Decimal
    commission_asset: str
    time_ms: int
    is_buyer: bool
    is_maker: bool


@dataclass
class Ticker:
    open: Decimal
    high: Decimal
    low: Decimal
    last: Decimal


class SpotBook:
    """One account's balances and orders on Binance SPOT, with the test's controls."""

    def __init__(
        self,
        symbols: Sequence[Mapping[str, Any]],
        *,
        balances: Mapping[str, Decimal] | None = None,
        commission_rate: Decimal = Decimal("0.001"),
    ) -> None:
        self.commission_rate = commission_rate
        self.skew_ms = 0  # the exchange's clock minus the wall clock
        # a limit at the last price joins the queue (the other side of the spread is better) instead of trading
        self.limits_queue_at_last = False
        self.fill_on_arrival: dict[str, Decimal] = {}  # client id -> amount traded as soon as the order rests
        self.market_depth: dict[str, Decimal] = {}  # symbol -> most a market order finds; the rest expires
        self.orders: list[DeskOrder] = []
        self.trades: list[DeskTrade] = []
        self._free: dict[str, Decimal] = defaultdict(Decimal, balances or {})
        self._locked: dict[str, Decimal] = defaultdict(Decimal)
        self._tickers: dict[str, Ticker] = {}
        self._order_ids = itertools.count(20_000_001)
        self._trade_ids = itertools.count(9_000_001)
        self._info = {s["symbol"]: s for s in symbols}

    # -- the test's controls -------------------------------------------------------------------
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000 + self.skew_ms

    def set_price(self, symbol: str, price: Decimal) -> list[DeskOrder]:
        """The last trade price: MARKET orders fill at it, and stops it crosses trigger (returned)."""
        ticker = self._tickers.get(symbol)
        if ticker is None:
            self._tickers[symbol] = ticker = Ticker(price, price, price, price)
        ticker.last, ticker.high, ticker.low = price, max(ticker.high, price), min(ticker.low, price)
        return self.trigger_stops(symbol)

    def price(self, symbol: str) -> Decimal | None:
        ticker = self._tickers.get(symbol)
        return None if ticker is None else ticker.last

    def trigger_stops(self, symbol: str) -> list[DeskOrder]:
        """Stops the last price has reached become market orders and fill at that price."""
        last = self.price(symbol)
        if last is None:
            return []
        fired = [o for o in self.open_orders(symbol) if o.type in STOP_TYPES and _hit(o, last)]
        for order in fired:
            order.working_ms = self.now_ms()
            self._fill(order, order.remaining, last, maker=False)
        return fired

    def fill(self, client_id: str, amount: Decimal | None = None, price: Decimal | None = None) -> DeskOrder:
        """A resting order trades `amount` (default: all that is left) at `price` (default: its limit)."""
        order = self._open_by_client_id(client_id)
        amount = order.remaining if amount is None else amount
        if not _ZERO < amount <= order.remaining:
            raise ValueError(f"{client_id}: cannot fill {amount}, {order.remaining} left")
        fill_price = price or order.price or self.price(order.symbol)
        if fill_price is None:
            raise ValueError(f"{client_id}: no price to fill at; set_price first")
        if order.type in STOP_TYPES and order.working_ms == -1:
            order.working_ms = self.now_ms()
        self._fill(order, amount, fill_price, maker=order.type in ("LIMIT", "LIMIT_MAKER"))
        return order

    def cancel_by_hand(self, client_id: str) -> DeskOrder:
        """Cancelled outside the bot (the website, another program)."""
        order = self._open_by_client_id(client_id)
        self._cancel(order, "CANCELED")
        return order

    def sell_by_hand(self, symbol: str, amount: Decimal) -> DeskOrder:
        """A market sell made outside the bot; raises BinanceApiError if the account cannot pay."""
        if self.price(symbol) is None:
            raise ValueError(f"{symbol}: no price to sell at; set_price first")
        return self.add_order(symbol, "SELL", amount, type="MARKET", client_id=f"web_{uuid.uuid4().hex[:20]}")

    def add_order(
        self,
        symbol: str,
        side: str,
        amount: Decimal,
        *,
        type: str = "LIMIT",
        price: Decimal | None = None,
        stop_price: Decimal | None = None,
        client_id: str | None = None,
    ) -> DeskOrder:
        """An order placed directly, by Binance's rules (e.g. an orphan left by an earlier run)."""
        params = {"symbol": symbol, "side": side.upper(), "type": type, "quantity": str(amount)}
        if price is not None:
            params |= {"price": str(price), "timeInForce": "GTC"} if type == "LIMIT" else {"price": str(price)}
        if stop_price is not None:
            params["stopPrice"] = str(stop_price)
        if client_id is not None:
            params["newClientOrderId"] = client_id
        return self._new_order(params)[0]

    def set_balance(self, asset: str, free: Decimal) -> None:
        self._free[asset] = free

    def balances(self) -> dict[str, Funds]:
        assets = sorted(set(self._free) | set(self._locked))
        return {a: Funds(self._free[a], self._locked[a]) for a in assets if self._free[a] or self._locked[a]}

    def open_orders(self, symbol: str | None = None) -> list[DeskOrder]:
        return [o for o in self.orders if o.is_open and symbol in (None, o.symbol)]

    def order(self, client_id: str) -> DeskOrder:
        """The latest order with this client id (Binance allows reuse once an order is closed)."""
        found = [o for o in self.orders if o.client_id == client_id]
        if not found:
            raise KeyError(client_id)
        return found[-1]

    def trades_of(self, client_id: str) -> list[DeskTrade]:
        order_id = self.order(client_id).order_id
        return [t for t in self.trades if t.order_id == order_id]

    # -- matching and funds --------------------------------------------------------------------
    def _new_order(self, p: Mapping[str, str]) -> tuple[DeskOrder, list[DeskTrade]]:
        """Validate and place one order as Binance does; fills what is marketable now."""
        info = self._symbol(p)
        side, type_ = enum_param(p, "side", ("BUY", "SELL"), -1117, "Invalid side."), required(p, "type")
        if type_ not in SERVED_TYPES:
            raise BinanceApiError(400, -1116, "Invalid orderType.")
        if type_ not in info["orderTypes"]:
            name = type_.replace("_", " ").capitalize()
            raise BinanceApiError(400, -2010, f"{name} orders are not supported for this symbol.")
        client_id = p.get("newClientOrderId") or uuid.uuid4().hex[:22]
        if not 1 <= len(client_id) <= 36 or not all(c.isalnum() or c in ".:/_-" for c in client_id):
            raise BinanceApiError(
                400,
                -1100,
                "Illegal characters found in parameter 'newClientOrderId'; legal range is "
                "'^[\\.A-Z\\:/a-z0-9_-]{1,36}$'.",
            )
        if any(o.client_id == client_id for o in self.open_orders()):
            raise BinanceApiError(400, -2010, "Duplicate order sent.")
        last = self.price(info["symbol"])
        qty, quote_qty = decimal_param(p, "quantity"), decimal_param(p, "quoteOrderQty")
        if type_ == "MARKET" and qty is None and quote_qty is not None and last:
            step = Decimal(_filters(info)["LOT_SIZE"]["stepSize"])
            qty = (quote_qty / last).quantize(step, rounding=ROUND_DOWN) if step else quote_qty / last
        if qty is None:
            raise mandatory("quantity")
        price = decimal_param(p, "price") if type_ in ("LIMIT", "LIMIT_MAKER") else None
        stop = decimal_param(p, "stopPrice") if type_ in STOP_TYPES else None
        tif = p.get("timeInForce", "GTC")
        if type_ == "LIMIT" and "timeInForce" not in p:
            raise mandatory("timeInForce")
        if type_ in ("LIMIT", "LIMIT_MAKER") and price is None:
            raise mandatory("price")
        if type_ in STOP_TYPES and stop is None:
            raise mandatory("stopPrice")
        self._check_filters(info, type_, qty, price or stop or last)
        if stop is not None and last is not None and _hit_at(side, type_, stop, last):
            raise BinanceApiError(400, -2010, "Stop price would trigger immediately.")
        crosses = price is not None and last is not None and (price >= last if side == "BUY" else price <= last)
        if crosses and self.limits_queue_at_last and price == last:
            crosses = False
        marketable = last is not None and (type_ == "MARKET" or crosses)  # no price yet: an empty book
        if type_ == "LIMIT_MAKER" and marketable:
            raise BinanceApiError(400, -2010, "Order would immediately match and take.")
        base, quote = info["baseAsset"], info["quoteAsset"]
        hold_asset, hold = (quote, qty * (price or stop or last or _ZERO)) if side == "BUY" else (base, qty)
        if hold > self._free[hold_asset]:
            raise BinanceApiError(400, -2010, INSUFFICIENT)
        now = self.now_ms()
        order = DeskOrder(
            next(self._order_ids), client_id, info["symbol"], side, type_, qty, price or _ZERO, stop or _ZERO,
            tif, now, now, -1 if type_ in STOP_TYPES else now, quote_qty or _ZERO,
        )  # fmt: skip
        self._free[hold_asset] -= hold
        self._locked[hold_asset] += hold
        order.locked = hold
        self.orders.append(order)
        before = len(self.trades)
        if marketable and last is not None:
            depth = self.market_depth.get(order.symbol, order.qty) if type_ == "MARKET" else order.qty
            self._fill(order, min(order.qty, depth), last, maker=False)
            if order.is_open and type_ == "MARKET":
                self._cancel(order, "EXPIRED")  # the book ran out: Binance expires the rest
        elif type_ == "MARKET" or tif in ("IOC", "FOK"):
            self._cancel(order, "EXPIRED")  # nothing to trade against
        elif client_id in self.fill_on_arrival:
            self._fill(order, self.fill_on_arrival.pop(client_id), order.price, maker=True)
        return order, self.trades[before:]

    def _fill(self, order: DeskOrder, qty: Decimal, price: Decimal, *, maker: bool) -> DeskTrade:
        info = self._info[order.symbol]
        base, quote = info["baseAsset"], info["quoteAsset"]
        quote_qty = (qty * price).quantize(_E8)
        release = order.locked if qty == order.remaining else (order.locked * qty / order.remaining).quantize(_E8)
        order.locked -= release
        if order.side == "BUY":
            commission, asset = (qty * self.commission_rate).quantize(_E8), base
            self._locked[quote] -= release
            self._free[quote] += release - quote_qty
            self._free[base] += qty - commission
        else:
            commission, asset = (quote_qty * self.commission_rate).quantize(_E8), quote
            self._locked[base] -= release
            self._free[quote] += quote_qty - commission
        order.executed += qty
        order.cum_quote += quote_qty
        order.status = "FILLED" if order.executed == order.qty else "PARTIALLY_FILLED"
        order.update_ms = self.now_ms()
        trade = DeskTrade(
            next(self._trade_ids), order.order_id, order.symbol, price, qty, quote_qty, commission, asset,
            order.update_ms, order.side == "BUY", maker,
        )  # fmt: skip
        self.trades.append(trade)
        return trade

    def _cancel(self, order: DeskOrder, status: str) -> None:
        info = self._info[order.symbol]
        asset = info["quoteAsset"] if order.side == "BUY" else info["baseAsset"]
        self._locked[asset] -= order.locked
        self._free[asset] += order.locked
        order.locked, order.status, order.update_ms = _ZERO, status, self.now_ms()

    def _check_filters(self, info: Mapping[str, Any], type_: str, qty: Decimal, price: Decimal | None) -> None:
        """Binance's filters; `price` is the limit, the stop, or for a MARKET order the last price."""
        filters = _filters(info)
        market = type_ == "MARKET"
        checks = [("PRICE_FILTER", None if market else price, "minPrice", "maxPrice", "tickSize")]
        checks += [
            (name, qty, "minQty", "maxQty", "stepSize") for name in ("LOT_SIZE", "MARKET_LOT_SIZE")[: 1 + market]
        ]
        for name, value, low, high, step in checks:
            f = filters.get(name)
            if f and value is not None and not _in_steps(value, Decimal(f[low]), Decimal(f[high]), Decimal(f[step])):
                raise _filter_failure(name)
        notional = None if price is None else qty * price
        f = filters.get("MIN_NOTIONAL")
        if (
            f
            and notional is not None
            and (not market or f.get("applyToMarket"))
            and notional < Decimal(f["minNotional"])
        ):
            raise _filter_failure("MIN_NOTIONAL")
        f = filters.get("NOTIONAL")
        if f and notional is not None:
            low = type_ != "MARKET" or f.get("applyMinToMarket")
            high = (type_ != "MARKET" or f.get("applyMaxToMarket")) and f.get("maxNotional")
            if (low and notional < Decimal(f["minNotional"])) or (high and notional > Decimal(f["maxNotional"])):
                raise _filter_failure("NOTIONAL")
        f = filters.get("MAX_NUM_ORDERS")
        if f and len(self.open_orders(info["symbol"])) >= int(f["maxNumOrders"]):
            raise _filter_failure("MAX_NUM_ORDERS")
        f = filters.get("MAX_NUM_ALGO_ORDERS")
        stops = [o for o in self.open_orders(info["symbol"]) if o.type in STOP_TYPES]
        if f and type_ in STOP_TYPES and len(stops) >= int(f["maxNumAlgoOrders"]):
            raise _filter_failure("MAX_NUM_ALGO_ORDERS")

    def _symbol(self, p: Mapping[str, str]) -> Mapping[str, Any]:
        info = self._info.get(required(p, "symbol"))
        if info is None:
            raise BinanceApiError(400, -1121, "Invalid symbol.")
        return info

    def _open_by_client_id(self, client_id: str) -> DeskOrder:
        order = self.order(client_id)
        if not order.is_open:
            raise ValueError(f"{client_id} is {order.status}, not open")
        return order

    def _lookup(self, p: Mapping[str, str], code: int, msg: str) -> DeskOrder:
        symbol = self._symbol(p)["symbol"]
        order_id, client_id = p.get("orderId"), p.get("origClientOrderId")
        if not order_id and not client_id:
            raise BinanceApiError(
                400, -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"
            )
        found = [
            o
            for o in self.orders
            if o.symbol == symbol and (str(o.order_id) == order_id if order_id else o.client_id == client_id)
        ]
        if not found:
            raise BinanceApiError(400, code, msg)
        return found[-1]


def f8(value: Decimal) -> str:
    return f"{value:.8f}"


def _hit_at(side: str, type_: str, stop: Decimal, last: Decimal) -> bool:
    """A stop-loss sells when the price falls to it (buys when it rises); a take-profit the opposite."""
    falling = (side == "SELL") == (type_ == "STOP_LOSS")
    return last <= stop if falling else last >= stop


def _hit(order: DeskOrder, last: Decimal) -> bool:
    return _hit_at(order.side, order.type, order.stop_price, last)


def _filters(info: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {f["filterType"]: f for f in info["filters"]}


def _in_steps(value: Decimal, low: Decimal, high: Decimal, step: Decimal) -> bool:
    """Binance's filter arithmetic: zero disables a bound; (value - min) must be a multiple of the step."""
    return (not low or value >= low) and (not high or value <= high) and (not step or (value - low) % step == 0)


def _filter_failure(name: str) -> BinanceApiError:
    return BinanceApiError(400, -1013, f"Filter failure: {name}")


def mandatory(name: str) -> BinanceApiError:
    return BinanceApiError(400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def required(p: Mapping[str, str], name: str) -> str:
    if not p.get(name):
        raise mandatory(name)
    return p[name]


def enum_param(
    p: Mapping[str, str], name: str, allowed: tuple[str, ...], code: int, msg: str, default: str = ""
) -> str:
    value = p.get(name, default) if default else required(p, name)
    if value not in allowed:
        raise BinanceApiError(400, code, msg)
    return value


def decimal_param(p: Mapping[str, str], name: str) -> Decimal | None:
    raw = p.get(name)
    if raw is None:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        value = Decimal(-1)
    if not value.is_finite() or value < 0:
        raise BinanceApiError(
            400,
            -1100,
            f"Illegal characters found in parameter '{name}'; legal range is '^([0-9]{{1,20}})(\\.[0-9]{{1,20}})?$'.",
        )
    return value
