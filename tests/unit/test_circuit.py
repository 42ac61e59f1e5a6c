"""The machinery's breakers, with hand-picked calls, times and candles."""

import pytest

from bot.risk.circuit import (
    Circuit,
    ErrorBreaker,
    ErrorBreakerConfig,
    after_call,
    probe_due,
    slow,
    stale,
    too_volatile,
)

CFG = ErrorBreakerConfig(max_errors=3, window_ms=60_000, cooldown_ms=30_000)


def calls(*steps: tuple[int, bool]) -> ErrorBreaker:
    b = ErrorBreaker()
    for at, ok in steps:
        b = after_call(b, CFG, ok=ok, now_ms=at, error="" if ok else f"503 at {at}")
    return b


def test_three_failures_within_the_window_open_the_circuit() -> None:
    b = calls((0, False), (10_000, True), (20_000, False), (50_000, False))
    assert (b.circuit, b.opened_ms, b.last_error) == (Circuit.OPEN, 50_000, "503 at 50000")


def test_failures_spread_wider_than_the_window_do_not() -> None:
    b = calls((0, False), (30_000, False), (61_000, False))  # the first one has left the window
    assert b.circuit is Circuit.CLOSED and b.errors_ms == (30_000, 61_000)


def test_after_the_cooldown_one_call_decides() -> None:
    opened = calls((0, False), (1, False), (2, False))
    assert probe_due(opened, CFG, 29_999).circuit is Circuit.OPEN
    assert probe_due(opened, CFG, 30_002).circuit is Circuit.HALF_OPEN
    assert after_call(opened, CFG, ok=True, now_ms=30_002) == ErrorBreaker()  # the probe worked: closed
    reopened = after_call(opened, CFG, ok=False, now_ms=30_002, error="again")
    assert (reopened.circuit, reopened.opened_ms) == (Circuit.OPEN, 30_002)  # it failed: a new cool-down
    assert after_call(opened, CFG, ok=True, now_ms=10_000).circuit is Circuit.OPEN  # too soon to count


@pytest.mark.parametrize(
    ("latencies", "limit", "tripped"),
    [([], 500, False), ([100, 900, 200], 500, False), ([600, 900, 200], 500, True), ([501], 500, True)],
)
def test_latency_trips_on_the_median(latencies: list[float], limit: float, tripped: bool) -> None:
    assert (slow(latencies, limit) is not None) is tripped


@pytest.mark.parametrize(
    ("last_open_ms", "now_ms", "tf_ms", "tripped"),
    [
        (0, 300_000, 300_000, False),  # the candle that just closed
        (0, 900_000, 300_000, False),  # closed two timeframes ago: still not stale
        (0, 900_001, 300_000, True),
        (0, 9_000, 1_000, False),  # one-second candles: never stale within 10 s
        (0, 11_001, 1_000, True),
        (None, 0, 300_000, True),
    ],
)
def test_stale_candles(last_open_ms: int | None, now_ms: int, tf_ms: int, tripped: bool) -> None:
    assert (stale("AAA/USDT", last_open_ms, now_ms, tf_ms) is not None) is tripped


def test_the_volatility_brake_compares_the_last_range_with_the_average_before_it() -> None:
    assert too_volatile("AAA/USDT", [0.01, 0.02, 0.03, 0.08], k=4) is None  # 0.08 is 4x 0.02: not above
    reason = too_volatile("AAA/USDT", [0.01, 0.02, 0.03, 0.081], k=4)
    assert reason == "AAA/USDT: last candle's range 8.10% is 4.0x its recent average 2.00%"
    assert too_volatile("AAA/USDT", [0.05], k=4) is None
