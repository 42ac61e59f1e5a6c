"""The training rows of an ML strategy: features and labels of every pair, pooled in time order
(pairs sharing a candle time stay together, so a walk-forward split never trains on one pair's
candle and tests on another's at the same time). Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from bot.candles import fill_gaps
from bot.errors import TrainingError
from bot.ml.features import FeatureSet, strategy_features
from bot.ml.labels import beats_threshold, net_forward_return, training_rows
from bot.timeframes import timeframe_ms


def pooled_rows(
    frames: Mapping[str, pd.DataFrame],
    spec: FeatureSet,
    *,
    horizon: int,
    threshold: float,
    fee_frac: float,
    timeframe: str = "5m",
    higher: Sequence[str] = (),
    informative_pairs: Sequence[str] = (),
    regression: bool = False,
) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """(features, labels, candle dates), rows ordered by date then pair. The informative pairs come
    from `frames` too: they are whitelisted, so they are also pairs of their own."""
    missing = [pair for pair in informative_pairs if pair not in frames]
    if missing:
        raise TrainingError(f"training: informative pair {missing[0]} has no candles (is it whitelisted?)")
    tf_ms = timeframe_ms(timeframe)
    # missing candles filled flat, as the backtest and the daemon's replay fill them: a label then
    # looks exactly `horizon` candles ahead in time, which the purge in rows relies on
    filled = {pair: fill_gaps(frame.reset_index(drop=True), tf_ms) for pair, frame in frames.items()}
    others = {pair: filled[pair] for pair in informative_pairs}
    parts = []
    for pair in sorted(filled):
        candles = filled[pair]
        x, y = training_rows(
            strategy_features(candles, spec, timeframe=timeframe, higher=higher, informative=others),
            net_forward_return(candles["close"], horizon, fee_frac)
            if regression
            else beats_threshold(candles["close"], horizon, threshold, fee_frac),
        )
        part = x.assign(_label=y, _date=candles.loc[x.index, "date"].to_numpy(), _pair=pair)
        parts.append(part)
    if not parts:
        raise TrainingError("training: no pairs in exchange.pair_whitelist")
    every = pd.concat(parts, ignore_index=True).sort_values(["_date", "_pair"], kind="stable").reset_index(drop=True)
    return every.drop(columns=["_label", "_date", "_pair"]), every["_label"], every["_date"]
