"""What the journal says we hold against what the venue holds. Pure.

A coin the venue no longer has at all was sold (or withdrawn) by hand: the trade is closed as such.
A coin the venue has less of than the journal, but not none, is a gap nobody explained: entries stop
and a person is told, because guessing which trade lost what could be wrong with money."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from bot.exchange.base import Balance, Market


@dataclass(frozen=True)
class HeldTrade:
    trade_id: int
    pair: str
    amount: Decimal  # still held, by the journal


@dataclass(frozen=True)
class HoldingGap:
    asset: str
    journal: Decimal
    held: Decimal
    trades: tuple[HeldTrade, ...]
    gone: bool  # nothing sellable left at the venue

    def describe(self) -> str:
        return f"{self.asset}: journal {self.journal}, venue {self.held}"


def holdings_gaps(
    trades: Sequence[HeldTrade], balances: Mapping[str, Balance], markets: Mapping[str, Market]
) -> list[HoldingGap]:
    """Assets held by open positions that the venue holds less of (beyond one lot of rounding)."""
    by_asset: dict[str, list[HeldTrade]] = {}
    for t in trades:
        if t.pair in markets and t.amount > 0:
            by_asset.setdefault(markets[t.pair].base, []).append(t)
    gaps = []
    for asset, held_trades in sorted(by_asset.items()):
        wanted = sum((t.amount for t in held_trades), Decimal(0))
        lot = max(markets[t.pair].amount_step for t in held_trades)
        smallest = max(lot, *(markets[t.pair].min_amount for t in held_trades))
        held = balances[asset].total if asset in balances else Decimal(0)
        if held < wanted - lot or (held < wanted and held < smallest):
            gaps.append(HoldingGap(asset, wanted, held, tuple(held_trades), gone=held < smallest))
    return gaps
