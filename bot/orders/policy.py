"""How orders are sent and how long they may wait: the user's `order_types` and `unfilledtimeout`
as decisions. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.exchange.base import OrderType
from bot.ledger import ENTRY, EXIT, JournalOrder

STOP_REASONS = frozenset({"stop_loss", "trailing_stop_loss"})


@dataclass(frozen=True)
class OrderPolicy:
    entry_type: OrderType = OrderType.MARKET
    exit_type: OrderType = OrderType.MARKET
    stop_on_exchange: bool = True  # where the venue takes stop orders; the bot watches the stop anyway
    entry_timeout_ms: int = 600_000
    exit_timeout_ms: int = 600_000
    exit_timeout_count: int = 0  # cancelled exits before the position is sold at market; 0: never

    def exit_type_for(self, reason: str) -> OrderType:
        """A stop that was hit sells at market whatever the exits use: a limit could be left behind
        by a falling price."""
        return OrderType.MARKET if reason in STOP_REASONS else self.exit_type


def stale_orders(orders: Sequence[JournalOrder], now_ms: int, policy: OrderPolicy) -> list[JournalOrder]:
    """Entry and exit orders resting at the venue for longer than their timeout. Protective orders
    (stop, take-profit) rest by design and never time out; an order not yet known to be at the venue
    is reconciliation's, not the timeout's."""
    stale = []
    for order in orders:
        if order.status != "open" or order.purpose not in (ENTRY, EXIT):
            continue
        timeout = policy.entry_timeout_ms if order.purpose == ENTRY else policy.exit_timeout_ms
        if now_ms - order.created_ms >= timeout:
            stale.append(order)
    return stale


def exits_given_up(orders: Sequence[JournalOrder]) -> int:
    """Exit orders of one trade that ended unfilled or partly filled by a cancel: each one a timeout
    (or a person's cancel), counted against `exit_timeout_count`."""
    return sum(1 for o in orders if o.purpose == EXIT and o.status in ("canceled", "expired"))
