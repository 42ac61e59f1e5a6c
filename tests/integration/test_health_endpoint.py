"""/health and /metrics over real HTTP on 127.0.0.1, from a running daemon (simulated market, real
SQLite): fresh ticks give 200, a tick job that cannot run makes it 503, and the metrics agree with
the store."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.config import load_config, require_strategy
from bot.runtime import build_runtime
from bot.service import Daemon
from bot.strategy.loader import load_strategy
from tests.integration.harness import read_back
from tests.integration.test_kill_switch import EVERY_CANDLE, PAIRS


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def config_path(tmp_path: Path, write_config: Any) -> Path:
    (tmp_path / "strats").mkdir()
    (tmp_path / "strats" / "every.py").write_text(EVERY_CANDLE)
    path: Path = write_config(
        strategy="EveryCandle",
        strategy_path=str(tmp_path / "strats"),
        exchange={"name": "simulated", "pair_whitelist": PAIRS},
        simulated={"speed": 3000, "history_candles": 50},
        health={"enabled": True, "port": free_port(), "stale_after_s": 1.0},
    )
    return path


def metric(text: str, name: str, **labels: str) -> float:
    want = name + ("{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}" if labels else "")
    for line in text.splitlines():
        if line.startswith(want + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{want} not in:\n{text}")


async def test_health_and_metrics(config_path: Path) -> None:
    config, _ = load_config(config_path)
    strategy = load_strategy(config.strategy_path, require_strategy(config, config_path))
    daemon = Daemon(await build_runtime(config, strategy, environ={}))
    task = asyncio.create_task(daemon.run(install_signal_handlers=False))
    base = f"http://127.0.0.1:{config.health.port}"
    try:
        await asyncio.wait_for(daemon.wait_ticks(4), 20)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/health") as r:
                body = await r.json()
                assert r.status == 200 and body["status"] == "ok" and body["trading"] == "running"
            lock = daemon._tick_lock  # a tick that never ends: no tick job can run
            await lock.acquire()
            try:
                stored = await read_back(config_path)
                async with http.get(f"{base}/metrics") as r:
                    assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
                    text = await r.text()
                await asyncio.sleep(1.3)
                async with http.get(f"{base}/health") as r:
                    assert r.status == 503 and (await r.json())["status"] == "stale"
            finally:
                lock.release()
            await asyncio.wait_for(daemon.wait_ticks(daemon.ticks + 2), 20)
            async with http.get(f"{base}/health") as r:
                assert r.status == 200
    finally:
        daemon.request_stop()
        assert await asyncio.wait_for(task, 20) == 0
    live = [t for t in stored.trades if t.status in ("open", "closing")]
    assert metric(text, "kestrel_open_trades") == len(live)
    for state in {o.status for o in stored.orders}:
        assert metric(text, "kestrel_orders", state=state) == len([o for o in stored.orders if o.status == state])
    assert metric(text, "kestrel_trading_state", state="running") == 1
    assert metric(text, "kestrel_trading_state", state="halted") == 0
    assert metric(text, "kestrel_tick_duration_seconds_count") >= 4
    assert metric(text, "kestrel_up") == 1
    assert metric(text, "kestrel_equity", currency="USDT") > 0
    assert "# TYPE kestrel_exchange_errors_total counter" in text
    with pytest.raises(aiohttp.ClientConnectionError):  # closed with the daemon
        async with aiohttp.ClientSession() as http, http.get(f"{base}/health"):
            pass
