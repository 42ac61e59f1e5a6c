"""A Binance SPOT trading desk for `FakeBinance`: the signed order, account and trade endpoints the
real ccxt binance class calls, with Binance's JSON shapes and error codes, over a SpotBook.

    async with FakeBinance() as fake:
        desk = TradingDesk(fake, balances={"USDT": Decimal("1000")})
        desk.set_price("BTCUSDT", Decimal("40000"))   # MARKET orders fill here; stops trigger on it
        ...                                          # the real ccxt binance class trades against it
        desk.fill("k-1p0", amount=Decimal("0.001"))   # a resting order fills (partly)

* Signed endpoints check what Binance checks: the X-MBX-APIKEY header (-2014/-2015), `timestamp`
  against server time and `recvWindow` (-1021), the HMAC-SHA256 `signature` (-1022).
* Server time follows the wall clock plus `skew_ms` (set it to provoke -1021).
* Faults beyond FakeBinance's per-route ones: `accept_then_delay` (the order is made, the reply comes
  too late), `accept_then_malformed` (made, then a broken 200), `maintenance` (every route fails).
* The 2021 exchangeInfo the fake serves lists no STOP_LOSS (Binance enabled stop-market orders on
  spot later; ccxt checks `orderTypes` before sending), so the desk lists today's order types unless
  `order_types=None`.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from tests.fakes.binance_book import (
    STOP_TYPES,
    DeskOrder,
    DeskTrade,
    SpotBook,
    Ticker,
    decimal_param,
    enum_param,
    f8,
    mandatory,
)
from tests.fakes.binance_http import BinanceApiError, FakeBinance

_0, _Z8 = Decimal(0), "0.00000000"
MODERN_ORDER_TYPES = (
    "LIMIT",
    "LIMIT_MAKER",
    "MARKET",
    "STOP_LOSS",
    "STOP_LOSS_LIMIT",
    "TAKE_PROFIT",
    "TAKE_PROFIT_LIMIT",
)


@dataclass
class _AfterAccept:
    delay_s: float = 0.0
    malformed: str | None = None


class TradingDesk(SpotBook):
    """A SpotBook served by a FakeBinance: registers its routes, clock and maintenance gate."""

    def __init__(
        self,
        fake: FakeBinance,
        *,
        balances: Mapping[str, Decimal] | None = None,
        api_key: str = "k",
        secret: str = "s",
        commission_rate: Decimal = Decimal("0.001"),
        order_types: tuple[str, ...] | None = MODERN_ORDER_TYPES,
    ) -> None:
        if order_types is not None:
            for info in fake.symbols:
                info["orderTypes"] = list(order_types)
        super().__init__(fake.symbols, balances=balances, commission_rate=commission_rate)
        self.fake = fake
        self.api_key, self.secret = api_key, secret
        self._after_accept: dict[tuple[str, str], deque[_AfterAccept]] = defaultdict(deque)
        self._maintenance_until = 0.0
        self._maintenance_error = BinanceApiError(503, -1001, "")
        fake.clock_ms = self.now_ms
        fake.gates.append(self._maintenance_gate)
        fake.routes.update(
            {
                ("POST", "/api/v3/order"): self._post_order,
                ("GET", "/api/v3/order"): self._get_order,
                ("DELETE", "/api/v3/order"): self._delete_order,
                ("GET", "/api/v3/openOrders"): self._open_orders,
                ("GET", "/api/v3/account"): self._account,
                ("GET", "/api/v3/myTrades"): self._my_trades,
                ("GET", "/api/v3/ticker/price"): self._ticker_price,
                ("GET", "/api/v3/ticker/24hr"): self._ticker_24hr,
                ("GET", "/sapi/v1/system/status"): self._system_status,
            }
        )

    # -- faults --------------------------------------------------------------------------------
    def accept_then_delay(self, delay_s: float, *, method: str = "POST", times: int = 1) -> None:
        """The next `times` order requests (POST = new, DELETE = cancel) are carried out, then the
        reply waits `delay_s`: past the client's timeout, the order exists but the client never hears."""
        for _ in range(times):
            self._after_accept[(method, "/api/v3/order")].append(_AfterAccept(delay_s=delay_s))

    def accept_then_malformed(self, *, method: str = "POST", body: str = '{"symbol":"BTCUSDT","orderId":') -> None:
        """The next order request is carried out, then answered 200 with a body that is not valid JSON."""
        self._after_accept[(method, "/api/v3/order")].append(_AfterAccept(malformed=body))

    def maintenance(
        self,
        duration_s: float = 3600.0,
        *,
        status: int = 503,
        code: int = -1001,
        msg: str = "Internal error; unable to process your request. Please try again.",
    ) -> None:
        """Every route answers this error for `duration_s` (wall time); system/status says so."""
        self._maintenance_until = time.monotonic() + duration_s
        self._maintenance_error = BinanceApiError(status, code, msg)

    def before_order(self, client_id: str, action: Callable[[], None]) -> None:
        """Run `action` when the new order with this client id arrives, before the desk handles it
        (once): change a filter, move the price, or raise a BinanceApiError to refuse it."""

        def gate(request: web.Request) -> None:
            form = self.fake.requests[-1].form  # the request being answered, logged with its form
            if request.method == "POST" and form.get("newClientOrderId") == client_id:
                self.fake.gates.remove(gate)
                action()

        self.fake.gates.append(gate)

    def refuse_order(self, client_id: str, code: int, msg: str) -> None:
        """The new order with this client id is refused with Binance's error, once."""

        def refuse() -> None:
            raise BinanceApiError(400, code, msg)

        self.before_order(client_id, refuse)

    def set_filter(self, symbol: str, filter_type: str, **values: str) -> None:
        """Change one of the symbol's filters, as exchangeInfo serves it and as orders are checked."""
        info = self._info[symbol]
        for f in info["filters"]:
            if f["filterType"] == filter_type:
                f.update(values)
                return
        raise KeyError(f"{symbol} has no {filter_type} filter")

    def end_maintenance(self) -> None:
        self._maintenance_until = 0.0

    def _maintenance_gate(self, request: web.Request) -> None:
        if time.monotonic() < self._maintenance_until and request.path != "/sapi/v1/system/status":
            raise self._maintenance_error

    # -- REST ----------------------------------------------------------------------------------
    async def _signed(self, request: web.Request) -> dict[str, str]:
        """The request's parameters, after Binance's key, timestamp and signature checks."""
        key = request.headers.get("X-MBX-APIKEY", "")
        if not key:
            raise BinanceApiError(401, -2014, "API-key format invalid.")
        if key != self.api_key:
            raise BinanceApiError(401, -2015, "Invalid API-key, IP, or permissions for action.")
        body = await request.text() if request.method == "POST" else ""
        params = dict(request.query) | dict(parse_qsl(body, keep_blank_values=True))
        signature = params.pop("signature", "")
        if not signature:
            raise mandatory("signature")
        stamp = decimal_param(params, "timestamp")
        if stamp is None:
            raise mandatory("timestamp")
        window = int(params.get("recvWindow", "5000"))
        if window > 60_000:
            raise BinanceApiError(400, -1131, "recvWindow must be less than 60000")
        payload = "".join(_without_signature(part) for part in (request.rel_url.raw_query_string, body))
        expected = hmac.new(self.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature.lower()):
            raise BinanceApiError(400, -1022, "Signature for this request is not valid.")
        server = self.fake.now_ms()
        if stamp >= server + 1000:
            raise BinanceApiError(400, -1021, "Timestamp for this request was 1000ms ahead of the server's time.")
        if server - stamp > window:
            raise BinanceApiError(400, -1021, "Timestamp for this request is outside of the recvWindow.")
        return params

    async def _reply(self, request: web.Request, payload: Any) -> web.StreamResponse:
        queue = self._after_accept.get((request.method, request.path))
        after = queue.popleft() if queue else None
        if after is not None and after.delay_s:
            await self.fake.pause(after.delay_s)
        if after is not None and after.malformed is not None:
            return web.Response(status=200, text=after.malformed, content_type="application/json")
        return web.json_response(payload)

    async def _post_order(self, request: web.Request) -> web.StreamResponse:
        p = await self._signed(request)
        order, fills = self._new_order(p)
        default = "FULL" if order.type in ("MARKET", "LIMIT") else "ACK"
        kind = enum_param(p, "newOrderRespType", ("ACK", "RESULT", "FULL"), -1100, "Invalid newOrderRespType.", default)
        reply: dict[str, Any] = {
            "symbol": order.symbol,
            "orderId": order.order_id,
            "orderListId": -1,
            "clientOrderId": order.client_id,
            "transactTime": order.time_ms,
        }
        if kind != "ACK":
            reply |= _order_fields(order) | {"workingTime": order.working_ms, "selfTradePreventionMode": "EXPIRE_MAKER"}
        if kind == "FULL":
            reply["fills"] = [
                {
                    "price": f8(t.price),
                    "qty": f8(t.qty),
                    "commission": f8(t.commission),
                    "commissionAsset": t.commission_asset,
                    "tradeId": t.trade_id,
                }
                for t in fills
            ]
        return await self._reply(request, reply)

    async def _get_order(self, request: web.Request) -> web.StreamResponse:
        p = await self._signed(request)
        return web.json_response(_order_json(self._lookup(p, -2013, "Order does not exist.")))

    async def _delete_order(self, request: web.Request) -> web.StreamResponse:
        p = await self._signed(request)
        order = self._lookup(p, -2011, "Unknown order sent.")
        if not order.is_open:
            raise BinanceApiError(400, -2011, "Unknown order sent.")
        self._cancel(order, "CANCELED")
        reply = {
            "symbol": order.symbol,
            "origClientOrderId": order.client_id,
            "orderId": order.order_id,
            "orderListId": -1,
            "clientOrderId": p.get("newClientOrderId") or uuid.uuid4().hex[:22],  # the cancel's own id
            "transactTime": order.update_ms,
            **_order_fields(order),
            "selfTradePreventionMode": "EXPIRE_MAKER",
        }
        return await self._reply(request, reply)

    async def _open_orders(self, request: web.Request) -> web.StreamResponse:
        p = await self._signed(request)
        symbol = self._symbol(p)["symbol"] if "symbol" in p else None
        return web.json_response([_order_json(o) for o in self.open_orders(symbol)])

    async def _account(self, request: web.Request) -> web.StreamResponse:
        await self._signed(request)
        bps = int(self.commission_rate * 10_000)
        rate = f8(self.commission_rate)
        assets = sorted(set(self._free) | set(self._locked))
        return web.json_response(
            {
                "makerCommission": bps,
                "takerCommission": bps,
                "buyerCommission": 0,
                "sellerCommission": 0,
                "commissionRates": {"maker": rate, "taker": rate, "buyer": _Z8, "seller": _Z8},
                "canTrade": True,
                "canWithdraw": True,
                "canDeposit": True,
                "brokered": False,
                "requireSelfTradePrevention": False,
                "preventSor": False,
                "updateTime": self.now_ms(),
                "accountType": "SPOT",
                "balances": [{"asset": a, "free": f8(self._free[a]), "locked": f8(self._locked[a])} for a in assets],
                "permissions": ["SPOT"],
                "uid": 354937868,
            }
        )

    async def _my_trades(self, request: web.Request) -> web.StreamResponse:
        p = await self._signed(request)
        symbol = self._symbol(p)["symbol"]
        order_id, from_id = decimal_param(p, "orderId"), decimal_param(p, "fromId")
        start, end = decimal_param(p, "startTime"), decimal_param(p, "endTime")
        limit = int(p.get("limit", "500"))
        rows = [
            t
            for t in self.trades
            if t.symbol == symbol
            and (order_id is None or t.order_id == order_id)
            and (from_id is None or t.trade_id >= from_id)
            and (start is None or t.time_ms >= start)
            and (end is None or t.time_ms <= end)
        ][: min(limit, 1000)]
        return web.json_response([_trade_json(t) for t in rows])

    async def _ticker_price(self, request: web.Request) -> web.StreamResponse:
        if "symbol" in request.query:
            symbol = self._symbol(request.query)["symbol"]
            return web.json_response({"symbol": symbol, "price": f8(self.price(symbol) or _0)})
        return web.json_response([{"symbol": s, "price": f8(t.last)} for s, t in self._tickers.items()])

    async def _ticker_24hr(self, request: web.Request) -> web.StreamResponse:
        symbol = self._symbol(request.query)["symbol"]
        t = self._tickers.get(symbol) or Ticker(_0, _0, _0, _0)
        now = self.now_ms()
        change = t.last - t.open
        return web.json_response(
            {
                "symbol": symbol,
                "priceChange": f8(change),
                "priceChangePercent": f"{(change / t.open * 100 if t.open else _0):.3f}",
                "weightedAvgPrice": f8(t.last),
                "prevClosePrice": f8(t.open),
                "lastPrice": f8(t.last),
                "lastQty": _Z8,
                "bidPrice": f8(t.last),
                "bidQty": f8(Decimal(1)),
                "askPrice": f8(t.last),
                "askQty": f8(Decimal(1)),
                "openPrice": f8(t.open),
                "highPrice": f8(t.high),
                "lowPrice": f8(t.low),
                "volume": _Z8,
                "quoteVolume": _Z8,
                "openTime": now - 86_400_000,
                "closeTime": now,
                "firstId": -1,
                "lastId": -1,
                "count": 0,
            }
        )

    async def _system_status(self, _request: web.Request) -> web.StreamResponse:
        down = time.monotonic() < self._maintenance_until
        return web.json_response({"status": 1, "msg": "system_maintenance"} if down else {"status": 0, "msg": "normal"})


# -- Binance's shapes --------------------------------------------------------------------------
def _order_fields(o: DeskOrder) -> dict[str, Any]:
    """What every order reply carries; stop orders add their stopPrice."""
    fields: dict[str, Any] = {
        "price": f8(o.price),
        "origQty": f8(o.qty),
        "executedQty": f8(o.executed),
        "origQuoteOrderQty": f8(o.quote_order_qty),
        "cummulativeQuoteQty": f8(o.cum_quote),
        "status": o.status,
        "timeInForce": o.time_in_force,
        "type": o.type,
        "side": o.side,
    }
    if o.type in STOP_TYPES:
        fields["stopPrice"] = f8(o.stop_price)
    return fields


def _order_json(o: DeskOrder) -> dict[str, Any]:
    """GET /api/v3/order and openOrders: no fills, no commission."""
    return {
        "symbol": o.symbol,
        "orderId": o.order_id,
        "orderListId": -1,
        "clientOrderId": o.client_id,
        **_order_fields(o),
        "stopPrice": f8(o.stop_price),
        "icebergQty": _Z8,
        "time": o.time_ms,
        "updateTime": o.update_ms,
        "isWorking": o.working_ms != -1,
        "workingTime": o.working_ms,
        "selfTradePreventionMode": "EXPIRE_MAKER",
    }


def _trade_json(t: DeskTrade) -> dict[str, Any]:
    return {
        "symbol": t.symbol,
        "id": t.trade_id,
        "orderId": t.order_id,
        "orderListId": -1,
        "price": f8(t.price),
        "qty": f8(t.qty),
        "quoteQty": f8(t.quote_qty),
        "commission": f8(t.commission),
        "commissionAsset": t.commission_asset,
        "time": t.time_ms,
        "isBuyer": t.is_buyer,
        "isMaker": t.is_maker,
        "isBestMatch": True,
    }


def _without_signature(raw: str) -> str:
    return "&".join(part for part in raw.split("&") if part and not part.startswith("signature="))
