"""Market rules (tick, step, minimum) for markets known only from candles: the generated market
and replays. The daemon's replay and the backtester build their markets here, so both round alike."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from bot.candles import infer_price_tick
from bot.config import SimulatedConfig
from bot.exchange.base import Market
from bot.exchange.candle_sources import step_for, tick_for

REPLAY_AMOUNT_STEP = Decimal("0.00000001")  # unknown lot size: fine enough never to matter


def generated_market(pair: str, start_price: float, sim: SimulatedConfig) -> Market:
    base, quote = pair.split("/")
    return Market(
        symbol=pair,
        base=base,
        quote=quote,
        price_tick=sim.price_tick or tick_for(start_price),
        amount_step=sim.amount_step or step_for(start_price),
        min_notional=sim.min_notional,
    )


def replay_market(pair: str, candles: pd.DataFrame, sim: SimulatedConfig) -> Market:
    """Tick inferred from the prices themselves unless configured."""
    base, quote = pair.split("/")
    return Market(
        symbol=pair,
        base=base,
        quote=quote,
        price_tick=sim.price_tick or infer_price_tick(candles),
        amount_step=sim.amount_step or REPLAY_AMOUNT_STEP,
        min_notional=sim.min_notional,
    )
