"""Brings the journal in line with the venue: every order the journal does not know the end of is
looked up by its client id. Run at start before the first new order, and at every tick."""

from __future__ import annotations

from dataclasses import dataclass

from loguru import logger

from bot.errors import ExchangeError
from bot.exchange.base import Exchange
from bot.orders.announce import announce
from bot.store.repo import Repo


@dataclass(frozen=True)
class ReconcileReport:
    checked: int
    changed: int
    not_sent: int
    unresolved: int


async def refresh_orders(venue: Exchange, repo: Repo, now_ms: int) -> ReconcileReport:
    checked = changed = not_sent = unresolved = 0
    for order in await repo.nonfinal_orders():
        checked += 1
        try:
            state = await venue.order(order.pair, order.client_id)
        except ExchangeError as e:
            unresolved += 1
            logger.warning("cannot refresh order {} ({}): {}", order.client_id, order.pair, e)
            continue
        if state is None:
            if order.status == "intent":
                # journaled but never reached the venue (crash or failure before the send)
                await repo.mark_final(order.client_id, "not_sent", "not found at the venue after restart", now_ms)
                not_sent += 1
                await repo.add_event(
                    "order_not_sent",
                    f"{order.purpose} order never reached the venue",
                    ts_ms=now_ms,
                    pair=order.pair,
                    client_id=order.client_id,
                )
            else:
                await repo.mark_final(order.client_id, "expired", "the venue no longer knows this order", now_ms)
                changed += 1
            continue
        if state.status.value != order.status or state.filled != order.filled:
            recorded = await repo.record_state(state, now_ms)
            changed += 1
            if recorded.status == "filled":
                await announce(repo, "order_filled", recorded, now_ms)
    return ReconcileReport(checked, changed, not_sent, unresolved)
