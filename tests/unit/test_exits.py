"""Exit rules with hand-computed numbers."""

from decimal import Decimal as D

import pytest

from bot.exchange.base import Market
from bot.risk.exits import ExitRules, protection, roi_price, stop_price, wants_signal_exit

MARKET = Market("TST/USDT", "TST", "USDT", price_tick=D("0.01"), amount_step=D("0.0001"))


def rules(**kw: object) -> ExitRules:
    base: dict[str, object] = {"roi": ((0, 0.05), (30, 0.02), (60, 0.0)), "stoploss": -0.05}
    base.update(kw)
    return ExitRules(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [(0, 0.05), (29, 0.05), (30, 0.02), (59, 0.02), (60, 0.0), (10_000, 0.0)],
)
def test_roi_ladder_uses_the_largest_step_not_above_the_duration(minutes: int, expected: float) -> None:
    assert rules().roi_at(minutes) == expected


def test_roi_ladder_without_a_zero_step_has_no_target_at_first() -> None:
    assert ExitRules(roi=((20, 0.01),), stoploss=-0.1).roi_at(19) is None


def test_roi_price_books_the_ratio_after_both_fees() -> None:
    # 100 * 1.001 * 1.05 / 0.999 = 105.2102102... -> nearest tick 105.21
    assert roi_price(rules(), D("100"), 0, D("0.001"), MARKET) == D("105.21")
    # 30 minutes in: 100 * 1.001 * 1.02 / 0.999 = 102.2042042 -> 102.20
    assert roi_price(rules(), D("100"), 45, D("0.001"), MARKET) == D("102.20")
    # ROI 0: break even after fees, 100 * 1.001 / 0.999 = 100.2002002 -> 100.20
    assert roi_price(rules(), D("100"), 61, D("0.001"), MARKET) == D("100.20")


def test_stop_is_rounded_up_to_the_tick() -> None:
    # 100.37 * 0.95 = 95.3515 -> 95.36 (never further than the stoploss allows)
    assert stop_price(rules(), D("100.37"), D("100.37"), MARKET) == (D("95.36"), "stop_loss")


def test_trailing_stop_follows_the_high_at_the_stoploss_distance() -> None:
    r = rules(trailing_stop=True)
    assert stop_price(r, D("100"), D("100"), MARKET) == (D("95.00"), "stop_loss")
    # high 110: 110 * 0.95 = 104.5 > 95 -> trailing
    assert stop_price(r, D("100"), D("110"), MARKET) == (D("104.50"), "trailing_stop_loss")


def test_trailing_positive_applies_only_after_the_offset() -> None:
    r = rules(
        trailing_stop=True,
        trailing_stop_positive=0.02,
        trailing_stop_positive_offset=0.03,
        trailing_only_offset_is_reached=True,
    )
    # +2 % is below the 3 % offset: the initial stop stays
    assert stop_price(r, D("100"), D("102"), MARKET) == (D("95.00"), "stop_loss")
    # +4 %: 104 * 0.98 = 101.92
    assert stop_price(r, D("100"), D("104"), MARKET) == (D("101.92"), "trailing_stop_loss")


def test_trailing_without_only_offset_trails_at_stoploss_distance_before_the_offset() -> None:
    r = rules(trailing_stop=True, trailing_stop_positive=0.02, trailing_stop_positive_offset=0.03)
    # +2 %, offset not reached: trails at 5 %: 102 * 0.95 = 96.90
    assert stop_price(r, D("100"), D("102"), MARKET) == (D("96.90"), "trailing_stop_loss")


def test_protection_combines_stop_and_the_roi_step_in_force_at_now() -> None:
    p = protection(
        rules(),
        open_rate=D("100"),
        open_ms=0,
        max_rate=D("100"),
        now_ms=30 * 60_000,
        fee_frac=D("0.001"),
        market=MARKET,
    )
    assert (p.stop_price, p.stop_reason, p.take_profit_price) == (D("95.00"), "stop_loss", D("102.20"))


@pytest.mark.parametrize(
    ("use", "enter", "exit_", "expected"),
    [(True, False, True, True), (True, True, True, False), (False, False, True, False), (True, False, False, False)],
)
def test_exit_signal_counts_only_without_an_entry_signal(use: bool, enter: bool, exit_: bool, expected: bool) -> None:
    assert wants_signal_exit(rules(use_exit_signal=use), enter, exit_) is expected


def test_a_fill_stamped_after_the_tick_time_is_in_the_first_roi_step() -> None:
    # a real exchange stamps the entry fill seconds after the candle close the tick runs at
    p = protection(
        rules(), open_rate=D("100"), open_ms=5_000, max_rate=D("100"), now_ms=0, fee_frac=D("0"), market=MARKET
    )
    assert p.take_profit_price == D("105.00")
