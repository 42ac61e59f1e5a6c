"""Any venue, with every call timed and every passing failure counted for the error breaker. The
engine sees the same Exchange; the breaker board reads the verdicts after each tick."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, TypeVar

import pandas as pd

from bot.clock import SystemClock
from bot.errors import TransientExchangeError
from bot.exchange.base import Balance, Exchange, Market, OrderRequest, OrderState
from bot.risk.circuit import ErrorBreaker, ErrorBreakerConfig, after_call

T = TypeVar("T")


class MonitoredExchange:
    def __init__(self, inner: Exchange, wall: SystemClock, config: ErrorBreakerConfig) -> None:
        self.inner = inner
        self._wall = wall
        self._config = config
        self.breaker = ErrorBreaker()
        self._latencies_ms: list[float] = []
        self.errors_by_kind: Counter[str] = Counter()  # failed calls since start, by error class (/metrics)

    def take_latencies(self) -> list[float]:
        """Round trips of the calls since the last time this was asked."""
        taken, self._latencies_ms = self._latencies_ms, []
        return taken

    async def _timed(self, call: Callable[[], Awaitable[T]]) -> T:
        started = self._wall.monotonic_s()
        try:
            result = await call()
        except TransientExchangeError as e:  # the exchange did not answer as it should
            self.errors_by_kind[type(e).__name__] += 1
            self.breaker = after_call(self.breaker, self._config, ok=False, now_ms=self._wall.now_ms(), error=str(e))
            raise
        # an answer, even a refusal (rejected order, unknown id), is the exchange working
        self._latencies_ms.append((self._wall.monotonic_s() - started) * 1000)
        self.breaker = after_call(self.breaker, self._config, ok=True, now_ms=self._wall.now_ms())
        return result

    async def markets(self) -> Mapping[str, Market]:
        return await self.inner.markets()  # mostly answered from memory: no probe, no round trip

    async def candles(self, symbol: str, timeframe: str, *, since_ms: int, limit: int) -> pd.DataFrame:
        return await self._timed(lambda: self.inner.candles(symbol, timeframe, since_ms=since_ms, limit=limit))

    async def price(self, symbol: str) -> Decimal:
        return await self._timed(lambda: self.inner.price(symbol))

    async def balances(self) -> Mapping[str, Balance]:
        return await self._timed(self.inner.balances)

    async def submit(self, order: OrderRequest) -> OrderState:
        return await self._timed(lambda: self.inner.submit(order))

    async def cancel(self, symbol: str, client_id: str) -> OrderState:
        return await self._timed(lambda: self.inner.cancel(symbol, client_id))

    async def order(self, symbol: str, client_id: str) -> OrderState | None:
        return await self._timed(lambda: self.inner.order(symbol, client_id))

    async def open_orders(self, symbols: Sequence[str]) -> list[OrderState]:
        return await self._timed(lambda: self.inner.open_orders(symbols))

    async def close(self) -> None:
        await self.inner.close()

    def __getattr__(self, name: str) -> Any:  # the venue's own extras (rate-limit count, fee)
        return getattr(self.inner, name)
