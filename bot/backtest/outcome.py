"""What a backtest produces: its trades and totals, and the journal entries its fills stand for
(so the backtester derives profit with the daemon's own ledger arithmetic)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.ledger import ENTRY, JournalOrder


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
