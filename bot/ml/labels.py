"""What a model learns to predict, from the candles after t: the forward return over `horizon`
candles, or whether it beats a threshold after the fees of a round trip. A row whose label would
need candles beyond the data has none (NaN): it is dropped before training, never filled. Pure."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bot.errors import TrainingError


def forward_return(close: pd.Series, horizon: int) -> pd.Series:
    """log(close[t + horizon] / close[t]); NaN for the last `horizon` rows."""
    if horizon < 1:
        raise TrainingError(f"label_horizon: must be at least 1, got {horizon}")
    log_close = pd.Series(np.log(close.to_numpy(dtype="float64")), index=close.index)
    ahead: pd.Series = log_close.shift(-horizon) - log_close
    return ahead


def beats_threshold(close: pd.Series, horizon: int, threshold: float, fee_frac: float) -> pd.Series:
    """1.0 when the forward return clears `threshold` plus the entry and exit fees, 0.0 when not,
    NaN where the future is not in the data."""
    ret = forward_return(close, horizon)
    # bought and sold, each paying fee_frac: net = (p1 / p0) * (1 - fee)^2, wanted above 1 + threshold
    hurdle = np.log1p(threshold) - 2 * np.log1p(-fee_frac)
    label: pd.Series = (ret > hurdle).astype("float64").where(ret.notna())
    return label


def net_forward_return(close: pd.Series, horizon: int, fee_frac: float) -> pd.Series:
    """The forward log return after the fees of a round trip (the regression label); NaN where the
    future is not in the data."""
    net: pd.Series = forward_return(close, horizon) + 2 * np.log1p(-fee_frac)
    return net


def training_rows(features: pd.DataFrame, label: pd.Series) -> tuple[pd.DataFrame, pd.Series]:
    """The rows where every feature and the label are known."""
    keep = features.notna().all(axis=1) & label.notna()
    return features[keep], label[keep]
