"""Wiring at the edge: the one place that builds the runtime from the config and hands every part
its dependencies through constructors."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import SteppedClock, SystemClock, parse_iso_ms
from bot.config import Config
from bot.errors import UnsupportedError
from bot.exchange.base import Market
from bot.exchange.candle_sources import CandleSource, GeneratedCandles, ReplayCandles, step_for, tick_for
from bot.exchange.simulated import SimulatedExchange
from bot.market_data import CandleCache
from bot.orders.executor import Executor
from bot.orders.ids import client_id_prefix
from bot.risk.exits import ExitRules, exit_rules
from bot.risk.sizing import EntryLimits
from bot.store.db import open_engine
from bot.store.repo import Repo
from bot.strategy.base import Strategy
from bot.timeframes import floor_ms, timeframe_ms
from bot.trader import Trader

DEFAULT_FEE = Decimal("0.001")
DEFAULT_SIM_START = "2025-01-01T00:00:00Z"
RULE_KEYS = (
    "minimal_roi",
    "stoploss",
    "trailing_stop",
    "trailing_stop_positive",
    "trailing_stop_positive_offset",
    "trailing_only_offset_is_reached",
)


@dataclass
class Runtime:
    config: Config
    strategy: Strategy
    timeframe: str
    tf_ms: int
    clock: SteppedClock
    wall: SystemClock
    venue: SimulatedExchange
    source: CandleSource
    engine: AsyncEngine
    repo: Repo
    trader: Trader

    async def close(self) -> None:
        await self.venue.close()
        await self.engine.dispose()


def rules_for(config: Config, strategy: Strategy) -> ExitRules:
    overrides = {key: getattr(config, key) for key in RULE_KEYS}
    return exit_rules(strategy, overrides)


def timeframe_for(config: Config, strategy: Strategy) -> str:
    return config.timeframe or strategy.timeframe


async def build_runtime(config: Config, strategy: Strategy) -> Runtime:
    if not config.is_simulated:
        raise UnsupportedError(
            f"exchange.name {config.exchange.name!r}: trading on real exchanges arrives with the ccxt "
            'adapter; use "simulated" for now'
        )
    timeframe = timeframe_for(config, strategy)
    tf_ms = timeframe_ms(timeframe)
    fee = config.fee if config.fee is not None else DEFAULT_FEE
    sim = config.simulated
    pairs = config.exchange.pair_whitelist
    source: CandleSource
    if sim.candles_dir is not None:
        source = ReplayCandles(directory=sim.candles_dir, symbols=pairs, timeframe=timeframe, timeframe_ms=tf_ms)
        start_ms = source.first_ms() + sim.history_candles * tf_ms
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
    if sim.start is not None and sim.candles_dir is not None:
        start_ms = floor_ms(parse_iso_ms(sim.start), tf_ms)
    saved = SimulatedExchange.saved_now_ms(sim.state_path)
    clock = SteppedClock(saved if saved is not None else start_ms)
    markets = _markets(config, source)
    venue = SimulatedExchange(
        clock=clock,
        source=source,
        markets=markets,
        timeframe=timeframe,
        fee_frac=fee,
        state_path=sim.state_path,
        initial_balances={config.stake_currency: config.dry_run_wallet},
    )
    wall = SystemClock()
    engine = await open_engine(config.db_path, create=True)
    repo = Repo(engine, wall)
    executor = Executor(venue=venue, repo=repo, markets=markets, prefix=client_id_prefix(config.bot_name))
    window = max(config.candle_window, strategy.startup_candle_count + 2)
    trader = Trader(
        venue=venue,
        repo=repo,
        executor=executor,
        cache=CandleCache(venue, timeframe, tf_ms, window),
        strategy=strategy,
        rules=rules_for(config, strategy),
        limits=EntryLimits(stake_quote=config.stake_amount, max_open_trades=config.max_slots, fee_frac=fee),
        markets=markets,
        whitelist=pairs,
        tf_ms=tf_ms,
        stake_currency=config.stake_currency,
    )
    return Runtime(config, strategy, timeframe, tf_ms, clock, wall, venue, source, engine, repo, trader)


def _markets(config: Config, source: CandleSource) -> dict[str, Market]:
    sim = config.simulated
    markets = {}
    for pair in config.exchange.pair_whitelist:
        base, quote = pair.split("/")
        price = source.start_price(pair)
        markets[pair] = Market(
            symbol=pair,
            base=base,
            quote=quote,
            price_tick=sim.price_tick or tick_for(price),
            amount_step=sim.amount_step or step_for(price),
            min_notional=sim.min_notional,
        )
    return markets
