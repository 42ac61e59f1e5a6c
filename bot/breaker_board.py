"""The machinery's circuit breakers at work in the daemon: each tick, every breaker gives its
verdict (exchange errors, latency, stale candles, volatility); a trip pauses new entries and is an
event, a recovery is an event and lifts the pause the board set (never a person's, nor a halt)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial

import pandas as pd
from loguru import logger

from bot.candles import dates_ms
from bot.clock import SystemClock
from bot.exchange.monitored import MonitoredExchange
from bot.risk import trading_state as ts
from bot.risk.circuit import Circuit, ErrorBreakerConfig, probe_due, slow, stale, too_volatile
from bot.store.repo import Repo
from bot.store.trading_control import change_trading_state


@dataclass(frozen=True)
class MachineryLimits:
    errors: ErrorBreakerConfig = field(default_factory=ErrorBreakerConfig)
    stale_candles: bool = True
    max_latency_ms: float | None = None
    volatility_k: float | None = None
    volatility_lookback: int = 48


class BreakerBoard:
    def __init__(
        self, repo: Repo, venue: MonitoredExchange | None, limits: MachineryLimits, tf_ms: int, wall: SystemClock
    ) -> None:
        self._repo = repo
        self._wall = wall
        self._venue = venue
        self._limits = limits
        self._tf_ms = tf_ms
        self._tripped: dict[str, str] = {}
        self._may_have_paused = True  # a pause of ours may have outlived the last run

    def venue_verdicts(self) -> dict[str, str]:
        """Exchange errors and latency, from the calls made since the last look."""
        out: dict[str, str] = {}
        if self._venue is None:
            return out
        lim = self._limits
        self._venue.breaker = probe_due(self._venue.breaker, lim.errors, self._wall.now_ms())
        b = self._venue.breaker
        if b.circuit is Circuit.OPEN:
            out["exchange_errors"] = f"{lim.errors.max_errors} failed calls; last: {b.last_error}"
        elif b.circuit is Circuit.HALF_OPEN:
            out["exchange_errors"] = f"after failed calls, the next call decides (last: {b.last_error})"
        latencies = self._venue.take_latencies()
        if lim.max_latency_ms is not None and (why := slow(latencies, lim.max_latency_ms)):
            out["latency"] = why
        return out

    def candle_verdicts(self, frames: Mapping[str, pd.DataFrame], now_ms: int) -> dict[str, str]:
        """Stale candles and the volatility brake, from the candles just refreshed."""
        lim = self._limits
        late, wild = [], []
        for pair, frame in frames.items():
            last_ms = int(dates_ms(frame["date"].iloc[-1:])[0]) if not frame.empty else None
            if lim.stale_candles and (why := stale(pair, last_ms, now_ms, self._tf_ms)):
                late.append(why)
            if lim.volatility_k is not None and len(frame) > 1:
                tail = frame.iloc[-(lim.volatility_lookback + 1) :]
                ranges = ((tail["high"] - tail["low"]) / tail["close"]).tolist()
                if why := too_volatile(pair, ranges, lim.volatility_k):
                    wild.append(why)
        out = {}
        if late:
            out["stale_candles"] = "; ".join(late)
        if wild:
            out["volatility"] = "; ".join(wild)
        return out

    async def check_venue(self, now_ms: int) -> None:
        """At the start of a tick, before anything can fail: a tick that dies on the exchange still
        trips the breaker at the next one."""
        await self._update(("exchange_errors", "latency"), self.venue_verdicts(), now_ms)

    async def check_candles(self, frames: Mapping[str, pd.DataFrame], now_ms: int) -> None:
        await self._update(("stale_candles", "volatility"), self.candle_verdicts(frames, now_ms), now_ms)

    async def _update(self, names: tuple[str, ...], verdicts: Mapping[str, str], now_ms: int) -> None:
        for name in names:
            if name in verdicts and name not in self._tripped:
                logger.error("breaker:{} tripped: {}; no new entries", name, verdicts[name])
                await self._repo.add_event("breaker_tripped", f"breaker:{name}: {verdicts[name]}", ts_ms=now_ms)
            elif name in self._tripped and name not in verdicts:
                logger.info("breaker:{} recovered", name)
                await self._repo.add_event("breaker_recovered", f"breaker:{name}: recovered", ts_ms=now_ms)
            if name in verdicts:
                self._tripped[name] = verdicts[name]
            else:
                self._tripped.pop(name, None)
        await self._steer(self._tripped, now_ms)

    async def _steer(self, tripped: Mapping[str, str], now_ms: int) -> None:
        if not tripped and not self._may_have_paused:
            return  # nothing to trip, and no pause of ours to lift: no need to read the state
        steer = partial(ts.steer_machinery, tripped=dict(tripped), now_ms=now_ms)
        _, state = await change_trading_state(self._repo, steer, ts_ms=now_ms)
        self._may_have_paused = state.machinery_paused
