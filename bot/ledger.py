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
BY_HAND = "by_hand"  # a sale seen only as coins gone from the venue: recorded so the books balance
EXIT_PURPOSES = frozenset({EXIT, STOP, TAKE_PROFIT, BY_HAND})
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
    fee_base: Decimal = Decimal(0)

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


def derive_trade(orders: Sequence[JournalOrder], lot_step: Decimal = Decimal(0)) -> TradeFacts:
    """Status and numbers of one trade from all of its orders (any order, any state).

    A fee taken in the base coin (`fee_base`) shrinks what is held: the trade's amount is what the
    wallet really got, and the fee's value at the fill price counts as a fee. Less than one
    `lot_step` left after the exits filled is dust the exchange will not sell: the trade is closed."""
    entries = [o for o in orders if o.purpose == ENTRY]
    exits = [o for o in orders if o.purpose in EXIT_PURPOSES]
    bought = [o for o in entries if o.filled > 0 and o.average is not None]
    sold = sorted((o for o in exits if o.filled > 0 and o.average is not None), key=lambda o: o.updated_ms)
    bought_amount = sum((o.filled for o in bought), Decimal(0))
    amount = bought_amount - sum((o.fee_base for o in bought), Decimal(0))
    paid = sum((o.filled * o.average for o in bought if o.average is not None), Decimal(0))
    open_fee = sum((o.fee_quote + o.fee_base * (o.average or 0) for o in bought), Decimal(0))
    sold_amount = sum((o.filled for o in sold), Decimal(0))
    proceeds = sum((o.filled * o.average for o in sold if o.average is not None), Decimal(0))
    close_fee = sum((o.fee_quote + o.fee_base * (o.average or 0) for o in sold), Decimal(0))

    entry_pending = any(not o.is_final for o in entries)
    exits_pending = any(not o.is_final for o in exits if o.purpose == EXIT)
    if bought_amount == 0 or entry_pending:  # a partly filled entry still resting is not a position yet
        status = "opening" if entry_pending or not entries else "cancelled"
    elif sold_amount >= amount or (sold_amount > 0 and amount - sold_amount < lot_step and not exits_pending):
        status = "closed"
    elif exits_pending:
        status = "closing"
    else:
        status = "open"

    open_rate = paid / bought_amount if bought_amount > 0 else None
    # the cost of what is held: what was paid, less the value of the coins taken as a fee
    cost = paid if amount == bought_amount or open_rate is None else amount * open_rate
    closed = status == "closed"
    profit = ratio = None
    if closed and cost > 0:
        profit = proceeds - close_fee - cost - open_fee
        ratio = profit / (cost + open_fee)
    return TradeFacts(
        status=status,
        amount=amount if closed else amount - sold_amount,  # while open: what is still held
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
