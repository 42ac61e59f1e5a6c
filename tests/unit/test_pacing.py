"""When the daemon ticks on the wall clock: once per closed candle, after the settle delay."""

from bot.clock import SteppedClock
from bot.pacing import WallPacer

TF = 60_000
T0 = 1_704_067_200_000  # a candle boundary


def test_one_tick_per_closed_candle_after_the_settle_delay() -> None:
    clock = SteppedClock(T0 + 500)
    pacer = WallPacer(clock, TF, settle_ms=1_000)
    assert pacer.next_tick_ms(None, first=True) == T0 - TF  # T0's close is not settled yet
    clock.advance_to(T0 + 999)
    assert pacer.next_tick_ms(None, first=False) is None
    clock.advance_to(T0 + 1_000)
    assert pacer.next_tick_ms(None, first=False) == T0
    clock.advance_to(T0 + 30_000)
    assert pacer.next_tick_ms(None, first=False) is None
    clock.advance_to(T0 + 5 * TF + 2_000)  # a slow tick or a sleeping machine: only the newest close
    assert pacer.next_tick_ms(None, first=False) == T0 + 5 * TF
    assert not pacer.finished()


def test_a_restart_does_not_trade_a_candle_twice() -> None:
    clock = SteppedClock(T0 + 10_000)
    pacer = WallPacer(clock, TF, settle_ms=1_000)
    assert pacer.next_tick_ms(T0, first=True) is None
    assert pacer.next_tick_ms(None, first=False) is None
    clock.advance_to(T0 + TF + 1_000)
    assert pacer.next_tick_ms(None, first=False) == T0 + TF


def test_polling_is_a_few_times_per_candle_within_bounds() -> None:
    clock = SteppedClock(T0)
    assert WallPacer(clock, 1_000).interval_s == 0.25
    assert WallPacer(clock, 60_000).interval_s == 5.0
    assert WallPacer(clock, 8_000).interval_s == 2.0
