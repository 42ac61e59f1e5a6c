"""Fixtures shared by the integration tests."""

import time
from collections.abc import AsyncIterator
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import candle_frame, write_candles
from tests.fakes.binance_http import FakeBinance, ccxt_config_for, generate_klines
from tests.fakes.binance_trading import TradingDesk
from tests.integration.test_dry_run_binance import ALWAYS_IN
from tests.integration.test_exits_end_to_end import FLAT, SCENARIOS, SCRIPTED, SIGNAL


@pytest.fixture
def scripted_config(tmp_path: Path, write_config: Any) -> Path:
    (tmp_path / "strats").mkdir()
    (tmp_path / "strats" / "scripted.py").write_text(SCRIPTED)
    for pair, rows in SCENARIOS.items():
        full = [FLAT, FLAT, SIGNAL, *rows]
        full += [(*rows[-1][:4], 1.0)] * (10 - len(full))
        frame = candle_frame("2024-01-01", "5m", [r if len(r) == 5 else (*r, 1.0) for r in full])
        write_candles(tmp_path / "candles", pair, "5m", frame)
    return write_config(
        strategy="Scripted",
        strategy_path=str(tmp_path / "strats"),
        max_open_trades=7,
        exchange={"name": "simulated", "pair_whitelist": list(SCENARIOS)},
        simulated={
            "candles_dir": str(tmp_path / "candles"),
            "history_candles": 3,
            "price_tick": "0.01",
            "amount_step": "0.0001",
        },
    )


# -- live trading against a fake Binance with a trading desk (1 s candles on the wall clock) -------
KEYS = {"KESTREL_EXCHANGE_KEY": "k", "KESTREL_EXCHANGE_SECRET": "s"}  # what the desk accepts
SYMBOLS = {"BTCUSDT": "BTC/USDT", "ETHUSDT": "ETH/USDT"}


@pytest.fixture
async def live_fake() -> AsyncIterator[FakeBinance]:
    async with FakeBinance(symbols=tuple(SYMBOLS)) as server:
        now_s = time.time_ns() // 1_000_000_000
        for seed, symbol in enumerate(SYMBOLS, start=1):
            start_price = 40_000.0 if symbol == "BTCUSDT" else 2_000.0
            server.set_klines(
                symbol, "1s", generate_klines((now_s - 600) * 1000, "1s", 720, seed=seed, start_price=start_price)
            )
        yield server


@pytest.fixture
def desk(live_fake: FakeBinance) -> TradingDesk:
    desk = TradingDesk(live_fake, balances={"USDT": D(1000)})
    now_ms = time.time_ns() // 1_000_000
    for symbol in SYMBOLS:
        last = [k for k in live_fake.klines(symbol, "1s") if k[0] <= now_ms][-1]
        desk.set_price(symbol, D(repr(last[4])))
    return desk


@pytest.fixture
def live_config(tmp_path: Path, write_config: Any, live_fake: FakeBinance, desk: TradingDesk) -> Path:
    (tmp_path / "strats").mkdir()
    (tmp_path / "strats" / "always_in.py").write_text(ALWAYS_IN)
    return write_config(
        strategy="AlwaysIn",
        strategy_path=str(tmp_path / "strats"),
        dry_run=False,
        max_open_trades=1,
        candle_window=50,
        exchange={
            "name": "binance",
            "pair_whitelist": ["BTC/USDT", "ETH/USDT"],
            "ccxt_config": ccxt_config_for(live_fake.base_url),
        },
    )
