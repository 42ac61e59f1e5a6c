"""Whether a retrained model replaces the served one. Both are scored out of sample on the same
rows where that is possible: the rows of the candidate's walk-forward test windows that come after
everything the served model saw (its last training candle plus the label horizon), each row scored
by the candidate's model of that window (trained before it) and by the served model. When there
are too few such rows, the served model's stored walk-forward AUC stands in. Every candidate must
also reach the floor on its own walk-forward. Pure (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np

from bot.candles import dates_ms
from bot.ml.candidate import Candidate
from bot.ml.train import score_rows

MIN_ROWS = 100  # fewer unseen rows in a window than this say too little to compare on


@dataclass(frozen=True)
class Comparison:
    candidate: float | None
    current: float | None
    windows: int  # windows both were scored on (0: the current model's stored metric is used)
    rows: int = 0


@dataclass(frozen=True)
class Verdict:
    promote: bool
    reason: str


def compare(
    candidate: Candidate, current: lgb.Booster, *, saw_until_ms: int, stored_metric: float | None
) -> Comparison | None:
    """`saw_until_ms`: the open time of the last candle the served model's labels looked at. None:
    the served model was trained on other features, so it is not comparable (nor servable)."""
    if current.feature_name() != list(candidate.x.columns):
        return None
    opened = dates_ms(candidate.dates)
    first_unseen = int(np.searchsorted(opened, saw_until_ms, side="right"))
    ours, theirs, rows = [], [], 0
    for window in candidate.judged.windows:
        start = max(window.split.test.start, first_unseen)
        if window.split.test.stop - start < MIN_ROWS:
            continue
        unseen = range(start, window.split.test.stop)
        a = score_rows(window.model, candidate.x, candidate.y, unseen, candidate.spec)[0]
        b = score_rows(current, candidate.x, candidate.y, unseen, candidate.spec)[0]
        if a is not None and b is not None:
            ours.append(a)
            theirs.append(b)
            rows += len(unseen)
    if ours:
        return Comparison(float(np.mean(ours)), float(np.mean(theirs)), len(ours), rows)
    return Comparison(candidate.metric, stored_metric, 0)


def judge(
    found: Comparison | None, candidate_metric: float | None, *, tolerance: float, floor: float, name: str = "AUC"
) -> Verdict:
    """`found` None: no model is served (or none that can be compared): the floor alone decides.
    `name`: the metric (AUC for a probability, IC for a return), for the reason's text."""
    if candidate_metric is None:
        return Verdict(False, f"no out-of-sample {name} (a test window with one class only, or constant)")
    if candidate_metric < floor:
        return Verdict(False, f"{name} {candidate_metric:.3f}, below the floor of {floor:.3f}")
    if found is None:
        return Verdict(
            True, f"{name} {candidate_metric:.3f}, above the floor of {floor:.3f}; no comparable model served"
        )
    ours, theirs = found.candidate, found.current
    where = (
        f"on the same {found.rows} rows of {found.windows} test windows, out of sample for both"
        if found.windows
        else "walk-forward, each on its own rows"
    )
    if ours is None:
        return Verdict(False, f"no out-of-sample {name} on the rows the served model never saw")
    if theirs is None:
        return Verdict(True, f"{name} {ours:.3f}; the served model has no metric to compare")
    if ours >= theirs - tolerance:
        return Verdict(True, f"{name} {ours:.3f} against {theirs:.3f} {where} (tolerance {tolerance:g})")
    return Verdict(False, f"{name} {ours:.3f} against {theirs:.3f} {where}: worse by more than {tolerance:g}")
