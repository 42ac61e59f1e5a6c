"""A strategy that raises or returns NaN opens nothing, does not stop the loop, and the positions it
already has keep their exits."""

from decimal import Decimal as D
from pathlib import Path
from typing import Any

from tests.conftest import candle_frame, write_candles
from tests.integration.harness import read_back, run_daemon

FLAKY = """
from bot.strategy import Strategy


class Flaky(Strategy):
    timeframe = "5m"
    minimal_roi = {}
    stoploss = -0.05

    def populate_entry_trend(self, df, metadata):
        if metadata["pair"] == "NAN/USDT":
            df["enter_long"] = float("nan")
            return df
        if len(df) > 4:
            raise RuntimeError("indicator exploded")
        df.loc[df["volume"] == 777, "enter_long"] = 1
        return df
"""


async def test_raising_and_nan_strategies_do_not_stop_trading_or_exits(tmp_path: Path, write_config: Any) -> None:
    (tmp_path / "strats").mkdir()
    strategy_file = tmp_path / "strats" / "flaky.py"
    strategy_file.write_text(FLAKY)
    flat = (100.0, 100.5, 99.5, 100.0, 1.0)
    rows = [flat, flat, (100.0, 100.5, 99.5, 100.0, 777.0), flat, flat, (100.0, 100.5, 94.0, 95.0, 1.0)]
    rows += [(95.0, 95.5, 94.5, 95.0, 1.0)] * 6
    for pair in ("AAA/USDT", "NAN/USDT"):
        write_candles(tmp_path / "candles", pair, "5m", candle_frame("2024-01-01", "5m", rows))
    path = write_config(
        strategy="Flaky",
        strategy_path=str(tmp_path / "strats"),
        exchange={"name": "simulated", "pair_whitelist": ["AAA/USDT", "NAN/USDT"]},
        simulated={
            "candles_dir": str(tmp_path / "candles"),
            "history_candles": 3,
            "price_tick": "0.01",
            "amount_step": "0.0001",
        },
    )
    assert await run_daemon(path, ticks=8) == 0  # eight ticks ran: the loop outlived the errors
    stored = await read_back(path)
    assert [t.pair for t in stored.trades] == ["AAA/USDT"]  # NaN opened nothing
    trade = stored.trades[0]
    # from candle 5 on the strategy raises for AAA; its resting stop still closed the trade in candle 5
    assert (trade.exit_reason, trade.close_rate) == ("stop_loss", D("95.00"))
    errors = [e for e in stored.events if e.kind == "strategy_error"]
    assert len(errors) == 1, "a persisting error is reported once, not every tick"
    assert errors[0].message == (
        f"{strategy_file}:15: RuntimeError: indicator exploded (in populate_entry_trend for AAA/USDT)"
    )
    assert errors[0].pair == "AAA/USDT"
