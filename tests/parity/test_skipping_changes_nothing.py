"""The backtester skips the ticks where nothing can happen. Run with every tick instead, as the
daemon runs, it must take the same trades and trip the same breakers on the same ticks: this
checks the skipping (the scheduler, the equity proposals, the marks rolled over skipped ticks)
without a daemon, on many fixtures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.backtest.command import BacktestRequest, backtest
from bot.config import load_config, require_strategy
from bot.strategy.loader import load_strategy
from tests.parity.test_backtest_equals_daemon import ORIGIN_MS, generated_parity_config

EVENING = ORIGIN_MS - 4 * 3_600_000  # the UTC day turns after 48 candles

CASES = [
    ("daily pause, lifted at midnight", {"daily_loss_limit_frac": 0.003}),
    (
        "daily pause and volatility brake",
        {"daily_loss_limit_frac": 0.003, "volatility_brake_k": 2, "volatility_lookback": 12},
    ),
    ("drawdown pause", {"max_drawdown_frac": 0.004}),
    ("drawdown halt", {"max_drawdown_frac": 0.005, "on_breach": "halt"}),
    ("losing streak halt", {"max_losing_streak": 3, "on_breach": "halt"}),
    (
        "all of them",
        {"daily_loss_limit_frac": 0.004, "max_drawdown_frac": 0.006, "max_losing_streak": 4, "volatility_brake_k": 3},
    ),
]


@pytest.mark.parametrize(("name", "risk"), CASES, ids=[c[0] for c in CASES])
def test_every_tick_gives_the_same_backtest(tmp_path: Path, name: str, risk: dict[str, Any]) -> None:
    tripped = 0
    for seed in range(1, 9):
        run = tmp_path / str(seed)
        path = generated_parity_config(
            run, "QuickMomentum", seed=seed, n=300, origin_ms=EVENING, max_open_trades=3, risk=risk
        )
        config, _ = load_config(path)
        strategy = load_strategy(config.strategy_path, require_strategy(config, path))
        outcome = backtest(config, strategy, BacktestRequest(datadir=run / "candles"))
        sparse = outcome.result
        assert [e["event"] for e in outcome.summary["risk_events"]] == [text for _, text in sparse.risk_events]
        dense = backtest(config, strategy, BacktestRequest(datadir=run / "candles", every_tick=True)).result
        assert dense.ticks_run > 2 * sparse.ticks_run  # or the skipping was not tested
        assert sparse.trades == dense.trades, f"seed {seed}"
        assert sparse.risk_events == dense.risk_events, f"seed {seed}"
        assert sparse.final_quote == dense.final_quote
        tripped += bool(sparse.risk_events)
    assert tripped >= 3, f"{name}: the fixtures must trip the breakers or this proves little"
