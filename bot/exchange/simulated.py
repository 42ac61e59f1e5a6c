"""The embedded default venue: an offline market inside the process, with a wallet and an order
book of our own orders (a PaperBook), persisted in its own SQLite file like a real exchange keeps
its own books.

Time is the market clock's. Market orders fill at the open of the forming candle; resting stop and
limit orders are matched against each candle after it closes, by the shared fill model (fills.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path

import pandas as pd

from bot.clock import Clock
from bot.errors import OrderRejectedError, UnsupportedError
from bot.exchange.base import Balance, Market, OrderRequest, OrderState
from bot.exchange.candle_sources import CandleSource
from bot.exchange.fills import FillModel, candle_bar, candle_price
from bot.exchange.paper_book import PaperBook
from bot.exchange.simulated_state import VenueStateFile
from bot.timeframes import floor_ms, timeframe_ms


class SimulatedExchange:
    """Implements the Exchange protocol over a CandleSource."""

    def __init__(
        self,
        *,
        clock: Clock,
        source: CandleSource,
        markets: Mapping[str, Market],
        timeframe: str,
        fee_frac: Decimal,
        state_path: Path,
        initial_balances: Mapping[str, Decimal],
        model: FillModel | None = None,
    ) -> None:
        self._clock = clock
        self._source = source
        self._markets = dict(markets)
        self._timeframe = timeframe
        self._tf_ms = timeframe_ms(timeframe)
        self.fee_frac = fee_frac
        self._book = PaperBook(
            fee_frac=fee_frac,
            state_path=state_path,
            initial_balances=initial_balances,
            now_ms=clock.now_ms(),
            model=model,
        )

    # -- the Exchange protocol -------------------------------------------------------------

    async def markets(self) -> Mapping[str, Market]:
        return self._markets

    async def candles(self, symbol: str, timeframe: str, *, since_ms: int, limit: int) -> pd.DataFrame:
        self._check_symbol(symbol)
        if timeframe != self._timeframe:
            raise UnsupportedError(f"the simulated market serves {self._timeframe} candles, not {timeframe}")
        end_ms = floor_ms(self._clock.now_ms(), self._tf_ms)  # candles opening before this are closed
        cols = self._source.columns(symbol, end_ms)
        lo, hi = cols.between(since_ms, end_ms)
        return cols.frame(lo, min(hi, lo + limit))

    async def price(self, symbol: str) -> Decimal:
        self._check_symbol(symbol)
        return self._price(symbol)

    async def balances(self) -> Mapping[str, Balance]:
        self.settle()
        return self._book.balances()

    async def submit(self, order: OrderRequest) -> OrderState:
        self.settle()
        self._check_symbol(order.symbol)
        market = self._markets[order.symbol]
        return self._book.submit(order, market, self._price(order.symbol), self._clock.now_ms())

    async def cancel(self, symbol: str, client_id: str) -> OrderState:
        self.settle()
        return self._book.cancel(symbol, client_id, self._clock.now_ms())

    async def order(self, symbol: str, client_id: str) -> OrderState | None:
        self.settle()
        return self._book.order(symbol, client_id)

    async def open_orders(self, symbols: Sequence[str]) -> list[OrderState]:
        self.settle()
        return self._book.open_orders(symbols)

    async def close(self) -> None:
        self._book.save(self._clock.now_ms())
        self._book.close()

    # -- matching --------------------------------------------------------------------------

    def settle(self) -> None:
        """Match resting orders against every candle that closed since the last call."""
        now = self._clock.now_ms()
        end_ms = floor_ms(now, self._tf_ms)  # candles opening before end_ms are closed
        start_ms = self._book.settled_ms
        if end_ms <= start_ms:
            return
        for symbol in sorted(self._book.resting_symbols() & self._markets.keys()):  # unlisted ones wait
            market = self._markets[symbol]
            cols = self._source.columns(symbol, end_ms)
            lo, hi = cols.between(start_ms, end_ms)
            bars = (
                candle_bar(
                    int(cols.ts_ms[i]),
                    (cols.open[i], cols.high[i], cols.low[i], cols.close[i]),
                    market,
                    cols.volume[i],
                )
                for i in range(lo, hi)
            )
            self._book.match_bars(symbol, market, bars)
        self._book.settled_ms = end_ms
        self._book.save(now)

    # -- helpers ---------------------------------------------------------------------------

    def _price(self, symbol: str) -> Decimal:
        now = self._clock.now_ms()
        cols = self._source.columns(symbol, now + self._tf_ms)
        _, hi = cols.between(0, now + 1)  # candles opening at or before now
        if hi == 0:
            raise OrderRejectedError(f"{symbol}: no price yet, the market opens later")
        i = hi - 1
        if int(cols.ts_ms[i]) + self._tf_ms <= now:
            # no candle is forming: a replay that has run out of candles is a closed market
            raise OrderRejectedError(f"{symbol}: no trading after the last candle of the replay")
        return candle_price(cols.open[i], self._markets[symbol])

    def _check_symbol(self, symbol: str) -> None:
        if symbol not in self._markets:
            raise OrderRejectedError(f"{symbol}: not listed on the simulated market")

    @staticmethod
    def saved_now_ms(state_path: Path) -> int | None:
        """The market time at which a previous run stopped, so a restart resumes the same market."""
        return VenueStateFile.saved_now_ms(state_path)
