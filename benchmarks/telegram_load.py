"""Does Telegram slow trading down? The daemon (simulated market, real SQLite) runs the same ticks
three ways, in one process, one after the other:

  peer     Telegram off
  normal   Telegram on against the fake Bot API server on 127.0.0.1, every notification on, a user
           sending /status every 0.5 s
  storm    the same, with every sendMessage answered 429 (retry_after 1 s) the whole run

It reports each tick's duration (trader.tick, wall clock) and the event loop's lag, as ratios
against the peer measured in the same run (twice, first and last, to show how much runs differ).
Run from the repo root: `bash benchmarks/run_telegram.sh [--ticks 300] [--speed 6000]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config import load_config, require_strategy  # noqa: E402
from bot.logs import setup_logging  # noqa: E402
from bot.runtime import build_runtime  # noqa: E402
from bot.service import Daemon  # noqa: E402
from bot.strategy.loader import load_strategy  # noqa: E402
from bot.telegram_config import NOTIFICATION_KINDS  # noqa: E402
from tests.fakes.telegram_api import FakeTelegram  # noqa: E402

TOKEN = "900900:benchmark-token"  # noqa: S105 (the fake server's, not a real bot's)
CHAT, USER = -100_500, 77
CHATTER_S = 0.5  # a /status every half second: a person at the phone is far slower


def write_config(work: Path, telegram: dict[str, Any] | None, speed: float) -> Path:
    config = {
        "strategy": "QuickMomentum",
        "strategy_path": str(ROOT / "strategies"),
        "dry_run": True,
        "dry_run_wallet": 1000,
        "stake_currency": "USDT",
        "stake_amount": 50,
        "max_open_trades": 5,
        "db_url": f"sqlite:///{work / 'kestrel.sqlite'}",
        "user_data_dir": str(work),
        "exchange": {"name": "simulated", "pair_whitelist": ["BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT"]},
        "simulated": {"seed": 11, "speed": speed, "history_candles": 200, "state_path": str(work / "sim.sqlite")},
        "telegram": telegram or {"enabled": False},
    }
    path = work / "config.json"
    path.write_text(json.dumps(config))
    return path


async def run_one(name: str, ticks: int, speed: float, tg: FakeTelegram | None, storm: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"kestrel-tg-{name}-") as tmp:
        telegram = None
        if tg is not None:
            telegram = {
                "enabled": True,
                "chat_id": CHAT,
                "users": {str(USER): "viewer"},
                "base_url": tg.base_url,
                "notifications": dict.fromkeys(NOTIFICATION_KINDS, "on"),
                "poll_timeout_s": 1,
            }
        path = write_config(Path(tmp), telegram, speed)
        config, _ = load_config(path)
        strategy = load_strategy(config.strategy_path, require_strategy(config, path))
        runtime = await build_runtime(config, strategy, environ={"KESTREL_TELEGRAM_TOKEN": TOKEN})
        durations: list[float] = []
        tick = runtime.trader.tick

        async def timed(now_ms: int) -> Any:
            started = time.perf_counter()
            try:
                return await tick(now_ms)
            finally:
                durations.append((time.perf_counter() - started) * 1000)

        runtime.trader.tick = timed  # type: ignore[method-assign]
        daemon = Daemon(runtime)
        sent_before = 0 if tg is None else len(tg.requests_to("sendMessage"))
        if tg is not None and storm:
            tg.fail_always("sendMessage", status=429, retry_after=1)
        task = asyncio.create_task(daemon.run(install_signal_handlers=False))
        chatter = asyncio.create_task(_chatter(tg)) if tg is not None else None
        started = time.perf_counter()
        await asyncio.wait_for(daemon.wait_ticks(ticks), timeout=600)
        elapsed = time.perf_counter() - started
        lag_ms = daemon._lag.worst_ms
        queued = daemon.telegram.outbox.queued if daemon.telegram is not None else 0
        sends = [] if tg is None else tg.requests_to("sendMessage")[sent_before:]  # before the storm ends
        if chatter is not None:
            chatter.cancel()
        if tg is not None:
            tg.clear_faults()
        daemon.request_stop()
        await asyncio.wait_for(task, 60)
        durations.sort()
        return {
            "scenario": name,
            "ticks": len(durations),
            "tick_p50_ms": statistics.median(durations),
            "tick_p95_ms": durations[int(len(durations) * 0.95) - 1],
            "tick_max_ms": durations[-1],
            "ticks_per_s": len(durations) / elapsed,
            "loop_lag_worst_ms": lag_ms,
            "send_calls": len(sends),
            "send_429": sum(1 for r in sends if r.status == 429),
            "queued_at_end": queued,
        }


async def _chatter(tg: FakeTelegram | None) -> None:
    assert tg is not None
    while True:
        tg.send_text(USER, CHAT, "/status")
        await asyncio.sleep(CHATTER_S)


async def main(ticks: int, speed: float) -> list[dict[str, Any]]:
    setup_logging("ERROR", None)
    results = [await run_one("peer", ticks, speed, None, storm=False)]
    async with FakeTelegram(TOKEN) as tg:
        results.append(await run_one("normal", ticks, speed, tg, storm=False))
    async with FakeTelegram(TOKEN) as tg:
        results.append(await run_one("storm", ticks, speed, tg, storm=True))
    results.append(await run_one("peer again", ticks, speed, None, storm=False))  # how much runs differ
    return results


def table(results: list[dict[str, Any]]) -> str:
    peer = results[0]
    lines = [
        "| scenario | ticks | tick p50 ms | p95 ms | max ms | p50 vs peer | p95 vs peer | worst loop lag ms | "
        "sendMessage calls during the run (429) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        lines.append(
            f"| {r['scenario']} | {r['ticks']} | {r['tick_p50_ms']:.2f} | {r['tick_p95_ms']:.2f} | "
            f"{r['tick_max_ms']:.2f} | {r['tick_p50_ms'] / peer['tick_p50_ms']:.2f}x | "
            f"{r['tick_p95_ms'] / peer['tick_p95_ms']:.2f}x | {r['loop_lag_worst_ms']:.1f} | "
            f"{r['send_calls']} ({r['send_429']}) |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ticks", type=int, default=300)
    parser.add_argument("--speed", type=float, default=6000)
    args = parser.parse_args()
    out = asyncio.run(main(args.ticks, args.speed))
    text = table(out)
    print(text)
    results = ROOT / "benchmarks" / "results"
    (results / "telegram_load.json").write_text(json.dumps(out, indent=1))
    (results / "telegram_load.md").write_text(
        f"# Telegram load vs Telegram off ({args.ticks} ticks, speed {args.speed:g})\n\n{text}\n"
    )
