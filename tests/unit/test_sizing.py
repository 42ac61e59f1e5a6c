"""Entry gates and sizing: each check with hand-computed numbers, and properties that must hold
for any book, price and limits (hypothesis)."""

from dataclasses import replace
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.book import Book, Position
from bot.exchange.base import Market
from bot.risk.sizing import Approved, EntryLimits, Rejected, check_entry, stake_for

MARKET = Market("AAA/USDT", "AAA", "USDT", price_tick=D("0.01"), amount_step=D("0.001"), min_notional=D(5))
LIMITS = EntryLimits(stake_quote=D(100), max_open_trades=3, fee_frac=D("0.001"), stop_floor_frac=D("0.9"))
EMPTY = Book((), frozenset(), D(1000))
HELD = Book((Position(1, "BBB/USDT", D(2), D(150), 0, D(150)),), frozenset(), D(700))  # 300 at work


def verdict(limits: EntryLimits, book: Book = EMPTY, price: str = "10") -> Approved | Rejected:
    committed = sum((p.amount * p.open_rate for p in book.positions), D(0))
    return check_entry(
        book, MARKET, D(price), limits, slots_taken=len(book.positions), free_quote=book.free_quote, committed=committed
    )


@pytest.mark.parametrize(
    ("limits", "book", "amount"),
    [
        (LIMITS, EMPTY, D(10)),  # 100 / 10
        (replace(LIMITS, max_stake_quote=D(55)), EMPTY, D("5.5")),  # capped per entry
        (replace(LIMITS, max_exposure_quote=D(350)), HELD, D(5)),  # 300 at work: 50 of room left
        (replace(LIMITS, stake_quote=None), HELD, D("34.965")),  # 700 / 1.001 / 2 free slots = 349.65...
        (replace(LIMITS, risk_per_trade_frac=D("0.01")), HELD, D(10)),  # 1% of 1000 at a 10% stop: 100
        (replace(LIMITS, risk_per_trade_frac=D("0.02"), stop_floor_frac=D("0.95")), HELD, D(40)),  # 2% at 5%: 400
        (replace(LIMITS, tradable_ratio=D("0.5")), HELD, D(10)),  # 500 usable, 300 at work: 100 fits
    ],
)
def test_sizing(limits: EntryLimits, book: Book, amount: D) -> None:
    result = verdict(limits, book)
    assert isinstance(result, Approved), result
    assert result.amount == amount
    assert result.cost_quote == amount * 10 * D("1.001")


@pytest.mark.parametrize(
    ("limits", "book", "price", "reason"),
    [
        (LIMITS, replace(EMPTY, halted_reason="paused by cli: lunch"), "10", "no new entries: trading paused by cli"),
        (LIMITS, replace(EMPTY, pending_pairs=frozenset({"AAA/USDT"})), "10", "already has a position or a pending"),
        (replace(LIMITS, max_open_trades=1), HELD, "10", "max_open_trades=1 reached"),
        (
            replace(LIMITS, stop_floor_frac=D(0)),
            EMPTY,
            "10",
            "no stoploss (stoploss -1): Kestrel never opens",
        ),
        (replace(LIMITS, max_exposure_quote=D(304)), HELD, "10", "risk.max_exposure_quote 304 leaves no room"),
        (replace(LIMITS, stake_quote=D(4)), EMPTY, "10", "stake below exchange minimum 5 USDT"),
        (replace(LIMITS, stake_quote=D("5.2")), EMPTY, "10", "its stop order would be worth 4.68"),
        (replace(LIMITS, tradable_ratio=D("0.35")), HELD, "10", "50.00000000 available under tradable_balance_ratio"),
        (LIMITS, replace(EMPTY, free_quote=D(50)), "10", "needs 100.10000000 USDT, free 50.00000000"),
        (LIMITS, EMPTY, "0", "no valid price"),
    ],
)
def test_refusals_say_why(limits: EntryLimits, book: Book, price: str, reason: str) -> None:
    result = verdict(limits, book, price)
    assert isinstance(result, Rejected) and reason in result.reason, result


money = st.decimals(min_value=D("0.01"), max_value=D(100_000), places=2)
fracs = st.decimals(min_value=D("0.001"), max_value=D("0.999"), places=3)


@settings(max_examples=300, deadline=None)
@given(
    free=money,
    committed=st.decimals(min_value=D(0), max_value=D(50_000), places=2),
    price=st.decimals(min_value=D("0.01"), max_value=D(50_000), places=2),
    stake=st.one_of(st.none(), money),
    max_stake=st.one_of(st.none(), money),
    max_exposure=st.one_of(st.none(), money),
    ratio=st.decimals(min_value=D("0.01"), max_value=D(1), places=2),
    risk=st.one_of(st.none(), fracs),
    stop_floor=fracs,
    slots=st.integers(min_value=0, max_value=4),
)
def test_an_approved_entry_stays_within_every_limit_and_the_balance(
    free: D,
    committed: D,
    price: D,
    stake: D | None,
    max_stake: D | None,
    max_exposure: D | None,
    ratio: D,
    risk: D | None,
    stop_floor: D,
    slots: int,
) -> None:
    limits = EntryLimits(
        stake_quote=stake,
        max_open_trades=5,
        fee_frac=D("0.001"),
        stop_floor_frac=stop_floor,
        max_stake_quote=max_stake,
        max_exposure_quote=max_exposure,
        tradable_ratio=ratio,
        risk_per_trade_frac=risk,
    )
    positions = tuple(Position(i, f"P{i}/USDT", D(1), committed / max(slots, 1), 0, D(1)) for i in range(slots))
    book = Book(positions if committed else (), frozenset(), free)
    at_work = sum((p.amount * p.open_rate for p in book.positions), D(0))
    result = check_entry(
        book, MARKET, price, limits, slots_taken=len(book.positions), free_quote=free, committed=at_work
    )
    if isinstance(result, Rejected):
        return
    value = result.amount * price
    assert result.cost_quote == value * D("1.001")
    assert result.cost_quote <= free  # never more than the wallet holds
    assert result.cost_quote <= (free + at_work) * ratio - at_work  # nor than the tradable share
    assert result.amount >= MARKET.min_amount and value >= MARKET.min_notional  # never below the exchange minimum
    assert result.amount % MARKET.amount_step == 0
    assert value * stop_floor >= MARKET.min_notional  # its stop can be placed
    assert value <= stake_for(limits, free_quote=free, committed=at_work, free_slots=5 - len(book.positions))
    if max_stake is not None:
        assert value <= max_stake
    if max_exposure is not None:
        assert at_work + value <= max_exposure
