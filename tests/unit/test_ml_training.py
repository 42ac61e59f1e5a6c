"""Training and the model registry: the same rows and seed give the same model bytes, a planted
signal is found out of sample and noise is not, the purge is enforced, and models are stored whole,
versioned and promoted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.ml.registry import Registry, RegistryError, data_hash
from bot.ml.train import TrainingError, TrainSpec, auc, fit, walk_forward_eval

SPEC = TrainSpec(label_horizon=5, rounds=40)


def rows(n: int, seed: int, signal: float) -> tuple[pd.DataFrame, pd.Series]:
    """Three features; the label depends on the first one with strength `signal` (0: pure noise)."""
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(rng.normal(size=(n, 3)), columns=["f_a", "f_b", "f_c"])
    y = pd.Series((signal * x["f_a"] + rng.normal(size=n) > 0).astype("float64"))
    return x, y


def test_same_rows_and_seed_give_the_same_model_bytes() -> None:
    x, y = rows(2000, 1, 1.0)
    assert fit(x, y, SPEC).model_to_string() == fit(x, y, SPEC).model_to_string()
    other = TrainSpec(label_horizon=5, rounds=40, seed=7)
    assert fit(x, y, other).model_to_string() != fit(x, y, SPEC).model_to_string()


def test_auc_by_ranks() -> None:
    assert auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])) == 0.75
    assert auc(np.array([0, 1]), np.array([0.9, 0.1])) == 0.0
    assert auc(np.array([1, 1]), np.array([0.2, 0.3])) is None


def test_walk_forward_finds_a_planted_signal_and_not_noise() -> None:
    x, y = rows(6000, 2, 1.0)
    found = walk_forward_eval(x, y, SPEC, train=2000, test=1000, purge=5)
    assert len(found.windows) == 3 and found.metric is not None and found.metric > 0.7
    assert all(w.split.test.start - w.split.train.stop >= 5 for w in found.windows)
    x, y = rows(6000, 3, 0.0)
    noise = walk_forward_eval(x, y, SPEC, train=2000, test=1000, purge=5)
    assert noise.metric is not None and abs(noise.metric - 0.5) < 0.05


def test_walk_forward_refuses_a_purge_shorter_than_the_label_horizon() -> None:
    x, y = rows(3000, 4, 1.0)
    with pytest.raises(TrainingError, match="fewer than the label horizon 5"):
        walk_forward_eval(x, y, SPEC, train=1000, test=500, purge=4)
    with pytest.raises(TrainingError, match="too few"):
        walk_forward_eval(x.iloc[:900], y.iloc[:900], SPEC, train=1000, test=500, purge=5)
    with pytest.raises(TrainingError, match="one class only"):
        fit(x, pd.Series(np.zeros(len(x))), SPEC)


def test_registry_versions_promotes_and_writes_whole(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "models")
    x, y = rows(1000, 5, 1.0)
    text = fit(x, y, SPEC).model_to_string()
    first = registry.save("LgbmSignal", text, {"features": list(x.columns), "data_hash": data_hash(x, y)})
    second = registry.save("LgbmSignal", text, {"features": list(x.columns)})
    assert (first.version, second.version) == ("v0001", "v0002")
    assert registry.versions("LgbmSignal") == ["v0001", "v0002"]
    assert first.metadata["data_hash"] == data_hash(x, y) and "lightgbm" in first.metadata["libraries"]
    assert first.model_text() == text
    with pytest.raises(RegistryError, match="no promoted model for LgbmSignal"):
        registry.load("LgbmSignal")
    registry.promote("LgbmSignal", "v0001")
    assert registry.load("LgbmSignal").version == "v0001"
    with pytest.raises(RegistryError, match=r"has no version 'v0009' \(stored: v0001, v0002\)"):
        registry.promote("LgbmSignal", "v0009")
    assert registry.promoted("LgbmSignal") == "v0001"  # a failed promote changes nothing
    leftovers = [p.name for p in (tmp_path / "models" / "LgbmSignal").iterdir() if p.name.startswith(".")]
    assert leftovers == []  # no staging folder or file left behind
    assert data_hash(x, y) != data_hash(x, 1 - y)
