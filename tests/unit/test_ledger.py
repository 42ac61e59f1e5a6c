"""Trades derived from their orders, with hand-computed profit."""

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
