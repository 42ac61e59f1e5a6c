"""Walk-forward windows for training and testing: each test window comes after its training
window, with a purge gap of at least the label horizon between them (a training row's label looks
`horizon` candles ahead, so without the gap the last training labels would be built from the test
window's candles). Pure."""

from __future__ import annotations

from dataclasses import dataclass

from bot.errors import TrainingError


@dataclass(frozen=True)
class Split:
    train: range  # row positions
    test: range

    def gap(self) -> int:
        return self.test.start - self.train.stop


def walk_forward(
    rows: int, *, train: int, test: int, purge: int, anchored: bool = False, step: int | None = None
) -> list[Split]:
    """Windows over `rows` rows: training `train` rows (from the start when `anchored`), then `purge`
    rows left out, then `test` rows; moved on by `step` (default `test`). The last test window ends
    with the data (what is left over is the oldest rows), so the newest rows are always judged."""
    if min(train, test) < 1 or purge < 0:
        raise TrainingError(f"walk-forward: train ({train}) and test ({test}) must be >= 1, purge ({purge}) >= 0")
    step = step or test
    splits = []
    start = max(rows - (train + purge + test), 0) % step
    while start + train + purge + test <= rows:
        train_range = range(0 if anchored else start, start + train)  # anchored: every older row too
        test_start = start + train + purge
        splits.append(Split(train_range, range(test_start, test_start + test)))
        start += step
    return splits


def check_purge(splits: list[Split], horizon: int) -> list[str]:
    """Every split leaves at least `horizon` rows between its training and its test rows."""
    return [
        f"split {i}: {s.gap()} rows between training and test, fewer than the label horizon {horizon}"
        for i, s in enumerate(splits)
        if s.gap() < horizon
    ]
