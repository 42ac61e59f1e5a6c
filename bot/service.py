"""The daemon's lifecycle: reconcile, then a scheduler tick per candle, until SIGTERM or SIGINT;
then the running tick is allowed to finish (bounded), the stop is journaled and the DB closed."""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from loguru import logger

from bot.clock import iso_ms, ms_to_datetime
from bot.runtime import Runtime

STOP_GRACE_S = 8.0


class Daemon:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self._stop = asyncio.Event()
        self._tick_lock = asyncio.Lock()
        self._tick_done = asyncio.Condition()
        self.ticks = 0
        self._finished_replay = False
        self._resumed = False

    def request_stop(self) -> None:
        self._stop.set()

    async def wait_ticks(self, count: int) -> None:
        """Wait until at least `count` ticks have run in this process (tests and demos)."""
        async with self._tick_done:
            await self._tick_done.wait_for(lambda: self.ticks >= count or self._stop.is_set())

    @property
    def tick_interval_s(self) -> float:
        return self._rt.tf_ms / 1000 / self._rt.config.simulated.speed

    async def run(self, *, install_signal_handlers: bool = True) -> int:
        rt = self._rt
        loop = asyncio.get_running_loop()
        if install_signal_handlers:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self._stop.set)
        mode = "dry-run" if rt.config.dry_run or rt.config.is_simulated else "live"
        if rt.config.is_simulated and not rt.config.dry_run:
            logger.warning("dry_run is false, but the simulated market never trades real money")
        started = (
            f"Kestrel started: {rt.config.exchange.name} market, {mode}, strategy {rt.config.strategy}, "
            f"{rt.timeframe}, pairs {', '.join(rt.config.exchange.pair_whitelist)}, "
            f"market time {iso_ms(rt.clock.now_ms())}, a candle every {self.tick_interval_s:g} s"
        )
        logger.info(started)
        await rt.repo.add_event("started", started, ts_ms=rt.clock.now_ms())
        await rt.repo.set_state(
            {
                "mode": mode,
                "exchange": rt.config.exchange.name,
                "strategy": rt.config.strategy,
                "timeframe": rt.timeframe,
                "pid_started_wall_ms": rt.wall.now_ms(),
            }
        )
        await rt.trader.reconcile(rt.clock.now_ms())

        scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.add_job(
            self._tick_job,
            IntervalTrigger(seconds=self.tick_interval_s, timezone=UTC),
            id="tick",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            next_run_time=ms_to_datetime(rt.wall.now_ms()),
        )
        scheduler.start()
        try:
            await self._stop.wait()
        finally:
            await self._finish(scheduler)
        return 0

    async def _finish(self, scheduler: AsyncIOScheduler) -> None:
        """No new tick starts once stop is set; the running one may finish its actions (each already
        journaled) before the scheduler, whose shutdown cancels running jobs, is shut down."""
        rt = self._rt
        logger.info("stopping: letting the current tick finish")
        scheduler.pause()
        try:
            await asyncio.wait_for(self._tick_lock.acquire(), timeout=STOP_GRACE_S)
        except TimeoutError:
            logger.error("the running tick did not finish within {} s; stopping anyway", STOP_GRACE_S)
        scheduler.shutdown(wait=False)
        await asyncio.sleep(0)  # let the scheduler's deferred shutdown run before the loop closes
        await rt.repo.add_event("stopped", "Kestrel stopped", ts_ms=rt.clock.now_ms())
        await rt.close()
        logger.info("stopped")

    async def _tick_job(self) -> None:
        if self._stop.is_set() or self._tick_lock.locked():
            return
        async with self._tick_lock:
            await self._tick_once()
        async with self._tick_done:
            self.ticks += 1
            self._tick_done.notify_all()

    async def _tick_once(self) -> None:
        rt = self._rt
        now = rt.clock.now_ms()
        last_done = None if self._resumed else await rt.repo.get_state("last_tick_ms")
        # After a start, a tick that a crash interrupted is run again at its market time, not skipped.
        resume = not self._resumed and (last_done is None or last_done < now)
        self._resumed = True
        target = now if resume else now + rt.tf_ms
        last_candle = rt.source.last_ms()
        if last_candle is not None and target > last_candle + rt.tf_ms:
            if not self._finished_replay:
                self._finished_replay = True
                logger.info("replay finished at {}: no more candles to trade", iso_ms(now))
                await rt.repo.add_event("replay_finished", "no more candles in the replay", ts_ms=now)
            return
        rt.clock.advance_to(target)
        try:
            report = await rt.trader.tick(target)
        except Exception as e:  # the tick guard: one failed tick must not stop the daemon
            logger.opt(exception=e).error("tick at {} failed: {}: {}", iso_ms(target), type(e).__name__, e)
            await rt.repo.add_event("tick_error", f"{type(e).__name__}: {e}", ts_ms=target)
            return
        finally:
            await rt.repo.set_state({"last_tick_wall_ms": rt.wall.now_ms()})
        logger.debug(
            "tick {}: {} signals, {} exits, {} entries, {} open",
            iso_ms(target),
            report.signals,
            report.exits,
            report.entries,
            report.open_trades,
        )
