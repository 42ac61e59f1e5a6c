"""The reporting commands (/trades, /profit, /daily, /weekly, /monthly, /performance, /count): the
stored trades through the pure functions of stats.py."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal

from bot.clock import Clock
from bot.config import Config
from bot.store.records import TradeRecord
from bot.store.repo import Repo
from bot.telegram import stats
from bot.telegram.desk import Reply, Request, count_arg

HISTORY = 100_000  # trades read for the statistics; far more than a bot closes in years


class Reports:
    def __init__(
        self, *, config: Config, repo: Repo, clock: Clock, last_closes: Callable[[], Mapping[str, float]]
    ) -> None:
        self._config = config
        self._repo = repo
        self._clock = clock
        self._last_closes = last_closes

    async def _closed(self) -> list[TradeRecord]:
        return stats.closed_only(await self._repo.trades(limit=HISTORY))

    async def _cmd_trades(self, req: Request) -> Reply:
        n = count_arg(req.args, 10, most=50)
        return Reply(stats.trades_text(await self._closed(), n, self._config.stake_currency), pre=True)

    async def _cmd_profit(self, _req: Request) -> Reply:
        closed = await self._closed()
        open_trades = await self._repo.trades(live_only=True)
        closes = self._last_closes()
        unrealised: Decimal | None = Decimal(0)
        for t in open_trades:
            if t.open_rate is None or t.amount <= 0:
                continue  # an entry still resting: nothing held yet
            price = closes.get(t.pair)
            if price is None or unrealised is None:
                unrealised = None
                continue
            unrealised += (Decimal(str(price)) - t.open_rate) * t.amount
        text = stats.profit_text(stats.profit(closed), len(open_trades), unrealised, self._config.stake_currency)
        return Reply(text, pre=True)

    async def _periods(self, req: Request, period: stats.Period, default: int) -> Reply:
        n = count_arg(req.args, default, most=365 if period == "day" else 104 if period == "week" else 36)
        rows = stats.by_period(await self._closed(), self._clock.now_ms(), period, n)
        return Reply(stats.period_text(rows, period, self._config.stake_currency), pre=True)

    async def _cmd_daily(self, req: Request) -> Reply:
        return await self._periods(req, "day", 7)

    async def _cmd_weekly(self, req: Request) -> Reply:
        return await self._periods(req, "week", 8)

    async def _cmd_monthly(self, req: Request) -> Reply:
        return await self._periods(req, "month", 6)

    async def _cmd_performance(self, _req: Request) -> Reply:
        rows = stats.performance(await self._closed())
        return Reply(stats.performance_text(rows, self._config.stake_currency), pre=True)

    async def _cmd_count(self, _req: Request) -> Reply:
        open_trades = await self._repo.trades(live_only=True)
        return Reply(stats.count_text(open_trades, self._config.max_open_trades, self._config.stake_currency))
