"""`kestrel pause | resume | kill` on the real daemon (simulated market, real SQLite): written to the
database by the CLI, applied by a running daemon at its next tick, or at start by a stopped one."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from bot.config import load_config, require_strategy
from bot.runtime import build_runtime
from bot.service import Daemon
from bot.strategy.loader import load_strategy
from tests.fakes.binance_trading import TradingDesk
from tests.integration.conftest import KEYS
from tests.integration.harness import Stored, assert_books_balance, read_back, run_daemon
from tests.integration.test_live_binance import assert_books_agree

EVERY_CANDLE = """
from bot.strategy import Strategy


class EveryCandle(Strategy):
    timeframe = "5m"
    minimal_roi = {"0": 1.0}
    stoploss = -0.5

    def populate_entry_trend(self, df, metadata):
        df["enter_long"] = 1
        return df
"""
PAIRS = ["BTC/USDT", "ETH/USDT", "SOL/USDT"]


@pytest.fixture
def config_path(tmp_path: Path, write_config: Any) -> Path:
    (tmp_path / "strats").mkdir()
    (tmp_path / "strats" / "every.py").write_text(EVERY_CANDLE)
    return write_config(
        strategy="EveryCandle",
        strategy_path=str(tmp_path / "strats"),
        exchange={"name": "simulated", "pair_whitelist": PAIRS},
        simulated={"speed": 30000, "history_candles": 50},
    )


async def kestrel(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """The command as a user types it (in a thread: it runs its own event loop)."""
    code = await asyncio.to_thread(main, list(args))
    out = capsys.readouterr()
    return code, (out.out + out.err).strip()


def assert_flat(stored: Stored) -> None:
    """Nothing held, nothing resting: every trade closed by the kill switch, the wallet only USDT."""
    assert stored.trades and all(t.status in ("closed", "cancelled") for t in stored.trades)
    assert {t.exit_reason for t in stored.trades if t.status == "closed"} == {"kill_switch"}
    assert all(o.is_final for o in stored.orders)
    assert_books_balance(stored, D(1000), "USDT")
    assert {a for a, b in stored.balances.items() if b.total > 0} == {"USDT"}


async def test_kill_while_stopped_flattens_at_start_and_a_restart_stays_halted(
    config_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await run_daemon(config_path, ticks=2)
    before = await read_back(config_path)
    assert len([t for t in before.trades if t.status == "open"]) == 3  # one per pair, each with a stop

    code, said = await kestrel(capsys, "kill", "--config", str(config_path), "--reason", "going on holiday")
    assert code == 0 and said.startswith("trading: HALTED since ") and "going on holiday" in said

    await run_daemon(config_path, ticks=2)
    after = await read_back(config_path)
    assert_flat(after)
    assert [e.kind for e in after.events].count("kill_switch_done") == 1
    orders = len(after.orders)

    await run_daemon(config_path, ticks=3)  # a restart: still halted, not one order
    again = await read_back(config_path)
    assert len(again.orders) == orders
    assert again.state["last_tick_ms"] > after.state["last_tick_ms"]  # it did tick
    code, said = await kestrel(capsys, "status", "--config", str(config_path))
    assert code == 0 and "trading: HALTED" in said and "going on holiday" in said

    code, said = await kestrel(capsys, "resume", "--config", str(config_path))
    assert code == 0 and said.startswith("trading: running")
    await run_daemon(config_path, ticks=2)
    resumed = await read_back(config_path)
    assert len([t for t in resumed.trades if t.status == "open"]) == 3


async def test_kill_reaches_a_running_daemon_at_its_next_tick(
    config_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, _ = load_config(config_path)
    strategy = load_strategy(config.strategy_path, require_strategy(config, config_path))
    daemon = Daemon(await build_runtime(config, strategy, environ={}))
    task = asyncio.create_task(daemon.run(install_signal_handlers=False))
    try:
        await asyncio.wait_for(daemon.wait_ticks(2), 30)
        code, _ = await kestrel(capsys, "kill", "--config", str(config_path))
        assert code == 0
        seen = daemon.ticks
        await asyncio.wait_for(daemon.wait_ticks(seen + 3), 30)
    finally:
        daemon.request_stop()
        assert await asyncio.wait_for(task, 15) == 0
    stored = await read_back(config_path)
    assert_flat(stored)
    kinds = [e.kind for e in stored.events]
    assert kinds.count("trading_state") == 1 and kinds.count("kill_switch_done") == 1


async def test_pause_stops_entries_and_keeps_the_stops(config_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    await run_daemon(config_path, ticks=1)
    code, said = await kestrel(capsys, "pause", "--config", str(config_path))
    assert code == 0 and "PAUSED" in said and "no new entries" in said
    first = await read_back(config_path)
    open_ids = sorted(t.id for t in first.trades if t.status == "open")
    assert open_ids
    await run_daemon(config_path, ticks=3)
    paused = await read_back(config_path)
    assert sorted(t.id for t in paused.trades) == sorted(t.id for t in first.trades)  # no new trade
    resting = {o.trade_id for o in paused.orders if o.purpose == "stop" and o.status == "open"}
    assert resting == set(open_ids)  # each position still protected

    code, said = await kestrel(capsys, "kill", "--config", str(config_path))
    assert code == 0
    code, said = await kestrel(capsys, "pause", "--config", str(config_path))
    assert (
        code == 2
        and said == "kestrel: trading is halted (halted by cli: kill switch by hand); `resume` first, then pause"
    )


async def test_kill_on_a_live_exchange_cancels_the_stop_there_and_sells_at_market(
    desk: TradingDesk, live_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run_daemon(live_config, ticks=2, timeout_s=30, environ=KEYS) == 0
    assert [o.type for o in desk.open_orders("BTCUSDT")] == ["STOP_LOSS"]
    code, _ = await kestrel(capsys, "kill", "--config", str(live_config))
    assert code == 0
    assert await run_daemon(live_config, ticks=2, timeout_s=30, environ=KEYS) == 0
    stored = await read_back(live_config)
    assert desk.open_orders() == []
    sells = [o for o in desk.orders if o.side == "SELL" and o.type == "MARKET"]
    assert len(sells) == 1 and sells[0].status == "FILLED"
    (trade,) = stored.trades
    assert (trade.status, trade.exit_reason) == ("closed", "kill_switch")
    buys = len([o for o in desk.orders if o.side == "BUY"])
    assert await run_daemon(live_config, ticks=2, timeout_s=30, environ=KEYS) == 0  # halted: nothing new
    assert len([o for o in desk.orders if o.side == "BUY"]) == buys
    assert_books_agree(await read_back(live_config), desk)
