"""Live trading on "binance": the real daemon and the real ccxt binance class against a fake Binance
(tests/fakes) with a trading desk: signed requests, Binance's order rules, commission taken in the
coin bought. Each test ends with one check: no duplicate, no orphan, the journal agrees with the
desk, and open positions equal the desk's balances."""

from __future__ import annotations

from decimal import ROUND_DOWN
from decimal import Decimal as D
from pathlib import Path

from tests.fakes.binance_trading import TradingDesk
from tests.integration.conftest import KEYS
from tests.integration.harness import Stored, read_back, run_daemon

STATUS = {"NEW": "open", "PARTIALLY_FILLED": "open", "FILLED": "filled", "CANCELED": "canceled", "EXPIRED": "expired"}


def assert_books_agree(stored: Stored, desk: TradingDesk, prefix: str = "kestrel-") -> None:
    """The one closing check of every scenario."""
    ids = [o.client_id for o in stored.orders]
    assert len(ids) == len(set(ids)), "a client id was journaled twice"
    ours = [o for o in desk.orders if o.client_id.startswith(prefix)]
    assert len({o.client_id for o in ours}) == len(ours), "the exchange got one intent twice"
    journal = {o.client_id: o for o in stored.orders}
    for order in ours:  # no orphan: every order of ours at the exchange is in the journal, as it is there
        assert order.client_id in journal, f"orphan {order.client_id}"
        mine = journal[order.client_id]
        assert (mine.status, mine.filled) == (STATUS[order.status], order.executed), order.client_id
    for mine in stored.orders:  # nothing journaled as sent that the exchange never got
        if mine.status not in ("not_sent", "rejected") and mine.purpose != "by_hand":
            assert any(o.client_id == mine.client_id for o in ours), f"{mine.client_id} not at the exchange"
    held: dict[str, D] = {}
    for t in stored.trades:
        if t.status in ("open", "closing"):
            base = t.pair.split("/")[0]
            held[base] = held.get(base, D(0)) + t.amount
    balances = desk.balances()
    for asset in {*held, *balances} - {"USDT"}:
        funds = balances.get(asset)
        at_exchange = funds.free + funds.locked if funds else D(0)
        # equal, but for dust: less than one lot step (1e-5 here) a closed trade could not sell
        assert D(0) <= at_exchange - held.get(asset, D(0)) < D("0.00001"), (asset, at_exchange, held.get(asset))


async def test_live_entry_with_the_fee_in_the_coin_and_a_stop_resting_at_the_exchange(
    desk: TradingDesk, live_config: Path
) -> None:
    assert await run_daemon(live_config, ticks=2, timeout_s=30, environ=KEYS) == 0
    stored = await read_back(live_config)
    assert stored.state["mode"] == "live"
    (trade,) = stored.trades
    buy = desk.order("kestrel-1e0")
    assert (buy.side, buy.type, buy.status) == ("BUY", "MARKET", "FILLED")
    commission = sum((t.commission for t in desk.trades_of("kestrel-1e0")), D(0))
    assert commission > 0 and trade.amount == buy.executed - commission  # Binance kept its fee in BTC
    (stop,) = desk.open_orders("BTCUSDT")
    assert stop.type == "STOP_LOSS" and stop.client_id == "kestrel-1s0"
    assert stop.qty <= trade.amount and trade.amount - stop.qty < D("0.00001")  # rounded down to the lot
    assert_books_agree(stored, desk)


async def test_an_entry_accepted_then_timed_out_is_adopted_not_sent_again(desk: TradingDesk, live_config: Path) -> None:
    desk.accept_then_delay(3.0)  # past ccxt's 2 s timeout: the order exists, the daemon never hears
    assert await run_daemon(live_config, ticks=2, timeout_s=30, environ=KEYS) == 0
    stored = await read_back(live_config)
    assert [o.client_id for o in desk.orders if o.side == "BUY"] == ["kestrel-1e0"]
    assert any(e.kind == "order_adopted" for e in stored.events)
    assert stored.trades[0].status == "open"
    assert_books_agree(stored, desk)


async def test_a_restart_after_a_stop_cancelled_and_the_coins_sold_by_hand(
    desk: TradingDesk, live_config: Path
) -> None:
    assert await run_daemon(live_config, ticks=2, timeout_s=30, environ=KEYS) == 0
    first = await read_back(live_config)
    (trade,) = first.trades
    # while the daemon is down, a person cancels the stop and sells the coins on the website
    desk.cancel_by_hand("kestrel-1s0")
    desk.sell_by_hand("BTCUSDT", desk.balances()["BTC"].free.quantize(D("0.000001"), rounding=ROUND_DOWN))
    assert await run_daemon(live_config, ticks=1, timeout_s=30, environ=KEYS) == 0
    stored = await read_back(live_config)
    closed = next(t for t in stored.trades if t.id == trade.id)
    assert (closed.status, closed.exit_reason) == ("closed", "sold_by_hand")
    assert next(o for o in stored.orders if o.client_id == "kestrel-1s0").status == "canceled"
    assert_books_agree(stored, desk)


async def test_an_orphan_buy_with_our_prefix_is_adopted_and_managed(desk: TradingDesk, live_config: Path) -> None:
    price = desk.price("ETHUSDT")
    assert price is not None
    desk.add_order("ETHUSDT", "BUY", D("0.02"), price=(price * D("0.5")).quantize(D("0.01")), client_id="kestrel-7e0")
    assert await run_daemon(live_config, ticks=1, timeout_s=30, environ=KEYS) == 0
    stored = await read_back(live_config)
    adopted = next(o for o in stored.orders if o.client_id == "kestrel-7e0")
    assert adopted.status == "open" and adopted.pair == "ETH/USDT"
    assert any(t.pair == "ETH/USDT" and t.status == "opening" for t in stored.trades)
    assert_books_agree(stored, desk)
