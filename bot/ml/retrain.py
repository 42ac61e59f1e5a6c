"""Retraining inside the daemon (`ml.retrain_every`): the latest candles gathered through the venue,
a candidate built and its test windows backtested in a worker thread (the event loop keeps
ticking), then stored as a new version and promoted only when `promotion.judge` says so. The
served model is swapped between ticks. Every outcome is an event: model_promoted, model_rejected,
or retrain_failed (tried again an hour of market time later, or sooner when retrain_every is)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
from loguru import logger

from bot.clock import Clock
from bot.config import Config
from bot.errors import KestrelError, StoppingError, TrainingCancelledError
from bot.exchange.base import Exchange
from bot.ml.candidate import Candidate, build_candidate
from bot.ml.command import backtest_test_windows, registry_for, store, tested_summary
from bot.ml.history import gather
from bot.ml.promotion import Comparison, Verdict, compare, judge
from bot.ml.registry import RegistryError
from bot.ml.strategy import MLStrategy
from bot.store.repo import Repo

LAST_KEY = "ml_last_retrain_ms"  # market time of the last finished attempt, kept across restarts
FAILED_KEY = "ml_last_retrain_failed"  # whether it failed (then it is tried again sooner)
RETRY_MS = 3_600_000


@dataclass(frozen=True)
class Outcome:
    version: str
    verdict: Verdict
    tested: dict[str, Any]


def due(now_ms: int, last_ms: int | None, every_ms: int, *, failed: bool = False) -> bool:
    """Pure: a first training at once; then every `every_ms`, or RETRY_MS after a failure."""
    if last_ms is None:
        return True
    wait = min(every_ms, RETRY_MS) if failed else every_ms
    return now_ms - last_ms >= wait


class Retrainer:
    def __init__(
        self,
        *,
        config: Config,
        strategy: MLStrategy,
        venue: Exchange,
        repo: Repo,
        clock: Clock,
        tf_ms: int,
        between_ticks: Callable[[Callable[[int], Awaitable[None]]], Awaitable[None]],
    ) -> None:
        assert config.ml.every_ms is not None
        self._config, self._strategy, self._venue, self._repo, self._clock = config, strategy, venue, repo, clock
        self._tf_ms = tf_ms
        self._every_ms = config.ml.every_ms
        self._between_ticks = between_ticks
        self._cancel = threading.Event()
        self._task: asyncio.Task[Outcome | None] | None = None
        self._failed = False
        self._last_ms: int | None = None
        self._loaded = False
        self._name = type(strategy).__name__
        self._datadir = config.user_data_dir / "data"

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def poke(self) -> None:
        """The scheduler's job: start a retraining when one is due and none is running."""
        if self.running or self._cancel.is_set():
            return
        if not self._loaded:  # once: afterwards this process keeps it
            stored = await self._repo.get_state(LAST_KEY)
            # never retrained here, but a model was trained before: its time counts
            self._last_ms = stored if isinstance(stored, int) else self._promoted_trained_at()
            self._failed = bool(await self._repo.get_state(FAILED_KEY))
            self._loaded = True
        if due(self._clock.now_ms(), self._last_ms, self._every_ms, failed=self._failed):
            self._task = asyncio.create_task(self.run_once(), name="retrain")

    async def stop(self, timeout_s: float) -> None:
        """Cancel a running retraining and wait for it: LightGBM stops within one boosting round,
        the other phases at their end (a thread cannot be interrupted; the longest, the test-window
        backtest, takes seconds). Past `timeout_s` the task is cancelled and the stop goes on."""
        self._cancel.set()
        task = self._task
        if task is None or task.done():
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=timeout_s)
        except TimeoutError:
            logger.warning("retraining did not stop within {} s; leaving it", timeout_s)
            task.cancel()
        except Exception as e:  # run_once catches everything; this is the last net for the stop
            logger.opt(exception=e).error("retraining ended with {}: {}", type(e).__name__, e)

    async def run_once(self) -> Outcome | None:
        """Never raises (the daemon trades on with the model it has); every failure is one event."""
        previous, now_ms = self._last_ms, self._clock.now_ms()
        self._last_ms = now_ms  # this process does not start another meanwhile
        try:
            outcome = await self._retrain(now_ms)
        except TrainingCancelledError:  # not an attempt: the next start tries again as it would have
            self._last_ms = previous
            logger.info("retraining {}: cancelled, the daemon is stopping", self._name)
            return None
        except Exception as e:  # LightGBM or pandas on odd data, the store, the venue
            self._failed = True
            said = str(e) if isinstance(e, KestrelError | OSError) else f"{type(e).__name__}: {e}"
            if not isinstance(e, KestrelError | OSError):
                logger.opt(exception=e).error("retraining {} failed", self._name)
            await self._failed_event(f"{self._name}: retraining failed: {said}; tried again later", now_ms)
            return None
        self._failed = False
        return outcome

    async def _remember(self, now_ms: int, *, failed: bool) -> None:
        await self._repo.set_state({LAST_KEY: now_ms, FAILED_KEY: failed})

    async def _failed_event(self, text: str, now_ms: int) -> None:
        logger.error(text)
        try:
            await self._remember(now_ms, failed=True)
            await self._repo.add_event("retrain_failed", text, ts_ms=self._clock.now_ms())
        except Exception as e:
            logger.error("could not record the failed retraining: {}: {}", type(e).__name__, e)

    def _check_cancel(self) -> None:
        if self._cancel.is_set():
            raise TrainingCancelledError("retraining cancelled: the daemon is stopping")

    async def _retrain(self, now_ms: int) -> Outcome:
        strategy, config = self._strategy, self._config
        candles = config.ml.history_candles or _default_history(strategy)
        logger.info("retraining {}: gathering {} candles per pair", self._name, candles)
        frames = await gather(
            self._venue,
            exchange=config.exchange.name,
            pairs=config.exchange.pair_whitelist,
            timeframe=strategy.timeframe,
            tf_ms=self._tf_ms,
            now_ms=now_ms,
            candles=candles,
            datadir=self._datadir,
        )
        self._check_cancel()
        candidate = await asyncio.to_thread(self._build, frames, now_ms)
        self._check_cancel()
        # this venue's files only (another exchange's folder beside it is not these candles), and
        # only up to the market's now (a replay's files hold the future)
        here = self._datadir / config.exchange.name
        end_ms = now_ms - now_ms % self._tf_ms
        tested = await asyncio.to_thread(backtest_test_windows, config, strategy, here, candidate, end_ms)
        self._check_cancel()
        served = await asyncio.to_thread(self._served)
        found = None if served is None else await asyncio.to_thread(_compare, candidate, served)
        self._check_cancel()
        metric = str(candidate.metadata["metric"])
        verdict = judge(
            found, candidate.metric, tolerance=config.ml.tolerance, floor=config.ml.floor(metric), name=metric.upper()
        )
        decision = f"{'promoted' if verdict.promote else 'rejected'}: {verdict.reason}"
        stored = await asyncio.to_thread(
            store, config, self._name, candidate, tested, decision=decision, compared_with=_served_version(served)
        )
        text = f"{self._name} {stored.version} {decision}; {_tested_line(tested)}"
        await self._remember(now_ms, failed=False)
        if verdict.promote:  # stored as promoted: carried out even when a stop came meanwhile (a file write)
            await asyncio.to_thread(registry_for(config).promote, self._name, stored.version)
            model = candidate.model

            async def swap(_now_ms: int) -> None:
                strategy.use_model(model, stored.version)

            try:
                await self._between_ticks(swap)
            except StoppingError:  # promoted on disk: the next start serves it
                text += " (served from the next start: the daemon is stopping)"
        logger.info(text)
        await self._repo.add_event(
            "model_promoted" if verdict.promote else "model_rejected", text, ts_ms=self._clock.now_ms()
        )
        return Outcome(stored.version, verdict, tested)

    def _build(self, frames: dict[str, Any], now_ms: int) -> Candidate:
        return build_candidate(
            frames,
            self._strategy,
            fee_frac=float(self._config.fee or 0),
            seed=self._config.ml.seed,
            trained_at_ms=now_ms,
            cancel=self._cancel,
        )

    def _served(self) -> tuple[str, lgb.Booster, dict[str, Any]] | None:
        """The promoted version; None when there is none, or it cannot be read (then it is not
        served either, and a candidate above the floor replaces it)."""
        try:
            stored = registry_for(self._config).load(self._name)
            return stored.version, lgb.Booster(model_str=stored.model_text()), stored.metadata
        except RegistryError:
            return None
        except (OSError, ValueError, lgb.basic.LightGBMError) as e:
            logger.warning("retraining {}: the promoted model cannot be read ({}); judged as none", self._name, e)
            return None

    def _promoted_trained_at(self) -> int | None:
        try:
            value = registry_for(self._config).load(self._name).metadata.get("trained_at_ms")
        except (RegistryError, OSError, ValueError):
            return None
        return int(value) if isinstance(value, int) else None


def _compare(candidate: Candidate, served: tuple[str, lgb.Booster, dict[str, Any]]) -> Comparison | None:
    _, model, meta = served
    if meta.get("metric", "auc") != candidate.metadata["metric"]:
        return None  # a probability and a return: not the same game
    saw_until = meta.get("labels_until_ms")
    return compare(
        candidate,
        model,
        saw_until_ms=int(saw_until) if isinstance(saw_until, int) else 2**62,  # unknown: no shared window
        stored_metric=meta.get("oos_metric", meta.get("oos_auc")),
    )


def _served_version(served: tuple[str, lgb.Booster, dict[str, Any]] | None) -> str | None:
    return None if served is None else served[0]


def _default_history(strategy: MLStrategy) -> int:
    """Enough for the training window, four test windows, the purge and the features' warm-up."""
    return strategy.train_rows + 4 * strategy.test_rows + 2 * strategy.label_horizon + strategy.startup_candle_count


def _tested_line(tested: dict[str, Any]) -> str:
    if not tested:
        return "no test window to backtest"
    return f"test windows from {tested['start'][:10]}: {tested_summary(tested)}"
