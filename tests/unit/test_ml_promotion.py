"""Whether a retrained model replaces the served one: judged on the same unseen test windows when
there are some, on the stored metric when not; the tolerance and the first model's floor; when a
retraining is due; and a training cancelled mid-way."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from bot.errors import TrainingCancelledError
from bot.ml.candidate import Candidate, build_candidate, open_ms
from bot.ml.features import FeatureSet
from bot.ml.promotion import Comparison, compare, judge
from bot.ml.retrain import RETRY_MS, due
from bot.ml.strategy import MLStrategy
from bot.ml.train import TrainSpec, fit, score_rows
from tests.integration.planted import planted_candles

DAY = 86_400_000


class Small(MLStrategy):
    timeframe: ClassVar[str] = "5m"
    feature_set: ClassVar[FeatureSet] = FeatureSet(
        return_horizons=(1, 3), volatility_windows=(12,), rsi_period=None, atr_period=None,
        volume_z_window=None, candle_shape=False, calendar=False,
    )  # fmt: skip
    label_horizon: ClassVar[int] = 6
    label_threshold: ClassVar[float] = 0.002
    train_rows: ClassVar[int] = 1500
    test_rows: ClassVar[int] = 800


@pytest.fixture(scope="module")
def candidate() -> Candidate:
    frames = {"AAA/USDT": planted_candles(4000, 1)}
    return build_candidate(frames, Small(load_model=False), fee_frac=0.001, seed=1, trained_at_ms=0)


def test_the_served_model_is_scored_on_the_rows_it_never_saw(candidate: Candidate) -> None:
    windows = candidate.judged.windows
    assert len(windows) == 3 and windows[-1].split.test.stop == len(candidate.x)  # the newest rows judged
    opened = [open_ms(d) for d in candidate.dates]
    served = fit(candidate.x.iloc[:1500], candidate.y.iloc[:1500], TrainSpec(label_horizon=6, seed=3))

    found = compare(candidate, served, saw_until_ms=opened[windows[1].split.test.start] - 1, stored_metric=0.99)
    assert found is not None and (found.windows, found.rows) == (2, 1600)  # the first window it had seen
    unseen = windows[1:]
    assert found.candidate == pytest.approx(np.mean([w.metric for w in unseen]))
    theirs = [score_rows(served, candidate.x, candidate.y, w.split.test, candidate.spec)[0] for w in unseen]
    assert found.current == pytest.approx(np.mean(theirs))  # scored on those rows, not the stored 0.99

    last = windows[-1].split.test
    middle = opened[last.start + 500]  # retrained after less than a test window: the rows since then
    found = compare(candidate, served, saw_until_ms=middle, stored_metric=0.99)
    assert found is not None and (found.windows, found.rows) == (1, last.stop - last.start - 501)
    rows = range(last.start + 501, last.stop)
    ours = score_rows(windows[-1].model, candidate.x, candidate.y, rows, candidate.spec)[0]
    assert found.candidate == pytest.approx(ours)


def test_with_too_few_unseen_rows_the_stored_metric_stands_in_and_other_features_compare_as_none(
    candidate: Candidate,
) -> None:
    served = fit(candidate.x.iloc[:1500], candidate.y.iloc[:1500], TrainSpec(label_horizon=6))
    near_end = open_ms(candidate.dates.iloc[-50])
    assert compare(candidate, served, saw_until_ms=near_end, stored_metric=0.61) == Comparison(
        candidate.metric, 0.61, 0
    )
    x = candidate.x.iloc[:1500].rename(columns=lambda c: f"old_{c}")
    other = fit(x, candidate.y.iloc[:1500], TrainSpec(label_horizon=6))
    assert compare(candidate, other, saw_until_ms=0, stored_metric=0.58) is None  # cannot serve: not a rival


@pytest.mark.parametrize(
    ("found", "metric", "promote", "reason"),
    [
        (None, 0.55, True, "AUC 0.550, above the floor of 0.520; no comparable model served"),
        (None, 0.51, False, "AUC 0.510, below the floor of 0.520"),
        (None, None, False, "no out-of-sample AUC (a test window with one class only, or constant)"),
        (Comparison(0.595, 0.60, 2, 900), 0.59, True, "AUC 0.595 against 0.600 on the same 900 rows of 2 test"),
        (Comparison(0.58, 0.60, 2, 900), 0.70, False, "AUC 0.580 against 0.600 on the same 900 rows"),
        (Comparison(0.58, 0.60, 0), 0.58, False, "walk-forward, each on its own rows: worse by more than 0.01"),
        (Comparison(0.58, None, 0), 0.58, True, "the served model has no metric to compare"),
        (Comparison(0.515, 0.51, 0), 0.515, False, "AUC 0.515, below the floor of 0.520"),  # never drifts down
    ],
)
def test_judge(found: Comparison | None, metric: float | None, promote: bool, reason: str) -> None:
    verdict = judge(found, metric, tolerance=0.01, floor=0.52)
    assert verdict.promote is promote and reason in verdict.reason


def test_judge_names_the_metric_and_the_floor_follows_it() -> None:
    from bot.ml_config import MLConfig

    ml = MLConfig()
    assert (ml.floor("auc"), ml.floor("ic"), MLConfig(min_metric=0.1).floor("ic")) == (0.52, 0.02, 0.1)
    verdict = judge(Comparison(0.05, 0.07, 1, 300), 0.05, tolerance=0.01, floor=ml.floor("ic"), name="IC")
    assert not verdict.promote and verdict.reason.startswith("IC 0.050 against 0.070 on the same 300 rows")


def test_due() -> None:
    assert due(5, None, 7 * DAY)  # never trained: at once
    assert not due(7 * DAY - 1, 0, 7 * DAY) and due(7 * DAY, 0, 7 * DAY)
    assert due(RETRY_MS, 0, 7 * DAY, failed=True) and not due(RETRY_MS - 1, 0, 7 * DAY, failed=True)
    assert due(DAY // 48, 0, DAY // 48, failed=True)  # retrying never waits longer than the schedule


def test_a_cancelled_training_stops_with_its_own_error() -> None:
    cancel = threading.Event()
    cancel.set()
    frames = {"AAA/USDT": pd.DataFrame(planted_candles(4000, 2))}
    with pytest.raises(TrainingCancelledError, match="the daemon is stopping"):
        build_candidate(frames, Small(load_model=False), fee_frac=0.0, seed=1, trained_at_ms=0, cancel=cancel)


@pytest.mark.parametrize("short", [0, 1, 2, 7])
def test_pooled_pairs_keep_the_purge_in_time_when_a_split_falls_inside_a_candle_time(short: int) -> None:
    """Pairs whose data end at different times put the windows' edges inside a candle time (the
    windows end with the data); no training label may still reach the first test candle."""
    frames = {
        "AAA/USDT": planted_candles(4000, 3),
        "BBB/USDT": planted_candles(4000, 4).iloc[: 4000 - short],
        "CCC/USDT": planted_candles(4000, 5).iloc[: 4000 - short],
    }
    found = build_candidate(frames, Small(load_model=False), fee_frac=0.0, seed=1, trained_at_ms=0)
    horizon_ms = Small.label_horizon * 300_000
    for w in found.judged.windows:
        trained_until = open_ms(found.dates.iloc[w.split.train.stop - 1])
        assert trained_until + horizon_ms < open_ms(found.dates.iloc[w.split.test.start])


class SmallReturn(Small):
    label_kind: ClassVar[str] = "regression"  # type: ignore[misc]


def test_a_promoted_model_of_the_other_label_kind_is_not_served(tmp_path: Path) -> None:
    from bot.ml.registry import Registry

    rng = np.random.default_rng(5)
    x = pd.DataFrame(rng.normal(size=(300, 2)), columns=["f_a", "f_b"])
    probability = fit(x, pd.Series((x["f_a"] > 0).astype("float64")), TrainSpec(rounds=5)).model_to_string()
    registry = Registry(tmp_path / "models")
    for name in ("Small", "SmallReturn"):
        registry.save(name, probability, {"metric": "auc"})
        registry.promote(name, "v0001")
    config = {"user_data_dir": str(tmp_path)}
    assert Small(config).model_version == "v0001"
    assert SmallReturn(config).model is None  # its probabilities would be read as returns: never served
    copy = Small(config).walk_forward_copy([(0, Small(config).model)])
    assert copy.model is None and len(copy.walk_forward) == 1 and type(copy) is Small
