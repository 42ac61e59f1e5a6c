"""Wiring at the edge: the one place that builds the runtime from the config and hands every part
its dependencies through constructors."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from loguru import logger
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.breaker_board import BreakerBoard
from bot.clock import Clock, SteppedClock, SystemClock, parse_iso_ms
from bot.config import Config
from bot.equity_watch import EquityWatch
from bot.exchange.base import Exchange, Market
from bot.exchange.candle_sources import CandleSource, GeneratedCandles, ReplayCandles
from bot.exchange.monitored import MonitoredExchange
from bot.exchange.sim_markets import generated_market, replay_market
from bot.exchange.simulated import SimulatedExchange
from bot.manual_orders import ManualOrders
from bot.market_data import CandleCache
from bot.ml_config import check_ml
from bot.orders.executor import Executor
from bot.orders.ids import client_id_prefix
from bot.pacing import Pacer, SimulatedPacer, WallPacer
from bot.secrets_source import register, secret_values
from bot.store.db import open_engine
from bot.store.repo import Repo
from bot.strategy.base import Strategy
from bot.strategy.guard import check_informative
from bot.telegram_config import telegram_token
from bot.timeframes import ceil_ms, floor_ms, timeframe_ms
from bot.trader import Trader
from bot.trading_rules import (
    equity_limits_for,
    fee_for,
    fill_model_for,
    limits_for,
    machinery_limits_for,
    policy_for,
    protections_for,
    rules_for,
    timeframe_for,
)
from bot.venues import ccxt_venue, check_pairs, markets_when_reachable

DEFAULT_SIM_START = "2025-01-01T00:00:00Z"


@dataclass
class Runtime:
    config: Config
    strategy: Strategy
    timeframe: str
    tf_ms: int
    clock: Clock
    pacer: Pacer
    wall: SystemClock
    venue: Exchange
    engine: AsyncEngine
    repo: Repo
    trader: Trader
    candles: CandleCache
    manual: ManualOrders  # orders a person asks for (Telegram), between ticks
    telegram_token: str | None = None  # set when telegram.enabled

    async def close(self) -> None:
        await self.venue.close()
        await self.engine.dispose()


async def build_runtime(
    config: Config,
    strategy: Strategy,
    *,
    stop: asyncio.Event | None = None,
    environ: Mapping[str, str] | None = None,
    on_wait: Callable[[str, float], None] | None = None,
) -> Runtime:
    """Everything the daemon needs, connected. The store opens first: pairs that still hold a
    position are managed even when they left the whitelist. A real exchange that is down at start
    is waited for (until `stop` is set)."""
    environ = os.environ if environ is None else environ
    register(secret_values(config.model_dump(mode="json")))  # the logs scrub them from here on
    token = telegram_token(config.telegram, environ) if config.telegram.enabled else None  # fail before the DB
    timeframe = timeframe_for(config, strategy)
    check_informative(strategy, config.exchange.pair_whitelist)
    check_ml(config.ml, strategy)
    tf_ms = timeframe_ms(timeframe)
    fee = fee_for(config)
    wall = SystemClock()
    engine = await open_engine(config.db_path, create=True)
    venue: Exchange | None = None
    try:
        repo = Repo(engine, wall)
        managed = await managed_pairs(config, repo)
        clock: Clock
        pacer: Pacer
        if config.is_simulated:
            clock, source = _simulated_market(config, timeframe, tf_ms, managed)
            markets = _markets(config, source, managed)
            venue = SimulatedExchange(
                clock=clock,
                source=source,
                markets=markets,
                timeframe=timeframe,
                fee_frac=fee,
                state_path=config.sim_state_path,
                initial_balances={config.stake_currency: config.dry_run_wallet},
                model=fill_model_for(config),
            )
            pacer = SimulatedPacer(clock, tf_ms, config.simulated.speed, source.last_ms())
        else:
            clock = wall
            venue = ccxt_venue(config, timeframe, fee, environ)
            waiting = stop or asyncio.Event()
            markets = dict(await markets_when_reachable(venue, config.exchange.name, waiting, on_wait=on_wait))
            check_pairs(markets, config.exchange.pair_whitelist, managed, config.exchange.name)
            managed = [pair for pair in managed if pair in markets]
            pacer = WallPacer(wall, tf_ms)
    except BaseException:
        if venue is not None:
            await venue.close()
        await engine.dispose()
        raise
    machinery = machinery_limits_for(config)
    monitored = MonitoredExchange(venue, wall, machinery.errors)  # every call timed, failures counted
    venue = monitored
    repo = Repo(engine, wall, lot_steps={pair: markets[pair].amount_step for pair in managed if pair in markets})
    rules = rules_for(config, strategy)
    prefix = client_id_prefix(config.bot_name)
    executor = Executor(
        venue=venue,
        repo=repo,
        markets=markets,
        prefix=prefix,
        native_oco=config.venue_state_path is not None,
        policy=policy_for(config),
    )
    window = max(config.candle_window, strategy.startup_candle_count + 2)
    candles = CandleCache(venue, timeframe, tf_ms, window)
    trader = Trader(
        venue=venue,
        repo=repo,
        executor=executor,
        cache=candles,
        strategy=strategy,
        rules=rules,
        limits=limits_for(config, rules),
        markets=markets,
        whitelist=config.exchange.pair_whitelist,
        managed=managed,
        tf_ms=tf_ms,
        stake_currency=config.stake_currency,
        prefix=prefix,
        books_are_ours=config.venue_state_path is not None,
        equity=EquityWatch(repo, equity_limits_for(config), config.risk.on_breach),
        protections=protections_for(config, tf_ms),
        board=BreakerBoard(repo, monitored, machinery, tf_ms, wall),
    )
    manual = ManualOrders(
        venue=venue,
        repo=repo,
        executor=executor,
        markets=markets,
        limits=limits_for(config, rules),
        whitelist=config.exchange.pair_whitelist,
        stake_currency=config.stake_currency,
        tf_ms=tf_ms,
    )
    return Runtime(
        config, strategy, timeframe, tf_ms, clock, pacer, wall, venue, engine, repo, trader, candles, manual, token
    )


async def managed_pairs(config: Config, repo: Repo) -> list[str]:
    """The whitelist, then any pair that still holds a position (exits only, no new entries)."""
    pairs = list(config.exchange.pair_whitelist)
    for trade in reversed(await repo.trades(live_only=True)):
        if trade.pair not in pairs:
            logger.warning(
                "{} is no longer whitelisted; its open trade {} is still managed (exits only)", trade.pair, trade.id
            )
            pairs.append(trade.pair)
    return pairs


def _simulated_market(
    config: Config, timeframe: str, tf_ms: int, pairs: list[str]
) -> tuple[SteppedClock, CandleSource]:
    sim = config.simulated
    source: CandleSource
    if sim.candles_dir is not None:
        source = ReplayCandles(directory=sim.candles_dir, symbols=pairs, timeframe=timeframe, timeframe_ms=tf_ms)
        start_ms = source.first_ms() + sim.history_candles * tf_ms
        if sim.start is not None:
            start_ms = floor_ms(parse_iso_ms(sim.start), tf_ms)
    else:
        start_ms = floor_ms(parse_iso_ms(sim.start or DEFAULT_SIM_START), tf_ms)
        source = GeneratedCandles(
            symbols=pairs,
            origin_ms=start_ms - sim.history_candles * tf_ms,
            timeframe_ms=tf_ms,
            seed=sim.seed,
            annual_volatility=sim.annual_volatility,
            start_prices=sim.start_prices,
        )
    saved = SimulatedExchange.saved_now_ms(config.sim_state_path)
    # a timeframe changed between runs leaves the saved time off the candle grid: move up to it
    return SteppedClock(ceil_ms(saved, tf_ms) if saved is not None else start_ms), source


def _markets(config: Config, source: CandleSource, pairs: list[str]) -> dict[str, Market]:
    sim = config.simulated
    if isinstance(source, ReplayCandles):
        return {pair: replay_market(pair, source.frame(pair), sim) for pair in pairs}
    return {pair: generated_market(pair, source.start_price(pair), sim) for pair in pairs}
