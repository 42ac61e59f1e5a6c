"""Journal against venue holdings, and our client ids read back. Hand-computed cases."""

from decimal import Decimal as D

import pytest

from bot.exchange.base import Balance, Market
from bot.ledger import BY_HAND, ENTRY, STOP
from bot.orders.holdings import HeldTrade, holdings_gaps
from bot.orders.ids import ParsedId, client_id, parse_client_id

MARKETS = {
    "BTC/USDT": Market("BTC/USDT", "BTC", "USDT", D("0.01"), D("0.00001"), min_amount=D("0.0001")),
    "ETH/USDT": Market("ETH/USDT", "ETH", "USDT", D("0.01"), D("0.0001"), min_amount=D("0.001")),
}
BTC = HeldTrade(1, "BTC/USDT", D("0.01"))


@pytest.mark.parametrize(
    ("held", "gap", "gone"),
    [
        ("0.01", False, False),  # exactly held
        ("0.5", False, False),  # more than the journal: coins of the user's own, not a gap
        ("0.00999", False, False),  # one lot short: rounding, not a gap
        ("0.00998", True, False),  # two lots short: nobody explained it
        ("0.00009", True, True),  # below the exchange minimum: nothing sellable, sold by hand
        (None, True, True),  # no balance at all
    ],
)
def test_a_gap_is_a_shortfall_beyond_one_lot_and_gone_below_the_minimum(
    held: str | None, gap: bool, gone: bool
) -> None:
    balances = {} if held is None else {"BTC": Balance(free=D(held))}
    gaps = holdings_gaps([BTC], balances, MARKETS)
    assert bool(gaps) is gap
    if gap:
        assert gaps[0].gone is gone and gaps[0].trades == (BTC,)


def test_locked_coins_count_as_held() -> None:
    assert holdings_gaps([BTC], {"BTC": Balance(free=D(0), used=D("0.01"))}, MARKETS) == []


def test_each_asset_is_checked_on_its_own() -> None:
    eth = HeldTrade(2, "ETH/USDT", D("2"))
    gaps = holdings_gaps([BTC, eth], {"BTC": Balance(free=D("0.01")), "ETH": Balance(free=D("1"))}, MARKETS)
    assert [(g.asset, g.journal, g.held, g.gone) for g in gaps] == [("ETH", D(2), D(1), False)]


@pytest.mark.parametrize("purpose", [ENTRY, STOP, BY_HAND])
def test_our_ids_read_back_and_others_do_not(purpose: str) -> None:
    assert parse_client_id("kestrel", client_id("kestrel", 42, purpose, 3)) == ParsedId(42, purpose, 3)
    assert parse_client_id("kestrel", client_id("other", 42, purpose, 3)) is None
    assert parse_client_id("kestrel", "kestrel-42q3") is None
    assert parse_client_id("kestrel", "x_kestrel-42e3") is None
