"""The equity breakers at work in the daemon: sample the equity each tick, store it, move the
reference marks, and trip the trading state (pause or halt, as `risk.on_breach` says) when a limit
is crossed. A daily-loss pause lifts itself at the next UTC day; any other trip waits for a person."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from functools import partial
from typing import Literal

from loguru import logger

from bot.book import Book
from bot.risk import trading_state as ts
from bot.risk.equity import EquityLimits, EquityMarks, equity_breaches, equity_of, losing_streak, roll_marks
from bot.store.repo import Repo
from bot.store.trading_control import change_trading_state

MARKS_KEY = "equity_marks"
DAILY = "breaker:daily_loss"


class EquityWatch:
    def __init__(self, repo: Repo, limits: EquityLimits, on_breach: Literal["pause", "halt"]) -> None:
        self._repo = repo
        self._limits = limits
        self._on_breach = on_breach

    async def check(
        self, state: ts.TradingState, book: Book, quote_total: Decimal, prices: Mapping[str, Decimal], now_ms: int
    ) -> Decimal:
        """Move the marks, and trip or lift as the limits say (`state`: the tick's trading state).
        Returns the equity, which the tick stores with its wallet snapshot."""
        equity = equity_of(quote_total, book.positions, prices)
        person_resumed = state.mode is ts.Mode.RUNNING and state.by in ts.PEOPLE
        before = await self._marks()
        marks = roll_marks(before, equity, now_ms, state.since_ms if person_resumed else 0)
        if marks != before:
            await self._repo.set_state({MARKS_KEY: _marks_json(marks)})
        if state.mode is ts.Mode.PAUSED and state.by == DAILY and marks.day_ms > state.since_ms:
            await change_trading_state(self._repo, partial(ts.resume, by=DAILY, now_ms=now_ms), ts_ms=now_ms)
            logger.info("a new UTC day: the daily loss limit's pause is lifted")
            return equity
        if state.mode is not ts.Mode.RUNNING or not self._limits.any:
            return equity
        closed = [t for t in await self._repo.trades() if t.status == "closed" and (t.close_ms or 0) > marks.reset_ms]
        streak = losing_streak([t.profit_quote or Decimal(0) for t in closed])
        breaches = equity_breaches(marks, equity, streak, self._limits)
        if not breaches:
            return equity
        first = breaches[0]
        by, reason = f"breaker:{first.breaker}", first.reason
        change = (
            partial(ts.pause, by=by, reason=reason, now_ms=now_ms)
            if self._on_breach == "pause"
            else partial(ts.kill, by=by, reason=reason, now_ms=now_ms)
        )
        await change_trading_state(self._repo, change, ts_ms=now_ms)
        logger.error("{} tripped: {}; trading {}", by, reason, "paused" if self._on_breach == "pause" else "halted")
        await self._repo.add_event("breaker_tripped", f"{by}: {reason}", ts_ms=now_ms)
        return equity

    async def _marks(self) -> EquityMarks | None:
        raw = await self._repo.get_state(MARKS_KEY)
        if not isinstance(raw, dict):
            return None
        return EquityMarks(int(raw["day_ms"]), Decimal(raw["day_start"]), Decimal(raw["high"]), int(raw["reset_ms"]))


def _marks_json(marks: EquityMarks) -> dict[str, object]:
    return {
        "day_ms": marks.day_ms,
        "day_start": str(marks.day_start),
        "high": str(marks.high),
        "reset_ms": marks.reset_ms,
    }
