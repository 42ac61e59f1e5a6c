"""`order_types` and `unfilledtimeout` as decisions: which orders are stale, what type an exit is."""

from dataclasses import replace

from bot.exchange.base import OrderType
from bot.orders.policy import OrderPolicy, exits_given_up, stale_orders
from tests.unit.test_ledger import order

POLICY = OrderPolicy(
    entry_type=OrderType.LIMIT, exit_type=OrderType.LIMIT, entry_timeout_ms=10_000, exit_timeout_ms=30_000
)


def test_entries_and_exits_time_out_after_their_own_timeout_protective_orders_never() -> None:
    entry = replace(order("entry", "open"), client_id="e", created_ms=0)
    exit_ = replace(order("exit", "open"), client_id="x", created_ms=0)
    stop = replace(order("stop", "open"), client_id="s", created_ms=0)
    orders = [entry, exit_, stop]
    assert stale_orders(orders, 9_999, POLICY) == []
    assert [o.client_id for o in stale_orders(orders, 10_000, POLICY)] == ["e"]
    assert [o.client_id for o in stale_orders(orders, 30_000, POLICY)] == ["e", "x"]
    assert [o.client_id for o in stale_orders(orders, 10**9, POLICY)] == ["e", "x"]  # the stop rests on


def test_an_order_not_known_to_be_at_the_venue_is_left_to_reconciliation() -> None:
    intent = replace(order("entry", "intent"), created_ms=0)
    assert stale_orders([intent], 10**9, POLICY) == []


def test_a_stop_that_was_hit_sells_at_market_even_when_exits_use_limits() -> None:
    assert POLICY.exit_type_for("stop_loss") is OrderType.MARKET
    assert POLICY.exit_type_for("trailing_stop_loss") is OrderType.MARKET
    assert POLICY.exit_type_for("roi") is OrderType.LIMIT
    assert POLICY.exit_type_for("exit_signal") is OrderType.LIMIT
    assert OrderPolicy().exit_type_for("roi") is OrderType.MARKET


def test_cancelled_exits_are_counted_filled_ones_are_not() -> None:
    orders = [
        order("entry", "filled", "1", "100"),
        order("exit", "canceled", "0.2", "101", updated=1),
        order("exit", "expired", updated=2),
        order("exit", "filled", "0.8", "101", updated=3),
        order("stop", "canceled", updated=4),
    ]
    assert exits_given_up(orders) == 2
    assert exits_given_up(orders[:1]) == 0
