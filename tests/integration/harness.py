"""Runs the real daemon in-process (real scheduler, real SQLite files, simulated market) for a
number of ticks, and reads back what it stored."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.clock import SystemClock
from bot.config import load_config, require_strategy
from bot.exchange.base import Balance
from bot.exchange.simulated import SimulatedExchange
from bot.exchange.simulated_state import VenueStateFile
from bot.ledger import JournalOrder
from bot.runtime import build_runtime
from bot.service import Daemon
from bot.store.db import open_engine
from bot.store.records import EventRecord, TradeRecord
from bot.store.repo import Repo
from bot.strategy.loader import load_strategy


async def run_daemon(
    config_path: Path, ticks: int | None, timeout_s: float = 60.0, environ: dict[str, str] | None = None
) -> int:
    """Start the daemon as `kestrel trade` would, let it run `ticks` ticks (None: until its replay
    has no candles left), stop it. Returns its exit code."""
    config, _ = load_config(config_path)
    strategy = load_strategy(config.strategy_path, require_strategy(config, config_path))
    runtime = await build_runtime(config, strategy, environ=environ or {})
    daemon = Daemon(runtime)
    task = asyncio.create_task(daemon.run(install_signal_handlers=False))
    try:
        done = daemon.replay_finished.wait() if ticks is None else daemon.wait_ticks(ticks)
        await asyncio.wait_for(done, timeout=timeout_s)
    finally:
        daemon.request_stop()
        code = await asyncio.wait_for(task, timeout=15)
    return code


@dataclass
class Stored:
    trades: list[TradeRecord]
    orders: list[JournalOrder]
    events: list[EventRecord]
    balances: dict[str, Balance]  # as the simulated market's own books hold them
    state: dict[str, object]

    def closed(self) -> list[TradeRecord]:
        return [t for t in self.trades if t.status == "closed"]

    def by_pair(self) -> dict[str, TradeRecord]:
        return {t.pair: t for t in self.trades}


async def read_back(config_path: Path) -> Stored:
    config, _ = load_config(config_path)
    engine = await open_engine(config.db_path, create=False)
    try:
        repo = Repo(engine, SystemClock())
        trades = list(reversed(await repo.trades()))
        orders = [o for t in trades for o in await repo.orders_of(t.id)]
        events = list(reversed(await repo.events(limit=10_000)))
        state = {k: await repo.get_state(k) for k in ("last_tick_ms", "balances", "mode", "rate_limited")}
    finally:
        await engine.dispose()
    # the venue's own books, read from its file: the journal is checked against them, not against itself
    if config.venue_state_path is None:  # a real exchange: the caller asks it
        return Stored(trades, orders, events, {}, state)
    files = VenueStateFile(config.venue_state_path)
    try:
        snapshot = files.load()
    finally:
        files.close()
    assert snapshot is not None
    return Stored(trades, orders, events, dict(snapshot.balances), state)


def assert_books_balance(stored: Stored, wallet: Decimal, quote: str) -> None:
    """Every change of the wallet is explained by a fill or a fee (quote = start - what the buys
    cost + what the sells brought; each coin = bought - sold), and each open position is held in
    full, in the wallet or reserved."""
    quote_total, coins = wallet, dict[str, Decimal]()
    for o in stored.orders:
        if o.filled <= 0 or o.average is None:
            continue
        base = o.pair.split("/")[0]
        value = o.filled * o.average
        bought = o.side == "buy"
        quote_total += -value - o.fee_quote if bought else value - o.fee_quote
        coins[base] = coins.get(base, Decimal(0)) + (o.filled if bought else -o.filled)
    assert stored.balances[quote].total == quote_total
    for asset, amount in coins.items():
        assert stored.balances.get(asset, Balance(free=Decimal(0))).total == amount, asset
    open_trades = [t for t in stored.trades if t.status in ("open", "closing")]
    for t in open_trades:
        assert stored.balances[t.pair.split("/")[0]].total == t.amount
    held = {a for a, b in stored.balances.items() if a != quote and b.total > 0}
    assert held == {t.pair.split("/")[0] for t in open_trades}


def assert_no_duplicate_orders(stored: Stored) -> None:
    ids = [o.client_id for o in stored.orders]
    assert len(ids) == len(set(ids))
    for trade in stored.trades:
        entries = [o for o in stored.orders if o.trade_id == trade.id and o.purpose == "entry"]
        assert len(entries) == 1


def venue_state_now(path: Path) -> int | None:
    return SimulatedExchange.saved_now_ms(path)


async def journal_of(config_path: Path, trade_id: int) -> list[JournalOrder]:
    """One trade's journal orders, also for a trade that never opened (not among `read_back`'s)."""
    config, _ = load_config(config_path)
    engine = await open_engine(config.db_path, create=False)
    try:
        return await Repo(engine, SystemClock()).orders_of(trade_id)
    finally:
        await engine.dispose()


def configure(config_path: Path, **changes: Any) -> Path:
    """Change top-level keys of a written config."""
    raw = json.loads(config_path.read_text())
    raw.update(changes)
    config_path.write_text(json.dumps(raw))
    return config_path
