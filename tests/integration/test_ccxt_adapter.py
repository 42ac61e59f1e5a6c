"""CcxtExchange with the real ccxt binance class against a fake Binance on 127.0.0.1 with a trading
desk behind it: what ccxt sends, what Binance answers, and what the adapter makes of it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from decimal import Decimal as D
from pathlib import Path

import pytest

from bot.clock import SystemClock
from bot.errors import (
    AuthenticationFailedError,
    InsufficientFundsError,
    OrderNotFoundError,
    OrderRejectedError,
    TransientExchangeError,
)
from bot.exchange.base import Balance, OrderRequest, OrderStatus, OrderType, Side
from bot.exchange.ccxt_adapter import CcxtExchange, Credentials, RetryPolicy, build_ccxt
from bot.ledger import ENTRY, STOP
from bot.orders.ids import client_id, parse_client_id
from bot.systemd_notify import ServiceNotifier
from bot.venues import markets_when_reachable
from tests.fakes.binance_http import FakeBinance, LoggedRequest, ccxt_config_for
from tests.fakes.binance_trading import TradingDesk
from tests.integration.test_systemd_notify import NotifyListener

PREFIX = "kestrel"
FAST = RetryPolicy(attempts=3, first_wait_s=0.01, max_wait_s=0.05)
BTC = "BTC/USDT"


def cid(trade_id: int, purpose: str = ENTRY) -> str:
    return client_id(PREFIX, trade_id, purpose, 0)


def buy(trade_id: int, amount: str, price: str | None = None) -> OrderRequest:
    kind = OrderType.MARKET if price is None else OrderType.LIMIT
    return OrderRequest(cid(trade_id), BTC, Side.BUY, kind, D(amount), price=None if price is None else D(price))


def stop_sell(trade_id: int, amount: str, stop: str) -> OrderRequest:
    return OrderRequest(cid(trade_id, STOP), BTC, Side.SELL, OrderType.STOP, D(amount), stop_price=D(stop))


def sent(fake: FakeBinance, method: str, route: str) -> list[LoggedRequest]:
    return [r for r in fake.requests_to(route) if r.method == method]


def params(request: LoggedRequest) -> dict[str, str]:
    return request.query | request.form


def venue_for(fake: FakeBinance, *, secret: str = "s", key: str = "k", retry: RetryPolicy = FAST) -> CcxtExchange:
    config = ccxt_config_for(fake.base_url, timeout_ms=500)
    return CcxtExchange(
        build_ccxt("binance", config, Credentials(key, secret), sandbox=False), clock=SystemClock(), retry=retry
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeBinance]:
    async with FakeBinance() as server:
        yield server


@pytest.fixture
def desk(fake: FakeBinance) -> TradingDesk:
    desk = TradingDesk(fake, balances={"USDT": D("1000"), "BTC": D("0.01")})
    desk.set_price("BTCUSDT", D("40000"))
    return desk


@pytest.fixture
async def venue(fake: FakeBinance, desk: TradingDesk) -> AsyncIterator[CcxtExchange]:
    exchange = venue_for(fake)
    yield exchange
    await exchange.close()


# -- reads -------------------------------------------------------------------------------------
async def test_markets_come_from_exchange_info_once_and_unsigned(fake: FakeBinance, venue: CcxtExchange) -> None:
    markets = await venue.markets()
    await venue.markets()  # cached

    btc, sol = markets["BTC/USDT"], markets["SOL/USDT"]
    assert (btc.base, btc.quote, btc.price_tick, btc.amount_step) == ("BTC", "USDT", D("0.01"), D("0.000001"))
    assert (btc.min_amount, btc.min_notional) == (D("0.000001"), D("10"))
    assert (sol.price_tick, sol.amount_step) == (D("0.001"), D("0.001"))
    assert sorted(markets) == ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
    assert [r.path for r in fake.requests] == ["/api/v3/exchangeInfo"]
    assert "X-MBX-APIKEY" not in fake.requests[0].headers


async def test_balances_are_free_and_locked_from_a_signed_account_call(
    fake: FakeBinance, desk: TradingDesk, venue: CcxtExchange
) -> None:
    desk.add_order("BTCUSDT", "BUY", D("0.001"), price=D("30000"), client_id=cid(1))  # locks 30 USDT

    balances = await venue.balances()

    assert balances == {"USDT": Balance(free=D("970"), used=D("30")), "BTC": Balance(free=D("0.01"))}
    (account,) = sent(fake, "GET", "account")
    assert account.headers["X-MBX-APIKEY"] == "k"
    assert {"timestamp", "recvWindow", "signature"} <= set(account.query)


async def test_price_is_the_last_price_of_the_24h_ticker(
    fake: FakeBinance, desk: TradingDesk, venue: CcxtExchange
) -> None:
    desk.set_price("BTCUSDT", D("41234.56"))

    assert await venue.price(BTC) == D("41234.56")
    assert [params(r) for r in sent(fake, "GET", "ticker/24hr")] == [{"symbol": "BTCUSDT"}]


# -- orders ------------------------------------------------------------------------------------
async def test_market_buy_fills_at_the_last_price_with_the_fee_in_the_coin(
    fake: FakeBinance, desk: TradingDesk, venue: CcxtExchange
) -> None:
    state = await venue.submit(buy(1, "0.001"))

    assert (state.client_id, state.status, state.type) == (cid(1), OrderStatus.FILLED, OrderType.MARKET)
    assert (state.filled, state.average, state.fee_base, state.fee_quote) == (D("0.001"), D("40000"), D("0.000001"), 0)
    (post,) = sent(fake, "POST", "order")
    assert params(post) | {"timestamp": "", "recvWindow": "", "signature": ""} == {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "MARKET",
        "quantity": "0.001",
        "newClientOrderId": cid(1),
        "newOrderRespType": "FULL",
        "timestamp": "",
        "recvWindow": "",
        "signature": "",
    }
    assert desk.balances()["BTC"] == (D("0.010999"), 0)
    assert desk.balances()["USDT"] == (D("960"), 0)


@pytest.mark.parametrize(
    ("request_", "fee_base", "fee_quote"),
    [
        (buy(1, "0.002"), D("0.000002"), D(0)),  # Binance takes the fee from what was bought
        (OrderRequest(cid(1), BTC, Side.SELL, OrderType.MARKET, D("0.005")), D(0), D("0.2")),  # 200 USDT * 0.1 %
    ],
)
async def test_order_lookup_recovers_the_fee_from_the_trades(
    fake: FakeBinance, venue: CcxtExchange, request_: OrderRequest, fee_base: D, fee_quote: D
) -> None:
    submitted = await venue.submit(request_)

    found = await venue.order(BTC, request_.client_id)

    assert found is not None
    assert (found.status, found.filled, found.fee_base, found.fee_quote) == (
        OrderStatus.FILLED,
        request_.amount,
        fee_base,
        fee_quote,
    )
    assert (submitted.fee_base, submitted.fee_quote) == (fee_base, fee_quote)  # the FULL reply's fills
    assert [params(r)["orderId"] for r in sent(fake, "GET", "myTrades")] == [submitted.venue_id]


async def test_limit_order_rests_fills_partly_and_is_cancelled_keeping_the_fill(
    fake: FakeBinance, desk: TradingDesk, venue: CcxtExchange
) -> None:
    placed = await venue.submit(buy(2, "0.002", price="39000"))
    assert (placed.status, placed.filled, placed.price) == (OrderStatus.OPEN, 0, D("39000"))
    assert desk.balances()["USDT"] == (D("922"), D("78"))

    desk.fill(cid(2), D("0.0005"))
    partly = await venue.order(BTC, cid(2))
    cancelled = await venue.cancel(BTC, cid(2))

    assert partly is not None
    assert (partly.status, partly.filled, partly.average, partly.fee_base) == (
        OrderStatus.OPEN,
        D("0.0005"),
        D("39000"),
        D("0.0000005"),
    )
    assert (cancelled.client_id, cancelled.status, cancelled.filled, cancelled.fee_base) == (
        cid(2),  # not the id Binance gives the cancel request itself
        OrderStatus.CANCELED,
        D("0.0005"),
        D("0.0000005"),
    )
    assert desk.order(cid(2)).status == "CANCELED"
    assert desk.balances()["USDT"] == (D("980.5"), 0)  # 19.5 spent, the rest unlocked


async def test_stop_market_sell_waits_then_fills_when_the_price_falls_to_it(
    fake: FakeBinance, desk: TradingDesk, venue: CcxtExchange
) -> None:
    placed = await venue.submit(stop_sell(3, "0.005", stop="38000"))

    assert (placed.status, placed.type, placed.stop_price) == (OrderStatus.OPEN, OrderType.STOP, D("38000"))
    assert placed.updated_ms > 0  # Binance's reply says workingTime -1 for a stop not yet triggered
    (post,) = sent(fake, "POST", "order")
    assert (params(post)["type"], params(post)["stopPrice"], "price" in params(post)) == ("STOP_LOSS", "38000", False)
    assert desk.balances()["BTC"] == (D("0.005"), D("0.005"))

    assert desk.set_price("BTCUSDT", D("38000.01")) == []
    still = await venue.order(BTC, placed.client_id)
    desk.set_price("BTCUSDT", D("37900"))
    fired = await venue.order(BTC, placed.client_id)

    assert still is not None
    assert still.status is OrderStatus.OPEN
    assert fired is not None
    assert (fired.status, fired.filled, fired.average, fired.fee_quote) == (
        OrderStatus.FILLED,
        D("0.005"),
        D("37900"),
        D("0.1895"),
    )


async def test_cancelling_a_stop_that_already_fired_returns_it_filled(
    fake: FakeBinance, desk: TradingDesk, venue: CcxtExchange
) -> None:
    placed = await venue.submit(stop_sell(4, "0.005", stop="38000"))
    desk.set_price("BTCUSDT", D("37000"))

    state = await venue.cancel(BTC, placed.client_id)

    assert (state.status, state.filled, state.average) == (OrderStatus.FILLED, D("0.005"), D("37000"))
    assert [r.status for r in sent(fake, "DELETE", "order")] == [400]  # -2011 "Unknown order sent."
    with pytest.raises(OrderNotFoundError):
        await venue.cancel(BTC, cid(99))


async def test_a_stop_above_the_price_is_refused(fake: FakeBinance, desk: TradingDesk, venue: CcxtExchange) -> None:
    with pytest.raises(OrderRejectedError, match="Stop price would trigger immediately"):
        await venue.submit(stop_sell(5, "0.005", stop="40500"))
    assert desk.orders == []


async def test_ccxt_refuses_stop_market_orders_where_the_symbol_does_not_list_them() -> None:
    async with FakeBinance() as fake:
        TradingDesk(fake, balances={"BTC": D("1")}, order_types=None)  # the 2021 list: no STOP_LOSS
        venue = venue_for(fake)
        with pytest.raises(OrderRejectedError, match="triggerPrice parameter is not allowed"):
            await venue.submit(stop_sell(6, "0.005", stop="38000"))
        await venue.close()
    assert sent(fake, "POST", "order") == []


async def test_lookup_by_client_id_is_none_only_when_binance_says_so(fake: FakeBinance, venue: CcxtExchange) -> None:
    assert await venue.order(BTC, cid(7)) is None
    assert [r.status for r in sent(fake, "GET", "order")] == [400]  # -2013 "Order does not exist."

    fake.fail_next("order", status=503, times=3)
    with pytest.raises(TransientExchangeError):
        await venue.order(BTC, cid(7))


async def test_open_orders_include_orphans_with_our_prefix_and_manual_ones(
    fake: FakeBinance, desk: TradingDesk, venue: CcxtExchange
) -> None:
    await venue.submit(buy(8, "0.001", price="39000"))
    desk.add_order("BTCUSDT", "SELL", D("0.002"), price=D("45000"), client_id=cid(9))  # left by an earlier run
    desk.add_order("BTCUSDT", "BUY", D("0.001"), price=D("30000"), client_id="web_manual1")
    desk.set_balance("ETH", D("1"))
    desk.add_order("ETHUSDT", "SELL", D("0.5"), price=D("3000"), client_id=cid(10))

    states = await venue.open_orders([BTC, "ETH/USDT"])

    assert {(s.client_id, s.symbol, s.side) for s in states} == {
        (cid(8), BTC, Side.BUY),
        (cid(9), BTC, Side.SELL),
        ("web_manual1", BTC, Side.BUY),
        (cid(10), "ETH/USDT", Side.SELL),
    }
    assert all(s.status is OrderStatus.OPEN for s in states)
    assert sorted(s.client_id for s in states if parse_client_id(PREFIX, s.client_id)) == [cid(10), cid(8), cid(9)]
    assert [params(r)["symbol"] for r in sent(fake, "GET", "openOrders")] == ["BTCUSDT", "ETHUSDT"]


async def test_changes_made_outside_the_bot_show_up(desk: TradingDesk, venue: CcxtExchange) -> None:
    await venue.submit(buy(11, "0.001", price="39000"))
    desk.cancel_by_hand(cid(11))
    desk.sell_by_hand("BTCUSDT", D("0.004"))

    state = await venue.order(BTC, cid(11))
    balances = await venue.balances()

    assert state is not None
    assert state.status is OrderStatus.CANCELED
    assert balances["BTC"] == Balance(free=D("0.006"))
    assert balances["USDT"] == Balance(free=D("1159.84"))  # 160 for 0.004 BTC, less 0.16 commission


# -- rejections --------------------------------------------------------------------------------
async def test_a_duplicate_client_id_is_ambiguous_and_the_lookup_finds_the_first(
    fake: FakeBinance, desk: TradingDesk, venue: CcxtExchange
) -> None:
    first = await venue.submit(buy(12, "0.001", price="39000"))

    with pytest.raises(TransientExchangeError, match="already in use") as info:
        await venue.submit(buy(12, "0.001", price="39000"))
    found = await venue.order(BTC, cid(12))

    assert not isinstance(info.value, OrderRejectedError)
    assert "Duplicate order sent" in str(info.value)
    assert found is not None
    assert found.venue_id == first.venue_id
    assert len(desk.orders) == 1


@pytest.mark.parametrize(
    ("filter_type", "changes", "amount"),
    [
        ("MIN_NOTIONAL", {"minNotional": "50.00000000"}, "0.001"),  # 39 USDT: now too small
        ("LOT_SIZE", {"maxQty": "0.00100000"}, "0.002"),
    ],
)
async def test_a_filter_failure_from_the_exchange_is_a_rejection(
    fake: FakeBinance, desk: TradingDesk, venue: CcxtExchange, filter_type: str, changes: dict[str, str], amount: str
) -> None:
    await venue.markets()  # cached; then Binance tightens the rule
    (rule,) = [f for f in fake.symbols[0]["filters"] if f["filterType"] == filter_type]
    rule.update(changes)

    with pytest.raises(OrderRejectedError, match=f"Filter failure: {filter_type}") as info:
        await venue.submit(buy(13, amount, price="39000"))

    assert not isinstance(info.value, InsufficientFundsError)
    assert [r.status for r in sent(fake, "POST", "order")] == [400]
    assert desk.orders == []


async def test_insufficient_funds_counts_what_open_orders_lock(desk: TradingDesk, venue: CcxtExchange) -> None:
    with pytest.raises(InsufficientFundsError, match="insufficient balance"):
        await venue.submit(buy(14, "0.03", price="39000"))  # 1170 USDT > 1000
    await venue.submit(buy(15, "0.02", price="39000"))  # locks 780
    with pytest.raises(InsufficientFundsError):
        await venue.submit(buy(16, "0.006", price="39000"))  # 234 > 220 free

    assert [o.client_id for o in desk.orders] == [cid(15)]


@pytest.mark.parametrize(("key", "secret"), [("k", "wrong"), ("other", "s")])
async def test_bad_credentials_fail_authentication(fake: FakeBinance, desk: TradingDesk, key: str, secret: str) -> None:
    venue = venue_for(fake, key=key, secret=secret)
    with pytest.raises(AuthenticationFailedError):
        await venue.balances()
    await venue.close()
    assert [r.status for r in sent(fake, "GET", "account")] == [400 if secret == "wrong" else 401]


# -- faults ------------------------------------------------------------------------------------
async def test_server_errors_on_a_read_are_retried(fake: FakeBinance, desk: TradingDesk, venue: CcxtExchange) -> None:
    fake.fail_next("account", status=503, times=2)
    assert "USDT" in await venue.balances()
    assert [r.status for r in sent(fake, "GET", "account")] == [503, 503, 200]

    fake.fail_next("account", status=502, times=3)
    with pytest.raises(TransientExchangeError):
        await venue.balances()


async def test_a_429_storm_is_waited_out_as_retry_after_says(fake: FakeBinance, desk: TradingDesk) -> None:
    venue = venue_for(fake, retry=RetryPolicy(attempts=4, first_wait_s=0.01, max_wait_s=5))
    fake.rate_limit_next("openOrders", retry_after_s=1)
    fake.rate_limit_next("openOrders", retry_after_s=0)

    assert await venue.open_orders([BTC]) == []
    await venue.close()

    asked = sent(fake, "GET", "openOrders")
    assert [r.status for r in asked] == [429, 429, 200]
    assert asked[1].at_s - asked[0].at_s >= 0.95  # Retry-After: 1, not the 0.01 s backoff
    assert asked[2].at_s - asked[1].at_s < 0.5
    assert venue.rate_limited == 2


async def test_a_submit_accepted_but_answered_too_late_is_transient_and_found_by_lookup(
    fake: FakeBinance, desk: TradingDesk, venue: CcxtExchange
) -> None:
    desk.accept_then_delay(5.0)
    started = time.monotonic()

    with pytest.raises(TransientExchangeError):
        await venue.submit(buy(17, "0.001", price="39000"))
    found = await venue.order(BTC, cid(17))

    assert time.monotonic() - started < 2.0  # the client's 0.5 s timeout, not the server's delay
    assert found is not None
    assert (found.status, found.amount) == (OrderStatus.OPEN, D("0.001"))
    assert len(sent(fake, "POST", "order")) == 1  # never resent


async def test_a_malformed_reply_to_an_accepted_submit_is_transient_and_the_order_exists(
    fake: FakeBinance, desk: TradingDesk, venue: CcxtExchange
) -> None:
    desk.accept_then_malformed()

    with pytest.raises(TransientExchangeError, match="unreadable reply"):
        await venue.submit(buy(18, "0.001"))
    found = await venue.order(BTC, cid(18))

    assert found is not None
    assert (found.status, found.filled, found.fee_base) == (OrderStatus.FILLED, D("0.001"), D("0.000001"))


@pytest.mark.parametrize("body", ["<html><body>502 Bad Gateway</body></html>", '{"balances": [', ""])
async def test_a_malformed_reply_to_a_read_is_never_taken_for_an_empty_account(
    fake: FakeBinance, desk: TradingDesk, venue: CcxtExchange, body: str
) -> None:
    desk.add_order("BTCUSDT", "BUY", D("0.001"), price=D("30000"), client_id=cid(19))
    fake.fail_next("account", status=200, body=body)
    fake.fail_next("openOrders", status=200, body=body)

    balances = await venue.balances()
    orders = await venue.open_orders([BTC])

    assert balances["USDT"] == Balance(free=D("970"), used=D("30"))
    assert [o.client_id for o in orders] == [cid(19)]
    assert len(sent(fake, "GET", "account")) == len(sent(fake, "GET", "openOrders")) == 2


@pytest.mark.parametrize("skew_ms", [-20_000, 20_000])  # our clock ahead of Binance's, or behind
async def test_a_clock_out_of_the_recv_window_is_resynced(
    fake: FakeBinance, desk: TradingDesk, venue: CcxtExchange, skew_ms: int
) -> None:
    desk.skew_ms = skew_ms

    assert "USDT" in await venue.balances()
    desk.skew_ms += skew_ms  # drifts again: a submit is not retried, it is looked up
    with pytest.raises(TransientExchangeError, match="-1021"):
        await venue.submit(buy(20, "0.001", price="39000"))
    assert await venue.order(BTC, cid(20)) is None
    placed = await venue.submit(buy(20, "0.001", price="39000"))

    assert placed.status is OrderStatus.OPEN
    assert [(r.method, r.path, r.status) for r in fake.requests if r.path != "/api/v3/exchangeInfo"] == [
        ("GET", "/api/v3/account", 400),  # -1021
        ("GET", "/api/v3/time", 200),
        ("GET", "/api/v3/account", 200),
        ("POST", "/api/v3/order", 400),  # -1021
        ("GET", "/api/v3/time", 200),
        ("GET", "/api/v3/order", 400),  # -2013: not placed
        ("POST", "/api/v3/order", 200),
    ]


async def test_maintenance_at_start_is_transient_until_it_ends(
    fake: FakeBinance, desk: TradingDesk, venue: CcxtExchange
) -> None:
    desk.maintenance(60)

    with pytest.raises(TransientExchangeError):
        await venue.markets()
    status = await venue._client.fetch_status()  # sapi system/status, the one route that answers
    desk.end_maintenance()
    markets = await venue.markets()

    assert status["status"] == "maintenance"
    assert [r.status for r in sent(fake, "GET", "exchangeInfo")] == [503, 503, 503, 200]
    assert BTC in markets


async def test_a_start_waiting_for_the_exchange_keeps_systemd_waiting_too(
    fake: FakeBinance, desk: TradingDesk, venue: CcxtExchange, tmp_path: Path
) -> None:
    listener = NotifyListener(tmp_path / "notify.sock")
    systemd = ServiceNotifier({"NOTIFY_SOCKET": str(listener.path)})
    desk.maintenance(60)
    waiting = asyncio.create_task(
        markets_when_reachable(venue, "binance", asyncio.Event(), first_wait_s=0.2, on_wait=systemd.still_starting)
    )
    try:
        await asyncio.to_thread(listener.wait_for, "EXTEND_TIMEOUT_USEC", 10)
        desk.end_maintenance()
        markets = await asyncio.wait_for(waiting, 10)
    finally:
        listener.close()
    told = listener.with_field("EXTEND_TIMEOUT_USEC")[0].fields
    assert int(told["EXTEND_TIMEOUT_USEC"]) >= 60_000_000 and "WATCHDOG" in told
    assert told["STATUS"].startswith("waiting for binance: ")
    assert BTC in markets
