"""`kestrel status` and `kestrel trades`: read the database (never write), format plain text."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from bot.clock import SystemClock, iso_ms
from bot.config import Config
from bot.ledger import STOP, TAKE_PROFIT, JournalOrder
from bot.risk.trading_state import TradingState
from bot.store.db import open_engine
from bot.store.records import TradeRecord
from bot.store.repo import Repo
from bot.store.trading_control import status_line


def _num(value: Decimal | None, places: int = 8) -> str:
    if value is None:
        return "-"
    text = f"{value:.{places}f}".rstrip("0").rstrip(".")
    return text or "0"


def format_status(
    state: dict[str, Any],
    open_trades: Sequence[tuple[TradeRecord, Sequence[JournalOrder]]],
    closed: Sequence[TradeRecord],
    wall_now_ms: int,
) -> str:
    lines = [
        f"Kestrel: {state.get('exchange', '?')} market, {state.get('mode', '?')}, "
        f"strategy {state.get('strategy', '?')} {state.get('timeframe', '')}".rstrip()
    ]
    lines.append(status_line(TradingState.from_json(state.get("trading"))))
    last_tick = state.get("last_tick_ms")
    if last_tick is None:
        lines.append("last tick: none yet")
    else:
        age = ""
        wall = state.get("last_tick_wall_ms")
        if wall is not None:
            age = f", {max(0, (wall_now_ms - wall) // 1000)} s ago"
        lines.append(f"last tick: market time {iso_ms(last_tick)}{age}")
    balances = state.get("balances") or {}
    wallet = ", ".join(
        f"{asset} {_num(Decimal(free))} free / {_num(Decimal(used))} in orders"
        for asset, (free, used) in sorted(balances.items())
    )
    lines.append(f"wallet: {wallet or 'no snapshot yet'}")
    lines.append(f"open trades: {len(open_trades)}")
    if open_trades:
        lines.append(
            f"  {'id':>4}  {'pair':<12} {'status':<8} {'amount':>14} {'open rate':>14}  "
            f"{'opened (market time)':<25} {'stop':>12} {'take profit':>12}"
        )
    for trade, orders in open_trades:
        stop = next((o.stop_price for o in orders if o.purpose == STOP and not o.is_final), None)
        tp = next((o.price for o in orders if o.purpose == TAKE_PROFIT and not o.is_final), None)
        opened = iso_ms(trade.open_ms) if trade.open_ms is not None else "-"
        lines.append(
            f"  {trade.id:>4}  {trade.pair:<12} {trade.status:<8} {_num(trade.amount):>14} "
            f"{_num(trade.open_rate):>14}  {opened:<25} {_num(stop):>12} {_num(tp):>12}"
        )
    profit = sum((t.profit_quote or Decimal(0) for t in closed), Decimal(0))
    wins = sum(1 for t in closed if (t.profit_quote or 0) > 0)
    lines.append(f"closed trades: {len(closed)} ({wins} won), profit {_num(profit)}")
    return "\n".join(lines)


def format_trades(trades: Sequence[TradeRecord]) -> str:
    if not trades:
        return "no trades yet"
    lines = [
        f"{'id':>4}  {'pair':<12} {'status':<8} {'opened (market time)':<25} {'closed':<25} "
        f"{'open rate':>14} {'close rate':>14} {'profit':>12} {'ratio':>8}  exit reason"
    ]
    for t in trades:
        ratio = f"{t.profit_ratio:.2%}" if t.profit_ratio is not None else "-"
        lines.append(
            f"{t.id:>4}  {t.pair:<12} {t.status:<8} {iso_ms(t.open_ms) if t.open_ms else '-':<25} "
            f"{iso_ms(t.close_ms) if t.close_ms else '-':<25} {_num(t.open_rate):>14} {_num(t.close_rate):>14} "
            f"{_num(t.profit_quote):>12} {ratio:>8}  {t.exit_reason or ''}"
        )
    return "\n".join(lines)


async def print_status(config: Config) -> int:
    engine = await open_engine(config.db_path, create=False)
    try:
        repo = Repo(engine, SystemClock())
        state = {
            key: await repo.get_state(key)
            for key in (
                "mode",
                "exchange",
                "strategy",
                "timeframe",
                "last_tick_ms",
                "last_tick_wall_ms",
                "balances",
                "trading",
            )
        }
        live = await repo.trades(live_only=True)
        open_trades = [(t, await repo.orders_of(t.id)) for t in reversed(live)]
        closed = [t for t in await repo.trades() if t.status == "closed"]
        print(format_status(state, open_trades, closed, SystemClock().now_ms()))
    finally:
        await engine.dispose()
    return 0


async def print_trades(config: Config, limit: int) -> int:
    engine = await open_engine(config.db_path, create=False)
    try:
        print(format_trades(await Repo(engine, SystemClock()).trades(limit=limit)))
    finally:
        await engine.dispose()
    return 0
