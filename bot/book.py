"""What the engine knows when it decides: positions, pending pairs and free money. Frozen values,
built from the journal by the store and from its own state by the backtester."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from bot.risk.protections import Lock


@dataclass(frozen=True)
class Position:
    trade_id: int
    pair: str
    amount: Decimal
    open_rate: Decimal
    open_ms: int
    max_rate: Decimal
    closing: bool = False  # an exit order is out; nothing else may be planned for it
    stop_price: Decimal | None = None  # the resting protective orders, if any
    take_profit_price: Decimal | None = None


@dataclass(frozen=True)
class Book:
    positions: tuple[Position, ...]
    pending_pairs: frozenset[str]  # pairs with an entry order not yet filled
    free_quote: Decimal
    halted_reason: str | None = None
    closed_this_candle: frozenset[str] = field(default_factory=frozenset)
    locks: tuple[Lock, ...] = ()  # protections in force: no entry on a locked pair

    def position(self, pair: str) -> Position | None:
        for p in self.positions:
            if p.pair == pair:
                return p
        return None

    @property
    def busy_pairs(self) -> frozenset[str]:
        return frozenset(p.pair for p in self.positions) | self.pending_pairs
