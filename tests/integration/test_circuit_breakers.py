"""The exchange error breaker on real parts: the real ccxt binance class (fast retries) against the
fake Binance, wrapped by MonitoredExchange, steered by the BreakerBoard into a real SQLite store.
A storm of 503s opens the circuit and pauses entries; after the cool-down one good call closes it
and the pause is lifted; each step is an event."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from bot.breaker_board import BreakerBoard, MachineryLimits
from bot.clock import SystemClock
from bot.errors import TransientExchangeError
from bot.exchange.monitored import MonitoredExchange
from bot.risk.circuit import Circuit, ErrorBreakerConfig
from bot.risk.trading_state import Mode
from bot.store.db import open_engine
from bot.store.repo import Repo
from bot.store.trading_control import read_trading_state
from tests.conftest import candle_frame, write_candles
from tests.fakes.binance_http import FakeBinance
from tests.fakes.binance_trading import TradingDesk
from tests.integration.harness import read_back, run_daemon
from tests.integration.strategies import enter_on_777
from tests.integration.test_ccxt_adapter import venue_for

ERRORS = ErrorBreakerConfig(max_errors=2, window_ms=60_000, cooldown_ms=300)


@pytest.fixture
async def fake() -> AsyncIterator[FakeBinance]:
    async with FakeBinance() as server:
        TradingDesk(server, balances={"USDT": D("1000")}).set_price("BTCUSDT", D("40000"))
        yield server


async def test_a_storm_of_5xx_pauses_entries_until_a_probe_succeeds(fake: FakeBinance, tmp_path: Path) -> None:
    wall = SystemClock()
    venue = MonitoredExchange(venue_for(fake), wall, ERRORS)
    engine = await open_engine(tmp_path / "k.sqlite", create=True)
    repo = Repo(engine, wall)
    board = BreakerBoard(repo, venue, MachineryLimits(errors=ERRORS), 60_000, wall)
    try:
        assert (await venue.balances())["USDT"].free == D(1000)
        fake.fail_next("account", status=503, times=6)  # 3 attempts per call: two calls fail
        for _ in range(2):
            with pytest.raises(TransientExchangeError):
                await venue.balances()
        assert venue.breaker.circuit is Circuit.OPEN
        await board.check_venue(now_ms=1)
        state = await read_trading_state(repo)
        assert (state.mode, state.by) == (Mode.PAUSED, "breaker:exchange_errors")
        assert "2 failed calls; last: " in state.reason

        await asyncio.sleep(0.35)  # the cool-down: the next call is the probe
        await board.check_venue(now_ms=2)  # half-open: still paused
        assert (await read_trading_state(repo)).mode is Mode.PAUSED
        await venue.balances()  # the probe answers
        await board.check_venue(now_ms=3)
        assert venue.breaker.circuit is Circuit.CLOSED
        assert (await read_trading_state(repo)).mode is Mode.RUNNING
        breakers = [e for e in reversed(await repo.events()) if e.kind.startswith("breaker")]
        assert [(e.kind, e.message.split(":")[1]) for e in breakers] == [
            ("breaker_tripped", "exchange_errors"),
            ("breaker_recovered", "exchange_errors"),
        ]
    finally:
        await venue.close()
        await engine.dispose()


async def test_a_persons_pause_is_not_lifted_by_a_recovering_breaker(fake: FakeBinance, tmp_path: Path) -> None:
    from functools import partial

    from bot.risk import trading_state as ts
    from bot.store.trading_control import change_trading_state

    wall = SystemClock()
    venue = MonitoredExchange(venue_for(fake), wall, ERRORS)
    engine = await open_engine(tmp_path / "k.sqlite", create=True)
    repo = Repo(engine, wall)
    board = BreakerBoard(repo, venue, MachineryLimits(errors=ERRORS), 60_000, wall)
    try:
        fake.fail_next("account", status=503, times=6)
        for _ in range(2):
            with pytest.raises(TransientExchangeError):
                await venue.balances()
        await board.check_venue(now_ms=1)
        await change_trading_state(repo, partial(ts.kill, by="cli", reason="by hand", now_ms=2), ts_ms=2)
        await asyncio.sleep(0.35)
        await venue.balances()
        await board.check_venue(now_ms=3)
        state = await read_trading_state(repo)
        assert (state.mode, state.by) == (Mode.HALTED, "cli")  # only a person lifts a halt
    finally:
        await venue.close()
        await engine.dispose()


ENTER_ON_777 = enter_on_777(-0.5)


async def test_the_volatility_brake_skips_entries_while_a_candle_is_wild(tmp_path: Path, write_config: Any) -> None:
    (tmp_path / "strats").mkdir()
    (tmp_path / "strats" / "enter.py").write_text(ENTER_ON_777)
    calm = (100.0, 100.5, 99.5, 100.0, 1.0)  # a 1% range
    wild = (100.0, 110.0, 90.0, 100.0, 1.0)  # 20%: 20 times the average before it
    aaa = [calm] * 5 + [wild] + [calm] * 6
    bbb = [calm] * 5 + [(100.0, 100.5, 99.5, 100.0, 777.0), calm, (100.0, 100.5, 99.5, 100.0, 777.0)] + [calm] * 4
    for pair, rows in (("AAA/USDT", aaa), ("BBB/USDT", bbb)):
        write_candles(tmp_path / "candles", pair, "5m", candle_frame("2024-01-01", "5m", rows))
    path = write_config(
        strategy="EnterOn777",
        strategy_path=str(tmp_path / "strats"),
        exchange={"name": "simulated", "pair_whitelist": ["AAA/USDT", "BBB/USDT"]},
        risk={"volatility_brake_k": 4, "volatility_lookback": 4},
        simulated={"candles_dir": str(tmp_path / "candles"), "history_candles": 3, "price_tick": "0.01"},
    )
    await run_daemon(path, ticks=None)
    stored = await read_back(path)
    t0, tf = 1_704_067_200_000, 300_000
    # BBB's first signal (candle 5) came with AAA's wild candle 5: skipped; its second (candle 7) taken
    assert [(t.pair, t.open_ms) for t in stored.trades] == [("BBB/USDT", t0 + 8 * tf)]
    breakers = [(e.kind, e.ts_ms) for e in stored.events if e.kind.startswith("breaker")]
    assert breakers == [("breaker_tripped", t0 + 6 * tf), ("breaker_recovered", t0 + 7 * tf)]
