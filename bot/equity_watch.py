"""The equity breakers at work in the daemon: sample the equity each tick, store it, move the
reference marks, and trip the trading state (pause or halt, as `risk.on_breach` says) when a limit
is crossed. The decisions are `equity_step`'s, which the backtester runs too."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from functools import partial
from typing import Literal

from loguru import logger

from bot.book import Book
from bot.risk import trading_state as ts
from bot.risk.equity import DAILY, EquityLimits, EquityMarks, equity_of, equity_step, newest_first
from bot.store.repo import Repo
from bot.store.trading_control import change_trading_state, read_trading_state

MARKS_KEY = "equity_marks"


class EquityWatch:
    def __init__(self, repo: Repo, limits: EquityLimits, on_breach: Literal["pause", "halt"]) -> None:
        self._repo = repo
        self._limits = limits
        self._on_breach = on_breach

    async def check(self, book: Book, quote_total: Decimal, prices: Mapping[str, Decimal], now_ms: int) -> Decimal:
        """Move the marks, and trip or lift as the limits say. Returns the equity, which the tick
        stores with its wallet snapshot."""
        equity = equity_of(quote_total, book.positions, prices)
        state = await read_trading_state(self._repo)
        before = await self._marks()
        step = equity_step(state, before, equity, closed=await self._closed(), limits=self._limits, now_ms=now_ms)
        if step.marks != before:
            await self._repo.set_state({MARKS_KEY: _marks_json(step.marks)})
        if step.lift_daily:
            await change_trading_state(self._repo, partial(ts.resume, by=DAILY, now_ms=now_ms), ts_ms=now_ms)
            logger.info("a new UTC day: the daily loss limit's pause is lifted")
        elif step.breach is not None:
            by, reason = f"breaker:{step.breach.breaker}", step.breach.reason
            halt = self._on_breach == "halt"
            trip = partial(ts.trip, by=by, reason=reason, now_ms=now_ms, halt=halt)
            await change_trading_state(self._repo, trip, ts_ms=now_ms)
            logger.error("{} tripped: {}; trading {}", by, reason, "halted" if halt else "paused")
            await self._repo.add_event("breaker_tripped", f"{by}: {reason}", ts_ms=now_ms)
        return equity

    async def _closed(self) -> list[tuple[int, int, Decimal]]:
        if self._limits.max_losing_streak is None:
            return []  # only the losing streak reads them
        return newest_first(
            (t.close_ms, t.id, t.profit_quote or Decimal(0))
            for t in await self._repo.trades()
            if t.status == "closed" and t.close_ms is not None
        )

    async def _marks(self) -> EquityMarks | None:
        raw = await self._repo.get_state(MARKS_KEY)
        if not isinstance(raw, dict):
            return None
        reset = int(raw["reset_ms"])
        return EquityMarks(
            int(raw["day_ms"]),
            Decimal(raw["day_start"]),
            Decimal(raw["high"]),
            reset,
            int(raw.get("resumed_ms", reset)),  # stored before resumes were told apart from resets
        )


def _marks_json(marks: EquityMarks) -> dict[str, object]:
    return {
        "day_ms": marks.day_ms,
        "day_start": str(marks.day_start),
        "high": str(marks.high),
        "reset_ms": marks.reset_ms,
        "resumed_ms": marks.resumed_ms,
    }
