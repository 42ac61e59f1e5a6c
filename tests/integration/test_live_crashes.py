"""Crashes around a live order: the `kestrel` process killed with SIGKILL after the exchange accepted
an order but before the journal heard back, and a crash after the journal wrote an order but before
the request left. Real ccxt, real SQLite, a fake Binance in this process."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from decimal import Decimal as D
from pathlib import Path

from bot.clock import SystemClock
from bot.config import load_config
from bot.exchange.base import OrderRequest, OrderType, Side
from bot.store.db import open_engine
from bot.store.repo import Repo
from tests.fakes.binance_trading import TradingDesk
from tests.integration.conftest import KEYS
from tests.integration.harness import Stored, journal_of, read_back, run_daemon
from tests.integration.test_live_binance import assert_books_agree

REPO_ROOT = Path(__file__).resolve().parents[2]


async def spawn(config: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "trade",
        "--config",
        str(config),
        cwd=REPO_ROOT,
        env={**os.environ, **KEYS},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


async def until(check: object, timeout_s: float = 30.0) -> None:
    async def poll() -> None:
        while not await check():  # type: ignore[operator]  # noqa: ASYNC110 (another process's state)
            await asyncio.sleep(0.1)

    await asyncio.wait_for(poll(), timeout_s)


async def test_kill_9_after_the_exchange_accepted_the_entry_then_restart_adopts_it(
    desk: TradingDesk, live_config: Path
) -> None:
    desk.accept_then_delay(60.0)  # the order is made; the reply never comes before the kill
    proc = await spawn(live_config)

    async def accepted() -> bool:
        return any(o.client_id == "kestrel-1e0" for o in desk.orders)

    await until(accepted)
    proc.send_signal(signal.SIGKILL)
    assert await proc.wait() == -signal.SIGKILL
    crashed = await read_back(live_config)
    (entry,) = [o for o in crashed.orders if o.purpose == "entry"]
    assert entry.status == "intent"  # journaled before sending; the answer never arrived

    proc = await spawn(live_config)
    stored: Stored | None = None

    async def adopted_and_protected() -> bool:
        nonlocal stored
        stored = await read_back(live_config)
        return any(o.purpose == "stop" and o.status == "open" for o in stored.orders)

    try:
        await until(adopted_and_protected)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 20)
    assert code == 0, (await proc.stderr.read()).decode()[-2000:] if proc.stderr else ""
    stored = await read_back(live_config)
    assert [o.client_id for o in desk.orders if o.side == "BUY"] == ["kestrel-1e0"]  # never sent twice
    assert next(o for o in stored.orders if o.client_id == "kestrel-1e0").status == "filled"
    assert any(e.kind == "reconciled" and "1 updated" in e.message for e in stored.events)
    assert_books_agree(stored, desk)


async def test_a_crash_between_journal_and_send_is_marked_not_sent_and_nothing_is_lost(
    desk: TradingDesk, live_config: Path
) -> None:
    # the state a kill leaves when it lands after the journal write and before the request: an
    # intent in the journal, nothing at the exchange
    config, _ = load_config(live_config)
    engine = await open_engine(config.db_path, create=True)
    try:
        await Repo(engine, SystemClock()).open_trade(
            pair="BTC/USDT",
            stake_quote=D(100),
            signal_ms=0,
            tag=None,
            now_ms=0,
            request_for=lambda trade_id: OrderRequest(
                f"kestrel-{trade_id}e0", "BTC/USDT", Side.BUY, OrderType.MARKET, D("0.002")
            ),
        )
    finally:
        await engine.dispose()
    assert await run_daemon(live_config, ticks=1, timeout_s=30, environ=KEYS) == 0
    stored = await read_back(live_config)  # the trades that happened (a cancelled one is not listed)
    (lost,) = await journal_of(live_config, trade_id=1)
    assert (lost.client_id, lost.status) == ("kestrel-1e0", "not_sent")
    assert all(o.client_id != "kestrel-1e0" for o in desk.orders)  # looked up, never resent
    # the trade that never happened is cancelled; the next one is a new intent with a new id
    assert 1 not in {t.id for t in stored.trades}
    assert [o.client_id for o in desk.orders if o.side == "BUY"] == ["kestrel-2e0"]
    assert_books_agree(stored, desk)
