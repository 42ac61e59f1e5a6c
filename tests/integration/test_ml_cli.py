"""`kestrel train`, `kestrel models` and a backtest of the trained strategy, end to end on candle
files with a planted pattern (returns that carry on: AR(1) 0.6), real LightGBM, a real registry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bot.cli import main
from tests.conftest import write_candles
from tests.integration.planted import PLANTED, planted_candles


@pytest.fixture
def setup(tmp_path: Path, write_config: Any) -> tuple[Path, Path]:
    (tmp_path / "strats").mkdir()
    (tmp_path / "strats" / "planted.py").write_text(PLANTED)
    data = tmp_path / "data"
    for seed, pair in enumerate(("AAA/USDT", "BBB/USDT"), start=1):
        write_candles(data, pair, "5m", planted_candles(12_000, seed))
    config = write_config(
        strategy="Planted",
        strategy_path=str(tmp_path / "strats"),
        exchange={"name": "simulated", "pair_whitelist": ["AAA/USDT", "BBB/USDT"]},
    )
    return config, data


def kestrel(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, (out.out + out.err).strip()


def test_train_judges_walk_forward_stores_versions_and_promotes(
    setup: tuple[Path, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config, data = setup
    code, said = kestrel(capsys, "train", "--config", str(config), "--datadir", str(data))
    assert code == 0, said
    assert said.startswith("Planted v0001: ") and "walk-forward windows, out-of-sample AUC 0." in said
    folder = tmp_path / "user_data" / "models" / "Planted"
    meta = json.loads((folder / "v0001" / "metadata.json").read_text())
    assert meta["oos_auc"] > 0.6  # the planted momentum is found, out of sample
    assert meta["label"] == {"kind": "beats_threshold", "horizon": 6, "threshold": 0.002}
    assert meta["pairs"] == ["AAA/USDT", "BBB/USDT"] and meta["features"][0] == "f_ret_1"
    for window in meta["walk_forward"]:
        assert window["train"][1] < window["test"][0]  # every test window after its training
    assert kestrel(capsys, "models", "list", "--config", str(config))[1].startswith("v0001: ")
    tested = meta["test_backtest"]  # the test windows traded by the backtester, each by its own model
    assert pd.Timestamp(tested["start"]) == pd.Timestamp(meta["walk_forward"][0]["test"][0])
    assert tested["trades"] > 0 and f"test windows backtested: {tested['trades']} trades" in said
    assert -0.9 < tested["buy_and_hold_ratio"] < 10 and "buy and hold" in said
    assert 0 <= meta["oos_precision_at_entry"] <= 1 and meta["entry_cut"] == 0.6 and meta["metric"] == "auc"

    code, said = kestrel(capsys, "train", "--config", str(config), "--datadir", str(data))
    assert code == 0 and said.startswith("Planted v0002: ")
    assert (folder / "v0002" / "model.txt").read_bytes() == (folder / "v0001" / "model.txt").read_bytes()

    assert kestrel(capsys, "models", "promote", "v0009", "--config", str(config)) == (
        2,
        "kestrel: models: Planted has no version 'v0009' (stored: v0001, v0002)",
    )
    code, said = kestrel(capsys, "models", "promote", "v0002", "--config", str(config))
    assert code == 0 and "v0002 promoted" in said
    listed = kestrel(capsys, "models", "list", "--config", str(config))[1].splitlines()
    assert listed[1].startswith("v0002 (promoted): ")
    shown = json.loads(kestrel(capsys, "models", "show", "--config", str(config))[1])
    assert shown["version"] == "v0002" and "lightgbm" in shown["libraries"]

    code, said = kestrel(capsys, "backtest", "--config", str(config), "--datadir", str(data))
    assert code == 0, said  # the promoted model serves a plain backtest

    out = tmp_path / "wf"
    args = ("backtest", "--config", str(config), "--datadir", str(data), "--walk-forward", "--export-dir", str(out))
    code, said = kestrel(capsys, *args)
    assert code == 0, said
    assert said.startswith(f"walk-forward: {len(meta['walk_forward'])} models, each trained before the period")
    trades = pd.read_csv(out / "trades.csv")
    first_test = pd.Timestamp(meta["walk_forward"][0]["test"][0])
    assert len(trades) > 0 and (pd.to_datetime(trades["open_date"], utc=True) > first_test).all()  # out of sample only
    assert "lookahead" not in said


def test_a_regression_strategy_is_judged_by_ic_and_trades_its_predicted_returns(
    setup: tuple[Path, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config, data = setup
    code, said = kestrel(
        capsys, "train", "--config", str(config), "--datadir", str(data), "--strategy", "PlantedReturn"
    )
    assert code == 0, said
    assert "out-of-sample IC 0." in said and "(rank correlation; 0 is none)" in said
    meta = json.loads((tmp_path / "user_data" / "models" / "PlantedReturn" / "v0001" / "metadata.json").read_text())
    assert meta["metric"] == "ic" and "oos_auc" not in meta and meta["oos_metric"] > 0.2  # AR(1) 0.6 carries on
    assert meta["label"]["kind"] == "net_forward_return" and meta["entry_cut"] == pytest.approx(np.log1p(0.002))
    assert all(("ic" in w and w["precision_at_entry"] is None) or 0 <= w["precision_at_entry"] <= 1
               for w in meta["walk_forward"])  # fmt: skip
    assert meta["test_backtest"]["trades"] > 0
    listed = kestrel(capsys, "models", "list", "--config", str(config), "--strategy", "PlantedReturn")[1]
    assert listed.startswith("v0001: ") and ", IC 0." in listed


def test_train_timerange_keeps_to_it(
    setup: tuple[Path, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config, data = setup
    args = ("train", "--config", str(config), "--datadir", str(data))
    code, said = kestrel(capsys, *args, "--timerange", "20240105-20240201")
    assert code == 0, said
    assert "walk-forward [####################]" in said  # the progress bar, finished
    meta = json.loads((tmp_path / "user_data" / "models" / "Planted" / "v0001" / "metadata.json").read_text())
    first, last = (pd.Timestamp(t) for t in meta["train_range"])
    assert first >= pd.Timestamp("2024-01-05", tz="UTC") and last < pd.Timestamp("2024-02-01", tz="UTC")
    assert pd.Timestamp(meta["test_backtest"]["end"]) <= pd.Timestamp("2024-02-01", tz="UTC")
    code, said = kestrel(capsys, *args, "--timerange", "2024")
    assert code == 2 and said.startswith("kestrel: --timerange: ")


def test_training_a_strategy_that_is_not_ml_is_one_line(
    setup: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, data = setup
    raw = json.loads(config.read_text())
    raw["strategy"], raw["strategy_path"] = "QuickMomentum", str(Path(__file__).parents[2] / "strategies")
    config.write_text(json.dumps(raw))
    assert kestrel(capsys, "train", "--config", str(config), "--datadir", str(data)) == (
        2,
        "kestrel: train: QuickMomentum is not an ML strategy (subclass bot.ml.strategy.MLStrategy)",
    )
