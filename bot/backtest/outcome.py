"""What a backtest produces: its trades and totals, and the journal entries its fills stand for
(so the backtester derives profit with the daemon's own ledger arithmetic)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal

from bot.exchange.fills import average_after
from bot.ledger import ENTRY, JournalOrder, derive_trade


@dataclass(frozen=True)
class BacktestTrade:
    trade_id: int
    pair: str
    open_ms: int
    close_ms: int
    open_rate: Decimal
    close_rate: Decimal
    amount: Decimal
    open_fee: Decimal
    close_fee: Decimal
    profit_abs: Decimal
    profit_ratio: Decimal
    exit_reason: str
    enter_tag: str | None


@dataclass
class BacktestResult:
    trades: list[BacktestTrade]
    final_quote: Decimal
    first_tick_ms: int
    last_tick_ms: int
    ticks_run: int
    candles: int
    risk_events: list[tuple[int, str]] = field(default_factory=list)  # breakers tripped, pauses lifted


def closed_trade(
    entry: JournalOrder, exits: list[JournalOrder], *, open_ms: int, close_ms: int, reason: str, tag: str | None
) -> BacktestTrade:
    """A closed trade's numbers from its fills, by the daemon's own ledger arithmetic."""
    facts = derive_trade([entry, *exits])
    assert facts.profit_quote is not None
    assert facts.profit_ratio is not None
    assert facts.close_rate is not None
    assert entry.average is not None
    return BacktestTrade(
        entry.trade_id,
        entry.pair,
        open_ms,
        close_ms,
        entry.average,
        facts.close_rate,
        facts.amount,
        facts.open_fee,
        facts.close_fee,
        facts.profit_quote,
        facts.profit_ratio,
        reason,
        tag,
    )


def fill_order(
    trade_id: int,
    pair: str,
    purpose: str,
    *,
    amount: Decimal,
    price: Decimal,
    fee: Decimal,
    ms: int,
    reason: str | None,
) -> JournalOrder:
    side = "buy" if purpose == ENTRY else "sell"
    return JournalOrder(
        client_id=f"bt-{trade_id}{purpose[0]}",
        trade_id=trade_id,
        pair=pair,
        side=side,
        type="market",
        purpose=purpose,
        amount=amount,
        status="filled",
        filled=amount,
        average=price,
        fee_quote=fee,
        price=None,
        stop_price=None,
        exit_reason=reason,
        oco_with=None,
        created_ms=ms,
        updated_ms=ms,
    )


def merge_fills(so_far: JournalOrder, more: JournalOrder) -> JournalOrder:
    """One order that filled in several candles, as the venue reports it: amounts and fees add up,
    the price is the running average (the paper book's own arithmetic, so sums agree exactly)."""
    filled = so_far.filled + more.filled
    return replace(
        so_far,
        amount=filled,
        filled=filled,
        average=average_after(so_far.filled, so_far.average, more.filled, more.average or Decimal(0)),
        fee_quote=so_far.fee_quote + more.fee_quote,
        updated_ms=more.updated_ms,
    )
