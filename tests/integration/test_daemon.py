"""The daemon end to end: real scheduler, real SQLite files, the simulated market."""

import time
from decimal import Decimal as D
from pathlib import Path
from typing import Any

from loguru import logger

from tests.conftest import REPO
from tests.integration.harness import (
    assert_books_balance,
    assert_no_duplicate_orders,
    read_back,
    run_daemon,
)


async def test_a_run_opens_and_closes_trades_with_books_that_balance(write_config: Any) -> None:
    path = write_config()
    assert await run_daemon(path, ticks=80) == 0
    stored = await read_back(path)
    assert len(stored.closed()) >= 2, "the fixture must trade or this proves nothing"
    assert {t.exit_reason for t in stored.closed()} <= {"roi", "stop_loss", "trailing_stop_loss", "exit_signal"}
    for t in stored.closed():
        assert t.close_ms is not None and t.open_ms is not None and t.close_ms >= t.open_ms
        assert t.profit_ratio == t.profit_quote / (t.amount * t.open_rate + t.open_fee)  # type: ignore[operator]
    assert_no_duplicate_orders(stored)
    assert_books_balance(stored, D(1000), "USDT")
    kinds = [e.kind for e in stored.events]
    assert kinds[0] == "started" and kinds[-1] == "stopped"
    assert {"reconciled", "order_filled", "trade_opened", "trade_closed"} <= set(kinds)


async def test_a_restart_continues_the_same_market_and_trades(write_config: Any) -> None:
    path = write_config()
    await run_daemon(path, ticks=40)
    first = await read_back(path)
    assert first.trades, "the first run must have traded"
    await run_daemon(path, ticks=40)
    second = await read_back(path)
    # nothing lost: every trade of the first run is still there, closed ones unchanged
    before = {t.id: t for t in first.trades}
    after = {t.id: t for t in second.trades}
    assert before.keys() <= after.keys()
    for tid, t in before.items():
        if t.status == "closed":
            assert after[tid] == t
        else:  # still open then: now closed or still open, never lost
            assert after[tid].status in ("open", "closing", "closed")
    assert len(second.trades) > len(first.trades) or len(second.closed()) > len(first.closed())
    # the market resumed where it stopped: 40 more candles, not a restart from the beginning
    assert second.state["last_tick_ms"] == first.state["last_tick_ms"] + 40 * 300_000  # type: ignore[operator]
    assert_no_duplicate_orders(second)
    assert_books_balance(second, D(1000), "USDT")
    assert [e.kind for e in second.events].count("started") == 2


def test_the_shipped_config_trades_within_its_first_minute() -> None:
    """At the shipped speed a minute is 60 * speed / 300 candles; the shipped seed must enter by then."""
    import asyncio
    import json
    import tempfile

    shipped = json.loads((REPO / "config.json").read_text())
    speed = shipped["simulated"]["speed"]
    candles_per_minute = int(60 * speed / 300)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        shipped["strategy_path"] = str(REPO / "strategies")
        shipped["db_url"] = f"sqlite:///{tmp_path / 'k.sqlite'}"
        shipped["user_data_dir"] = str(tmp_path)
        shipped["simulated"].update(speed=30000, state_path=str(tmp_path / "sim.sqlite"))
        path = tmp_path / "config.json"
        path.write_text(json.dumps(shipped))
        asyncio.run(run_daemon(path, ticks=candles_per_minute))
        stored = asyncio.run(read_back(path))
    assert candles_per_minute >= 10
    assert stored.trades, f"no trade within the first {candles_per_minute} candles (one minute at speed {speed})"


async def test_a_heartbeat_line_says_the_daemon_is_alive(write_config: Any) -> None:
    path = write_config(log_heartbeat_min=0.01)  # every 0.6 s
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="INFO", format="{message}")
    try:
        started = time.monotonic()
        await run_daemon(path, ticks=40)
        ran_s = time.monotonic() - started
    finally:
        logger.remove(sink)
    alive = [line for line in lines if line.startswith("alive: ")]
    assert len(alive) >= int(ran_s / 0.6) - 1, (ran_s, alive)
    assert alive and alive[0].startswith("alive: dry-run simulated, running, ") and "ticks since start)" in alive[0]
