"""The fill model, table-driven with hand-picked candles."""

from decimal import Decimal as D

import pytest

from bot.exchange.base import Market, OrderRequest, OrderType, Side
from bot.exchange.fills import Bar, FillModel, is_marketable, resting_fill_price, taker_price, to_decimal


def bar(o: str, h: str, low: str, c: str) -> Bar:
    return Bar(0, D(o), D(h), D(low), D(c))


def stop(side: Side, price: str) -> OrderRequest:
    return OrderRequest("c", "X/Y", side, OrderType.STOP, D(1), stop_price=D(price))


def limit(side: Side, price: str) -> OrderRequest:
    return OrderRequest("c", "X/Y", side, OrderType.LIMIT, D(1), price=D(price))


@pytest.mark.parametrize(
    ("order", "candle", "expected"),
    [
        (stop(Side.SELL, "95"), bar("100", "101", "96", "97"), None),  # low stays above the stop
        (stop(Side.SELL, "95"), bar("100", "101", "94", "97"), D("95")),  # touched: fills at the stop
        (stop(Side.SELL, "95"), bar("93", "96", "92", "95"), D("93")),  # gap below: fills at the open
        (stop(Side.SELL, "95"), bar("95", "96", "95", "95"), D("95")),  # opens exactly at the stop
        (stop(Side.BUY, "105"), bar("100", "106", "99", "104"), D("105")),
        (stop(Side.BUY, "105"), bar("107", "108", "106", "107"), D("107")),
        (limit(Side.SELL, "105"), bar("100", "104.99", "99", "104"), None),
        (limit(Side.SELL, "105"), bar("100", "106", "99", "104"), D("105")),  # maker fills at its own price
        (limit(Side.SELL, "105"), bar("107", "108", "106", "107"), D("105")),  # gap above: still its price
        (limit(Side.BUY, "95"), bar("100", "101", "94", "97"), D("95")),
    ],
)
def test_resting_orders_fill_by_the_stated_rules(order: OrderRequest, candle: Bar, expected: D | None) -> None:
    assert resting_fill_price(order, candle) == expected


@pytest.mark.parametrize(
    ("order", "reference", "expected"),
    [
        (stop(Side.SELL, "95"), "96", False),
        (stop(Side.SELL, "95"), "95", True),
        (limit(Side.SELL, "105"), "104", False),
        (limit(Side.SELL, "105"), "106", True),
        (limit(Side.BUY, "95"), "94", True),
        (OrderRequest("c", "X/Y", Side.BUY, OrderType.MARKET, D(1)), "1", True),
    ],
)
def test_marketable_orders_are_recognised(order: OrderRequest, reference: str, expected: bool) -> None:
    assert is_marketable(order, D(reference)) is expected


def test_taker_price_moves_against_the_order() -> None:
    assert taker_price(Side.BUY, D("100"), D("0.001")) == D("100.100")
    assert taker_price(Side.SELL, D("100"), D("0.001")) == D("99.900")


def test_candle_floats_become_the_decimals_they_print_as() -> None:
    assert to_decimal(4.915e-05) == D("0.00004915")
    assert to_decimal(0.1 + 0.2) == D("0.30000000000000004")  # honest: the float is what it is


@pytest.mark.parametrize(
    ("value", "step", "down", "nearest", "up"),
    [
        ("100.7049", "0.01", "100.70", "100.70", "100.71"),
        ("0.000090730000000000001", "1E-8", "0.00009073", "0.00009073", "0.00009074"),
        ("12.76", "0.5", "12.5", "13.0", "13.0"),
        ("60000", "0.1", "60000.0", "60000.0", "60000.0"),
    ],
)
def test_rounding_to_ticks_and_steps(value: str, step: str, down: str, nearest: str, up: str) -> None:
    from bot.exchange.base import Market

    m = Market("X/Y", "X", "Y", price_tick=D(step), amount_step=D(step))
    assert (m.round_amount_down(D(value)), m.round_price(D(value)), m.round_price_up(D(value))) == (
        D(down),
        D(nearest),
        D(up),
    )


MARKET = Market("X/Y", "X", "Y", price_tick=D("0.01"), amount_step=D("0.01"))


@pytest.mark.parametrize(
    ("model", "order", "remaining", "volume", "expected"),
    [
        (FillModel(), limit(Side.SELL, "105"), "1", "0", D(1)),  # no share: whole, whatever traded
        (FillModel(volume_share=D("0.1")), limit(Side.SELL, "105"), "1", "5", D("0.5")),
        (FillModel(volume_share=D("0.1")), limit(Side.SELL, "105"), "1", "5.79", D("0.57")),  # down to the step
        (FillModel(volume_share=D("0.1")), limit(Side.SELL, "105"), "0.3", "50", D("0.3")),  # never above what is left
        (FillModel(volume_share=D("0.1")), limit(Side.SELL, "105"), "1", "0.09", D(0)),  # less than a lot: none
        (FillModel(volume_share=D("0.1")), stop(Side.SELL, "95"), "1", "0", D(1)),  # stops fill whole
    ],
)
def test_a_resting_limit_takes_its_share_of_the_candle_volume(
    model: FillModel, order: OrderRequest, remaining: str, volume: str, expected: D
) -> None:
    candle = Bar(0, D(100), D(106), D(94), D(100), D(volume))
    assert model.resting_amount(order, D(remaining), candle, MARKET) == expected


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        (OrderRequest("c", "X/Y", Side.BUY, OrderType.MARKET, D(1)), D("100.5")),
        (OrderRequest("c", "X/Y", Side.SELL, OrderType.MARKET, D(1)), D("99.5")),
        (limit(Side.BUY, "100.2"), D("100.2")),  # a limit caps the slippage at its price
        (limit(Side.BUY, "101"), D("100.5")),
        (limit(Side.SELL, "99.8"), D("99.8")),
        (stop(Side.SELL, "100"), D("99.5")),  # a triggered stop is a market order
    ],
)
def test_orders_that_trade_on_arrival_pay_the_slippage_up_to_their_limit(order: OrderRequest, expected: D) -> None:
    assert FillModel(slippage_frac=D("0.005")).immediate_price(order, D(100)) == expected
