"""The venue a config asks for, built at the edge: a ccxt exchange for live trading, the paper
broker over a key-less ccxt exchange for dry-run. The simulated market is built in runtime.py."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from loguru import logger

from bot.clock import SystemClock
from bot.config import Config
from bot.errors import ConfigError, StartCancelledError, TransientExchangeError
from bot.exchange.base import Exchange, Market
from bot.exchange.paper import PaperBroker
from bot.secrets_source import secret
from bot.trading_rules import fill_model_for

if TYPE_CHECKING:  # ccxt loads every exchange class it has (about 80 MB): only when a real venue is used
    from bot.exchange.ccxt_adapter import Credentials

KEY_ENV, SECRET_ENV = "KESTREL_EXCHANGE_KEY", "KESTREL_EXCHANGE_SECRET"
MAX_START_WAIT_S = 60.0


def credentials_for(config: Config, environ: Mapping[str, str]) -> Credentials:
    """Keys from the environment, a key file or systemd's credentials, else from the config
    (secrets_source.py). Dry-run gets none: it cannot sign."""
    from bot.exchange.ccxt_adapter import Credentials

    if config.dry_run:
        return Credentials()
    found = Credentials(
        secret(KEY_ENV, "exchange_key", environ, config.exchange.key),
        secret(SECRET_ENV, "exchange_secret", environ, config.exchange.secret),
    )
    if not found.present:
        raise ConfigError(
            f"exchange.key: live trading on {config.exchange.name} needs an API key and secret "
            f"({KEY_ENV} and {SECRET_ENV}, or exchange.key and exchange.secret); or set dry_run to true"
        )
    return found


def ccxt_venue(config: Config, timeframe: str, fee_frac: Decimal, environ: Mapping[str, str]) -> Exchange:
    from bot.exchange.ccxt_adapter import CcxtExchange, build_ccxt

    client = build_ccxt(
        config.exchange.name,
        config.exchange.ccxt_config,
        credentials_for(config, environ),
        sandbox=config.exchange.sandbox,
    )
    data = CcxtExchange(client, clock=SystemClock())
    if not config.dry_run:
        return data
    return PaperBroker(
        data=data,
        clock=SystemClock(),
        timeframe=timeframe,
        fee_frac=fee_frac,
        state_path=config.paper_state_path,
        initial_balances={config.stake_currency: config.dry_run_wallet},
        model=fill_model_for(config),
    )


async def markets_when_reachable(
    venue: Exchange,
    name: str,
    stop: asyncio.Event,
    *,
    first_wait_s: float = 2.0,
    on_wait: Callable[[str, float], None] | None = None,
) -> Mapping[str, Market]:
    """The venue's markets, waiting out maintenance or a network outage at start (each failure is
    logged; the wait doubles up to a minute; `on_wait(why, seconds)` tells systemd the start goes on).
    A stop request while waiting cancels the start."""
    wait_s = first_wait_s
    while True:
        try:
            return await venue.markets()
        except TransientExchangeError as e:
            logger.warning("{} is not reachable at start ({}); trying again in {:.0f} s", name, e, wait_s)
            if on_wait is not None:
                on_wait(f"waiting for {name}: {e}", wait_s)
        try:
            await asyncio.wait_for(stop.wait(), wait_s)
        except TimeoutError:
            wait_s = min(wait_s * 2, MAX_START_WAIT_S)
            continue
        raise StartCancelledError(f"stopped while waiting for {name} to answer")


def check_pairs(markets: Mapping[str, Market], whitelist: Sequence[str], managed: Sequence[str], name: str) -> None:
    """Every whitelisted pair must trade on the venue; a managed pair that left it is only warned
    about (its position can still be seen, not sold)."""
    missing = [p for p in whitelist if p not in markets]
    if missing:
        raise ConfigError(f"exchange.pair_whitelist: {', '.join(missing)} not a spot market on {name}")
    for pair in managed:
        if pair not in markets:
            logger.warning("{}: not a market on {} any more; its open trade cannot be traded", pair, name)
