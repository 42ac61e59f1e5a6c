"""The daemon's lifecycle: reconcile, then a scheduler tick per candle, until SIGTERM or SIGINT;
then the running tick is allowed to finish (bounded), the stop is journaled and the DB closed."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from loguru import logger

from bot.clock import iso_ms, ms_to_datetime
from bot.config import Config
from bot.errors import ConfigError, KestrelError, StartCancelledError, StoppingError
from bot.metrics import Snapshot
from bot.reload import Reloaded, check_reload
from bot.runtime import Runtime, build_runtime
from bot.store.trading_control import read_trading_state
from bot.strategy.base import Strategy
from bot.systemd_notify import STALE_TICK_JOB_S, ServiceNotifier, alive
from bot.telegram.health import LoopLag, breaker_states, memory_mb

if TYPE_CHECKING:
    from bot.health_http import HealthServer
    from bot.ml.retrain import Retrainer
    from bot.telegram.app import TelegramService

STOP_GRACE_S = 8.0
T = TypeVar("T")


class Daemon:
    def __init__(
        self,
        runtime: Runtime,
        *,
        stop: asyncio.Event | None = None,
        config_path: Path | None = None,
        systemd: ServiceNotifier | None = None,
    ) -> None:
        self._rt = runtime
        self._sd = self.systemd = systemd or ServiceNotifier()
        self._job_done_s = runtime.wall.monotonic_s()  # the watchdog's view of the tick job
        # a simulated market at a slow speed runs its job rarely: that is not being stuck
        self._stale_s = max(STALE_TICK_JOB_S, 2 * runtime.pacer.interval_s + 60)
        self._job_since_s: float | None = None
        self._tick_s_last: float | None = None
        self._tick_s_sum, self._tick_count = 0.0, 0
        self._health: HealthServer | None = None
        self._stop = stop or asyncio.Event()
        self._config_path = config_path  # where /reload reads from (None: reload unavailable)
        self.reload_with: Reloaded | None = None  # set by /reload: run again on these
        self._reloading = asyncio.Event()  # apart from `stop`: a SIGTERM during a reload still stops
        self._tick_lock = asyncio.Lock()
        self._tick_done = asyncio.Condition()
        self.ticks = 0
        self._first = True
        self.replay_finished = asyncio.Event()  # set when a replay has no candles left
        self.telegram: TelegramService | None = None
        self._lag = LoopLag()
        self._side_tasks: list[asyncio.Task[None]] = []
        self.retrainer: Retrainer | None = None

    def request_stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set() or self._reloading.is_set()

    async def wait_ticks(self, count: int) -> None:
        """Wait until at least `count` ticks have run in this process (tests and demos)."""
        async with self._tick_done:
            await self._tick_done.wait_for(lambda: self.ticks >= count or self.stopping)

    async def run(self, *, install_signal_handlers: bool = True) -> int:
        rt = self._rt
        if install_signal_handlers:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self._stop.set)
        try:
            await self._start()
        except BaseException:
            await rt.close()
            raise
        scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.add_job(
            self._tick_job,
            IntervalTrigger(seconds=rt.pacer.interval_s, timezone=UTC),
            id="tick",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            next_run_time=ms_to_datetime(rt.wall.now_ms()),
        )
        if self.retrainer is not None:  # checked once a tick; the training itself runs in a thread
            scheduler.add_job(
                self.retrainer.poke,
                IntervalTrigger(seconds=rt.pacer.interval_s, timezone=UTC),
                id="retrain",
                max_instances=1,
                coalesce=True,
                misfire_grace_time=None,
            )
        scheduler.start()
        self._job_done_s = rt.wall.monotonic_s()
        self._sd.ready(await self._status_text())
        if rt.config.log_heartbeat_min:
            self._side_tasks.append(asyncio.create_task(self._log_heartbeat(rt.config.log_heartbeat_min * 60.0)))
        if self._sd.watchdog_every_s is not None:
            self._side_tasks.append(asyncio.create_task(self._heartbeat(self._sd.watchdog_every_s), name="watchdog"))
        try:
            stopped, reloading = asyncio.create_task(self._stop.wait()), asyncio.create_task(self._reloading.wait())
            await asyncio.wait([stopped, reloading], return_when=asyncio.FIRST_COMPLETED)
            for waiter in (stopped, reloading):
                waiter.cancel()
        finally:
            await self._finish(scheduler)
        return 0

    async def _start(self) -> None:
        rt = self._rt
        mode = "dry-run" if rt.config.dry_run or rt.config.is_simulated else "live"
        if rt.config.is_simulated and not rt.config.dry_run:
            logger.warning("dry_run is false, but the simulated market never trades real money")
        started = (
            f"Kestrel started: {rt.config.exchange.name} market, {mode}, strategy {type(rt.strategy).__name__}, "
            f"{rt.timeframe}, pairs {', '.join(rt.config.exchange.pair_whitelist)}, "
            f"market time {iso_ms(rt.clock.now_ms())}, a tick every {rt.pacer.interval_s:g} s"
        )
        logger.info(started)
        await rt.repo.add_event("started", started, ts_ms=rt.clock.now_ms())
        await rt.repo.set_state(
            {
                "mode": mode,
                "exchange": rt.config.exchange.name,
                "strategy": type(rt.strategy).__name__,
                "timeframe": rt.timeframe,
                "pid_started_wall_ms": rt.wall.now_ms(),
            }
        )
        await rt.trader.reconcile(rt.clock.now_ms())
        if rt.config.ml.every_ms is not None:
            self.retrainer = retrainer_for(rt, self.between_ticks)
        self._side_tasks.append(asyncio.create_task(self._lag.run(), name="loop-lag"))
        if rt.config.health.enabled:
            from bot.health_http import HealthServer  # aiohttp only when the endpoint is on

            self._health = HealthServer(rt.config.health.host, rt.config.health.port, self.snapshot)
            try:
                await self._health.start()
            except OSError as e:
                raise ConfigError(f"health.port: cannot listen on {rt.config.health.port}: {e.strerror or e}") from None
        if rt.telegram_token is not None:  # after the reconcile, before the first tick: the backlog's kill
            from bot.telegram.wiring import build_telegram

            reload = self.reload if self._config_path is not None else None
            self.telegram = build_telegram(rt, self.act_on_controls, self.between_ticks, reload, self._lag)
            await self.telegram.start()

    async def between_ticks(self, action: Callable[[int], Awaitable[T]]) -> T:
        """An action from outside the schedule (a forced exit or entry), never inside a tick."""
        if self.stopping:
            raise StoppingError("the daemon is stopping; send it again once it is back")
        async with self._tick_lock:
            result = await action(self._rt.clock.now_ms())
        if self.telegram is not None:
            self.telegram.notifier.poke()
        return result

    async def reload(self) -> str:
        """Check config.json and the strategy again; when valid, stop this loop so that `serve`
        starts it again on them. Raises ConfigError/StrategyError (nothing changes) when not."""
        if self._config_path is None:
            raise ConfigError("reload: this daemon was not started from a config file")
        self.reload_with = await asyncio.to_thread(check_reload, self._config_path, self._rt.config)
        logger.warning("reload requested: {}", self.reload_with.describe())
        self._sd.reloading(self._rt.wall.monotonic_s())
        self._sd.watchdog()  # the new loop's heartbeat starts after its READY
        asyncio.get_running_loop().call_later(0.2, self._reloading.set)  # the reply goes out first
        return f"{self.reload_with.describe()}\nrestarting the trading loop on them (open trades are kept)"

    async def act_on_controls(self) -> None:
        """A kill sent from inside the daemon is carried out now, between ticks (when stopping, the
        stored halt is carried out at the next start, before any order)."""
        if self.stopping:
            return
        async with self._tick_lock:
            try:
                await self._rt.trader.halt_now(self._rt.clock.now_ms())
            except KestrelError as e:  # the next tick tries again
                logger.error("kill switch: {}; the next tick tries again", e)

    async def _finish(self, scheduler: AsyncIOScheduler) -> None:
        """No new tick starts once stop is set; the running one may finish its actions (each already
        journaled) before the scheduler, whose shutdown cancels running jobs, is shut down."""
        rt = self._rt
        logger.info("stopping: letting the current tick finish")
        if self._stop.is_set():  # not a reload (a SIGTERM during one is told in `serve`)
            self._sd.stopping()
        scheduler.pause()
        if self.telegram is not None:  # no new command; those in hand finish (they may wait for the tick)
            await self.telegram.stop_polling()
        try:
            await asyncio.wait_for(self._tick_lock.acquire(), timeout=STOP_GRACE_S)
        except TimeoutError:
            logger.error("the running tick did not finish within {} s; stopping anyway", STOP_GRACE_S)
        scheduler.shutdown(wait=False)
        await asyncio.sleep(0)  # let the scheduler's deferred shutdown run before the loop closes
        if self.retrainer is not None:
            await self.retrainer.stop(STOP_GRACE_S)
        try:
            await rt.repo.add_event("stopped", "Kestrel stopped", ts_ms=rt.clock.now_ms())
            if self.telegram is not None:
                await self.telegram.stop()
            if self._health is not None:
                await self._health.stop()
        finally:
            for task in self._side_tasks:
                task.cancel()
            await asyncio.gather(*self._side_tasks, return_exceptions=True)
            await rt.close()
        logger.info("stopped")

    async def _tick_job(self) -> None:
        if self.stopping or self._tick_lock.locked():
            return
        self._job_since_s = self._rt.wall.monotonic_s()
        try:
            async with self._tick_lock:
                try:
                    if not await self._tick_once():
                        return  # nothing to do yet (no candle closed since the last tick)
                except Exception as e:  # the tick guard: one failed tick must not stop the daemon
                    logger.opt(exception=e).error("tick failed: {}: {}", type(e).__name__, e)
                    await self._record_failure(e)
        finally:
            self._job_done_s, self._job_since_s = self._rt.wall.monotonic_s(), None
        if self._sd.enabled:
            self._sd.status(await self._status_text())
        if self.telegram is not None:
            await self.telegram.after_tick()
        async with self._tick_done:
            self.ticks += 1
            self._tick_done.notify_all()

    async def _heartbeat(self, every_s: float) -> None:
        """WATCHDOG=1 every half WatchdogSec while the tick job is alive; when it is not, systemd
        restarts the service (into a reconcile, as after any restart)."""
        starved = False
        while True:  # at once first: after a reload, the last ping was the old loop's
            if alive(self._rt.wall.monotonic_s(), self._job_done_s, self._job_since_s, self._stale_s):
                self._sd.watchdog()
                starved = False
            elif not starved:
                starved = True
                logger.error("the tick job has been stuck for over {:g} s; not feeding the watchdog", self._stale_s)
            await asyncio.sleep(every_s)

    async def _log_heartbeat(self, every_s: float) -> None:
        """A line now and then, so a quiet log still shows the daemon alive (and what it holds)."""
        while True:
            await asyncio.sleep(every_s)
            logger.info("alive: {} ({} ticks since start)", await self._status_text(), self.ticks)

    async def snapshot(self) -> Snapshot:
        """What /health and /metrics report."""
        rt = self._rt
        speed = rt.config.simulated.speed if rt.config.is_simulated else 1.0
        live = await rt.repo.trades(live_only=True)
        closes = rt.candles.last_closes()
        samples = await rt.repo.equity_samples(limit=1)
        return Snapshot(
            now_wall_ms=rt.wall.now_ms(),
            last_tick_wall_ms=await rt.repo.get_state("last_tick_wall_ms"),
            fresh_within_s=rt.config.health.stale_after_s or 2 * rt.tf_ms / 1000 / speed + 60,
            job_alive=alive(rt.wall.monotonic_s(), self._job_done_s, self._job_since_s, self._stale_s),
            trading_state=(await read_trading_state(rt.repo)).mode.value,
            tick_seconds_last=self._tick_s_last,
            tick_seconds_sum=self._tick_s_sum,
            tick_count=self._tick_count,
            orders_by_state=await rt.repo.order_counts(),
            exchange_errors=dict(getattr(rt.venue, "errors_by_kind", {})),
            equity=samples[0][1] if samples else None,
            currency=rt.config.stake_currency,
            open_trades=len(live),
            exposure=sum((t.amount * Decimal(str(closes.get(t.pair, 0))) for t in live), Decimal(0)),
            breakers=await breaker_states(rt.repo),
            telegram_queue=self.telegram.outbox.queued if self.telegram is not None else None,
            loop_lag_ms=self._lag.last_ms,
            memory_mb=memory_mb(),
        )

    async def _status_text(self) -> str:
        """systemd's STATUS line (`systemctl status kestrel`)."""
        rt = self._rt
        state = await read_trading_state(rt.repo)
        open_trades = len(await rt.repo.trades(live_only=True))
        last = await rt.repo.get_state("last_tick_ms")
        tick = f"last tick {iso_ms(int(last))}" if last is not None else "no tick yet"
        mode = "dry-run" if rt.config.dry_run or rt.config.is_simulated else "LIVE"
        return f"{mode} {rt.config.exchange.name}, {state.mode.value}, {open_trades} open trades, {tick}"

    async def _tick_once(self) -> bool:
        """One tick if one is due; False when there was none to run."""
        rt = self._rt
        first, self._first = self._first, False
        last_done = await rt.repo.get_state("last_tick_ms") if first else None
        target = rt.pacer.next_tick_ms(last_done, first=first)
        if target is None:
            if rt.pacer.finished() and not self.replay_finished.is_set():
                self.replay_finished.set()
                logger.info("replay finished at {}: no more candles to trade", iso_ms(rt.clock.now_ms()))
                await rt.repo.add_event("replay_finished", "no more candles in the replay", ts_ms=rt.clock.now_ms())
            return False
        started = rt.wall.monotonic_s()
        report = await rt.trader.tick(target)
        self._tick_s_last = rt.wall.monotonic_s() - started
        self._tick_s_sum += self._tick_s_last
        self._tick_count += 1
        await rt.repo.set_state({"last_tick_wall_ms": rt.wall.now_ms()})
        logger.debug(
            "tick {}: {} signals, {} exits, {} entries, {} open",
            iso_ms(target),
            report.signals,
            report.exits,
            report.entries,
            report.open_trades,
        )
        return True

    async def _record_failure(self, error: Exception) -> None:
        try:
            await self._rt.repo.add_event(
                "tick_error", f"{type(error).__name__}: {error}", ts_ms=self._rt.clock.now_ms()
            )
        except Exception as e:  # the store itself may be what failed; the log file has both
            logger.opt(exception=e).error("could not record the tick failure: {}: {}", type(e).__name__, e)


async def serve(
    config_path: Path,
    config: Config,
    strategy: Strategy,
    *,
    stop: asyncio.Event,
    environ: Mapping[str, str] | None = None,
) -> int:
    """`kestrel trade`: the daemon until stopped, started again in place after a valid /reload."""
    systemd = ServiceNotifier()  # one socket for the life of the process, across reloads
    while True:
        try:
            runtime = await build_runtime(config, strategy, stop=stop, environ=environ, on_wait=systemd.still_starting)
        except StartCancelledError as e:
            logger.info("{}", e)
            return 0
        daemon = Daemon(runtime, stop=stop, config_path=config_path, systemd=systemd)
        code = await daemon.run(install_signal_handlers=False)
        if daemon.reload_with is None or code != 0 or stop.is_set():
            if daemon.reload_with is not None:
                daemon.systemd.stopping()  # it was reloading; it stops instead
            return code
        config, strategy = daemon.reload_with.config, daemon.reload_with.strategy
        logger.info("reloaded: starting again on the new config and strategy")


def retrainer_for(
    rt: Runtime, between_ticks: Callable[[Callable[[int], Awaitable[None]]], Awaitable[None]]
) -> Retrainer:
    """LightGBM is imported only when `ml.retrain_every` is set (build_runtime checked the strategy)."""
    from bot.ml.retrain import Retrainer
    from bot.ml.strategy import MLStrategy

    assert isinstance(rt.strategy, MLStrategy)
    return Retrainer(
        config=rt.config,
        strategy=rt.strategy,
        venue=rt.venue,
        repo=rt.repo,
        clock=rt.clock,
        tf_ms=rt.tf_ms,
        between_ticks=between_ticks,
    )
