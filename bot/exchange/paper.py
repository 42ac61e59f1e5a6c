"""Dry-run: market data from a real exchange, fills from a PaperBook, so a paper fill is exactly a
simulated fill on real prices. The data venue is used for reads only (markets, candles, prices); the
runtime builds it without keys, so a dry run can never send a signed request."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path

import pandas as pd

from bot.candles import dates_ms
from bot.clock import Clock
from bot.errors import OrderRejectedError
from bot.exchange.base import Balance, Exchange, Market, OrderRequest, OrderState
from bot.exchange.fills import FillModel, candle_bar
from bot.exchange.paper_book import PaperBook
from bot.timeframes import floor_ms, timeframe_ms

_PAGE = 1000


class PaperBroker:
    """Implements the Exchange protocol: reads go to `data`, orders and the wallet stay here."""

    def __init__(
        self,
        *,
        data: Exchange,
        clock: Clock,
        timeframe: str,
        fee_frac: Decimal,
        state_path: Path,
        initial_balances: Mapping[str, Decimal],
        model: FillModel | None = None,
    ) -> None:
        self._data = data
        self._clock = clock
        self._timeframe = timeframe
        self._tf_ms = timeframe_ms(timeframe)
        self.fee_frac = fee_frac
        self._book = PaperBook(
            fee_frac=fee_frac,
            state_path=state_path,
            initial_balances=initial_balances,
            now_ms=floor_ms(clock.now_ms(), self._tf_ms),
            model=model,
        )

    # -- reads: the exchange's --------------------------------------------------------------

    async def markets(self) -> Mapping[str, Market]:
        return await self._data.markets()

    async def candles(self, symbol: str, timeframe: str, *, since_ms: int, limit: int) -> pd.DataFrame:
        return await self._data.candles(symbol, timeframe, since_ms=since_ms, limit=limit)

    async def price(self, symbol: str) -> Decimal:
        return (await self._market(symbol)).round_price(await self._data.price(symbol))

    # -- the paper wallet --------------------------------------------------------------------

    async def balances(self) -> Mapping[str, Balance]:
        await self._settle()
        return self._book.balances()

    async def submit(self, order: OrderRequest) -> OrderState:
        await self._settle()
        market = await self._market(order.symbol)
        reference = await self.price(order.symbol)
        return self._book.submit(order, market, reference, self._clock.now_ms())

    async def cancel(self, symbol: str, client_id: str) -> OrderState:
        await self._settle()
        return self._book.cancel(symbol, client_id, self._clock.now_ms())

    async def order(self, symbol: str, client_id: str) -> OrderState | None:
        await self._settle()
        return self._book.order(symbol, client_id)

    async def open_orders(self, symbols: Sequence[str]) -> list[OrderState]:
        await self._settle()
        return self._book.open_orders(symbols)

    async def close(self) -> None:
        self._book.save(self._clock.now_ms())
        self._book.close()
        await self._data.close()

    # -- matching ----------------------------------------------------------------------------

    async def _settle(self) -> None:
        """Match resting orders against the candles that closed since the last call. A candle the
        exchange has not published yet is matched on a later call (matching a candle twice is
        harmless: fills are final and an order is only matched against candles after it)."""
        now = self._clock.now_ms()
        end_ms = floor_ms(now, self._tf_ms)
        start_ms = self._book.settled_ms
        if end_ms <= start_ms:
            return
        reached = end_ms
        for symbol in sorted(self._book.resting_symbols()):
            market = await self._market(symbol)
            last = await self._match_since(symbol, market, start_ms, end_ms)
            reached = min(reached, last)
        self._book.settled_ms = reached
        self._book.save(now)

    async def _match_since(self, symbol: str, market: Market, start_ms: int, end_ms: int) -> int:
        """Match closed candles in [start_ms, end_ms); returns where matching got to."""
        since = start_ms
        while since < end_ms:
            frame = await self._data.candles(symbol, self._timeframe, since_ms=since, limit=_PAGE)
            if frame.empty:
                break
            ts = dates_ms(frame["date"])
            rows = [i for i, t in enumerate(ts) if since <= t < end_ms]
            if not rows:
                break
            o, h, lo, c, v = (
                frame[col].to_numpy(dtype="float64") for col in ("open", "high", "low", "close", "volume")
            )
            bars = [candle_bar(int(ts[i]), (o[i], h[i], lo[i], c[i]), market, v[i]) for i in rows]
            self._book.match_bars(symbol, market, bars)
            since = bars[-1].open_ms + self._tf_ms
            if symbol not in self._book.resting_symbols():
                return end_ms  # nothing left to match: no need to look at these candles again
            if len(frame) < _PAGE:
                break
        return since

    async def _market(self, symbol: str) -> Market:
        market = (await self._data.markets()).get(symbol)
        if market is None:
            raise OrderRejectedError(f"{symbol}: not a market on the exchange")
        return market
