"""Orders that do not simply fill, through the real daemon, the real ccxt binance class and the fake
Binance desk: limit entries and exits that rest, fill in part and are cancelled by `unfilledtimeout`,
market orders the book cannot fill whole. Each test ends with the one closing check."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D
from pathlib import Path

import pytest

from tests.fakes.binance_trading import TradingDesk
from tests.integration.conftest import KEYS
from tests.integration.harness import configure, read_back, run_daemon
from tests.integration.test_live_binance import assert_books_agree


def lot(desk: TradingDesk, symbol: str = "BTCUSDT") -> D:
    info = next(s for s in desk.fake.symbols if s["symbol"] == symbol)
    return D(next(f["stepSize"] for f in info["filters"] if f["filterType"] == "LOT_SIZE"))


def commission(desk: TradingDesk, client_id: str) -> D:
    return sum((t.commission for t in desk.trades_of(client_id)), D(0))


async def test_a_limit_entry_filled_in_part_is_cancelled_by_the_timeout_and_kept_as_a_smaller_position(
    desk: TradingDesk, live_config: Path
) -> None:
    configure(
        live_config,
        order_types={"entry": "limit"},
        unfilledtimeout={"entry": 2, "exit": 60, "unit": "seconds"},
    )
    desk.limits_queue_at_last = True  # a buy at the last price waits in the queue
    desk.fill_on_arrival["kestrel-1e0"] = D("0.001")  # of about 0.0025 wanted
    assert await run_daemon(live_config, ticks=5, timeout_s=30, environ=KEYS) == 0
    stored = await read_back(live_config)

    entry = desk.order("kestrel-1e0")
    assert (entry.type, entry.status, entry.executed) == ("LIMIT", "CANCELED", D("0.001"))
    assert entry.price == desk.price("BTCUSDT")  # priced at the last price, on the tick
    journaled = next(o for o in stored.orders if o.client_id == "kestrel-1e0")
    assert (journaled.status, journaled.filled) == ("canceled", D("0.001"))
    assert any(e.kind == "order_timed_out" and e.client_id == "kestrel-1e0" for e in stored.events)
    trade = next(t for t in stored.trades if t.id == 1)
    assert trade.status == "open" and trade.amount == D("0.001") - commission(desk, "kestrel-1e0")
    stop = desk.order("kestrel-1s0")  # protected once it stopped resting, for what it holds
    assert stop.is_open and stop.qty == (trade.amount // lot(desk)) * lot(desk)
    assert [o.client_id for o in desk.orders if o.side == "BUY"] == ["kestrel-1e0"]  # one slot: no more
    assert_books_agree(stored, desk)


async def test_a_market_entry_the_book_fills_in_part_opens_what_filled(desk: TradingDesk, live_config: Path) -> None:
    desk.market_depth["BTCUSDT"] = D("0.0012")  # the rest of the market buy expires
    assert await run_daemon(live_config, ticks=2, timeout_s=30, environ=KEYS) == 0
    stored = await read_back(live_config)
    entry = desk.order("kestrel-1e0")
    assert (entry.status, entry.executed) == ("EXPIRED", D("0.0012")) and entry.qty > entry.executed
    trade = next(t for t in stored.trades if t.id == 1)
    assert (trade.status, trade.amount) == ("open", D("0.0012") - commission(desk, "kestrel-1e0"))
    assert desk.order("kestrel-1s0").qty == (trade.amount // lot(desk)) * lot(desk)
    assert_books_agree(stored, desk)


async def test_limit_exits_that_time_out_are_placed_again_then_sold_at_market_after_the_count(
    desk: TradingDesk, live_config: Path
) -> None:
    configure(
        live_config,
        minimal_roi={"0": -0.5},  # the take-profit is reached at once: every tick wants out
        order_types={"exit": "limit"},
        unfilledtimeout={"entry": 60, "exit": 1, "exit_timeout_count": 2, "unit": "seconds"},
    )
    desk.limits_queue_at_last = True  # a sell at the last price waits in the queue
    desk.fill_on_arrival["kestrel-1x0"] = D("0.0005")
    assert await run_daemon(live_config, ticks=7, timeout_s=40, environ=KEYS) == 0
    stored = await read_back(live_config)

    first, second, last = (desk.order(f"kestrel-1x{i}") for i in range(3))
    assert (first.type, first.status, first.executed) == ("LIMIT", "CANCELED", D("0.0005"))
    assert (second.type, second.status, second.executed) == ("LIMIT", "CANCELED", D(0))
    assert second.qty == first.qty - D("0.0005")  # placed again for what the first did not sell
    assert (last.type, last.status) == ("MARKET", "FILLED")  # two timeouts: the exit goes at market
    trade = next(t for t in stored.trades if t.id == 1)
    assert (trade.status, trade.exit_reason) == ("closed", "roi")
    sold = first.executed + second.executed + last.executed
    assert trade.amount - sold < lot(desk)  # all of it sold, but for dust under a lot
    assert sum(1 for e in stored.events if e.kind == "order_timed_out" and "1x" in (e.client_id or "")) == 2
    assert not any(o.client_id.startswith("kestrel-1s") for o in desk.orders)  # never protected: exiting
    assert_books_agree(stored, desk)


@pytest.mark.parametrize("why", ["stoploss_on_exchange is off", "the symbol takes no stop orders"])
async def test_a_stop_the_exchange_does_not_hold_is_watched_by_the_bot_and_sold_at_market(
    desk: TradingDesk, live_config: Path, why: str
) -> None:
    if why == "stoploss_on_exchange is off":
        configure(live_config, stoploss=-0.01, order_types={"stoploss_on_exchange": False})
    else:
        configure(live_config, stoploss=-0.01)
        for info in desk.fake.symbols:
            info["orderTypes"] = [t for t in info["orderTypes"] if t not in ("STOP_LOSS", "STOP_LOSS_LIMIT")]
    start = desk.price("BTCUSDT")
    assert start is not None
    fallen = (start * D("0.95")).quantize(D("0.01"))

    def fall_after_the_fill() -> None:
        asyncio.get_running_loop().call_later(0.3, desk.set_price, "BTCUSDT", fallen)

    desk.before_order("kestrel-1e0", fall_after_the_fill)
    assert await run_daemon(live_config, ticks=4, timeout_s=30, environ=KEYS) == 0
    stored = await read_back(live_config)
    sent = [r.form.get("type", "") for r in desk.fake.requests_to("order") if r.method == "POST"]
    assert sent and not any(t.startswith("STOP") for t in sent)  # no stop was even tried there
    assert not any(o.purpose == "stop" for o in stored.orders)
    sale = desk.order("kestrel-1x0")
    assert (sale.type, sale.status) == ("MARKET", "FILLED")
    trade = next(t for t in stored.trades if t.id == 1)
    assert (trade.status, trade.exit_reason, trade.close_rate) == ("closed", "stop_loss", fallen)
    assert_books_agree(stored, desk)
