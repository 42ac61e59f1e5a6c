"""Protections: locks that keep a pair (or every pair) from new entries for a while after closed
trades went badly. Pure and computed from the closed trades alone, so the daemon (at any tick,
after any restart) and the backtester (whichever ticks it skips) find the same locks.

Each closed trade is a possible trigger: a protection looks at the trades closed in its lookback
window ending at that trade's close, and when its condition holds it locks from that close for its
duration, as freqtrade's protections do when a trade closes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

STOP_EXITS = frozenset({"stop_loss", "trailing_stop_loss"})

Method = Literal["CooldownPeriod", "StoplossGuard", "LowProfitPairs", "MaxDrawdown"]


@dataclass(frozen=True)
class ClosedTrade:
    pair: str
    close_ms: int
    profit_ratio: Decimal
    exit_reason: str


@dataclass(frozen=True)
class Protection:
    method: Method
    duration_ms: int
    lookback_ms: int = 0
    trade_limit: int = 1
    per_pair: bool = True  # False: the lock holds every pair
    required_profit: Decimal = Decimal(0)  # LowProfitPairs
    max_drawdown: Decimal = Decimal(0)  # MaxDrawdown, as a sum of profit ratios


@dataclass(frozen=True)
class Lock:
    pair: str | None  # None: every pair
    until_ms: int
    reason: str


def _window(trades: Sequence[ClosedTrade], trigger: ClosedTrade, p: Protection, pair: str | None) -> list[ClosedTrade]:
    start = trigger.close_ms - p.lookback_ms
    return [t for t in trades if start <= t.close_ms <= trigger.close_ms and (pair is None or t.pair == pair)]


def _condition(p: Protection, trades: Sequence[ClosedTrade], trigger: ClosedTrade) -> str | None:
    """Why `p` locks when `trigger` closes, or None."""
    pair = trigger.pair if p.per_pair else None
    if p.method == "CooldownPeriod":
        return "cooldown after a trade"
    window = _window(trades, trigger, p, pair)
    if p.method == "StoplossGuard":
        stops = [t for t in window if t.exit_reason in STOP_EXITS and t.profit_ratio < 0]
        if trigger.exit_reason in STOP_EXITS and len(stops) >= p.trade_limit:
            return f"{len(stops)} stop losses within {p.lookback_ms // 60_000} min"
        return None
    if len(window) < p.trade_limit:
        return None
    if p.method == "LowProfitPairs":
        profit = sum((t.profit_ratio for t in window), Decimal(0))
        if profit < p.required_profit:
            return f"profit {profit:.2%} over {len(window)} trades, below {p.required_profit:.2%}"
        return None
    cumulative, peak, drawdown = Decimal(0), Decimal(0), Decimal(0)
    for t in sorted(window, key=lambda t: t.close_ms):
        cumulative += t.profit_ratio
        peak = max(peak, cumulative)
        drawdown = max(drawdown, peak - cumulative)
    if drawdown >= p.max_drawdown:
        return f"drawdown {drawdown:.2%} over {len(window)} trades, at least {p.max_drawdown:.2%}"
    return None


def active_locks(trades: Iterable[ClosedTrade], protections: Sequence[Protection], now_ms: int) -> tuple[Lock, ...]:
    """The locks in force at `now_ms` (trades closed after it do not count, nor those too old to)."""
    if not protections:
        return ()
    since = now_ms - horizon_ms(protections)
    past = [t for t in trades if since < t.close_ms <= now_ms]
    locks = []
    for p in protections:
        for trigger in past:
            until = trigger.close_ms + p.duration_ms
            if until <= now_ms:
                continue
            reason = _condition(p, past, trigger)
            if reason is not None:
                locks.append(Lock(trigger.pair if p.per_pair else None, until, f"{p.method}: {reason}"))
    return tuple(locks)


def horizon_ms(protections: Sequence[Protection]) -> int:
    """How far back a closed trade can still matter to a lock in force now."""
    return max((p.lookback_ms + p.duration_ms for p in protections), default=0)


def entry_lock(locks: Sequence[Lock], pair: str) -> Lock | None:
    """The lock that keeps `pair` out longest, if any."""
    holding = [lock for lock in locks if lock.pair is None or lock.pair == pair]
    return max(holding, key=lambda lock: lock.until_ms, default=None)
