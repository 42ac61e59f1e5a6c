"""The equity breakers on the real daemon: a replayed crash moves the equity of an open position
through the daily loss limit; the breaker trips before the next entry signal."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from tests.conftest import candle_frame, write_candles
from tests.integration.harness import read_back, run_daemon
from tests.integration.strategies import enter_on_777

ENTER_ON_777 = enter_on_777(-0.5)
FLAT = (100.0, 100.5, 99.5, 100.0, 1.0)


@pytest.fixture
def crash_config(tmp_path: Path, write_config: Any) -> Any:
    (tmp_path / "strats").mkdir()
    (tmp_path / "strats" / "enter.py").write_text(ENTER_ON_777)
    signal = (100.0, 100.5, 99.5, 100.0, 777.0)
    crash = (100.0, 100.5, 59.5, 60.0, 1.0)  # AAA closes 40% down: 1 AAA bought for 100 is worth 60
    low = (60.0, 60.5, 59.5, 60.0, 1.0)
    aaa = [FLAT, FLAT, FLAT, signal, FLAT, FLAT, crash, low, low, low, low, low]
    bbb = [FLAT] * 8 + [signal] + [FLAT] * 3  # its entry signal comes after the crash
    for pair, rows in (("AAA/USDT", aaa), ("BBB/USDT", bbb)):
        write_candles(tmp_path / "candles", pair, "5m", candle_frame("2024-01-01", "5m", rows))

    def make(on_breach: str) -> Path:
        return write_config(
            strategy="EnterOn777",
            strategy_path=str(tmp_path / "strats"),
            exchange={"name": "simulated", "pair_whitelist": ["AAA/USDT", "BBB/USDT"]},
            risk={"daily_loss_limit_frac": 0.03, "on_breach": on_breach},
            simulated={
                "candles_dir": str(tmp_path / "candles"),
                "history_candles": 3,
                "price_tick": "0.01",
                "amount_step": "0.0001",
            },
        )

    return make


async def test_a_crash_trips_the_daily_loss_limit_and_entries_stop(
    crash_config: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = crash_config("pause")
    await run_daemon(path, ticks=None)
    stored = await read_back(path)
    assert [(t.pair, t.status) for t in stored.trades] == [("AAA/USDT", "open")]  # BBB's signal was not taken
    (tripped,) = [e for e in stored.events if e.kind == "breaker_tripped"]
    # 1000 USDT less 100 and its 0.1 fee, plus 1 AAA at 60: 959.90, 4.01% below the day's 1000
    assert tripped.message == (
        "breaker:daily_loss: equity 959.90 is 4.01% below today's opening 1000.00 (risk.daily_loss_limit_frac 0.03)"
    )
    assert tripped.ts_ms == 1_704_067_200_000 + 7 * 300_000  # the tick at the crash candle's close
    stop = [o for o in stored.orders if o.purpose == "stop"]
    assert stop and stop[-1].status == "open"  # paused, not halted: the position keeps its stop

    assert await asyncio.to_thread(main, ["status", "--config", str(path)]) == 0
    assert "trading: PAUSED" in capsys.readouterr().out


async def test_on_breach_halt_sells_the_position_at_market(crash_config: Any) -> None:
    path = crash_config("halt")
    await run_daemon(path, ticks=None)
    stored = await read_back(path)
    (trade,) = stored.trades
    assert (trade.pair, trade.status, trade.exit_reason) == ("AAA/USDT", "closed", "kill_switch")
    assert trade.close_rate is not None and trade.close_rate == 60  # at the next open, the market then
    assert all(o.is_final for o in stored.orders)
