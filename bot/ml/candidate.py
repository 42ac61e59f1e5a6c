"""A candidate model for an ML strategy: its pairs' rows pooled, judged walk-forward (one model per
test window, trained only on rows before it, the purge between), then one model trained on every
usable row. `kestrel train` and the daemon's retraining both build it here, so they cannot differ.
CPU-bound and free of I/O: the daemon runs it in a worker thread."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from bot.clock import iso_ms
from bot.errors import TrainingError
from bot.ml.dataset import pooled_rows
from bot.ml.registry import data_hash
from bot.ml.strategy import MLStrategy
from bot.ml.train import Progress, TrainSpec, WalkForward, fit, walk_forward_eval
from bot.timeframes import timeframe_ms


@dataclass(frozen=True)
class Candidate:
    model: lgb.Booster
    metadata: dict[str, Any]
    judged: WalkForward
    x: pd.DataFrame  # the pooled rows, in time order
    y: pd.Series
    dates: pd.Series  # each row's candle open time
    spec: TrainSpec

    @property
    def metric(self) -> float | None:
        return self.judged.metric

    def window_models(self) -> list[tuple[int, lgb.Booster]]:
        """(first candle a window's model predicts, in ms; that model): what a walk-forward
        backtest serves, each period by a model trained before it."""
        return [(open_ms(self.dates.iloc[w.split.test.start]), w.model) for w in self.judged.windows]

    def first_test_ms(self) -> int | None:
        return open_ms(self.dates.iloc[self.judged.windows[0].split.test.start]) if self.judged.windows else None


def build_candidate(
    frames: Mapping[str, pd.DataFrame],
    strategy: MLStrategy,
    *,
    fee_frac: float,
    seed: int,
    trained_at_ms: int,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> Candidate:
    """Raises TrainingError (one line) when the data cannot make a model, TrainingCancelledError
    when `cancel` is set meanwhile."""
    x, y, dates = pooled_rows(
        frames,
        strategy.feature_set,
        horizon=strategy.label_horizon,
        threshold=strategy.label_threshold,
        fee_frac=fee_frac,
        higher=strategy.higher_timeframes,
        timeframe=strategy.timeframe,
        informative_pairs=strategy.informative_pairs,
        regression=strategy.regression(),
    )
    pairs = len(frames)
    # the purge in rows: pooled rows interleave the pairs, so `horizon` candles span `horizon * pairs`
    # rows, and a split may fall inside a candle time, which up to `pairs - 1` more rows cover
    spec = TrainSpec(
        objective="regression" if strategy.regression() else "binary",
        label_horizon=strategy.label_horizon * pairs + pairs - 1,
        seed=seed,
    )
    judged = walk_forward_eval(
        x,
        y,
        spec,
        train=strategy.train_rows * pairs,
        test=strategy.test_rows * pairs,
        purge=spec.label_horizon,
        anchored=strategy.anchored_windows,
        threshold=strategy.entry_cut(),
        progress=progress,
        cancel=cancel,
    )
    horizon_ms = strategy.label_horizon * timeframe_ms(strategy.timeframe)
    for w in judged.windows:  # the purge in rows must also be one in time (gaps are filled, so it is)
        if open_ms(dates.iloc[w.split.train.stop - 1]) + horizon_ms >= open_ms(dates.iloc[w.split.test.start]):
            raise TrainingError(f"walk-forward: a training label reaches {dates.iloc[w.split.test.start]}")
    model = fit(x, y, spec, cancel)
    precisions = [w.precision for w in judged.windows if w.precision is not None]
    metadata = {
        "features": list(x.columns),
        "feature_set": vars(strategy.feature_set),
        "higher_timeframes": list(strategy.higher_timeframes),
        "informative_pairs": list(strategy.informative_pairs),
        "label": {
            "kind": "net_forward_return" if strategy.regression() else "beats_threshold",
            "horizon": strategy.label_horizon,
            "threshold": strategy.label_threshold,
        },
        "pairs": sorted(frames),
        "timeframe": strategy.timeframe,
        "rows": len(x),
        "windows": "anchored" if strategy.anchored_windows else "rolling",
        "positive_share": float((y > (strategy.entry_cut() if strategy.regression() else 0.5)).mean()),
        "train_range": [str(dates.iloc[0]), str(dates.iloc[-1])],
        # the last candle the final model's labels looked at: later test windows are unseen by it
        "labels_until_ms": open_ms(dates.iloc[-1]) + horizon_ms,
        "walk_forward": [
            {
                "train": [str(dates.iloc[w.split.train.start]), str(dates.iloc[w.split.train.stop - 1])],
                "test": [str(dates.iloc[w.split.test.start]), str(dates.iloc[w.split.test.stop - 1])],
                metric_name(strategy): w.metric,
                "precision_at_entry": w.precision,
                "predicted_entries": w.predicted_positive,
            }
            for w in judged.windows
        ],
        "metric": metric_name(strategy),
        "oos_metric": judged.metric,
        **({} if strategy.regression() else {"oos_auc": judged.metric}),
        "entry_cut": strategy.entry_cut(),
        "oos_precision_at_entry": float(np.mean(precisions)) if precisions else None,
        "seed": seed,
        "trained_at": iso_ms(trained_at_ms),
        "trained_at_ms": trained_at_ms,
        "data_hash": data_hash(x, y),
    }
    return Candidate(model, metadata, judged, x, y, dates, spec)


def metric_name(strategy: MLStrategy | type[MLStrategy]) -> str:
    """What the models of this strategy are judged by: AUC of a probability, IC of a return."""
    return "ic" if strategy.regression() else "auc"


def open_ms(stamp: Any) -> int:
    """A candle time (Timestamp or numpy datetime) as ms since 1970."""
    return int(pd.Timestamp(stamp).value // 1_000_000)
