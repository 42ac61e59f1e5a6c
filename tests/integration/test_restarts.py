"""Restarts into a changed world: a pair dropped from the whitelist, a changed timeframe, a lost
venue state file."""

from pathlib import Path
from typing import Any

import pytest

from bot.config import load_config
from bot.errors import BooksDisagreeError
from bot.runtime import build_runtime
from bot.service import Daemon
from bot.strategy.loader import load_strategy
from tests.conftest import candle_frame, write_candles
from tests.integration.harness import read_back, run_daemon
from tests.integration.strategies import enter_on_777

ENTER_ON_777 = enter_on_777(-0.05)


@pytest.fixture
def replay_config(tmp_path: Path, write_config: Any) -> Any:
    (tmp_path / "strats").mkdir()
    (tmp_path / "strats" / "enter.py").write_text(ENTER_ON_777)
    flat = (100.0, 100.5, 99.5, 100.0, 1.0)
    rows = [flat, flat, (100.0, 100.5, 99.5, 100.0, 777.0), flat, flat, flat, (100.0, 100.5, 94.0, 95.0, 1.0)]
    rows += [(95.0, 95.5, 94.5, 95.0, 1.0)] * 6
    for pair in ("AAA/USDT", "BBB/USDT"):
        write_candles(tmp_path / "candles", pair, "5m", candle_frame("2024-01-01", "5m", rows))

    def make(pairs: list[str]) -> Path:
        return write_config(
            strategy="EnterOn777",
            strategy_path=str(tmp_path / "strats"),
            exchange={"name": "simulated", "pair_whitelist": pairs},
            simulated={
                "candles_dir": str(tmp_path / "candles"),
                "history_candles": 3,
                "price_tick": "0.01",
                "amount_step": "0.0001",
            },
        )

    return make


async def test_a_pair_dropped_from_the_whitelist_keeps_its_exits(replay_config: Any) -> None:
    path = replay_config(["AAA/USDT", "BBB/USDT"])
    await run_daemon(path, ticks=2)
    opened = await read_back(path)
    assert [(t.pair, t.status) for t in opened.trades] == [("AAA/USDT", "open"), ("BBB/USDT", "open")]
    path = replay_config(["AAA/USDT"])
    await run_daemon(path, ticks=6)
    stored = await read_back(path)
    assert [(t.pair, t.status, t.exit_reason) for t in stored.trades] == [
        ("AAA/USDT", "closed", "stop_loss"),
        ("BBB/USDT", "closed", "stop_loss"),
    ]
    assert not [e for e in stored.events if e.kind == "tick_error"]


async def test_a_lost_venue_state_file_refuses_to_start(replay_config: Any) -> None:
    path = replay_config(["AAA/USDT"])
    await run_daemon(path, ticks=2)
    config, _ = load_config(path)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{config.sim_state_path}{suffix}").unlink(missing_ok=True)
    runtime = await build_runtime(config, load_strategy(config.strategy_path, "EnterOn777"))
    with pytest.raises(
        BooksDisagreeError,
        match=r"^the journal's open positions are not all held at the venue "
        r"\(AAA: journal 1(\.0+)?, venue 0\); refusing to trade\.",
    ):
        await Daemon(runtime).run(install_signal_handlers=False)
    stored = await read_back(path)
    assert stored.events[-1].kind == "books_disagree"
    assert [(t.pair, t.status) for t in stored.trades] == [("AAA/USDT", "open")]  # nothing was touched


async def test_a_timeframe_changed_between_runs_moves_up_to_the_new_candle_grid(write_config: Any) -> None:
    path = write_config()
    await run_daemon(path, ticks=7)
    first = await read_back(path)
    assert first.state["last_tick_ms"] % 3_600_000 != 0  # type: ignore[operator]
    path = write_config(timeframe="1h")
    await run_daemon(path, ticks=40)
    second = await read_back(path)
    assert second.state["last_tick_ms"] % 3_600_000 == 0  # type: ignore[operator]
    assert len(second.trades) > len(first.trades), "trading goes on at the new timeframe"
