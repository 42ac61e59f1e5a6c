"""`kestrel train` and `kestrel models list|show|promote`: the ML strategy's pairs read from the
candle files, judged walk-forward, then one model trained on every usable row and stored as a new
version (never promoted by itself: a person, or the daemon's retraining with its tolerance, does)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from bot.backtest.series import candle_file, read_candles
from bot.config import Config
from bot.errors import ConfigError
from bot.ml.dataset import pooled_rows
from bot.ml.registry import Registry, data_hash
from bot.ml.splits import walk_forward
from bot.ml.strategy import MLStrategy
from bot.ml.train import TrainingError, TrainSpec, fit, walk_forward_eval


def registry_for(config: Config) -> Registry:
    return Registry(config.user_data_dir / "models")


def _rows(
    config: Config, strategy: MLStrategy, datadir: Path, seed: int
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, pd.Series, pd.Series, TrainSpec]:
    """The whitelist's candles, pooled into training rows, and the spec (the purge counted in rows:
    pooled rows interleave the pairs, so `horizon` candles span `horizon * pairs` rows)."""
    frames = {
        pair: read_candles(candle_file(datadir, pair, strategy.timeframe)) for pair in config.exchange.pair_whitelist
    }
    x, y, dates = pooled_rows(
        frames,
        strategy.feature_set,
        horizon=strategy.label_horizon,
        threshold=strategy.label_threshold,
        fee_frac=float(config.fee or 0),
    )
    return frames, x, y, dates, TrainSpec(label_horizon=strategy.label_horizon * len(frames), seed=seed)


def train(config: Config, strategy: MLStrategy, datadir: Path, *, seed: int = 42) -> str:
    """Returns the report printed to the user; raises ConfigError or TrainingError with one line."""
    name = type(strategy).__name__
    frames, x, y, dates, spec = _rows(config, strategy, datadir, seed)
    pairs = len(frames)
    judged = walk_forward_eval(
        x,
        y,
        spec,
        train=strategy.train_rows * pairs,
        test=strategy.test_rows * pairs,
        purge=spec.label_horizon,
    )
    model = fit(x, y, spec)
    metadata = {
        "features": list(x.columns),
        "feature_set": vars(strategy.feature_set),
        "label": {"kind": "beats_threshold", "horizon": strategy.label_horizon, "threshold": strategy.label_threshold},
        "pairs": sorted(frames),
        "timeframe": strategy.timeframe,
        "rows": len(x),
        "positive_share": float(y.mean()),
        "train_range": [str(dates.iloc[0]), str(dates.iloc[-1])],
        "walk_forward": [
            {
                "train": [str(dates.iloc[w.split.train.start]), str(dates.iloc[w.split.train.stop - 1])],
                "test": [str(dates.iloc[w.split.test.start]), str(dates.iloc[w.split.test.stop - 1])],
                "auc": w.metric,
                "precision_above_half": w.precision,
                "predicted_positive": w.predicted_positive,
            }
            for w in judged.windows
        ],
        "oos_auc": judged.metric,
        "seed": seed,
        "data_hash": data_hash(x, y),
    }
    stored = registry_for(config).save(name, model.model_to_string(), metadata)
    auc = "-" if judged.metric is None else f"{judged.metric:.3f}"
    return (
        f"{name} {stored.version}: {len(x)} rows from {pairs} pairs, {len(judged.windows)} walk-forward windows, "
        f"out-of-sample AUC {auc} (0.5 is a coin toss); stored in {stored.path}\n"
        f"serve it with: kestrel models promote {name} {stored.version}"
    )


def walk_forward_models(
    config: Config, strategy: MLStrategy, datadir: Path, *, seed: int = 42
) -> list[tuple[int, Any]]:
    """For a backtest that is out of sample end to end: one model per walk-forward window, trained on
    the rows before it (purge included), serving from the window's first candle to the next's."""
    frames, x, y, dates, spec = _rows(config, strategy, datadir, seed)
    pairs = len(frames)
    splits = walk_forward(
        len(x), train=strategy.train_rows * pairs, test=strategy.test_rows * pairs, purge=spec.label_horizon
    )
    if not splits:
        raise TrainingError(f"walk-forward: {len(x)} rows are too few for one window")
    models = []
    for split in splits:
        rows = slice(split.train.start, split.train.stop)
        start = pd.Timestamp(dates.iloc[split.test.start]).value // 1_000_000
        models.append((int(start), fit(x.iloc[rows], y.iloc[rows], spec)))
    return models


def models(config: Config, action: str, strategy: str, version: str | None) -> str:
    registry = registry_for(config)
    if action == "list":
        promoted = registry.promoted(strategy)
        lines = []
        for v in registry.versions(strategy):
            meta = registry.load(strategy, v).metadata
            auc = meta.get("oos_auc")
            mark = " (promoted)" if v == promoted else ""
            lines.append(f"{v}{mark}: {meta.get('rows')} rows, AUC {'-' if auc is None else f'{auc:.3f}'}")
        return "\n".join(lines) or f"no models for {strategy} in {config.user_data_dir / 'models'}"
    if action == "show":
        return json.dumps(registry.load(strategy, version).metadata, indent=1, sort_keys=True)
    if version is None:
        raise ConfigError("models promote: which version? e.g. kestrel models promote LgbmSignal v0002")
    registry.promote(strategy, version)
    return f"{strategy}: {version} promoted; a running daemon uses it after /reload or a restart"
