"""The daily summary: when the UTC day (market time) turns, what the day that ended brought. The day
last summarised is stored, so a restart neither repeats nor skips one; the first start only notes
the day."""

from __future__ import annotations

from decimal import Decimal

from bot.clock import Clock, iso_ms
from bot.store.records import TradeRecord
from bot.store.repo import Repo
from bot.telegram import stats
from bot.telegram.notifier import Notifier
from bot.telegram.report_commands import HISTORY
from bot.telegram.views import num

DAY_MS = 86_400_000
DAY_KEY = "telegram_summary_day"  # the last UTC day (days since 1970) summarised or seen at start


def summary_text(day: int, closed: list[TradeRecord], open_count: int, equity: Decimal | None, currency: str) -> str:
    """One day's summary, `closed` being the trades closed on that day."""
    realised = sum((t.profit_quote or Decimal(0) for t in closed), Decimal(0))
    wins = sum(1 for t in closed if (t.profit_quote or Decimal(0)) > 0)
    lines = [
        f"daily summary for {iso_ms(day * DAY_MS)[:10]} (UTC)",
        f"closed  {len(closed)} trades, {wins} won, profit {num(realised, 4)} {currency}",
        f"open    {open_count} trades",
    ]
    if equity is not None:
        lines.append(f"equity  {num(equity, 2)} {currency}")
    return "\n".join(lines)


class DailySummary:
    def __init__(self, repo: Repo, clock: Clock, notifier: Notifier, currency: str) -> None:
        self._repo = repo
        self._clock = clock
        self._notifier = notifier
        self._currency = currency

    async def check(self) -> bool:
        """After a tick: send the summary of the day that ended, if one did. True when sent."""
        today = self._clock.now_ms() // DAY_MS
        seen = await self._repo.get_state(DAY_KEY)
        if seen is not None and int(seen) >= today:
            return False
        await self._repo.set_state({DAY_KEY: today})
        if seen is None:
            return False
        ended = today - 1  # days missed while the daemon was down are in /daily
        trades = await self._repo.trades(limit=HISTORY)
        closed = [t for t in stats.closed_only(trades) if (t.close_ms or 0) // DAY_MS == ended]
        open_count = sum(1 for t in trades if t.status in ("open", "closing"))
        samples = await self._repo.equity_samples(limit=1)
        equity = samples[0][1] if samples else None
        self._notifier.send("daily_summary", summary_text(ended, closed, open_count, equity, self._currency))
        return True
