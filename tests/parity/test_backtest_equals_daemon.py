"""Backtest = daemon: the daemon replaying candles through the simulated market (real scheduler,
real SQLite) takes exactly the trades the backtester computes from the same candles and config."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from bot.backtest.command import BacktestRequest, backtest
from bot.backtest.outcome import BacktestResult
from bot.config import load_config, require_strategy
from bot.exchange.candle_sources import GeneratedCandles
from bot.strategy.loader import load_strategy
from tests.conftest import REPO, SHARED, base_config, write_candles
from tests.integration.harness import read_back, run_daemon

TF_MS = 300_000
VOLUME_SHARE = 0.00003  # of candles worth about 1M USDT: some 30 USDT a candle against a 100 USDT stake


ORIGIN_MS = 1_704_067_200_000  # 2024-01-01 00:00 UTC


def generated_candles(directory: Path, pairs: list[str], n: int, seed: int, origin_ms: int = ORIGIN_MS) -> None:
    source = GeneratedCandles(
        symbols=pairs,
        origin_ms=origin_ms,
        timeframe_ms=TF_MS,
        seed=seed,
        annual_volatility=1.2,
        start_prices={},
    )
    for pair in pairs:
        cols = source.columns(pair, origin_ms + n * TF_MS)
        write_candles(directory, pair, "5m", cols.frame(0, n))


def parity_config(tmp: Path, candles: Path, strategy: str, pairs: list[str], **overrides: Any) -> Path:
    startup = load_strategy(REPO / "strategies", strategy).startup_candle_count
    simulated = {
        "candles_dir": str(candles),
        "history_candles": startup + 1,
        "speed": 1_000_000,
        **overrides.pop("simulated", {}),
    }
    cfg = base_config(
        tmp,
        strategy=strategy,
        exchange={"name": "simulated", "pair_whitelist": pairs},
        # the daemon sees the whole history, as the backtest does: with a shorter window pandas'
        # rolling sums may differ in the last bit and flip an exact-tie crossover (see README)
        candle_window=100_000,
        simulated=simulated,
        **overrides,
    )
    path = tmp / "config.json"
    path.write_text(json.dumps(cfg))
    return path


def generated_parity_config(
    tmp: Path, strategy: str, *, n: int = 300, seed: int = 11, origin_ms: int = ORIGIN_MS, **overrides: Any
) -> Path:
    """Three generated pairs, `n` 5m candles each, in `tmp/candles`, and a config replaying them."""
    pairs = ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
    generated_candles(tmp / "candles", pairs, n=n, seed=seed, origin_ms=origin_ms)
    return parity_config(tmp, tmp / "candles", strategy, pairs, **overrides)


def key(
    pair: str,
    open_ms: int,
    close_ms: int | None,
    open_rate: Decimal | None,
    close_rate: Decimal | None,
    amount: Decimal,
    profit: Decimal | None,
    reason: str | None,
) -> tuple[Any, ...]:
    return (pair, open_ms, close_ms, open_rate, close_rate, amount, profit, reason)


async def compare(config_path: Path, candles: Path) -> BacktestResult:
    await run_daemon(config_path, ticks=None, timeout_s=240)
    daemon = await read_back(config_path)
    config, _ = load_config(config_path)
    strategy = load_strategy(config.strategy_path, require_strategy(config, config_path))
    result = backtest(config, strategy, BacktestRequest(datadir=candles)).result
    closed = [t for t in result.trades if t.exit_reason != "force_exit"]
    assert len(closed) >= 5, "the fixture must produce trades or this proves nothing"
    expected = [
        key(t.pair, t.open_ms, t.close_ms, t.open_rate, t.close_rate, t.amount, t.profit_abs, t.exit_reason)
        for t in closed
    ]
    got = [
        key(t.pair, t.open_ms or 0, t.close_ms, t.open_rate, t.close_rate, t.amount, t.profit_quote, t.exit_reason)
        for t in daemon.trades
        if t.status == "closed"
    ]
    assert got == expected
    # the trades the backtest force-exits at the end are the ones the daemon still holds
    held = sorted((t.pair, t.open_ms) for t in daemon.trades if t.status in ("open", "closing"))
    assert held == sorted((t.pair, t.open_ms) for t in result.trades if t.exit_reason == "force_exit")
    return result


async def test_generated_candles(tmp_path: Path) -> None:
    """The defaults with SmaCross (a fixed ROI, exit signals); QuickMomentum's ROI ladder and trailing
    stop run with the defaults in test_stakes_sized_from_the_book, and with thin books below."""
    path = generated_parity_config(tmp_path, "SmaCross", max_open_trades=3)
    await compare(path, tmp_path / "candles")


async def test_real_binance_candles(tmp_path: Path) -> None:
    source = SHARED / "data" / "ohlcv" / "freqtrade-testdata"
    if not source.exists():
        pytest.skip(f"{source} not available")
    pairs = ["ADA/BTC", "ETH/BTC", "XMR/BTC", "NXT/BTC"]
    for pair in pairs:
        frame = pd.read_feather(source / f"{pair.replace('/', '_')}-5m.feather").iloc[:420]
        write_candles(tmp_path / "candles", pair, "5m", frame)
    path = parity_config(
        tmp_path,
        tmp_path / "candles",
        "SmaCross",
        pairs,
        stake_currency="BTC",
        stake_amount=100,
        max_open_trades=2,
        dry_run_wallet=1000,
        simulated={"min_notional": "0.0001"},
    )
    await compare(path, tmp_path / "candles")


async def test_partial_fills_slippage_and_limit_orders(tmp_path: Path) -> None:
    """Thin books: a take-profit takes a small share of each candle's volume, so targets sell over
    several candles and a stop or a new trailing level may sell the rest; market orders slip, limit
    orders are priced at the last price. The backtester must still take the daemon's trades."""
    path = generated_parity_config(
        tmp_path,
        "QuickMomentum",
        max_open_trades=2,
        paper_fills={"slippage": 0.0005, "volume_share": VOLUME_SHARE},
        order_types={"entry": "limit", "exit": "limit"},
    )
    await compare(path, tmp_path / "candles")
    stored = await read_back(path)
    take_profits = [o for o in stored.orders if o.purpose == "take_profit" and o.filled > 0]
    assert any(o.filled < o.amount for o in take_profits), "no take-profit was cut short after a partial fill"
    entries = [o for o in stored.orders if o.purpose == "entry" and o.filled > 0]
    assert entries and all(o.type == "limit" for o in entries)


async def test_stakes_sized_from_the_book(tmp_path: Path) -> None:
    """Stakes that depend on the book ("unlimited" over the free slots, under a tradable ratio and an
    exposure cap): the backtester must see the same free balance and capital at work as the daemon."""
    path = generated_parity_config(
        tmp_path,
        "QuickMomentum",
        max_open_trades=3,
        stake_amount="unlimited",
        tradable_balance_ratio=0.9,
        risk={"max_exposure_quote": 700},
    )
    await compare(path, tmp_path / "candles")
    stored = await read_back(path)
    stakes = {t.stake_quote for t in stored.trades}
    assert len(stakes) > 3, "every stake was the same: the sizing did not depend on the book"


async def test_protections_lock_the_same_pairs(tmp_path: Path) -> None:
    """Cooldowns, a stoploss guard over every pair and low-profit locks: computed from the closed
    trades by one function, the daemon and the backtester must keep the same pairs out."""
    path = generated_parity_config(
        tmp_path,
        "QuickMomentum",
        max_open_trades=3,
        protections=[
            {"method": "CooldownPeriod", "stop_duration_candles": 4},
            {"method": "StoplossGuard", "lookback_period_candles": 24, "trade_limit": 1, "stop_duration": 30},
            {"method": "LowProfitPairs", "lookback_period_candles": 36, "trade_limit": 2, "stop_duration_candles": 12},
        ],
    )
    await compare(path, tmp_path / "candles")
    stored = await read_back(path)
    locked = [e.message for e in stored.events if e.kind == "pair_locked"]
    for method in ("CooldownPeriod", "StoplossGuard", "LowProfitPairs"):
        assert any(method in m for m in locked), f"no {method} lock: the fixture proves nothing about it"


HOUR_MS = 3_600_000


def money_trips(events: list[Any]) -> list[tuple[int, str]]:
    """The daemon's equity breaker trips (the machinery's are not the backtest's to repeat)."""
    money = ("breaker:daily_loss", "breaker:drawdown", "breaker:losing_streak")
    return [(e.ts_ms, e.message) for e in events if e.kind == "breaker_tripped" and e.message.startswith(money)]


async def test_daily_loss_limit_and_volatility_brake(tmp_path: Path) -> None:
    """The daily loss limit pauses entries in the evening, the next UTC day lifts the pause, it trips
    again the next day; meanwhile the volatility brake skips entries on wild candles. The
    backtester must pause, lift and skip on the same ticks as the daemon."""
    path = generated_parity_config(
        tmp_path,
        "QuickMomentum",
        seed=4,
        origin_ms=ORIGIN_MS - 4 * HOUR_MS,  # 20:00: the UTC day turns after 48 candles
        max_open_trades=3,
        risk={"daily_loss_limit_frac": 0.003, "volatility_brake_k": 2, "volatility_lookback": 12},
    )
    result = await compare(path, tmp_path / "candles")
    stored = await read_back(path)
    trips = money_trips(stored.events)
    assert len(trips) == 2, "the fixture must trip the daily limit on both days"
    assert trips == [(ms, text) for ms, text in result.risk_events if text.startswith("breaker:")]
    lifts = [e.ts_ms for e in stored.events if e.kind == "trading_state" and "running" in e.message]
    assert ORIGIN_MS in lifts  # the daemon lifted its daily pause at midnight ...
    assert (ORIGIN_MS, "a new UTC day: the daily loss limit's pause is lifted") in result.risk_events  # ... so did this
    brake = [(e.ts_ms, e.kind) for e in stored.events if e.message.startswith("breaker:volatility")]
    assert any(kind == "breaker_tripped" for _, kind in brake)
    skipped = [ms for ms, text in result.risk_events if text.startswith("paused by breaker:volatility")]
    assert skipped, "the backtest lists no entry the brake skipped"
    for ms in skipped:  # the daemon's brake was on at that tick
        assert [kind for t, kind in brake if t <= ms][-1] == "breaker_tripped", ms
    config, _ = load_config(path)
    strategy = load_strategy(config.strategy_path, require_strategy(config, path))
    calm = config.model_copy(update={"risk": config.risk.model_copy(update={"volatility_brake_k": None})})
    unbraked = backtest(calm, strategy, BacktestRequest(datadir=tmp_path / "candles")).result
    assert [t.open_ms for t in unbraked.trades] != [t.open_ms for t in result.trades], "the brake changed nothing"


@pytest.mark.parametrize(
    ("seed", "n", "risk", "breaker"),
    [
        (7, 150, {"max_drawdown_frac": 0.005, "on_breach": "halt"}, "breaker:drawdown"),
        (3, 100, {"max_losing_streak": 3, "on_breach": "halt"}, "breaker:losing_streak"),
    ],
)
async def test_a_breaker_halts_and_sells_at_market(
    tmp_path: Path, seed: int, n: int, risk: dict[str, Any], breaker: str
) -> None:
    """Drawdown from the high-water mark, and a losing streak, each halting: the positions are sold
    at market on the tick of the trip (`kill_switch`), then nothing more, in both."""
    path = generated_parity_config(tmp_path, "QuickMomentum", seed=seed, n=n, max_open_trades=3, risk=risk)
    result = await compare(path, tmp_path / "candles")
    stored = await read_back(path)
    (trip,) = money_trips(stored.events)
    assert trip[1].startswith(breaker)
    assert [trip] == result.risk_events
    killed = [t for t in stored.trades if t.exit_reason == "kill_switch"]
    assert killed and all(t.close_ms == trip[0] for t in killed)
    assert all((t.open_ms or 0) < trip[0] for t in stored.trades)  # no entry after the halt
