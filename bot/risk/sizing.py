"""Entry gates and stake sizing. Pure, so backtest and live reach the same verdict from the same state.

Every refusal carries a reason, shown verbatim in the log and the events table."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.book import Book
from bot.clock import iso_ms
from bot.exchange.base import Market
from bot.risk.protections import entry_lock


@dataclass(frozen=True)
class EntryLimits:
    stake_quote: Decimal | None  # None: "unlimited", the available balance split over the free slots
    max_open_trades: int | None  # None: no limit
    fee_frac: Decimal
    stop_floor_frac: Decimal  # 1 + stoploss: where the initial stop rests, as a ratio of the price
    max_stake_quote: Decimal | None = None  # risk.max_stake_quote: no single entry above it
    max_exposure_quote: Decimal | None = None  # risk.max_exposure_quote: open positions at cost, in total
    tradable_ratio: Decimal = Decimal(1)  # tradable_balance_ratio: the share of the capital the bot may use
    risk_per_trade_frac: Decimal | None = None  # size so that the stop loses this share of the capital

    def least_stake(self) -> Decimal | None:
        """The stake every entry uses, when it is fixed (None when it depends on the book)."""
        if self.stake_quote is None or self.risk_per_trade_frac is not None or self.max_exposure_quote is not None:
            return None
        return self.stake_quote if self.max_stake_quote is None else min(self.stake_quote, self.max_stake_quote)


@dataclass(frozen=True)
class Approved:
    amount: Decimal
    cost_quote: Decimal  # what the entry takes from the wallet, fee included
    stake_quote: Decimal  # what the sizing allowed (the amount is this, rounded down to the lot)


@dataclass(frozen=True)
class Rejected:
    reason: str


def committed_quote(book: Book) -> Decimal:
    """What the open positions cost: the capital already at work."""
    return sum((p.amount * p.open_rate for p in book.positions), Decimal(0))


def stake_for(limits: EntryLimits, *, free_quote: Decimal, committed: Decimal, free_slots: int | None) -> Decimal:
    """How much quote this entry may spend (before the fee): the configured way of sizing, then the
    per-entry and total caps, never more than the tradable balance allows."""
    capital = free_quote + committed
    available = min(free_quote, capital * limits.tradable_ratio - committed)
    if limits.risk_per_trade_frac is not None:
        stop_loss_frac = 1 - limits.stop_floor_frac
        stake = capital * limits.risk_per_trade_frac / stop_loss_frac if stop_loss_frac > 0 else available
    elif limits.stake_quote is None:
        stake = available / (1 + limits.fee_frac) / max(free_slots or 1, 1)
    else:
        stake = limits.stake_quote
    if limits.max_stake_quote is not None:
        stake = min(stake, limits.max_stake_quote)
    if limits.max_exposure_quote is not None:
        stake = min(stake, limits.max_exposure_quote - committed)
    return max(stake, Decimal(0))


def check_entry(
    book: Book,
    market: Market,
    price: Decimal,
    limits: EntryLimits,
    *,
    slots_taken: int,
    free_quote: Decimal,
    committed: Decimal = Decimal(0),
) -> Approved | Rejected:
    """Gate and size one entry."""
    if book.halted_reason is not None:
        return Rejected(f"no new entries: trading {book.halted_reason}")
    lock = entry_lock(book.locks, market.symbol)
    if lock is not None:
        return Rejected(f"{market.symbol}: locked until {iso_ms(lock.until_ms)} by {lock.reason}")
    if market.symbol in book.busy_pairs:
        return Rejected(f"{market.symbol}: already has a position or a pending order")
    if limits.max_open_trades is not None and slots_taken >= limits.max_open_trades:
        return Rejected(f"max_open_trades={limits.max_open_trades} reached")
    if limits.stop_floor_frac <= 0:
        return Rejected("no stoploss (stoploss -1): Kestrel never opens a position it cannot protect")
    if price <= 0:
        return Rejected(f"{market.symbol}: no valid price")
    free_slots = None if limits.max_open_trades is None else limits.max_open_trades - slots_taken
    stake = stake_for(limits, free_quote=free_quote, committed=committed, free_slots=free_slots)
    if limits.max_exposure_quote is not None and committed + market.min_notional > limits.max_exposure_quote:
        return Rejected(
            f"{market.symbol}: open positions cost {committed:.8f} {market.quote}; "
            f"risk.max_exposure_quote {limits.max_exposure_quote} leaves no room for another"
        )
    amount = market.round_amount_down(stake / price)
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
    available = min(free_quote, (free_quote + committed) * limits.tradable_ratio - committed)
    if cost > available:
        if limits.tradable_ratio == 1:
            return Rejected(f"{market.symbol}: needs {cost:.8f} {market.quote}, free {free_quote:.8f}")
        return Rejected(
            f"{market.symbol}: needs {cost:.8f} {market.quote}, {max(available, 0):.8f} available under "
            f"tradable_balance_ratio {limits.tradable_ratio}"
        )
    return Approved(amount, cost, stake)
