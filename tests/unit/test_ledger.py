"""Trades derived from their orders, with hand-computed profit."""

from dataclasses import replace
from decimal import Decimal as D

from bot.ledger import JournalOrder, derive_trade


def order(
    purpose: str,
    status: str,
    filled: str = "0",
    average: str | None = None,
    fee: str = "0",
    updated: int = 0,
    reason: str | None = None,
) -> JournalOrder:
    return JournalOrder(
        client_id=f"k-1{purpose[0]}{updated}",
        trade_id=1,
        pair="TST/USDT",
        side="buy" if purpose == "entry" else "sell",
        type="market",
        purpose=purpose,
        amount=D("1"),
        status=status,
        filled=D(filled),
        average=None if average is None else D(average),
        fee_quote=D(fee),
        price=None,
        stop_price=None,
        exit_reason=reason,
        oco_with=None,
        created_ms=updated,
        updated_ms=updated,
    )


def test_unsent_entry_is_opening_and_a_rejected_one_cancels_the_trade() -> None:
    assert derive_trade([order("entry", "intent")]).status == "opening"
    assert derive_trade([order("entry", "rejected")]).status == "cancelled"


def test_filled_entry_with_resting_protection_is_open() -> None:
    facts = derive_trade([order("entry", "filled", "1", "100", "0.1", 5), order("stop", "open")])
    assert (facts.status, facts.amount, facts.open_rate, facts.open_ms, facts.open_fee) == (
        "open",
        D(1),
        D(100),
        5,
        D("0.1"),
    )


def test_pending_market_exit_is_closing() -> None:
    facts = derive_trade([order("entry", "filled", "1", "100", "0.1"), order("exit", "intent")])
    assert facts.status == "closing"


def test_closed_trade_profit_counts_both_fees() -> None:
    # entry 1 @ 100 fee 0.1; take profit 1 @ 105.21 fee 0.10521
    # profit = 105.21 - 0.10521 - 100 - 0.1 = 5.00479; ratio = 5.00479 / 100.1
    facts = derive_trade(
        [
            order("entry", "filled", "1", "100", "0.1", 0),
            order("stop", "canceled", updated=300),
            order("take_profit", "filled", "1", "105.21", "0.10521", 300, "roi"),
        ]
    )
    assert facts.status == "closed"
    assert facts.close_rate == D("105.21")
    assert facts.close_ms == 300
    assert facts.exit_reason == "roi"
    assert facts.profit_quote == D("5.00479")
    assert facts.profit_ratio == D("5.00479") / D("100.1")


def test_two_partial_entry_fills_average_their_prices() -> None:
    a = order("entry", "filled", "0.5", "100", "0.05", 1)
    b = order("entry", "filled", "0.5", "102", "0.051", 2)
    facts = derive_trade([a, b])
    assert (facts.amount, facts.open_rate, facts.open_fee) == (D("1.0"), D("101"), D("0.101"))


def test_a_fee_taken_in_the_coin_shrinks_the_position_and_counts_as_a_fee() -> None:
    # Binance on a buy: 2 bought at 100, 0.002 of them kept as the fee; then 1.998 sold at 110
    entry = replace(order("entry", "filled", "2", "100", "0", 1), fee_base=D("0.002"))
    opened = derive_trade([entry])
    assert (opened.status, opened.amount, opened.open_rate, opened.open_fee) == ("open", D("1.998"), D(100), D("0.2"))
    closed = derive_trade([entry, order("exit", "filled", "1.998", "110", "0.2198", 2, "exit_signal")])
    # wallet: paid 200, received 1.998 * 110 - 0.2198 = 219.5602
    assert closed.status == "closed"
    assert closed.profit_quote == D("19.5602")
    assert closed.profit_ratio == D("19.5602") / D("200")


def test_less_than_a_lot_left_after_the_exits_is_dust_and_the_trade_is_closed() -> None:
    entry = replace(order("entry", "filled", "1", "100", "0", 1), fee_base=D("0.001"))  # holds 0.999
    sold = order("exit", "filled", "0.99", "100", "0", 2, "exit_signal")  # lot step 0.01: 0.009 stays
    assert derive_trade([entry, sold], lot_step=D("0.01")).status == "closed"
    assert derive_trade([entry, sold], lot_step=D("0.001")).status == "open"  # 0.009 is still sellable
    assert derive_trade([entry], lot_step=D("0.01")).status == "open"  # nothing sold yet is no dust


def test_a_partly_filled_entry_is_a_position_only_once_it_stops_resting() -> None:
    resting = order("entry", "open", "0.4", "100", "0.04", 5)
    facts = derive_trade([resting])
    assert (facts.status, facts.amount) == ("opening", D("0.4"))  # no stop for half a position yet
    facts = derive_trade([replace(resting, status="canceled", updated_ms=9)])
    assert (facts.status, facts.amount, facts.open_rate) == ("open", D("0.4"), D(100))


def test_a_cancelled_exit_leaves_what_it_did_not_sell_open() -> None:
    entry = order("entry", "filled", "1", "100", "0.1", 5)
    partial_exit = order("exit", "canceled", "0.3", "110", "0.033", 7, reason="roi")
    facts = derive_trade([entry, partial_exit])
    assert (facts.status, facts.amount) == ("open", D("0.7"))
