"""The texts of the read-only commands about the bot itself (status, balance, locks, health,
config), short enough to read on a phone. Pure: the caller gathers the data."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bot.clock import iso_ms
from bot.ledger import STOP, TAKE_PROFIT, JournalOrder
from bot.secrets_source import SECRET_KEYS
from bot.store.records import EventRecord, TradeRecord

REDACTED = "***"


def num(value: Decimal | float | None, places: int = 8) -> str:
    if value is None:
        return "-"
    text = f"{Decimal(str(value)):.{places}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def pct(value: Decimal | float | None) -> str:
    return "-" if value is None else f"{float(value):+.2%}"


@dataclass(frozen=True)
class OpenTrade:
    trade: TradeRecord
    orders: Sequence[JournalOrder]
    price: Decimal | None  # the last close, if the daemon has one


def unrealised(t: OpenTrade) -> tuple[Decimal, Decimal] | None:
    """(profit in quote, over the stake) at the last close, before the exit fee."""
    trade = t.trade
    if t.price is None or trade.open_rate is None or trade.amount <= 0:
        return None
    cost = trade.amount * trade.open_rate + trade.open_fee
    profit = trade.amount * t.price - cost
    return profit, (profit / cost if cost > 0 else Decimal(0))


def resting(orders: Sequence[JournalOrder], purpose: str) -> Decimal | None:
    for o in orders:
        if o.purpose == purpose and not o.is_final:
            return o.stop_price if purpose == STOP else o.price
    return None


def trade_detail(t: OpenTrade, now_ms: int, currency: str) -> str:
    trade = t.trade
    gain = unrealised(t)
    opened = iso_ms(trade.open_ms) if trade.open_ms else "-"
    age_min = (now_ms - trade.open_ms) // 60_000 if trade.open_ms else None
    lines = [
        f"Trade {trade.id}: {trade.pair} ({trade.status})",
        f"amount    {num(trade.amount)}",
        f"open rate {num(trade.open_rate)}",
        f"price     {num(t.price)}",
        f"opened    {opened}" + (f" ({age_min} min)" if age_min is not None else ""),
        f"profit    {num(gain[0], 4) if gain else '-'} {currency} ({pct(gain[1]) if gain else '-'})",
        f"stop      {num(resting(t.orders, STOP))}",
        f"target    {num(resting(t.orders, TAKE_PROFIT))}",
    ]
    if trade.enter_tag:
        lines.append(f"tag       {trade.enter_tag}")
    return "\n".join(lines)


def status_text(trading_line: str, trades: Sequence[OpenTrade], now_ms: int, currency: str) -> str:
    if not trades:
        return f"{trading_line}\nno open trades"
    return "\n\n".join([trading_line, *(trade_detail(t, now_ms, currency) for t in trades)])


def _age(open_ms: int | None, now_ms: int) -> str:
    if open_ms is None:
        return "-"
    minutes = max(0, now_ms - open_ms) // 60_000
    return f"{minutes}m" if minutes < 120 else f"{minutes // 60}h" if minutes < 2880 else f"{minutes // 1440}d"


def status_table(trades: Sequence[OpenTrade], now_ms: int) -> str:
    if not trades:
        return "no open trades"
    lines = [f"{'id':>4} {'pair':<11} {'since':>6} {'profit':>8}"]
    for t in trades:
        gain = unrealised(t)
        since = _age(t.trade.open_ms, now_ms)
        lines.append(f"{t.trade.id:>4} {t.trade.pair:<11} {since:>6} {pct(gain[1]) if gain else '-':>8}")
    return "\n".join(lines)


def balance_text(balances: Mapping[str, Sequence[str]] | None, equity: Decimal | None, currency: str) -> str:
    if not balances:
        return "no wallet snapshot yet (the first tick takes one)"
    lines = [f"{'asset':<8} {'free':>16} {'in orders':>16}"]
    for asset, (free, used) in sorted(balances.items()):
        lines.append(f"{asset:<8} {num(Decimal(free)):>16} {num(Decimal(used)):>16}")
    if equity is not None:
        lines.append(f"equity {num(equity, 2)} {currency} (positions at the last close)")
    return "\n".join(lines)


def locks_text(locks: Sequence[tuple[str, int, str]], now_ms: int) -> str:
    """(pair or '*', until_ms, reason), those still in force."""
    live = [lock for lock in locks if lock[1] > now_ms]
    if not live:
        return "no pair is locked"
    return "\n".join(f"{'every pair' if pair == '*' else pair} until {iso_ms(t)}: {why}" for pair, t, why in live)


def events_text(events: Sequence[EventRecord]) -> str:
    if not events:
        return "no events yet"
    return "\n".join(f"{iso_ms(e.ts_ms)[5:16]} {e.kind}: {e.message}" for e in reversed(events))


def redact(value: Any) -> Any:
    """The config with every secret replaced: keys, secrets, passwords, tokens, at any depth."""
    if isinstance(value, dict):
        return {k: (REDACTED if k in SECRET_KEYS and v else redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def config_text(config_json: Mapping[str, Any]) -> str:
    return json.dumps(redact(dict(config_json)), indent=1, sort_keys=True, default=str)


@dataclass(frozen=True)
class Health:
    last_tick_wall_ms: int | None
    last_tick_market_ms: int | None
    loop_lag_ms: float
    trading_line: str
    breakers: Sequence[str]  # the breaker events in force, newest first
    memory_mb: float
    outbox_queued: int
    outbox_waited_s: float


def health_text(h: Health, wall_now_ms: int) -> str:
    if h.last_tick_wall_ms is None:
        tick = "last tick: none yet"
    else:
        tick = f"last tick: {max(0, wall_now_ms - h.last_tick_wall_ms) // 1000} s ago"
        if h.last_tick_market_ms is not None:
            tick += f" (market time {iso_ms(h.last_tick_market_ms)})"
    lines = [
        h.trading_line,
        tick,
        f"loop lag: {h.loop_lag_ms:.0f} ms",
        f"memory: {h.memory_mb:.0f} MB",
        f"telegram: {h.outbox_queued} queued, {h.outbox_waited_s:.0f} s waited on Telegram",
    ]
    lines += [f"breaker: {b}" for b in h.breakers] or ["breakers: none tripped"]
    return "\n".join(lines)
