"""/why's verdicts: each pair gets the reason that decided its entry, in the order the tick checks."""

from decimal import Decimal as D

import numpy as np
import pandas as pd

from bot.decisions import explain_entries
from bot.engine import EntryIntent, Skip
from bot.strategy.guard import PairSignal, _indicator_values

PAIRS = ["A/USDT", "B/USDT", "C/USDT", "D/USDT", "E/USDT", "F/USDT"]


def sig(pair: str, enter: bool, exit_: bool = False) -> PairSignal:
    return PairSignal(pair, 0, enter=enter, exit=exit_)


def test_each_pair_gets_the_reason_that_decided() -> None:
    signals = {
        "A/USDT": sig("A/USDT", True),
        "B/USDT": sig("B/USDT", False),
        "C/USDT": sig("C/USDT", True, True),
        "D/USDT": sig("D/USDT", True),
        "E/USDT": sig("E/USDT", True),
    }
    entries = [EntryIntent("A/USDT", D(1), D(1), D(1), 0, None)]
    skipped = [Skip("D/USDT", "D/USDT: locked until x by CooldownPeriod")]
    out = explain_entries(PAIRS, signals, entries, skipped, blocked="", tick_ms=5)
    assert {p: d.verdict for p, d in out.items()} == {
        "A/USDT": "entry order sent",
        "B/USDT": "no entry signal",
        "C/USDT": "entry and exit signals on the same candle: no entry",
        "D/USDT": "D/USDT: locked until x by CooldownPeriod",
        "E/USDT": "a trade on it closed on this candle: no new entry until the next one",
        "F/USDT": "no signal: no new candle for it yet, or the strategy failed on it (see /logs)",
    }
    assert out["A/USDT"].signal is signals["A/USDT"] and out["A/USDT"].tick_ms == 5


def test_a_balance_gap_blocks_every_entry_signal_but_not_the_others() -> None:
    signals = {"A/USDT": sig("A/USDT", True), "B/USDT": sig("B/USDT", False)}
    out = explain_entries(["A/USDT", "B/USDT"], signals, [], [], blocked="BTC short by 0.1", tick_ms=0)
    assert out["A/USDT"].verdict == "entries stopped: BTC short by 0.1"
    assert out["B/USDT"].verdict == "no entry signal"


def test_indicator_values_are_the_strategys_numeric_columns() -> None:
    row = pd.Series(
        {
            "date": pd.Timestamp("2024-01-01", tz="UTC"),
            "close": 1.0,
            "rsi": np.float64(31.5),
            "count": np.int64(3),
            "flag": np.bool_(True),
            "enter_long": 1,
            "enter_tag": "x",
        }
    )
    assert _indicator_values(row) == (("rsi", 31.5), ("count", 3.0))
