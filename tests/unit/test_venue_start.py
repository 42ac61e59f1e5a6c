"""Waiting out an exchange that is down at start, and the keys a config gets."""

import asyncio
from collections.abc import Mapping
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from bot.config import Config
from bot.errors import ConfigError, StartCancelledError, TransientExchangeError
from bot.exchange.base import Market
from bot.venues import credentials_for, markets_when_reachable
from tests.conftest import base_config

MARKETS = {"BTC/USDT": Market("BTC/USDT", "BTC", "USDT", D("0.01"), D("0.00001"))}


class DownThenUp:
    """Only `markets()` is asked at start; it fails `failures` times (maintenance), then answers."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    async def markets(self) -> Mapping[str, Market]:
        self.calls += 1
        if self.calls <= self.failures:
            raise TransientExchangeError("load markets: binance 503 System is under maintenance")
        return MARKETS


async def test_a_down_exchange_is_waited_for_then_used() -> None:
    venue = DownThenUp(failures=2)
    markets = await markets_when_reachable(venue, "binance", asyncio.Event(), first_wait_s=0.01)  # type: ignore[arg-type]
    assert markets == MARKETS and venue.calls == 3


async def test_a_stop_while_waiting_cancels_the_start() -> None:
    stop = asyncio.Event()
    venue = DownThenUp(failures=10**6)
    asyncio.get_running_loop().call_later(0.05, stop.set)
    with pytest.raises(StartCancelledError, match="stopped while waiting for binance"):
        await markets_when_reachable(venue, "binance", stop, first_wait_s=0.01)  # type: ignore[arg-type]
    assert venue.calls >= 2


def _config(tmp_path: Path, **exchange: Any) -> Config:
    raw = base_config(tmp_path, exchange={"name": "binance", **exchange})
    return Config.model_validate(raw, context={"base_dir": tmp_path})


def test_keys_come_from_the_environment_first_and_never_in_dry_run(tmp_path: Path) -> None:
    live = _config(tmp_path, key="cfg-k", secret="cfg-s").model_copy(update={"dry_run": False})
    env = {"KESTREL_EXCHANGE_KEY": "env-k", "KESTREL_EXCHANGE_SECRET": "env-s"}
    assert (credentials_for(live, env).api_key, credentials_for(live, env).secret) == ("env-k", "env-s")
    assert credentials_for(live, {}).api_key == "cfg-k"
    dry = _config(tmp_path, key="cfg-k", secret="cfg-s")
    assert not credentials_for(dry, env).present
    keyless = _config(tmp_path).model_copy(update={"dry_run": False})
    with pytest.raises(ConfigError, match=r"exchange\.key: live trading on binance needs an API key"):
        credentials_for(keyless, {})
