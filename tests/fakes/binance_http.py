"""A fake Binance SPOT REST API on 127.0.0.1 that the REAL `ccxt.async_support.binance` class talks
to, so tests exercise ccxt's own request building, parsing and error mapping without the internet.

    async with FakeBinance() as fake:
        fake.set_klines("BTCUSDT", "5m", generate_klines(T0_MS, "5m", 300))
        fake.fail_next("klines", status=503, times=2)
        exchange = ccxt.async_support.binance(ccxt_config_for(fake.base_url))

* Routes live in a table, `fake.routes[("GET", "/api/v3/klines")] = handler`, so later tests can add
  orders and balances without touching the dispatcher.
* Every request is logged (`fake.requests`, `fake.requests_to("klines")`) with its query, POST form,
  headers, arrival time and the status it got, so tests can assert on what ccxt actually sent.
* Hooks for the trading desk (binance_trading.py): `clock_ms` makes server time move, `gates` run
  before every handler (maintenance), `pause` sleeps in a handler until the server closes.
* Faults are queued per route: `fail_next` (any status, Binance-style body), `delay_next` (sleep
  past ccxt's timeout), `rate_limit_next` (429 or 418 with Retry-After).
* Markets come from the real 2021 exchangeInfo dump in ../shared when present, else from an identical
  built-in copy of the BTCUSDT/ETHUSDT/SOLUSDT entries, so tests never need ../shared.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import socket
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import ccxt
import numpy as np
from aiohttp import web

Kline = tuple[int, float, float, float, float, float]  # open_ms, open, high, low, close, volume (base asset)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
INTERVAL_MS = {  # Binance's fixed-length intervals ("1M" is left out: months differ in length)
    name: int(name[:-1]) * _UNIT_MS[name[-1]]
    for name in ("1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w")
}
DEFAULT_SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
EXCHANGE_INFO_DUMP = (
    Path(__file__).resolve().parents[2].parent / "shared/data/exchange-info/binance_spot_exchangeInfo_2021-04-29.json"
)
_DEFAULT_ERRORS = {  # the bodies Binance sends with these statuses
    418: (-1003, "Way too many requests; IP(127.0.0.1) banned until 1704070800000."),
    429: (-1003, "Too many requests; current limit of IP(127.0.0.1) is 6000 requests per minute."),
    503: (-1001, "Internal error; unable to process your request. Please try again."),
}


def ccxt_config_for(base_url: str, *, timeout_ms: int = 2000) -> dict[str, Any]:
    """The `ccxt_config` that points ccxt's binance class at the fake and at spot only.

    * `urls.api`: every API family ccxt knows (public/private spot, sapi, fapi, dapi, eapi, papi, v1)
      is rewritten to `base_url` + its real path, so no request can leave 127.0.0.1; the fake serves
      the spot ones and answers 404 to the rest.
    * `options.fetchMarkets.types = ["spot"]`: load_markets otherwise also calls fapi and dapi
      exchangeInfo (USD-M and COIN-M futures).
    * `options.fetchCurrencies = False` and `options.fetchMargins = False`: with API keys set,
      load_markets would also call sapi capital/config/getall and the margin pair lists.
    * `enableRateLimit = False`: ccxt's throttle would space requests 50 ms apart, slowing tests only.
    * `timeout`: milliseconds before ccxt raises RequestTimeout (what `delay_next` provokes).
    * `timeout_on_exit = 0`: ccxt's `close()` otherwise sleeps 250 ms (for TLS shutdown), per download.
    """
    root = base_url.rstrip("/")
    return {
        "urls": {"api": {name: root + urlsplit(url).path for name, url in _real_api_urls().items()}},
        "options": {
            "defaultType": "spot",
            "fetchMarkets": {"types": ["spot"]},
            "fetchCurrencies": False,
            "fetchMargins": False,
            "adjustForTimeDifference": False,
        },
        "enableRateLimit": False,
        "timeout": timeout_ms,
        "timeout_on_exit": 0,
    }


def generate_klines(
    start_ms: int, interval: str, count: int, *, seed: int = 1, start_price: float = 100.0
) -> list[Kline]:
    """A reproducible random walk, consecutive candles, prices with 2 decimals and volumes with 4, so
    they survive Binance's 8-decimal strings and ccxt's float parsing exactly."""
    rng = np.random.default_rng(seed)
    step_ms = INTERVAL_MS[interval]
    out: list[Kline] = []
    close = start_price
    for i in range(count):
        open_ = close
        close = round(max(0.01, open_ * (1 + rng.normal(0, 0.004))), 2)
        high = round(max(open_, close) * (1 + abs(rng.normal(0, 0.002))), 2)
        low = round(min(open_, close) * (1 - abs(rng.normal(0, 0.002))), 2)
        volume = round(float(rng.uniform(1, 500)), 4)
        out.append((start_ms + i * step_ms, open_, high, low, close, volume))
    return out


class BinanceApiError(Exception):
    """Raised by a handler to answer with Binance's error shape: `{"code": -1121, "msg": "..."}`."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg = status, code, msg


@dataclass
class LoggedRequest:
    method: str
    path: str
    query: dict[str, str]
    at_s: float  # event-loop time on arrival
    status: int | None = None  # filled in when the answer is ready
    headers: dict[str, str] = field(default_factory=dict)  # as sent: X-MBX-APIKEY marks a signed call
    form: dict[str, str] = field(default_factory=dict)  # a POST's form body (signed orders travel there)


@dataclass(frozen=True)
class Fault:
    status: int | None  # None: answer normally (after the delay)
    body: Any = None  # JSON-able, or str for a non-JSON body (a proxy's HTML page)
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


class FakeBinance:
    """The server. Use `async with FakeBinance() as fake:`; `fake.base_url` is where it listens."""

    def __init__(self, *, symbols: Sequence[str] = DEFAULT_SYMBOLS, server_time_ms: int = 1_704_067_200_000) -> None:
        self.symbols = spot_symbols(symbols)
        self.server_time_ms = server_time_ms
        self.clock_ms: Callable[[], int] | None = None  # when set (the trading desk does), server time moves
        self.gates: list[Callable[[web.Request], None]] = []  # run before every handler; raise BinanceApiError
        self.requests: list[LoggedRequest] = []
        self.routes: dict[tuple[str, str], Handler] = {
            ("GET", "/api/v3/ping"): self._ping,
            ("GET", "/api/v3/time"): self._time,
            ("GET", "/api/v3/exchangeInfo"): self._exchange_info,
            ("GET", "/api/v3/klines"): self._klines,
        }
        self._klines_store: dict[tuple[str, str], dict[int, Kline]] = defaultdict(dict)
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._port = 0

    # -- lifecycle -----------------------------------------------------------------------------
    async def __aenter__(self) -> FakeBinance:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def close(self) -> None:
        self._closing.set()  # wakes delayed handlers so cleanup does not wait for them
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def now_ms(self) -> int:
        """Server time: fixed at `server_time_ms` unless `clock_ms` is set."""
        return self.clock_ms() if self.clock_ms is not None else self.server_time_ms

    async def pause(self, delay_s: float) -> None:
        """Sleep in a handler; cut short when the server closes, so cleanup never waits."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), delay_s)

    # -- market data ---------------------------------------------------------------------------
    def set_klines(self, symbol: str, interval: str, klines: Iterable[Kline]) -> None:
        """Replace the candles of one symbol and interval."""
        self._klines_store[(symbol, interval)] = {k[0]: k for k in klines}

    def add_klines(self, symbol: str, interval: str, klines: Iterable[Kline]) -> None:
        """Add candles, replacing any with the same open time (an in-progress candle moving on)."""
        self._klines_store[(symbol, interval)].update((k[0], k) for k in klines)

    def klines(self, symbol: str, interval: str) -> list[Kline]:
        store = self._klines_store[(symbol, interval)]
        return [store[t] for t in sorted(store)]

    # -- faults and the request log ------------------------------------------------------------
    def fail_next(
        self,
        route: str,
        *,
        status: int = 503,
        times: int = 1,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """The next `times` requests to `route` ("klines" or "/api/v3/klines") get this error; the
        body defaults to what Binance sends with that status."""
        if body is None:
            code, msg = _DEFAULT_ERRORS.get(status, (-1000, "An unknown error occurred while processing the request."))
            body = {"code": code, "msg": msg}
        for _ in range(times):
            self._faults[_path(route)].append(Fault(status, body, dict(headers or {})))

    def delay_next(self, route: str, delay_s: float, *, times: int = 1) -> None:
        """The next `times` requests are answered normally but only after `delay_s` (a timeout when
        that exceeds the client's)."""
        for _ in range(times):
            self._faults[_path(route)].append(Fault(None, delay_s=delay_s))

    def rate_limit_next(self, route: str, *, retry_after_s: int = 1, times: int = 1, status: int = 429) -> None:
        """429 (or 418, an IP ban) with a Retry-After header, like Binance."""
        self.fail_next(route, status=status, times=times, headers={"Retry-After": str(retry_after_s)})

    def requests_to(self, route: str) -> list[LoggedRequest]:
        path = _path(route)
        return [r for r in self.requests if r.path == path]

    # -- dispatch ------------------------------------------------------------------------------
    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        form = dict(await request.post()) if request.method == "POST" else {}
        entry = LoggedRequest(request.method, request.path, dict(request.query), asyncio.get_running_loop().time())
        entry.headers, entry.form = dict(request.headers), {k: str(v) for k, v in form.items()}
        self.requests.append(entry)
        queue = self._faults.get(request.path)
        fault = queue.popleft() if queue else None
        if fault is not None and fault.delay_s > 0:
            await self.pause(fault.delay_s)
        response = await self._answer(request, fault)
        entry.status = response.status
        return response

    async def _answer(self, request: web.Request, fault: Fault | None) -> web.StreamResponse:
        if fault is not None and fault.status is not None:
            if isinstance(fault.body, str):
                return web.Response(status=fault.status, text=fault.body, headers=fault.headers)
            return web.json_response(fault.body, status=fault.status, headers=fault.headers)
        handler = self.routes.get((request.method, request.path))
        try:
            for gate in self.gates:
                gate(request)
            if handler is None:
                raise BinanceApiError(404, -1020, f"This operation is not supported. ({request.method} {request.path})")
            return await handler(request)
        except BinanceApiError as e:
            return web.json_response({"code": e.code, "msg": e.msg}, status=e.status)

    # -- handlers ------------------------------------------------------------------------------
    async def _ping(self, _request: web.Request) -> web.StreamResponse:
        return web.json_response({})

    async def _time(self, _request: web.Request) -> web.StreamResponse:
        return web.json_response({"serverTime": self.now_ms()})

    async def _exchange_info(self, request: web.Request) -> web.StreamResponse:
        wanted = request.query.get("symbol")
        symbols = [s for s in self.symbols if wanted is None or s["symbol"] == wanted]
        if wanted is not None and not symbols:
            raise BinanceApiError(400, -1121, "Invalid symbol.")
        return web.json_response(
            {
                "timezone": "UTC",
                "serverTime": self.now_ms(),
                "rateLimits": [
                    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
                    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
                    {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
                ],
                "exchangeFilters": [],
                "symbols": symbols,
            }
        )

    async def _klines(self, request: web.Request) -> web.StreamResponse:
        """Binance semantics: rows with startTime <= openTime <= endTime; with a start, the first
        `limit` of them, otherwise the last `limit`; limit defaults to 500 and may not exceed 1000."""
        query = request.query
        symbol, interval = _required(query, "symbol"), _required(query, "interval")
        if symbol not in {s["symbol"] for s in self.symbols}:
            raise BinanceApiError(400, -1121, "Invalid symbol.")
        if interval not in INTERVAL_MS:
            raise BinanceApiError(400, -1120, "Invalid interval.")
        limit_param = _int_param(query, "limit")
        limit = 500 if limit_param is None else limit_param
        if not 1 <= limit <= 1000:
            raise BinanceApiError(400, -1130, "Data sent for parameter 'limit' is not valid.")
        start, end = _int_param(query, "startTime"), _int_param(query, "endTime")
        rows = [
            k
            for k in self.klines(symbol, interval)
            if (start is None or k[0] >= start) and (end is None or k[0] <= end)
        ]
        rows = rows[:limit] if start is not None else rows[-limit:]
        return web.json_response([_kline_row(k, INTERVAL_MS[interval]) for k in rows])


def spot_symbols(symbols: Sequence[str]) -> list[dict[str, Any]]:
    """exchangeInfo entries for `symbols`: from the real dump when ../shared is there, else built in."""
    source = dump_symbols() if EXCHANGE_INFO_DUMP.exists() else FALLBACK_SYMBOLS
    missing = [s for s in symbols if s not in source]
    if missing:
        raise ValueError(f"no exchangeInfo entry for {missing}")
    return [json.loads(json.dumps(source[s])) for s in symbols]  # a deep copy tests may edit


@functools.cache
def dump_symbols() -> dict[str, dict[str, Any]]:
    info = json.loads(EXCHANGE_INFO_DUMP.read_text())
    return {s["symbol"]: s for s in info["symbols"]}


@functools.cache
def _real_api_urls() -> dict[str, str]:
    return dict(ccxt.binance().urls["api"])  # the sync class: no event loop or session involved


def _path(route: str) -> str:
    return route if route.startswith("/") else f"/api/v3/{route}"


def _required(query: Mapping[str, str], name: str) -> str:
    value = query.get(name, "")
    if not value:
        raise BinanceApiError(400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
    return value


def _int_param(query: Mapping[str, str], name: str) -> int | None:
    value = query.get(name)
    if value is None:
        return None
    if not value.isdigit():
        raise BinanceApiError(
            400, -1100, f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'."
        )
    return int(value)


def _kline_row(k: Kline, interval_ms: int) -> list[Any]:
    """Binance's 12-field kline: numbers as 8-decimal strings, times as integers."""
    open_ms, open_, high, low, close, volume = k
    quote = volume * (open_ + close) / 2
    trades = 50 + (open_ms // interval_ms) % 200
    numbers = [f"{x:.8f}" for x in (open_, high, low, close, volume)]
    taker = [f"{volume / 2:.8f}", f"{quote / 2:.8f}"]
    return [open_ms, *numbers, open_ms + interval_ms - 1, f"{quote:.8f}", trades, *taker, "0"]


def _fallback_symbol(
    base: str, tick: str, min_price: str, max_price: str, step: str, max_qty: str, market_max_qty: str
) -> dict[str, Any]:
    """A 2021-era spot exchangeInfo entry (the filter set of the dump in ../shared)."""
    return {
        "symbol": f"{base}USDT",
        "status": "TRADING",
        "baseAsset": base,
        "baseAssetPrecision": 8,
        "quoteAsset": "USDT",
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
        "icebergAllowed": True,
        "ocoAllowed": True,
        "quoteOrderQtyMarketAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": True,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": min_price, "maxPrice": max_price, "tickSize": tick},
            {"filterType": "PERCENT_PRICE", "multiplierUp": "5", "multiplierDown": "0.2", "avgPriceMins": 5},
            {"filterType": "LOT_SIZE", "minQty": step, "maxQty": max_qty, "stepSize": step},
            {"filterType": "MIN_NOTIONAL", "minNotional": "10.00000000", "applyToMarket": True, "avgPriceMins": 5},
            {"filterType": "ICEBERG_PARTS", "limit": 10},
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": "0.00000000",
                "maxQty": market_max_qty,
                "stepSize": "0.00000000",
            },
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5},
        ],
        "permissions": ["SPOT", "MARGIN"],
    }


# Values as Binance published them on 2021-04-29 (the dump in ../shared); a test checks they match.
FALLBACK_SYMBOLS = {
    "BTCUSDT": _fallback_symbol(
        "BTC", "0.01000000", "0.01000000", "1000000.00000000", "0.00000100", "9000.00000000", "93.66513730"
    ),
    "ETHUSDT": _fallback_symbol(
        "ETH", "0.01000000", "0.01000000", "1000000.00000000", "0.00001000", "9000.00000000", "1758.75709992"
    ),
    "SOLUSDT": _fallback_symbol(
        "SOL", "0.00100000", "0.00100000", "10000.00000000", "0.00100000", "90000.00000000", "45880.13922986"
    ),
}
