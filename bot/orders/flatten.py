"""The kill switch's work: cancel every order the journal has open, then sell every position at
market. Run at each tick while the halt is not yet flat; whatever failed for a passing reason is
tried again at the next tick, and what the venue refuses is reported and left alone."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from loguru import logger

from bot.errors import ExchangeError
from bot.orders.executor import Executor
from bot.store.repo import Repo

KILL_REASON = "kill_switch"


@dataclass
class FlattenReport:
    cancelled: int = 0
    sold: int = 0
    failed: list[str] = field(default_factory=list)  # try again next tick
    refused: list[str] = field(default_factory=list)  # the venue will not take it: left as it is

    @property
    def done(self) -> bool:
        return not self.failed

    def describe(self) -> str:
        text = f"{self.cancelled} orders cancelled, {self.sold} positions sold at market"
        if self.refused:
            text += f"; refused by the venue, left as they are: {'; '.join(self.refused)}"
        if self.failed:
            text += f"; to try again: {'; '.join(self.failed)}"
        return text


async def flatten(executor: Executor, repo: Repo, now_ms: int) -> FlattenReport:
    report = FlattenReport()
    for order in await repo.nonfinal_orders():
        try:
            recorded = await executor.cancel_order(order, now_ms)
        except ExchangeError as e:
            report.failed.append(f"cancel {order.client_id}: {e}")
            continue
        report.cancelled += recorded.status == "canceled"
    for trade in await repo.trades(live_only=True):
        if trade.status not in ("open", "closing") or trade.amount <= 0:
            continue
        try:
            sold = await executor.sell_at_market(trade.id, trade.pair, Decimal(trade.amount), KILL_REASON, now_ms)
        except ExchangeError as e:
            report.failed.append(f"sell trade {trade.id} ({trade.pair}): {e}")
            continue
        if sold is None:
            report.failed.append(f"sell trade {trade.id} ({trade.pair}): not confirmed yet")
        elif sold.status == "rejected":
            report.refused.append(f"trade {trade.id} ({trade.pair}), see its order_rejected event")
        else:
            report.sold += 1
    if report.failed:
        logger.warning("kill switch not done yet: {}", report.describe())
    return report
