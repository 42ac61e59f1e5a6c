"""The decision core: given the book, the strategy's signals and prices, what to do now. Pure.

A tick runs three plans in a fixed order, each on the book as it stands after the previous one was
carried out: exits (signal exits at market), entries (whitelist order, until the slots are full),
then protections (where each position's stop and take-profit should rest for the coming candle).
The daemon and the backtester both call these same functions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from bot.book import Book
from bot.exchange.base import Market
from bot.risk.exits import ExitRules, Protection, protection, wants_signal_exit
from bot.risk.sizing import Approved, EntryLimits, check_entry, committed_quote
from bot.strategy.guard import PairSignal


@dataclass(frozen=True)
class ExitIntent:
    trade_id: int
    pair: str
    amount: Decimal
    reason: str


@dataclass(frozen=True)
class EntryIntent:
    pair: str
    amount: Decimal
    price: Decimal
    stake_quote: Decimal
    signal_ms: int
    tag: str | None


@dataclass(frozen=True)
class ProtectIntent:
    trade_id: int
    pair: str
    amount: Decimal
    protection: Protection


@dataclass(frozen=True)
class Skip:
    pair: str
    reason: str


def plan_exits(book: Book, signals: Mapping[str, PairSignal], rules: ExitRules) -> list[ExitIntent]:
    """Signal exits, oldest trade first. A pair without a usable signal keeps its protective orders."""
    exits = []
    for pos in sorted(book.positions, key=lambda p: p.trade_id):
        sig = signals.get(pos.pair)
        if pos.closing or sig is None:
            continue
        if wants_signal_exit(rules, sig.enter, sig.exit):
            exits.append(ExitIntent(pos.trade_id, pos.pair, pos.amount, "exit_signal"))
    return exits


def plan_entries(
    book: Book,
    signals: Mapping[str, PairSignal],
    *,
    whitelist: Sequence[str],
    prices: Mapping[str, Decimal],
    markets: Mapping[str, Market],
    limits: EntryLimits,
) -> tuple[list[EntryIntent], list[Skip]]:
    """Entries in whitelist order while slots and money last. An entry signal counts only when the
    same candle carries no exit signal."""
    entries: list[EntryIntent] = []
    skipped: list[Skip] = []
    taken = len(book.positions) + len(book.pending_pairs)
    free = book.free_quote
    committed = committed_quote(book)
    for pair in whitelist:
        sig = signals.get(pair)
        if sig is None or not sig.enter or sig.exit or pair in book.closed_this_candle:
            continue
        price = prices.get(pair)
        if price is None or pair not in markets:
            skipped.append(Skip(pair, f"{pair}: no price or market"))
            continue
        verdict = check_entry(
            book, markets[pair], price, limits, slots_taken=taken, free_quote=free, committed=committed
        )
        if not isinstance(verdict, Approved):
            skipped.append(Skip(pair, verdict.reason))
            continue
        entries.append(EntryIntent(pair, verdict.amount, price, verdict.stake_quote, sig.candle_ms, sig.tag))
        taken += 1
        free -= verdict.cost_quote
        committed += verdict.amount * price
    return entries, skipped


def plan_protections(
    book: Book, rules: ExitRules, markets: Mapping[str, Market], fee_frac: Decimal, now_ms: int
) -> list[ProtectIntent]:
    """Positions whose resting stop or take-profit should move (or be placed) for the next candle."""
    intents = []
    for pos in sorted(book.positions, key=lambda p: p.trade_id):
        if pos.closing:
            continue
        want = protection(
            rules,
            open_rate=pos.open_rate,
            open_ms=pos.open_ms,
            max_rate=pos.max_rate,
            now_ms=now_ms,
            fee_frac=fee_frac,
            market=markets[pos.pair],
        )
        if want.stop_price != pos.stop_price or want.take_profit_price != pos.take_profit_price:
            intents.append(ProtectIntent(pos.trade_id, pos.pair, pos.amount, want))
    return intents
