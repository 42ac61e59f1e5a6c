"""Fixtures shared by the integration tests."""

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import candle_frame, write_candles
from tests.integration.test_exits_end_to_end import FLAT, SCENARIOS, SCRIPTED, SIGNAL


@pytest.fixture
def scripted_config(tmp_path: Path, write_config: Any) -> Path:
    (tmp_path / "strats").mkdir()
    (tmp_path / "strats" / "scripted.py").write_text(SCRIPTED)
    for pair, rows in SCENARIOS.items():
        full = [FLAT, FLAT, SIGNAL, *rows]
        full += [(*rows[-1][:4], 1.0)] * (10 - len(full))
        frame = candle_frame("2024-01-01", "5m", [r if len(r) == 5 else (*r, 1.0) for r in full])
        write_candles(tmp_path / "candles", pair, "5m", frame)
    return write_config(
        strategy="Scripted",
        strategy_path=str(tmp_path / "strats"),
        max_open_trades=7,
        exchange={"name": "simulated", "pair_whitelist": list(SCENARIOS)},
        simulated={
            "candles_dir": str(tmp_path / "candles"),
            "history_candles": 3,
            "price_tick": "0.01",
            "amount_step": "0.0001",
        },
    )
