"""Whether a retrained model replaces the served one. Both are judged out of sample on the same rows
where that is possible: the candidate's walk-forward test windows that begin after everything the
served model saw (its last training candle plus the label horizon). When no such window exists,
the served model's stored walk-forward metric stands in. Pure (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np

from bot.ml.candidate import Candidate, open_ms
from bot.ml.train import score_rows


@dataclass(frozen=True)
class Comparison:
    candidate: float | None
    current: float | None
    windows: int  # test windows both were scored on (0: the current model's stored metric is used)


@dataclass(frozen=True)
class Verdict:
    promote: bool
    reason: str


def compare(
    candidate: Candidate, current: lgb.Booster, *, saw_until_ms: int, stored_metric: float | None
) -> Comparison:
    """`saw_until_ms`: the open time of the last candle the served model's labels looked at."""
    features = list(candidate.x.columns)
    if current.feature_name() == features:
        pairs: list[tuple[float, float]] = []
        for window in candidate.judged.windows:
            start = candidate.dates.iloc[window.split.test.start]
            if open_ms(start) <= saw_until_ms or window.metric is None:
                continue
            theirs, _, _ = score_rows(current, candidate.x, candidate.y, window.split.test, candidate.spec)
            if theirs is not None:
                pairs.append((window.metric, theirs))
        if pairs:
            both = np.array(pairs)
            return Comparison(float(both[:, 0].mean()), float(both[:, 1].mean()), len(pairs))
    return Comparison(candidate.metric, stored_metric, 0)


def judge(found: Comparison | None, candidate_metric: float | None, *, tolerance: float, floor: float) -> Verdict:
    """`found` None: no model is served yet, so the candidate must clear `floor` on its own."""
    if candidate_metric is None:
        return Verdict(False, "no out-of-sample AUC (a test window with one class only)")
    if found is None:
        if candidate_metric >= floor:
            return Verdict(True, f"AUC {candidate_metric:.3f}, at least the {floor:.3f} a first model needs")
        return Verdict(False, f"AUC {candidate_metric:.3f}, below the {floor:.3f} a first model needs")
    ours, theirs = found.candidate, found.current
    where = (
        f"on the same {found.windows} test windows, out of sample for both"
        if found.windows
        else "walk-forward, each on its own data"
    )
    if ours is None:
        return Verdict(False, "no out-of-sample AUC on the windows the served model never saw")
    if theirs is None:
        return Verdict(True, f"AUC {ours:.3f}; the served model has no metric to compare")
    if ours >= theirs - tolerance:
        return Verdict(True, f"AUC {ours:.3f} against {theirs:.3f} {where} (tolerance {tolerance:g})")
    return Verdict(False, f"AUC {ours:.3f} against {theirs:.3f} {where}: worse by more than {tolerance:g}")
