"""A strategy reading another pair's candles (`informative_pairs`): the daemon hands it the other
pair's candles up to the same candle, the backtest reads the other pair's file, the lookahead check
cuts the other pair's candles at the same time (so a strategy peeking at its next candle is
caught), and a pair that is not whitelisted is refused in one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.backtest.causality import lookahead_problems
from bot.config import load_config
from bot.errors import ConfigError
from bot.runtime import build_runtime
from bot.strategy.loader import load_strategy
from tests.conftest import write_candles
from tests.integration.harness import read_back, run_daemon
from tests.integration.planted import planted_candles

FOLLOWS_BTC = """
import pandas as pd
from bot.strategy import Strategy


class FollowsBtc(Strategy):
    timeframe = "5m"
    minimal_roi = {"0": 0.01}
    stoploss = -0.05
    informative_pairs = ("BTC/USDT",)
    PEEK = 0  # candles ahead the strategy reads BTC (1: a leak)

    def populate_indicators(self, df, metadata):
        btc = metadata["informative"]["BTC/USDT"][["date", "close"]].rename(columns={"close": "btc"})
        btc["btc"] = btc["btc"].shift(-self.PEEK)
        btc["btc_up"] = btc["btc"] > btc["btc"].shift(1)
        merged = pd.merge_asof(df[["date"]], btc, on="date", direction="backward")
        if metadata["pair"] != "BTC/USDT" and len(df) > 1:  # the daemon's promise: BTC up to this candle
            assert merged["btc"].notna().iloc[-1] or self.PEEK, "BTC's candle for this time is missing"
            newest = metadata["informative"]["BTC/USDT"]["date"].iloc[-1]
            assert newest <= df["date"].iloc[-1], f"BTC's candle of {newest} is later than this one"
        df["btc_up"] = merged["btc_up"].to_numpy()
        return df

    def populate_entry_trend(self, df, metadata):
        df["enter_long"] = df["btc_up"].astype(int)
        return df


class PeeksAtBtc(FollowsBtc):
    PEEK = 1
"""


@pytest.fixture
def strategies(tmp_path: Path) -> Path:
    folder = tmp_path / "strats"
    folder.mkdir()
    (folder / "follows_btc.py").write_text(FOLLOWS_BTC)
    return folder


async def test_the_daemon_hands_the_strategy_the_other_pair_up_to_the_same_candle(
    write_config: Any, strategies: Path
) -> None:
    path = write_config(
        strategy="FollowsBtc",
        strategy_path=str(strategies),
        exchange={"name": "simulated", "pair_whitelist": ["ETH/USDT", "BTC/USDT"]},
    )
    assert await run_daemon(path, ticks=60) == 0
    stored = await read_back(path)
    errors = [e.message for e in stored.events if e.kind == "strategy_error"]
    assert errors == []  # the assertion inside the strategy held on every tick, for every pair
    assert {t.pair for t in stored.trades} >= {"ETH/USDT"}  # entries driven by BTC's candles


async def test_an_informative_pair_off_the_whitelist_is_refused_in_one_line(
    write_config: Any, strategies: Path
) -> None:
    path = write_config(strategy="FollowsBtc", strategy_path=str(strategies), exchange={"pair_whitelist": ["ETH/USDT"]})
    config, _ = load_config(path)
    strategy = load_strategy(config.strategy_path, "FollowsBtc")
    with pytest.raises(ConfigError) as caught:
        await build_runtime(config, strategy, environ={})
    assert str(caught.value) == (
        "FollowsBtc.informative_pairs: BTC/USDT is not in exchange.pair_whitelist "
        "(only whitelisted pairs' candles are read); add it"
    )


def test_the_backtest_reads_the_other_pair_and_the_lookahead_check_cuts_it(
    write_config: Any, strategies: Path, tmp_path: Path
) -> None:
    from bot.backtest.command import BacktestRequest, backtest

    data = tmp_path / "data"
    for seed, pair in enumerate(("BTC/USDT", "ETH/USDT"), start=1):
        write_candles(data, pair, "5m", planted_candles(2000, seed))
    path = write_config(
        strategy="FollowsBtc", strategy_path=str(strategies), exchange={"pair_whitelist": ["ETH/USDT", "BTC/USDT"]}
    )
    config, _ = load_config(path)
    honest = load_strategy(config.strategy_path, "FollowsBtc")
    outcome = backtest(config, honest, BacktestRequest(datadir=data, pairs=["ETH/USDT"]))  # BTC only informs
    assert outcome.summary["trades"] > 0 and outcome.warnings == []
    peeking = load_strategy(config.strategy_path, "PeeksAtBtc")
    candles = planted_candles(600, 2)
    others = {"BTC/USDT": planted_candles(600, 1)}
    problems = lookahead_problems(peeking, candles, "ETH/USDT", informative=others)
    assert problems and "the strategy looks ahead" in problems[0]
    assert lookahead_problems(honest, candles, "ETH/USDT", informative=others) == []
