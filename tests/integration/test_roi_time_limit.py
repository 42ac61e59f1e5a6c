"""freqtrade's `"minimal_roi": {"<minutes>": -1}` idiom (sell after N minutes whatever the price):
the daemon and the backtester both exit at market, at the open of the candle where the step starts."""

from decimal import Decimal as D
from pathlib import Path
from typing import Any

from bot.backtest.command import BacktestRequest, backtest
from bot.config import load_config
from bot.strategy.loader import load_strategy
from tests.conftest import candle_frame, write_candles
from tests.integration.harness import read_back, run_daemon

TIMED = """
from bot.strategy import Strategy


class Timed(Strategy):
    timeframe = "5m"
    minimal_roi = {"0": 0.5, "10": -1}
    stoploss = -0.5

    def populate_entry_trend(self, df, metadata):
        df.loc[df["volume"] == 777, "enter_long"] = 1
        return df
"""


async def test_a_minus_one_roi_step_sells_at_market_when_it_starts(tmp_path: Path, write_config: Any) -> None:
    (tmp_path / "strats").mkdir()
    (tmp_path / "strats" / "timed.py").write_text(TIMED)
    flat = (100.0, 100.5, 99.5, 100.0, 1.0)
    rows = [
        flat,
        flat,
        (100.0, 100.5, 99.5, 100.0, 777.0),
        flat,
        (100.0, 101.0, 99.0, 100.7, 1.0),
        (100.7, 101.0, 100.2, 100.9, 1.0),
    ] + [flat] * 4
    write_candles(tmp_path / "candles", "AAA/USDT", "5m", candle_frame("2024-01-01", "5m", rows))
    path = write_config(
        strategy="Timed",
        strategy_path=str(tmp_path / "strats"),
        exchange={"name": "simulated", "pair_whitelist": ["AAA/USDT"]},
        simulated={
            "candles_dir": str(tmp_path / "candles"),
            "history_candles": 3,
            "price_tick": "0.01",
            "amount_step": "0.0001",
        },
    )
    await run_daemon(path, ticks=None)
    daemon = (await read_back(path)).trades
    config, _ = load_config(path)
    t0 = 1_704_067_200_000
    bt = backtest(
        config,
        load_strategy(config.strategy_path, "Timed"),
        BacktestRequest(datadir=tmp_path / "candles", from_ms=t0 + 2 * 300_000),
    ).result.trades
    # entered at candle 3's open; the -1 step starts 10 minutes later, at candle 5's open (100.7)
    assert [(t.open_ms, t.close_ms, t.close_rate, t.exit_reason) for t in daemon] == [
        (t0 + 3 * 300_000, t0 + 5 * 300_000, D("100.7"), "roi")
    ]
    assert [(t.open_ms, t.close_ms, t.close_rate, t.exit_reason) for t in bt] == [
        (t0 + 3 * 300_000, t0 + 5 * 300_000, D("100.7"), "roi")
    ]
    assert not [e for e in (await read_back(path)).events if e.kind == "order_rejected"]
