"""Entry gates and stake sizing. Pure, so backtest and live reach the same verdict from the same state."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.book import Book
from bot.exchange.base import Market


@dataclass(frozen=True)
class EntryLimits:
    stake_quote: Decimal
    max_open_trades: int | None  # None: no limit
    fee_frac: Decimal
    stop_floor_frac: Decimal  # 1 + stoploss: where the initial stop rests, as a ratio of the price


@dataclass(frozen=True)
class Approved:
    amount: Decimal
    cost_quote: Decimal  # what the entry takes from the wallet, fee included


@dataclass(frozen=True)
class Rejected:
    reason: str


def check_entry(
    book: Book, market: Market, price: Decimal, limits: EntryLimits, *, slots_taken: int, free_quote: Decimal
) -> Approved | Rejected:
    """Gate one entry; the reason is shown verbatim in the log and the events table."""
    if book.halted_reason is not None:
        return Rejected(f"no new entries: trading {book.halted_reason}")
    if market.symbol in book.busy_pairs:
        return Rejected(f"{market.symbol}: already has a position or a pending order")
    if limits.max_open_trades is not None and slots_taken >= limits.max_open_trades:
        return Rejected(f"max_open_trades={limits.max_open_trades} reached")
    if price <= 0:
        return Rejected(f"{market.symbol}: no valid price")
    amount = market.round_amount_down(limits.stake_quote / price)
    if amount <= 0 or amount < market.min_amount:
        return Rejected(f"{market.symbol}: stake buys {amount}, below the minimum amount {market.min_amount}")
    if amount * price < market.min_notional:
        return Rejected(f"{market.symbol}: stake below exchange minimum {market.min_notional} {market.quote}")
    if amount * price * limits.stop_floor_frac < market.min_notional:
        # the entry would fill, but its stop order would be refused: a position that cannot be protected
        return Rejected(
            f"{market.symbol}: its stop order would be worth {amount * price * limits.stop_floor_frac:.8f} "
            f"{market.quote}, below the exchange minimum {market.min_notional}; raise stake_amount"
        )
    cost = amount * price * (1 + limits.fee_frac)
    if cost > free_quote:
        return Rejected(f"{market.symbol}: needs {cost:.8f} {market.quote}, free {free_quote:.8f}")
    return Approved(amount, cost)
