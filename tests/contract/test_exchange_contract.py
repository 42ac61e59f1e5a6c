"""One suite for every venue that implements the Exchange protocol: the simulated market, and the
dry-run paper broker reading its market data from another simulated market over the same candles
(so both must give the same fills). The ccxt adapter is covered against a fake Binance in
tests/integration/test_ccxt_adapter.py."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal as D
from pathlib import Path

import pytest

from bot.clock import SteppedClock
from bot.errors import InsufficientFundsError, OrderNotFoundError, OrderRejectedError
from bot.exchange.base import Exchange, Market, OrderRequest, OrderStatus, OrderType, Side
from bot.exchange.candle_sources import ReplayCandles
from bot.exchange.fills import FillModel
from bot.exchange.paper import PaperBroker
from bot.exchange.simulated import SimulatedExchange
from tests.conftest import candle_frame, write_candles

TF = 300_000
T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC
PAIR = "AAA/USDT"
CANDLES = [
    (100, 101, 99, 100, 1),  # 0
    (100, 101, 99, 100, 1),  # 1  <- the market starts here
    (100, 101, 99.5, 100, 1),  # 2
    (100, 106, 94, 100, 1),  # 3  reaches both 95 and 105
    (100, 106, 99, 105, 1),  # 4
    (93, 94, 90, 92, 1),  # 5  gaps down
    (92, 93, 91, 92, 1),  # 6
    (92, 106, 91, 100, 2),  # 7  back up to 106, on twice the volume
]
QUARTER = FillModel(volume_share=D("0.25"))  # a resting limit takes a quarter of a candle's volume


@dataclass
class Harness:
    venue: Exchange
    clock: SteppedClock

    def at_candle(self, i: int) -> None:
        self.clock.advance_to(T0 + i * TF)


def _simulated(
    tmp_path: Path, clock: SteppedClock | None = None, name: str = "venue", model: FillModel | None = None
) -> tuple[SimulatedExchange, SteppedClock]:
    write_candles(tmp_path / "candles", PAIR, "5m", candle_frame("2024-01-01", "5m", CANDLES))
    clock = clock or SteppedClock(T0 + TF)
    source = ReplayCandles(directory=tmp_path / "candles", symbols=[PAIR], timeframe="5m", timeframe_ms=TF)
    market = Market(PAIR, "AAA", "USDT", price_tick=D("0.01"), amount_step=D("0.001"), min_notional=D("5"))
    venue = SimulatedExchange(
        clock=clock,
        source=source,
        markets={PAIR: market},
        timeframe="5m",
        fee_frac=D("0.001"),
        state_path=tmp_path / f"{name}.sqlite",
        initial_balances={"USDT": D("1000")},
        model=model,
    )
    return venue, clock


def _paper(tmp_path: Path, model: FillModel | None = None) -> tuple[PaperBroker, SteppedClock]:
    clock = SteppedClock(T0 + TF)
    data, _ = _simulated(tmp_path, clock, name="data-only")  # its own wallet is never touched
    venue = PaperBroker(
        data=data,
        clock=clock,
        timeframe="5m",
        fee_frac=D("0.001"),
        state_path=tmp_path / "venue.sqlite",
        initial_balances={"USDT": D("1000")},
        model=model,
    )
    return venue, clock


@pytest.fixture(params=["simulated", "paper"])
async def harness(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Harness]:
    venue: Exchange
    venue, clock = _simulated(tmp_path) if request.param == "simulated" else _paper(tmp_path)
    yield Harness(venue, clock)
    await venue.close()


@pytest.fixture(params=["simulated", "paper"])
async def thin(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Harness]:
    """A venue whose resting limits fill by candle volume (a quarter of it each candle)."""
    venue: Exchange
    if request.param == "simulated":
        venue, clock = _simulated(tmp_path, model=QUARTER)
    else:
        venue, clock = _paper(tmp_path, model=QUARTER)
    yield Harness(venue, clock)
    await venue.close()


def buy(cid: str, amount: str = "1") -> OrderRequest:
    return OrderRequest(cid, PAIR, Side.BUY, OrderType.MARKET, D(amount))


async def test_market_buy_fills_at_the_current_price_and_charges_the_fee(harness: Harness) -> None:
    assert await harness.venue.price(PAIR) == D(100)
    state = await harness.venue.submit(buy("k-1e0"))
    assert (state.status, state.filled, state.average, state.fee_quote) == (OrderStatus.FILLED, D(1), D(100), D("0.1"))
    balances = await harness.venue.balances()
    assert balances["USDT"].free == D("899.9")  # 1000 - 100 - 0.1
    assert balances["AAA"].free == D(1)


async def test_orders_are_found_by_client_id_and_unknown_ids_are_a_confirmed_none(harness: Harness) -> None:
    await harness.venue.submit(buy("k-1e0"))
    found = await harness.venue.order(PAIR, "k-1e0")
    assert found is not None and found.status is OrderStatus.FILLED
    assert await harness.venue.order(PAIR, "k-9e0") is None


async def test_a_client_id_is_never_accepted_twice(harness: Harness) -> None:
    await harness.venue.submit(buy("k-1e0"))
    with pytest.raises(OrderRejectedError, match="duplicate client order id"):
        await harness.venue.submit(buy("k-1e0"))
    assert (await harness.venue.balances())["AAA"].free == D(1)


async def test_refusals_are_specific(harness: Harness) -> None:
    with pytest.raises(InsufficientFundsError):
        await harness.venue.submit(buy("k-1e0", "20"))
    with pytest.raises(OrderRejectedError, match=r"not a positive multiple of 0\.001"):
        await harness.venue.submit(buy("k-2e0", "1.0005"))
    with pytest.raises(OrderRejectedError, match="below minimum 5"):
        await harness.venue.submit(buy("k-3e0", "0.01"))
    with pytest.raises(OrderNotFoundError):
        await harness.venue.cancel(PAIR, "k-4s0")
    assert (await harness.venue.balances())["USDT"].free == D(1000)


async def test_resting_stop_and_take_profit_fill_only_after_a_candle_reaches_them(harness: Harness) -> None:
    v = harness.venue
    await v.submit(buy("k-1e0"))
    await v.submit(OrderRequest("k-1s0", PAIR, Side.SELL, OrderType.STOP, D(1), stop_price=D(95)))
    await v.submit(OrderRequest("k-1p0", PAIR, Side.SELL, OrderType.LIMIT, D(1), price=D(105), oco_with="k-1s0"))
    balances = await v.balances()
    assert (balances["AAA"].free, balances["AAA"].used) == (D(0), D(1))  # one reservation for both legs
    assert {o.client_id for o in await v.open_orders([PAIR])} == {"k-1s0", "k-1p0"}
    harness.at_candle(3)  # candles 1 and 2 closed: neither reached
    assert (await v.order(PAIR, "k-1s0")).status is OrderStatus.OPEN  # type: ignore[union-attr]
    harness.at_candle(4)  # candle 3 reached both: the stop is matched first
    stop = await v.order(PAIR, "k-1s0")
    tp = await v.order(PAIR, "k-1p0")
    assert stop is not None and tp is not None
    assert (stop.status, stop.average, stop.updated_ms) == (OrderStatus.FILLED, D(95), T0 + 3 * TF)
    assert tp.status is OrderStatus.CANCELED
    balances = await v.balances()
    assert balances["AAA"].total == D(0)
    assert balances["USDT"].free == D("899.9") + D(95) - D("0.095")


async def test_stop_below_a_gap_fills_at_the_open(harness: Harness) -> None:
    v = harness.venue
    await v.submit(buy("k-1e0"))
    harness.at_candle(5)
    await v.submit(OrderRequest("k-1s0", PAIR, Side.SELL, OrderType.STOP, D(1), stop_price=D(95)))
    harness.at_candle(6)
    stop = await v.order(PAIR, "k-1s0")
    assert stop is not None and (stop.status, stop.average) == (OrderStatus.FILLED, D(93))


async def test_a_marketable_take_profit_fills_at_once_and_cancels_its_stop(harness: Harness) -> None:
    v = harness.venue
    await v.submit(buy("k-1e0"))
    await v.submit(OrderRequest("k-1s0", PAIR, Side.SELL, OrderType.STOP, D(1), stop_price=D(95)))
    tp = await v.submit(
        OrderRequest("k-1p0", PAIR, Side.SELL, OrderType.LIMIT, D(1), price=D("99.5"), oco_with="k-1s0")
    )
    assert (tp.status, tp.average) == (OrderStatus.FILLED, D(100))  # a taker gets the market price
    assert (await v.order(PAIR, "k-1s0")).status is OrderStatus.CANCELED  # type: ignore[union-attr]


async def test_cancel_releases_the_reservation(harness: Harness) -> None:
    v = harness.venue
    await v.submit(buy("k-1e0"))
    await v.submit(OrderRequest("k-1s0", PAIR, Side.SELL, OrderType.STOP, D(1), stop_price=D(95)))
    state = await v.cancel(PAIR, "k-1s0")
    assert state.status is OrderStatus.CANCELED
    assert (await v.balances())["AAA"].free == D(1)
    assert (await v.cancel(PAIR, "k-1s0")).status is OrderStatus.CANCELED  # idempotent


async def test_candles_are_closed_ones_only(harness: Harness) -> None:
    harness.at_candle(3)
    frame = await harness.venue.candles(PAIR, "5m", since_ms=0, limit=100)
    assert frame["close"].tolist() == [100, 100, 100]
    assert len(await harness.venue.candles(PAIR, "5m", since_ms=T0 + TF, limit=1)) == 1


async def test_the_simulated_market_survives_a_restart(tmp_path: Path) -> None:
    venue, clock = _simulated(tmp_path)
    await venue.submit(buy("k-1e0"))
    await venue.submit(OrderRequest("k-1s0", PAIR, Side.SELL, OrderType.STOP, D(1), stop_price=D(95)))
    await venue.close()
    assert SimulatedExchange.saved_now_ms(tmp_path / "venue.sqlite") == T0 + TF
    again, clock = _simulated(tmp_path)
    try:
        assert (await again.balances())["AAA"].used == D(1)
        clock.advance_to(T0 + 4 * TF)
        stop = await again.order(PAIR, "k-1s0")
        assert stop is not None and stop.average == D(95)
    finally:
        await again.close()


async def test_cancelling_one_oco_leg_keeps_the_other_protecting_the_amount(harness: Harness) -> None:
    v = harness.venue
    await v.submit(buy("k-1e0"))
    await v.submit(OrderRequest("k-1s0", PAIR, Side.SELL, OrderType.STOP, D(1), stop_price=D(95)))
    await v.submit(OrderRequest("k-1p0", PAIR, Side.SELL, OrderType.LIMIT, D(1), price=D(105), oco_with="k-1s0"))
    for first, second in (("k-1p0", "k-1s0"),):
        await v.cancel(PAIR, first)
        balances = await v.balances()
        assert (balances["AAA"].free, balances["AAA"].used) == (D(0), D(1)), f"after cancelling {first}"
        with pytest.raises(InsufficientFundsError):  # the coins are still spoken for
            await v.submit(OrderRequest("k-1x0", PAIR, Side.SELL, OrderType.MARKET, D(1)))
        harness.at_candle(4)
        left = await v.order(PAIR, second)
        assert left is not None and (left.status, left.average) == (OrderStatus.FILLED, D(95))
    assert (await v.balances())["AAA"].total == D(0)


async def test_cancelling_the_stop_leg_hands_its_reservation_to_the_take_profit(harness: Harness) -> None:
    v = harness.venue
    await v.submit(buy("k-1e0"))
    await v.submit(OrderRequest("k-1s0", PAIR, Side.SELL, OrderType.STOP, D(1), stop_price=D(95)))
    await v.submit(OrderRequest("k-1p0", PAIR, Side.SELL, OrderType.LIMIT, D(1), price=D(105), oco_with="k-1s0"))
    await v.cancel(PAIR, "k-1s0")
    assert (await v.balances())["AAA"].used == D(1)
    await v.cancel(PAIR, "k-1p0")
    balances = await v.balances()
    assert (balances["AAA"].free, balances["AAA"].used) == (D(1), D(0))


async def test_the_paper_wallet_survives_a_restart_and_matches_what_closed_meanwhile(tmp_path: Path) -> None:
    venue, _ = _paper(tmp_path)
    await venue.submit(buy("k-1e0"))
    await venue.submit(OrderRequest("k-1s0", PAIR, Side.SELL, OrderType.STOP, D(1), stop_price=D(95)))
    await venue.close()
    again, clock = _paper(tmp_path)  # a new process: the same paper file, market time moved on
    try:
        assert (await again.balances())["AAA"].used == D(1)
        clock.advance_to(T0 + 6 * TF)  # candles 3 (reaches 95) and 5 (gaps to 93) closed while "down"
        stop = await again.order(PAIR, "k-1s0")
        assert stop is not None and (stop.status, stop.average) == (OrderStatus.FILLED, D(95))
        assert (await again.balances())["USDT"].free == D("899.9") + D(95) - D("0.095")
    finally:
        await again.close()


def oco(stop: str, target: str, amount: str = "1") -> tuple[OrderRequest, OrderRequest]:
    return (
        OrderRequest("k-1s0", PAIR, Side.SELL, OrderType.STOP, D(amount), stop_price=D(stop)),
        OrderRequest("k-1p0", PAIR, Side.SELL, OrderType.LIMIT, D(amount), price=D(target), oco_with="k-1s0"),
    )


async def test_a_take_profit_fills_by_candle_volume_until_it_is_done(thin: Harness) -> None:
    v = thin.venue
    await v.submit(buy("k-1e0"))
    for order in oco("80", "105"):
        await v.submit(order)
    thin.at_candle(4)  # candle 3 (volume 1) reached 105: a quarter fills
    tp = await v.order(PAIR, "k-1p0")
    assert tp is not None and (tp.status, tp.filled, tp.average) == (OrderStatus.OPEN, D("0.25"), D(105))
    balances = await v.balances()
    assert (balances["AAA"].free, balances["AAA"].used) == (D(0), D("0.75"))  # the rest still spoken for
    assert balances["USDT"].free == D("899.9") + D("0.25") * 105 - D("0.02625")
    assert (await v.order(PAIR, "k-1s0")).status is OrderStatus.OPEN  # type: ignore[union-attr]
    assert await v.order(PAIR, "k-1p0") == tp  # asking again does not match candle 3 again
    thin.at_candle(8)  # candle 4 adds a quarter, 5 and 6 stay below, 7 (volume 2) fills the last half
    tp = await v.order(PAIR, "k-1p0")
    stop = await v.order(PAIR, "k-1s0")
    assert tp is not None and stop is not None
    assert (tp.status, tp.filled, tp.average, tp.fee_quote) == (OrderStatus.FILLED, D(1), D(105), D("0.105"))
    assert tp.updated_ms == T0 + 7 * TF
    assert (stop.status, stop.filled) == (OrderStatus.CANCELED, D(0))
    balances = await v.balances()
    assert balances["AAA"].total == D(0)
    assert balances["USDT"].total == D("899.9") + D(105) - D("0.105")  # every change is a fill or a fee


async def test_after_a_partial_take_profit_the_stop_sells_only_the_rest(thin: Harness) -> None:
    v = thin.venue
    await v.submit(buy("k-1e0"))
    thin.at_candle(4)
    for order in oco("95", "105"):
        await v.submit(order)
    thin.at_candle(6)  # candle 4 reaches 105 (a quarter sells), candle 5 gaps through the stop
    tp = await v.order(PAIR, "k-1p0")
    stop = await v.order(PAIR, "k-1s0")
    assert tp is not None and stop is not None
    assert (tp.status, tp.filled) == (OrderStatus.CANCELED, D("0.25"))
    assert (stop.status, stop.filled, stop.average) == (OrderStatus.FILLED, D("0.75"), D(93))
    balances = await v.balances()
    assert (balances["AAA"].free, balances["AAA"].used) == (D(0), D(0))
    sold = D("0.25") * 105 + D("0.75") * 93
    assert balances["USDT"].total == D("899.9") + sold - sold * D("0.001")


async def test_a_market_order_is_moved_by_the_slippage_but_a_limit_never_beyond_its_price(tmp_path: Path) -> None:
    venue, _ = _simulated(tmp_path, model=FillModel(slippage_frac=D("0.002")))
    try:
        bought = await venue.submit(buy("k-1e0"))
        assert bought.average == D("100.2")
        limit = await venue.submit(OrderRequest("k-2e0", PAIR, Side.BUY, OrderType.LIMIT, D(1), price=D("100.1")))
        assert limit.average == D("100.1")
        sold = await venue.submit(OrderRequest("k-1x0", PAIR, Side.SELL, OrderType.MARKET, D(2)))
        assert sold.average == D("99.8")
    finally:
        await venue.close()


async def test_a_partly_filled_order_survives_a_restart_and_does_not_trade_its_candle_again(tmp_path: Path) -> None:
    venue, clock = _simulated(tmp_path, model=QUARTER)
    await venue.submit(buy("k-1e0"))
    await venue.submit(OrderRequest("k-1p0", PAIR, Side.SELL, OrderType.LIMIT, D(1), price=D(105)))
    clock.advance_to(T0 + 4 * TF)
    assert (await venue.order(PAIR, "k-1p0")).filled == D("0.25")  # type: ignore[union-attr]
    await venue.close()
    again, clock = _simulated(tmp_path, model=QUARTER)
    try:
        assert (await again.order(PAIR, "k-1p0")).filled == D("0.25")  # type: ignore[union-attr]
        clock.advance_to(T0 + 5 * TF)  # only candle 4 is new
        tp = await again.order(PAIR, "k-1p0")
        assert tp is not None and (tp.status, tp.filled) == (OrderStatus.OPEN, D("0.5"))
        assert (await again.balances())["AAA"].used == D("0.5")
    finally:
        await again.close()
