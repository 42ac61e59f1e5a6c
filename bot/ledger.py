"""Trades derived from their orders: a trade's amount, rates, fees and profit are what its fills
say, nothing else, so every change of the wallet is explained by a fill or a fee. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

ENTRY = "entry"
EXIT = "exit"
STOP = "stop"
TAKE_PROFIT = "take_profit"
EXIT_PURPOSES = frozenset({EXIT, STOP, TAKE_PROFIT})
FINAL_STATUSES = frozenset({"filled", "canceled", "rejected", "expired", "not_sent"})


@dataclass(frozen=True)
class JournalOrder:
    client_id: str
    trade_id: int
    pair: str
    side: str
    type: str
    purpose: str
    amount: Decimal
    status: str
    filled: Decimal
    average: Decimal | None
    fee_quote: Decimal
    price: Decimal | None
    stop_price: Decimal | None
    exit_reason: str | None
    oco_with: str | None
    created_ms: int
    updated_ms: int

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


@dataclass(frozen=True)
class TradeFacts:
    status: str
    amount: Decimal
    open_rate: Decimal | None
    open_ms: int | None
    open_fee: Decimal
    close_rate: Decimal | None
    close_ms: int | None
    close_fee: Decimal
    exit_reason: str | None
    profit_quote: Decimal | None
    profit_ratio: Decimal | None


def derive_trade(orders: Sequence[JournalOrder]) -> TradeFacts:
    """Status and numbers of one trade from all of its orders (any order, any state)."""
    entries = [o for o in orders if o.purpose == ENTRY]
    exits = [o for o in orders if o.purpose in EXIT_PURPOSES]
    bought = [o for o in entries if o.filled > 0 and o.average is not None]
    sold = sorted((o for o in exits if o.filled > 0 and o.average is not None), key=lambda o: o.updated_ms)
    amount = sum((o.filled for o in bought), Decimal(0))
    cost = sum((o.filled * o.average for o in bought if o.average is not None), Decimal(0))
    open_fee = sum((o.fee_quote for o in bought), Decimal(0))
    sold_amount = sum((o.filled for o in sold), Decimal(0))
    proceeds = sum((o.filled * o.average for o in sold if o.average is not None), Decimal(0))
    close_fee = sum((o.fee_quote for o in sold), Decimal(0))

    entry_pending = any(not o.is_final for o in entries)
    if amount == 0:
        status = "opening" if entry_pending or not entries else "cancelled"
    elif sold_amount >= amount:
        status = "closed"
    elif any(not o.is_final for o in exits if o.purpose == EXIT):
        status = "closing"
    else:
        status = "open"

    open_rate = cost / amount if amount > 0 else None
    closed = status == "closed"
    profit = ratio = None
    if closed and cost > 0:
        profit = proceeds - close_fee - cost - open_fee
        ratio = profit / (cost + open_fee)
    return TradeFacts(
        status=status,
        amount=amount,
        open_rate=open_rate,
        open_ms=min((o.updated_ms for o in bought), default=None),
        open_fee=open_fee,
        close_rate=proceeds / sold_amount if closed and sold_amount > 0 else None,
        close_ms=sold[-1].updated_ms if closed else None,
        close_fee=close_fee,
        exit_reason=sold[-1].exit_reason if closed else None,
        profit_quote=profit,
        profit_ratio=ratio,
    )
