"""Training a LightGBM model and judging it walk-forward: each test window is predicted by a model
trained only on rows before it, with the purge gap between them. Deterministic: the same rows and
seed give the same model bytes (one thread order, row-wise histograms, LightGBM's deterministic
mode)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import lightgbm as lgb
import numpy as np
import pandas as pd

from bot.errors import TrainingCancelledError, TrainingError
from bot.ml.splits import Split, check_purge, walk_forward

__all__ = ["TrainingCancelledError", "TrainingError"]

Progress = Callable[[int, int], None]  # (windows done, windows in all)


@dataclass(frozen=True)
class TrainSpec:
    objective: Literal["binary", "regression"] = "binary"
    label_horizon: int = 12
    seed: int = 42
    rounds: int = 200
    params: dict[str, Any] = field(
        default_factory=lambda: {"num_leaves": 15, "learning_rate": 0.05, "min_data_in_leaf": 50,
                                 "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1}
    )  # fmt: skip

    def lgb_params(self) -> dict[str, Any]:
        return {
            **self.params,
            "objective": self.objective,
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": 1,
            "verbose": -1,
        }


def fit(x: pd.DataFrame, y: pd.Series, spec: TrainSpec, cancel: threading.Event | None = None) -> lgb.Booster:
    """`cancel` set (the daemon stopping) ends the training within one boosting round."""
    if len(x) < 100:
        raise TrainingError(f"training: {len(x)} rows with every feature and a label; at least 100 are needed")
    if spec.objective == "binary" and y.nunique() < 2:
        raise TrainingError("training: the label has one class only in this window (a threshold too high?)")
    data = lgb.Dataset(x, label=y, free_raw_data=True)
    callbacks = [] if cancel is None else [_cancelled_by(cancel)]
    return lgb.train(spec.lgb_params(), data, num_boost_round=spec.rounds, callbacks=callbacks)


def _cancelled_by(cancel: threading.Event) -> Callable[[Any], None]:
    def check(env: Any) -> None:  # noqa: ARG001 (LightGBM passes its state)
        if cancel.is_set():
            raise TrainingCancelledError("training cancelled: the daemon is stopping")

    return check


def auc(y: np.ndarray, score: np.ndarray) -> float | None:
    """Area under the ROC curve by ranks (ties averaged); None with one class only."""
    positives = y > 0.5
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = pd.Series(score).rank(method="average").to_numpy()
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def information_coefficient(y: np.ndarray, score: np.ndarray) -> float | None:
    """Spearman correlation of predictions and outcomes (regression)."""
    if len(y) < 3 or np.std(y) == 0 or np.std(score) == 0:
        return None
    return float(pd.Series(score).rank().corr(pd.Series(y).rank()))


@dataclass(frozen=True)
class WindowResult:
    split: Split
    metric: float | None  # AUC (binary) or IC (regression)
    precision: float | None  # binary: share of predictions above the threshold that were right
    predicted_positive: int
    model: lgb.Booster = field(repr=False, compare=False)


@dataclass(frozen=True)
class WalkForward:
    windows: list[WindowResult]

    @property
    def metric(self) -> float | None:
        """The mean of the windows' metrics: one out-of-sample number to compare models by."""
        values = [w.metric for w in self.windows if w.metric is not None]
        return float(np.mean(values)) if values else None


def walk_forward_eval(
    x: pd.DataFrame,
    y: pd.Series,
    spec: TrainSpec,
    *,
    train: int,
    test: int,
    purge: int,
    anchored: bool = False,
    threshold: float = 0.5,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> WalkForward:
    """Train on each window's training rows, predict its test rows. `x` and `y` are the usable rows in
    time order (training_rows), so positions are candles apart by at most the dropped ones. Each
    window's model is kept: a backtest of the test windows serves them (out of sample throughout)."""
    splits = walk_forward(len(x), train=train, test=test, purge=purge, anchored=anchored)
    problems = check_purge(splits, spec.label_horizon)
    if problems:
        raise TrainingError(f"walk-forward: {problems[0]}")
    if not splits:
        raise TrainingError(f"walk-forward: {len(x)} rows are too few for one window of {train}+{purge}+{test}")
    results = []
    for done, split in enumerate(splits):
        if progress is not None:
            progress(done, len(splits))
        fit_rows = slice(split.train.start, split.train.stop)
        model = fit(x.iloc[fit_rows], y.iloc[fit_rows], spec, cancel)
        metric, precision, chosen = score_rows(model, x, y, split.test, spec, threshold=threshold)
        results.append(WindowResult(split, metric, precision, chosen, model))
    if progress is not None:
        progress(len(splits), len(splits))
    return WalkForward(results)


def score_rows(
    model: lgb.Booster, x: pd.DataFrame, y: pd.Series, rows: range, spec: TrainSpec, *, threshold: float = 0.5
) -> tuple[float | None, float | None, int]:
    """(AUC or IC, precision, predictions above `threshold`) of `model` on rows `rows`. Precision:
    the share of those whose outcome was worth it (label 1; or, for returns, also above `threshold`)."""
    part = slice(rows.start, rows.stop)
    score = np.asarray(model.predict(x.iloc[part]), dtype="float64")
    truth = y.iloc[part].to_numpy(dtype="float64")
    binary = spec.objective == "binary"
    chosen = score > threshold
    hits = truth > (0.5 if binary else threshold)
    precision = float(hits[chosen].mean()) if chosen.any() else None
    metric = auc(truth, score) if binary else information_coefficient(truth, score)
    return metric, precision, int(chosen.sum())
