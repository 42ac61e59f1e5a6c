"""Dry-run on "binance": the real daemon, the real ccxt binance class, a fake Binance on 127.0.0.1
serving 1-second candles on the wall clock. Fills come from the paper broker; keys are configured
(in the config and the environment) and still not one signed request may leave."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.fakes.binance_http import FakeBinance, ccxt_config_for, generate_klines
from tests.integration.harness import assert_books_balance, assert_no_duplicate_orders, configure, read_back, run_daemon

ALWAYS_IN = '''
from bot.strategy import Strategy


class AlwaysIn(Strategy):
    """Wants in on every candle; never signals an exit. Exits are the stop and the ROI target."""

    timeframe = "1s"
    minimal_roi = {"0": 1.0}
    stoploss = -0.5

    def populate_entry_trend(self, df, metadata):
        df["enter_long"] = 1
        return df

    def populate_exit_trend(self, df, metadata):
        df["exit_long"] = 0
        return df
'''
KEYS = {"KESTREL_EXCHANGE_KEY": "env-key", "KESTREL_EXCHANGE_SECRET": "env-secret"}
PUBLIC_PATHS = {"/api/v3/exchangeInfo", "/api/v3/klines", "/api/v3/ticker/24hr", "/api/v3/time", "/api/v3/ping"}


def last_price(fake: FakeBinance, symbol: str) -> D:
    now_ms = time.time_ns() // 1_000_000
    started = [k for k in fake.klines(symbol, "1s") if k[0] <= now_ms]
    return D(repr(started[-1][4]))


def add_ticker(fake: FakeBinance) -> None:
    """GET /api/v3/ticker/24hr: the close of the candle forming now is the last price."""

    async def ticker(request: web.Request) -> web.StreamResponse:
        symbol = request.query["symbol"]
        last = f"{last_price(fake, symbol):.8f}"
        now_ms = time.time_ns() // 1_000_000
        return web.json_response(
            {
                "symbol": symbol,
                "lastPrice": last,
                "openPrice": last,
                "highPrice": last,
                "lowPrice": last,
                "volume": "1.0",
                "quoteVolume": last,
                "openTime": now_ms - 86_400_000,
                "closeTime": now_ms,
            }
        )

    fake.routes[("GET", "/api/v3/ticker/24hr")] = ticker


@pytest.fixture
async def fake() -> AsyncIterator[FakeBinance]:
    async with FakeBinance(symbols=("BTCUSDT", "ETHUSDT")) as server:
        now_s = time.time_ns() // 1_000_000_000
        for seed, symbol in enumerate(("BTCUSDT", "ETHUSDT"), start=1):
            start_price = 40_000.0 if symbol == "BTCUSDT" else 2_000.0
            klines = generate_klines((now_s - 600) * 1000, "1s", 720, seed=seed, start_price=start_price)
            server.set_klines(symbol, "1s", klines)
        add_ticker(server)
        yield server


@pytest.fixture
def dry_run_config(tmp_path: Path, write_config: Any, fake: FakeBinance) -> Path:
    (tmp_path / "strats").mkdir()
    (tmp_path / "strats" / "always_in.py").write_text(ALWAYS_IN)
    return write_config(
        strategy="AlwaysIn",
        strategy_path=str(tmp_path / "strats"),
        max_open_trades=1,
        candle_window=50,
        exchange={
            "name": "binance",
            "pair_whitelist": ["BTC/USDT", "ETH/USDT"],
            "key": "config-key",
            "secret": "config-secret",
            "ccxt_config": ccxt_config_for(fake.base_url),
        },
    )


async def test_dry_run_trades_on_real_prices_with_a_paper_wallet_and_never_signs(
    fake: FakeBinance, dry_run_config: Path
) -> None:
    assert await run_daemon(dry_run_config, ticks=3, timeout_s=30, environ=KEYS) == 0
    stored = await read_back(dry_run_config)
    assert stored.state["mode"] == "dry-run"
    assert [t.pair for t in stored.trades] == ["BTC/USDT"]  # one slot, whitelist order
    trade = stored.trades[0]
    entry = next(o for o in stored.orders if o.purpose == "entry")
    assert entry.status == "filled" and entry.average is not None
    # filled at a price the fake quoted (a 1 s candle close), with the configured fee
    quoted = {D(repr(k[4])) for k in fake.klines("BTCUSDT", "1s")}
    assert entry.average in quoted
    assert entry.fee_quote == entry.filled * entry.average * D("0.001")
    # the paper wallet paid for it and holds the coins (reserved by the resting stop)
    assert stored.balances["USDT"].total == D(1000) - entry.filled * entry.average - entry.fee_quote
    assert stored.balances["BTC"].total == trade.amount == entry.filled
    stop = next(o for o in stored.orders if o.purpose == "stop")
    assert stop.status == "open" and stop.stop_price is not None and stop.stop_price < entry.average * D("0.51")

    signed = [r for r in fake.requests if "signature" in r.query or "X-MBX-APIKEY" in r.headers]
    assert fake.requests and signed == []
    assert {r.path for r in fake.requests} <= PUBLIC_PATHS

    # a restart continues the same paper wallet: the open trade holds the slot, nothing is bought twice
    before = len(fake.requests)
    assert await run_daemon(dry_run_config, ticks=2, timeout_s=30, environ=KEYS) == 0
    again = await read_back(dry_run_config)
    assert [t.id for t in again.trades] == [trade.id] and again.trades[0].status == "open"
    assert again.balances["USDT"] == stored.balances["USDT"]
    assert_no_duplicate_orders(again)
    assert len(fake.requests) > before
    assert not [r for r in fake.requests if "signature" in r.query or "X-MBX-APIKEY" in r.headers]


async def test_a_paper_take_profit_on_a_thin_book_sells_over_several_candles(
    fake: FakeBinance, dry_run_config: Path
) -> None:
    """`paper_fills.volume_share`: the paper take-profit takes a millionth of each 1 s candle's
    volume (a few lots), so it sells a part per candle that reaches it; the paper wallet is every
    fill and fee, and the trade holds what is left."""
    configure(dry_run_config, minimal_roi={"0": 0.0005}, paper_fills={"volume_share": 0.000001})
    assert await run_daemon(dry_run_config, ticks=12, timeout_s=40, environ=KEYS) == 0
    stored = await read_back(dry_run_config)
    take_profits = [o for o in stored.orders if o.purpose == "take_profit" and o.filled > 0]
    assert take_profits, "no paper take-profit traded: the fixture proves nothing"
    parts = [o for o in take_profits if o.filled < o.amount]
    assert parts, "every take-profit filled whole: the volume share was not applied"
    klines = fake.klines("BTCUSDT", "1s")
    for o in take_profits:  # never more than a millionth of what the candles it rested through traded
        traded = sum(D(repr(k[5])) for k in klines if o.created_ms <= k[0] <= o.updated_ms)
        assert o.filled <= traded * D("0.000001")
    assert_books_balance(stored, D(1000), "USDT")  # read from the paper wallet's own file
    assert not [r for r in fake.requests if "signature" in r.query or "X-MBX-APIKEY" in r.headers]
