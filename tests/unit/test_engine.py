"""The pure decision core: exits, entries in whitelist order within slots and money, protections."""

from decimal import Decimal as D

from bot.book import Book, Position
from bot.engine import plan_entries, plan_exits, plan_protections
from bot.exchange.base import Market
from bot.risk.exits import ExitRules
from bot.risk.sizing import EntryLimits
from bot.strategy.guard import PairSignal

PAIRS = ["AAA/USDT", "BBB/USDT", "CCC/USDT", "DDD/USDT"]
MARKETS = {
    p: Market(p, p[:3], "USDT", price_tick=D("0.01"), amount_step=D("0.001"), min_notional=D("5")) for p in PAIRS
}
RULES = ExitRules(roi=((0, 0.05),), stoploss=-0.05)
LIMITS = EntryLimits(stake_quote=D("100"), max_open_trades=2, fee_frac=D("0.001"), stop_floor_frac=D("0.95"))


def pos(trade_id: int, pair: str, **kw: object) -> Position:
    fields: dict[str, object] = {"amount": D("1"), "open_rate": D("100"), "open_ms": 0, "max_rate": D("100")}
    fields.update(kw)
    return Position(trade_id, pair, **fields)  # type: ignore[arg-type]


def sig(pair: str, enter: bool = False, exit_: bool = False) -> PairSignal:
    return PairSignal(pair, 0, enter=enter, exit=exit_)


def test_exit_signal_closes_in_trade_order_and_skips_closing_positions() -> None:
    book = Book((pos(2, "BBB/USDT"), pos(1, "AAA/USDT"), pos(3, "CCC/USDT", closing=True)), frozenset(), D(0))
    signals = {p: sig(p, exit_=True) for p in PAIRS}
    assert [(e.trade_id, e.reason) for e in plan_exits(book, signals, RULES)] == [
        (1, "exit_signal"),
        (2, "exit_signal"),
    ]


def test_exit_signal_is_ignored_when_the_candle_also_says_enter() -> None:
    book = Book((pos(1, "AAA/USDT"),), frozenset(), D(0))
    assert plan_exits(book, {"AAA/USDT": sig("AAA/USDT", enter=True, exit_=True)}, RULES) == []


def test_pair_without_signal_keeps_its_position() -> None:
    book = Book((pos(1, "AAA/USDT"),), frozenset(), D(0))
    assert plan_exits(book, {}, RULES) == []


def test_entries_follow_whitelist_order_until_slots_are_full() -> None:
    book = Book((), frozenset(), D("1000"))
    signals = {p: sig(p, enter=True) for p in PAIRS}
    prices = dict.fromkeys(PAIRS, D("40"))
    entries, skipped = plan_entries(book, signals, whitelist=PAIRS, prices=prices, markets=MARKETS, limits=LIMITS)
    assert [(e.pair, e.amount) for e in entries] == [("AAA/USDT", D("2.500")), ("BBB/USDT", D("2.500"))]
    assert [s.reason for s in skipped] == ["max_open_trades=2 reached"] * 2


def test_entries_count_open_positions_and_pending_orders_as_taken_slots() -> None:
    book = Book((pos(1, "AAA/USDT"),), frozenset({"BBB/USDT"}), D("1000"))
    signals = {p: sig(p, enter=True) for p in PAIRS}
    entries, skipped = plan_entries(
        book, signals, whitelist=PAIRS, prices=dict.fromkeys(PAIRS, D("40")), markets=MARKETS, limits=LIMITS
    )
    assert entries == []
    assert skipped[0].reason == "AAA/USDT: already has a position or a pending order"


def test_entries_stop_when_money_runs_out() -> None:
    limits = EntryLimits(stake_quote=D("100"), max_open_trades=None, fee_frac=D("0.001"), stop_floor_frac=D("0.95"))
    book = Book((), frozenset(), D("250"))  # two entries cost 200.2, the third needs 100.1 more
    signals = {p: sig(p, enter=True) for p in PAIRS[:3]}
    entries, skipped = plan_entries(
        book, signals, whitelist=PAIRS, prices=dict.fromkeys(PAIRS, D("10")), markets=MARKETS, limits=limits
    )
    assert [e.pair for e in entries] == ["AAA/USDT", "BBB/USDT"]
    assert skipped[0].reason.startswith("CCC/USDT: needs 100.1")


def test_entry_signal_with_an_exit_signal_on_the_same_candle_does_not_enter() -> None:
    book = Book((), frozenset(), D("1000"))
    entries, _ = plan_entries(
        book,
        {"AAA/USDT": sig("AAA/USDT", enter=True, exit_=True)},
        whitelist=PAIRS,
        prices={"AAA/USDT": D("10")},
        markets=MARKETS,
        limits=LIMITS,
    )
    assert entries == []


def test_stake_below_exchange_minimum_is_rejected_with_the_reason() -> None:
    limits = EntryLimits(stake_quote=D("4"), max_open_trades=3, fee_frac=D("0.001"), stop_floor_frac=D("0.95"))
    _, skipped = plan_entries(
        Book((), frozenset(), D("1000")),
        {"AAA/USDT": sig("AAA/USDT", enter=True)},
        whitelist=PAIRS,
        prices={"AAA/USDT": D("10")},
        markets=MARKETS,
        limits=limits,
    )
    assert skipped[0].reason == "AAA/USDT: stake below exchange minimum 5 USDT"


def test_a_pair_that_closed_on_this_candle_does_not_reenter() -> None:
    book = Book((), frozenset(), D("1000"), closed_this_candle=frozenset({"AAA/USDT"}))
    entries, _ = plan_entries(
        book,
        {"AAA/USDT": sig("AAA/USDT", enter=True)},
        whitelist=PAIRS,
        prices={"AAA/USDT": D("10")},
        markets=MARKETS,
        limits=LIMITS,
    )
    assert entries == []


def test_a_paused_book_enters_nothing() -> None:
    book = Book((), frozenset(), D("1000"), halted_reason="paused by cli: lunch")
    _, skipped = plan_entries(
        book,
        {"AAA/USDT": sig("AAA/USDT", enter=True)},
        whitelist=PAIRS,
        prices={"AAA/USDT": D("10")},
        markets=MARKETS,
        limits=LIMITS,
    )
    assert skipped[0].reason == "no new entries: trading paused by cli: lunch"


def test_protections_are_planned_only_where_they_change() -> None:
    fee = D("0.001")
    placed = pos(1, "AAA/USDT", stop_price=D("95.00"), take_profit_price=D("105.21"))
    unplaced = pos(2, "BBB/USDT")
    book = Book((placed, unplaced), frozenset(), D(0))
    intents = plan_protections(book, RULES, MARKETS, fee, now_ms=0)
    assert [(i.trade_id, i.protection.stop_price, i.protection.take_profit_price) for i in intents] == [
        (2, D("95.00"), D("105.21"))
    ]


def test_an_entry_whose_stop_order_would_be_refused_is_not_taken() -> None:
    # 5.1 USDT buys 0.51 at 10; the -5 % stop would be worth 4.845 < the 5 USDT minimum
    limits = EntryLimits(stake_quote=D("5.1"), max_open_trades=3, fee_frac=D("0.001"), stop_floor_frac=D("0.95"))
    entries, skipped = plan_entries(
        Book((), frozenset(), D("1000")),
        {"AAA/USDT": sig("AAA/USDT", enter=True)},
        whitelist=PAIRS,
        prices={"AAA/USDT": D("10")},
        markets=MARKETS,
        limits=limits,
    )
    assert entries == []
    assert skipped[0].reason == (
        "AAA/USDT: its stop order would be worth 4.84500000 USDT, below the exchange minimum 5; raise stake_amount"
    )
