"""Lookahead check: a strategy's signals on candles [0, k) must equal the first k rows of its
signals on the whole set. A strategy that peeks at later candles looks brilliant in a backtest
and cannot do the same live; this catches it before anyone trusts the numbers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from bot.strategy.base import Strategy
from bot.strategy.guard import analyze

SIGNAL_COLUMNS = ("enter_long", "exit_long")


def cut_points(length: int, count: int = 6, minimum: int = 2) -> list[int]:
    """Where to cut: spread over the data, the last one just before the end."""
    if length <= minimum:
        return []
    points = np.linspace(minimum, length - 1, num=min(count, length - minimum)).astype(int)
    return sorted(set(points.tolist()))


def lookahead_problems(
    strategy: Strategy,
    candles: pd.DataFrame,
    pair: str,
    cuts: Sequence[int] | None = None,
    informative: Mapping[str, pd.DataFrame] | None = None,
) -> list[str]:
    """One line per cut where the truncated signals differ from the full ones (empty: causal). The
    informative pairs' candles are cut at the same time: the data as it stood then."""
    full = analyze(strategy, candles, pair, informative)
    problems = []
    for k in cut_points(len(candles)) if cuts is None else cuts:
        then = candles["date"].iloc[k - 1]
        others = {p: f[f["date"] <= then].reset_index(drop=True) for p, f in (informative or {}).items()}
        part = analyze(strategy, candles.iloc[:k].reset_index(drop=True), pair, others)
        for column in SIGNAL_COLUMNS:
            diff = np.flatnonzero(full[column].to_numpy(bool)[:k] != part[column].to_numpy(bool))
            if diff.size:
                first = candles["date"].iloc[int(diff[0])]
                last = candles["date"].iloc[k - 1]
                problems.append(
                    f"{pair}: {column} on the candle of {first.isoformat()} changes when the data ends at "
                    f"{last.isoformat()} ({diff.size} rows differ): the strategy looks ahead"
                )
    return problems
