"""Training a LightGBM model and judging it walk-forward: each test window is predicted by a model
trained only on rows before it, with the purge gap between them. Deterministic: the same rows and
seed give the same model bytes (one thread order, row-wise histograms, LightGBM's deterministic
mode)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import lightgbm as lgb
import numpy as np
import pandas as pd

from bot.errors import TrainingError
from bot.ml.splits import Split, check_purge, walk_forward

__all__ = ["TrainingError"]


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


def fit(x: pd.DataFrame, y: pd.Series, spec: TrainSpec) -> lgb.Booster:
    if len(x) < 100:
        raise TrainingError(f"training: {len(x)} rows with every feature and a label; at least 100 are needed")
    if spec.objective == "binary" and y.nunique() < 2:
        raise TrainingError("training: the label has one class only in this window (a threshold too high?)")
    data = lgb.Dataset(x, label=y, free_raw_data=True)
    return lgb.train(spec.lgb_params(), data, num_boost_round=spec.rounds)


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
    precision: float | None  # binary: share of predictions above 0.5 that were right
    predicted_positive: int


@dataclass(frozen=True)
class WalkForward:
    windows: list[WindowResult]

    @property
    def metric(self) -> float | None:
        """The mean of the windows' metrics: one out-of-sample number to compare models by."""
        values = [w.metric for w in self.windows if w.metric is not None]
        return float(np.mean(values)) if values else None


def walk_forward_eval(
    x: pd.DataFrame, y: pd.Series, spec: TrainSpec, *, train: int, test: int, purge: int, anchored: bool = False
) -> WalkForward:
    """Train on each window's training rows, predict its test rows. `x` and `y` are the usable rows in
    time order (training_rows), so positions are candles apart by at most the dropped ones."""
    splits = walk_forward(len(x), train=train, test=test, purge=purge, anchored=anchored)
    problems = check_purge(splits, spec.label_horizon)
    if problems:
        raise TrainingError(f"walk-forward: {problems[0]}")
    if not splits:
        raise TrainingError(f"walk-forward: {len(x)} rows are too few for one window of {train}+{purge}+{test}")
    results = []
    for split in splits:
        fit_rows = slice(split.train.start, split.train.stop)
        test_rows = slice(split.test.start, split.test.stop)
        model = fit(x.iloc[fit_rows], y.iloc[fit_rows], spec)
        score = np.asarray(model.predict(x.iloc[test_rows]), dtype="float64")
        truth = y.iloc[test_rows].to_numpy(dtype="float64")
        if spec.objective == "binary":
            chosen = score > 0.5
            precision = float(truth[chosen].mean()) if chosen.any() else None
            results.append(WindowResult(split, auc(truth, score), precision, int(chosen.sum())))
        else:
            results.append(WindowResult(split, information_coefficient(truth, score), None, 0))
    return WalkForward(results)
