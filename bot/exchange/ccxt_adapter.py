"""The Exchange protocol over any ccxt exchange (`ccxt.async_support`), Binance spot first.

Reads and cancels are idempotent and retried with backoff (tenacity); a submit is never retried
blindly: an ambiguous failure comes back as TransientExchangeError and the executor looks the order
up by its client id. Amounts and prices are checked against the market's step, tick and minimum
order value before anything is sent, so an order the exchange would refuse is refused here with
the reason, and never leaves."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

import ccxt.async_support as ccxt_async
import pandas as pd
from loguru import logger
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from bot.clock import Clock
from bot.errors import ConfigError, OrderNotFoundError, OrderRejectedError, RateLimitedError, TransientExchangeError
from bot.exchange.base import Balance, Market, OrderRequest, OrderState, OrderStatus
from bot.exchange.ccxt_errors import check_reply, translated
from bot.exchange.ccxt_orders import order_params, order_state
from bot.exchange.order_checks import validate
from bot.timeframes import timeframe_ms

T = TypeVar("T")
CANDLE_FRAME_COLUMNS = ("date", "open", "high", "low", "close", "volume")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    first_wait_s: float = 0.5
    max_wait_s: float = 30.0


@dataclass(frozen=True)
class Credentials:
    api_key: str = ""
    secret: str = ""

    @property
    def present(self) -> bool:
        return bool(self.api_key and self.secret)


def build_ccxt(name: str, ccxt_config: Mapping[str, Any], credentials: Credentials, *, sandbox: bool) -> Any:
    """The ccxt client; `exchange.ccxt_config` goes to its constructor (URLs, proxies, options)."""
    cls = getattr(ccxt_async, name, None)
    if not isinstance(cls, type) or name not in ccxt_async.exchanges:
        raise ConfigError(f"exchange.name: {name!r} is not a ccxt exchange")
    config = dict(ccxt_config)
    if credentials.present:
        config.setdefault("apiKey", credentials.api_key)
        config.setdefault("secret", credentials.secret)
    client = cls(config)
    if sandbox:
        client.set_sandbox_mode(True)
    return client


class CcxtExchange:
    """One ccxt client, its markets cached (refreshed every `markets_ttl_ms`), errors translated."""

    def __init__(
        self,
        client: Any,
        *,
        clock: Clock,
        retry: RetryPolicy = RetryPolicy(),
        markets_ttl_ms: int = 3_600_000,
    ) -> None:
        self._client = client
        self._clock = clock
        self._retry = retry
        self._markets_ttl_ms = markets_ttl_ms
        self._markets: dict[str, Market] = {}
        self._markets_ms = 0
        self.rate_limited = 0  # how many 429/418 answers we met (a health number)
        self.name = str(getattr(client, "id", "ccxt"))

    # -- reads (retried) -----------------------------------------------------------------------

    async def markets(self) -> Mapping[str, Market]:
        now = self._clock.now_ms()
        if not self._markets or now - self._markets_ms >= self._markets_ttl_ms:
            raw = await self._read("load markets", "", lambda: self._client.load_markets(reload=bool(self._markets)))
            self._markets = {m["symbol"]: market_from_ccxt(m, self._client) for m in raw.values() if _spot(m)}
            self._markets_ms = now
        return self._markets

    async def candles(self, symbol: str, timeframe: str, *, since_ms: int, limit: int) -> pd.DataFrame:
        rows = await self._read(
            "fetch candles", symbol, lambda: self._client.fetch_ohlcv(symbol, timeframe, since=since_ms, limit=limit)
        )
        closed_before = self._clock.now_ms() - timeframe_ms(timeframe)  # the last row may still be forming
        kept = [r for r in rows if r[0] <= closed_before]
        frame = pd.DataFrame(kept, columns=list(CANDLE_FRAME_COLUMNS), dtype="float64")
        frame["date"] = pd.to_datetime([int(r[0]) for r in kept], unit="ms", utc=True)
        return frame

    async def price(self, symbol: str) -> Decimal:
        ticker = await self._read("fetch price", symbol, lambda: self._client.fetch_ticker(symbol))
        last = ticker.get("last") or ticker.get("close")
        if last is None:
            raise TransientExchangeError(f"fetch price {symbol}: the ticker has no last price")
        return Decimal(str(last))

    async def balances(self) -> Mapping[str, Balance]:
        raw = await self._read("fetch balance", "", self._client.fetch_balance)
        out = {}
        for asset, amounts in raw.items():
            if not isinstance(amounts, dict) or "free" not in amounts:
                continue
            free, used = Decimal(str(amounts.get("free") or 0)), Decimal(str(amounts.get("used") or 0))
            if free or used:
                out[asset] = Balance(free=free, used=used)
        return out

    async def order(self, symbol: str, client_id: str) -> OrderState | None:
        """The order by our client id; None only on the exchange's explicit 'no such order'."""
        try:
            raw = await self._read(
                "fetch order",
                symbol,
                lambda: self._client.fetch_order(None, symbol, params={"origClientOrderId": client_id}),
            )
        except OrderNotFoundError:
            return None
        return order_state(await self._with_fees(raw, symbol), client_id, self._clock.now_ms())

    async def open_orders(self, symbols: Sequence[str]) -> list[OrderState]:
        out: list[OrderState] = []
        for symbol in symbols:
            rows: list[dict[str, Any]] = await self._read(
                "fetch open orders", symbol, functools.partial(self._client.fetch_open_orders, symbol)
            )
            for row in rows:
                full = await self._with_fees(row, symbol)
                out.append(order_state(full, str(full.get("clientOrderId") or ""), self._clock.now_ms()))
        return out

    # -- writes --------------------------------------------------------------------------------

    async def submit(self, order: OrderRequest) -> OrderState:
        """Validated, then sent once. Ambiguous failures raise TransientExchangeError."""
        market = (await self.markets()).get(order.symbol)
        if market is None:
            raise OrderRejectedError(f"submit {order.symbol}: not a market on {self.name}")
        reference = order.price or order.stop_price or await self.price(order.symbol)
        validate(order, market, reference)
        type_, price, params = order_params(order)
        try:
            with translated("submit", order.symbol, self._headers):
                raw = await self._client.create_order(
                    order.symbol, type_, order.side.value, float(order.amount), price, params
                )
            check_reply(raw, f"submit {order.symbol}")
        except TransientExchangeError as e:
            await self._resync_clock_after(e)
            raise
        except OrderRejectedError:
            self._markets_ms = 0  # the exchange's rules may have changed (a filter failure): reload them
            raise
        return order_state(raw, order.client_id, self._clock.now_ms())

    async def cancel(self, symbol: str, client_id: str) -> OrderState:
        """Idempotent: an order that is already filled or cancelled comes back in its final state."""
        try:
            raw = await self._read(
                "cancel",
                symbol,
                lambda: self._client.cancel_order(None, symbol, params={"origClientOrderId": client_id}),
            )
        except OrderNotFoundError:
            # Binance answers -2011 "Unknown order sent." for a filled or cancelled order too (a stop
            # that fired, or a cancel whose first reply was lost): only a lookup tells them apart
            state = await self.order(symbol, client_id)
            if state is None or state.status is OrderStatus.OPEN:
                raise
            return state
        return order_state(await self._with_fees(raw, symbol), client_id, self._clock.now_ms())

    async def close(self) -> None:
        await self._client.close()

    # -- machinery -----------------------------------------------------------------------------

    def _headers(self) -> Mapping[str, str] | None:
        headers = getattr(self._client, "last_response_headers", None)
        return headers if isinstance(headers, Mapping) else None

    async def _read(self, action: str, symbol: str, call: Callable[[], Awaitable[T]]) -> T:
        """An idempotent call, retried on transient errors with exponential backoff (Retry-After
        honoured on 429/418)."""
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(self._retry.attempts),
            wait=self._wait,
            retry=retry_if_exception_type(TransientExchangeError),
            reraise=True,
        ):
            with attempt:
                try:
                    with translated(action, symbol, self._headers):
                        result = await call()
                    check_reply(result, f"{action} {symbol}")
                    return result
                except RateLimitedError:
                    self.rate_limited += 1
                    raise
                except TransientExchangeError as e:
                    await self._resync_clock_after(e)
                    raise
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover

    async def _with_fees(self, raw: dict[str, Any], symbol: str) -> dict[str, Any]:
        """Binance's order queries carry no commission (only a FULL submit reply lists its fills), so
        the fee of a (partly) filled order is summed from its trades (myTrades by orderId)."""
        if not raw.get("filled") or raw.get("fee") or raw.get("fees") or not raw.get("id"):
            return raw
        trades: list[dict[str, Any]] = await self._read(
            "fetch order trades", symbol, lambda: self._client.fetch_order_trades(raw["id"], symbol)
        )
        return {**raw, "fees": [t["fee"] for t in trades if t.get("fee")]}

    async def _resync_clock_after(self, error: TransientExchangeError) -> None:
        """-1021 (timestamp outside recvWindow): our clock and the exchange's drifted apart. Measure
        the offset again so the next signed request carries a timestamp the exchange accepts."""
        if not isinstance(error.__cause__, ccxt_async.InvalidNonce):
            return
        try:
            with translated("sync clock", ""):
                offset_ms = await self._client.load_time_difference()
        except TransientExchangeError as e:
            logger.warning("could not re-sync the clock with {}: {}", self.name, e)
            return
        logger.warning("clock re-synced with {}: local minus exchange time is {} ms", self.name, offset_ms)

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, RateLimitedError) and error.retry_after_s is not None:
            wait = error.retry_after_s
        else:
            wait = self._retry.first_wait_s * 2 ** (state.attempt_number - 1)
        wait = min(wait, self._retry.max_wait_s)
        logger.warning("retrying in {:.1f} s after: {}", wait, error)
        return wait


def _spot(market: Mapping[str, Any]) -> bool:
    return bool(market.get("spot")) and market.get("active") is not False


def market_from_ccxt(m: Mapping[str, Any], client: Any) -> Market:
    """ccxt's unified market as a Market. Precision is a tick size in ccxt's TICK_SIZE mode (Binance)
    and a number of decimals in DECIMAL_PLACES mode."""
    tick_size_mode = getattr(client, "precisionMode", None) == getattr(ccxt_async, "TICK_SIZE", 4)

    def step(value: Any) -> Decimal:
        if value is None:
            return Decimal("0.00000001")
        return Decimal(str(value)) if tick_size_mode else Decimal(1).scaleb(-int(value))

    limits = m.get("limits") or {}
    listed = (m.get("info") or {}).get("orderTypes")  # Binance lists each symbol's order types
    has = getattr(client, "has", None) or {}
    stops = "STOP_LOSS" in listed if isinstance(listed, list) else bool(has.get("createStopMarketOrder"))
    return Market(
        symbol=m["symbol"],
        base=m["base"],
        quote=m["quote"],
        price_tick=step((m.get("precision") or {}).get("price")),
        amount_step=step((m.get("precision") or {}).get("amount")),
        min_amount=Decimal(str((limits.get("amount") or {}).get("min") or 0)),
        min_notional=Decimal(str((limits.get("cost") or {}).get("min") or 0)),
        stop_orders=stops,
    )
