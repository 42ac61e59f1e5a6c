"""The ccxt edge: exceptions translated once, orders mapped both ways. Pure, table-driven."""

from decimal import Decimal as D

import ccxt
import pytest

from bot.errors import (
    AuthenticationFailedError,
    ExchangeError,
    InsufficientFundsError,
    OrderNotFoundError,
    OrderRejectedError,
    RateLimitedError,
    TransientExchangeError,
)
from bot.exchange.base import OrderRequest, OrderStatus, OrderType, Side
from bot.exchange.ccxt_errors import check_reply, retry_after_s, translated
from bot.exchange.ccxt_orders import order_params, order_state


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (ccxt.OrderNotFound('binance {"code":-2013}'), OrderNotFoundError),
        (ccxt.DuplicateOrderId("dup"), TransientExchangeError),  # ambiguous: look it up
        (ccxt.InvalidOrder('binance {"code":-2010,"msg":"Duplicate order sent."}'), TransientExchangeError),
        (ccxt.InsufficientFunds("-2010"), InsufficientFundsError),
        (ccxt.InvalidOrder("Filter failure: LOT_SIZE"), OrderRejectedError),
        (ccxt.BadSymbol("no such market"), OrderRejectedError),
        (ccxt.AuthenticationError("bad key"), AuthenticationFailedError),
        (ccxt.RateLimitExceeded("429"), RateLimitedError),
        (ccxt.DDoSProtection("418"), RateLimitedError),
        (ccxt.RequestTimeout("timed out"), TransientExchangeError),
        (ccxt.ExchangeNotAvailable("503"), TransientExchangeError),
        (ccxt.OnMaintenance("maintenance"), TransientExchangeError),
        (ccxt.InvalidNonce("-1021 timestamp outside recvWindow"), TransientExchangeError),
        (ccxt.BadResponse("malformed"), TransientExchangeError),
        (AttributeError("'str' object has no attribute 'keys'"), TransientExchangeError),  # ccxt parsing a non-JSON 200
        (ccxt.ExchangeError("something else"), ExchangeError),
    ],
)
def test_ccxt_errors_become_ours_in_one_line(raised: Exception, expected: type) -> None:
    with pytest.raises(expected) as info, translated("submit", "BTC/USDT"):
        raise raised
    assert type(info.value) is expected
    assert str(info.value).startswith("submit BTC/USDT: ")
    assert "\n" not in str(info.value)
    assert info.value.__cause__ is raised


def test_retry_after_is_read_from_the_headers() -> None:
    assert retry_after_s({"Retry-After": "7"}) == 7.0
    assert retry_after_s({"retry-after": "x"}) is None
    assert retry_after_s(None) is None
    with pytest.raises(RateLimitedError) as info, translated("fetch", "X/Y", lambda: {"Retry-After": "3"}):
        raise ccxt.RateLimitExceeded("429")
    assert info.value.retry_after_s == 3.0


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        (
            OrderRequest("k-1e0", "BTC/USDT", Side.BUY, OrderType.MARKET, D("0.5")),
            ("market", None, {"clientOrderId": "k-1e0"}),
        ),
        (
            OrderRequest("k-1p0", "BTC/USDT", Side.SELL, OrderType.LIMIT, D("0.5"), price=D("45000.1")),
            ("limit", 45000.1, {"clientOrderId": "k-1p0", "timeInForce": "GTC"}),
        ),
        (
            OrderRequest("k-1s0", "BTC/USDT", Side.SELL, OrderType.STOP, D("0.5"), stop_price=D("40000")),
            ("market", None, {"clientOrderId": "k-1s0", "stopLossPrice": 40000.0}),
        ),
    ],
)
def test_orders_go_out_with_their_client_id(order: OrderRequest, expected: tuple[object, ...]) -> None:
    assert order_params(order) == expected


def test_a_filled_buy_with_the_fee_in_the_coin_keeps_the_net_amount_apart() -> None:
    raw = {
        "id": "123",
        "clientOrderId": "k-1e0",
        "symbol": "BTC/USDT",
        "type": "market",
        "side": "buy",
        "status": "closed",
        "amount": 0.5,
        "filled": 0.5,
        "average": 42000.0,
        "cost": 21000.0,
        "fees": [{"cost": 0.0005, "currency": "BTC"}],
        "timestamp": 1_700_000_000_000,
    }
    state = order_state(raw, "k-1e0", 0)
    assert (state.status, state.filled, state.average, state.fee_base, state.fee_quote) == (
        OrderStatus.FILLED,
        D("0.5"),
        D("42000.0"),
        D("0.0005"),
        D(0),
    )
    assert (state.venue_id, state.updated_ms) == ("123", 1_700_000_000_000)


def test_closed_with_a_remainder_is_a_cancel_with_a_partial_fill() -> None:
    raw = {
        "clientOrderId": "k-1p0",
        "symbol": "ETH/USDT",
        "type": "limit",
        "side": "sell",
        "status": "closed",
        "amount": 2,
        "filled": 0.5,
        "price": 2500,
        "cost": 1250,
        "fee": {"cost": 1.25, "currency": "USDT"},
    }
    state = order_state(raw, "k-1p0", 5)
    assert (state.status, state.filled, state.average, state.fee_quote, state.price) == (
        OrderStatus.CANCELED,
        D("0.5"),
        D("2500"),
        D("1.25"),
        D("2500"),
    )


def test_a_cancel_reply_keeps_our_client_id_and_a_waiting_stop_gets_a_real_time() -> None:
    info = {"origClientOrderId": "k-1s0", "clientOrderId": "cancel-7f3a", "status": "CANCELED", "workingTime": -1}
    raw = {
        "clientOrderId": "cancel-7f3a",  # Binance names the cancel request here
        "symbol": "BTC/USDT",
        "type": "market",
        "side": "sell",
        "status": "canceled",
        "amount": 0.5,
        "filled": 0,
        "triggerPrice": 40000,
        "timestamp": -1,  # ccxt reads workingTime, -1 while a stop waits
        "info": info,
    }
    state = order_state(raw, "k-1s0", 1_700_000_000_000)
    assert (state.client_id, state.status, state.type, state.updated_ms) == (
        "k-1s0",
        OrderStatus.CANCELED,
        OrderType.STOP,
        1_700_000_000_000,
    )


@pytest.mark.parametrize(
    "result",
    [{"info": "<html>502</html>", "free": {}}, [{"info": '{"symbol":', "id": None}]],
)
def test_a_reply_that_was_not_json_is_transient(result: object) -> None:
    with pytest.raises(TransientExchangeError, match="unreadable reply"):
        check_reply(result, "fetch balance ")
    check_reply({"info": {"balances": []}}, "fetch balance ")
    check_reply([[1, 2, 3]], "fetch candles BTC/USDT")
