"""Retraining inside the daemon, end to end: the real scheduler, a replayed market of planted candles
(the simulated venue serves them only up to its clock), real LightGBM in a worker thread, a real
registry and SQLite file."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from bot.config import load_config
from bot.errors import ConfigError
from bot.ml.registry import Registry
from bot.reload import check_reload
from bot.runtime import build_runtime
from bot.service import Daemon
from bot.store.records import EventRecord
from bot.strategy.loader import load_strategy
from tests.conftest import write_candles
from tests.integration.harness import read_back
from tests.integration.planted import PLANTED, planted_candles

PAIRS = ("AAA/USDT", "BBB/USDT")
MODEL_EVENTS = ("model_promoted", "model_rejected", "retrain_failed")


@pytest.fixture
def market(tmp_path: Path, write_config: Any) -> Any:
    (tmp_path / "strats").mkdir()
    (tmp_path / "strats" / "planted.py").write_text(PLANTED)
    replay = tmp_path / "replay"
    for seed, pair in enumerate(PAIRS, start=1):
        write_candles(replay, pair, "5m", planted_candles(12_000, seed))

    def config(**ml: Any) -> Path:
        return write_config(
            strategy="Planted",
            strategy_path=str(tmp_path / "strats"),
            stake_amount=100,
            exchange={"name": "simulated", "pair_whitelist": list(PAIRS)},
            simulated={"candles_dir": str(replay), "history_candles": 8000, "speed": 30000},
            ml={"retrain_every": "6h", "history_candles": 7000, **ml},
        )

    return config


class Running:
    """A daemon started as `kestrel trade` starts it, stopped and awaited at the end."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.task = asyncio.create_task(daemon.run(install_signal_handlers=False))

    async def events(self, *kinds: str) -> list[EventRecord]:
        found = await self.daemon._rt.repo.events(limit=10_000)
        return [e for e in reversed(found) if e.kind in kinds]

    async def wait_for(self, count: int, *kinds: str, timeout_s: float = 60) -> list[EventRecord]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.task.done():
                self.task.result()  # the daemon failed: say how
                raise AssertionError("the daemon stopped early")
            found = await self.events(*kinds)
            if len(found) >= count:
                return found
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {count} x {kinds} within {timeout_s} s: {await self.events(*MODEL_EVENTS)}")

    async def stop(self) -> float:
        started = time.monotonic()
        self.daemon.request_stop()
        assert await asyncio.wait_for(self.task, timeout=30) == 0
        return time.monotonic() - started


async def start(path: Path, environ: dict[str, str] | None = None) -> Running:
    config, _ = load_config(path)
    strategy = load_strategy(config.strategy_path, "Planted", config.model_dump(mode="json"))
    return Running(Daemon(await build_runtime(config, strategy, environ=environ or {})))


async def test_the_daemon_trains_promotes_serves_and_retrains_on_schedule(market: Any, tmp_path: Path) -> None:
    path = market()
    run = await start(path)
    try:
        promoted = (await run.wait_for(1, "model_promoted"))[0]
        strategy = run.daemon._rt.strategy
        assert strategy.model_version == "v0001"  # swapped in, between ticks, without a restart
        # six hours of market time later (over 100 rows v0001 never saw), the second training, judged
        second = (await run.wait_for(2, *MODEL_EVENTS))[1]
    finally:
        await run.stop()
    registry = Registry(tmp_path / "user_data" / "models")
    first_meta = registry.load("Planted", "v0001").metadata
    assert promoted.message.startswith("Planted v0001 promoted: AUC 0.")
    assert first_meta["oos_auc"] > 0.6
    assert "above the floor of 0.520; no comparable model served" in first_meta["decision"]
    assert first_meta["test_backtest"]["trades"] > 0 and "buy and hold" in promoted.message
    assert second.kind in ("model_promoted", "model_rejected"), second.message
    second_meta = registry.load("Planted", "v0002").metadata
    assert second_meta["compared_with"] == "v0001" and second.message.startswith("Planted v0002 ")
    assert " on the same " in second_meta["decision"]  # both scored on the rows v0001 never saw
    assert second_meta["trained_at_ms"] - first_meta["trained_at_ms"] >= 6 * 3_600_000
    assert registry.promoted("Planted") == ("v0002" if second.kind == "model_promoted" else "v0001")
    stored = await read_back(path)
    assert stored.trades, "the promoted model must trade on the planted pattern, or this proves little"
    assert min(t.open_ms for t in stored.trades) > promoted.ts_ms  # no model, no entries
    history = pd.read_feather(tmp_path / "user_data" / "data" / "simulated" / "AAA_USDT-5m.feather")
    assert len(history) >= 7000  # gathered through the venue, kept for the next run and `kestrel train`
    assert history["date"].is_monotonic_increasing and history["date"].is_unique

    # a restart does not retrain at once: the last training's market time is stored
    versions = registry.versions("Planted")
    run = await start(path)
    try:
        await run.daemon.wait_ticks(30)
        assert registry.versions("Planted") == versions
        assert run.daemon._rt.strategy.model_version == registry.promoted("Planted")
    finally:
        await run.stop()


async def test_a_stop_during_training_is_prompt_and_stores_nothing(market: Any, tmp_path: Path) -> None:
    run = await start(market())
    deadline = time.monotonic() + 30
    while not (run.daemon.retrainer is not None and run.daemon.retrainer.running):
        assert time.monotonic() < deadline, "the retraining never started"
        await asyncio.sleep(0.005)
    await asyncio.sleep(0.3)  # in the worker thread by now (the whole training takes about a second)
    assert run.daemon.retrainer.running
    assert await run.stop() < 4  # well under the 8 s the stop would otherwise wait
    assert Registry(tmp_path / "user_data" / "models").versions("Planted") == []
    assert [e.kind for e in (await read_back(market())).events if e.kind in MODEL_EVENTS] == []
    run = await start(market())  # a cancelled training was no attempt: the next start trains at once
    try:
        await run.wait_for(1, "model_promoted", timeout_s=30)
    finally:
        await run.stop()


async def test_a_failed_training_is_one_event_and_trading_goes_on(market: Any) -> None:
    path = market(history_candles=600)  # too few rows for one walk-forward window
    run = await start(path)
    try:
        failed = (await run.wait_for(1, "retrain_failed"))[0]
        ticks = run.daemon.ticks
        await run.daemon.wait_ticks(ticks + 20)
    finally:
        await run.stop()
    assert failed.message.startswith("Planted: retraining failed: walk-forward: ")
    assert "\n" not in failed.message and "Traceback" not in failed.message
    assert run.daemon._rt.strategy.model_version is None


async def test_retraining_a_strategy_that_is_not_ml_is_refused_in_one_line(write_config: Any) -> None:
    said = r"^ml.retrain_every: QuickMomentum is not an ML strategy; remove the key$"
    running, _ = load_config(write_config())
    path = write_config(ml={"retrain_every": "7d"})
    config, _ = load_config(path)
    strategy = load_strategy(config.strategy_path, "QuickMomentum", config.model_dump(mode="json"))
    with pytest.raises(ConfigError, match=said):
        await build_runtime(config, strategy, environ={})
    with pytest.raises(ConfigError, match=said):  # and a /reload to it is refused before anything stops
        check_reload(path, running)


@pytest.mark.parametrize(
    ("value", "said"),
    [("weekly", "'weekly' is not a duration such as 12h, 7d or 2w"), ("30s", "'30s' is shorter than a minute")],
)
def test_a_bad_retrain_every_names_the_key(write_config: Any, value: str, said: str) -> None:
    path = write_config(ml={"retrain_every": value})
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: ml.retrain_every: {said}"
    assert json.loads(path.read_text())["ml"]["retrain_every"] == value


async def test_a_promotion_reaches_telegram_as_a_model_notice(market: Any, tmp_path: Path) -> None:
    """The real python-telegram-bot, a fake Bot API on 127.0.0.1: the notice kind `model` alone on."""
    from tests.fakes.telegram_api import FakeTelegram
    from tests.integration.test_telegram import ALL_OFF, CHAT, ENV, TOKEN, telegram_section

    async with FakeTelegram(TOKEN) as tg:
        path = market()
        raw = json.loads(path.read_text())
        raw["telegram"] = telegram_section(tg, notifications={**ALL_OFF, "model": "on"})
        path.write_text(json.dumps(raw))
        run = await start(path, ENV)
        try:
            await run.wait_for(1, "model_promoted")
            told = await tg.wait_for(lambda: [t for t in tg.texts_to(CHAT) if "Planted v0001 promoted" in t])
        finally:
            await run.stop()
    assert len(told) == 1 and "AUC 0." in told[0] and "buy and hold" in told[0]
    assert not any("Kestrel started" in t for t in tg.texts_to(CHAT))  # every other kind is off
