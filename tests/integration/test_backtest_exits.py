"""The backtester on the hand-made candles of the daemon's exit test: the same trades, the same
hand-checked numbers (EXPECTED is shared, so the two tests cannot drift apart)."""

from decimal import Decimal as D
from pathlib import Path

from bot.backtest.command import BacktestRequest, backtest
from bot.config import load_config
from bot.strategy.loader import load_strategy
from tests.integration.test_exits_end_to_end import EXPECTED, SCENARIOS


def test_backtest_takes_the_hand_checked_exits(scripted_config: Path) -> None:
    config, _ = load_config(scripted_config)
    strategy = load_strategy(config.strategy_path, "Scripted")
    # the daemon starts at candle 3 (history_candles 3); Scripted has no startup, so start there too
    t0 = 1_704_067_200_000
    result = backtest(
        config, strategy, BacktestRequest(datadir=config.simulated.candles_dir or Path(), from_ms=t0 + 2 * 300_000)
    ).result
    trades = {t.pair: t for t in result.trades}
    assert set(trades) == set(SCENARIOS)
    for pair, (reason, close_rate, profit) in EXPECTED.items():
        t = trades[pair]
        assert (t.open_rate, t.amount, t.open_fee) == (D("100"), D("1"), D("0.1")), pair
        assert (t.exit_reason, t.close_rate, t.profit_abs) == (reason, close_rate, profit), pair
    assert trades["AAA/USDT"].close_ms == t0 + 4 * 300_000
    assert trades["FFF/USDT"].close_ms == t0 + 5 * 300_000
    assert result.final_quote == D(1000) + sum((t.profit_abs for t in result.trades), D(0))
