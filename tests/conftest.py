"""Shared fixtures: configs written to a temp folder, candle files, and a daemon runner that uses
the real scheduler, the real SQLite files and the simulated market."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(autouse=True, scope="session")
def _quiet_logs() -> None:
    """The daemon logs every tick at DEBUG; tests read the database, not the log."""
    import sys

    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level=os.environ.get("KESTREL_TEST_LOG", "WARNING"))


def base_config(tmp: Path, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "strategy": "QuickMomentum",
        "strategy_path": str(REPO / "strategies"),
        "dry_run": True,
        "dry_run_wallet": 1000,
        "stake_currency": "USDT",
        "stake_amount": 100,
        "max_open_trades": 3,
        "fee": 0.001,
        "db_url": f"sqlite:///{tmp / 'user_data' / 'kestrel.sqlite'}",
        "user_data_dir": str(tmp / "user_data"),
        "exchange": {"name": "simulated", "pair_whitelist": ["BTC/USDT", "ETH/USDT", "SOL/USDT"]},
        "simulated": {
            "seed": 7,
            "speed": 30000,
            "history_candles": 300,
            "state_path": str(tmp / "user_data" / "sim.sqlite"),
        },
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    return config


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    def write(name: str = "config.json", **overrides: Any) -> Path:
        path = tmp_path / name
        path.write_text(json.dumps(base_config(tmp_path, **overrides), indent=2))
        return path

    return write


def candle_frame(start: str, tf: str, rows: list[tuple[float, float, float, float, float]]) -> pd.DataFrame:
    """Candles from (open, high, low, close, volume) tuples, one timeframe apart."""
    dates = pd.date_range(start, periods=len(rows), freq=tf.replace("m", "min"), tz="UTC")
    arr = np.array(rows, dtype=np.float64)
    return pd.DataFrame(
        {"date": dates, "open": arr[:, 0], "high": arr[:, 1], "low": arr[:, 2], "close": arr[:, 3], "volume": arr[:, 4]}
    )


def write_candles(directory: Path, pair: str, tf: str, frame: pd.DataFrame) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{pair.replace('/', '_')}-{tf}.feather"
    frame.reset_index(drop=True).to_feather(path)
    return path
