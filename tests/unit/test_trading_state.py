"""Who may move the trading state where."""

from collections.abc import Callable

import pytest

from bot.risk.trading_state import (
    Mode,
    TradingState,
    TransitionRefusedError,
    kill,
    pause,
    resume,
    steer_machinery,
    trip,
)

RUNNING = TradingState()
PAUSED_BY_HAND = TradingState(Mode.PAUSED, "lunch", "cli", 10)
PAUSED_BY_BREAKER = TradingState(Mode.PAUSED, "3 errors", "breaker:errors", 10)
HALTED = TradingState(Mode.HALTED, "panic", "telegram", 10)


def test_what_each_state_allows() -> None:
    assert (RUNNING.allows_entries, RUNNING.allows_orders) == (True, True)
    assert (PAUSED_BY_HAND.allows_entries, PAUSED_BY_HAND.allows_orders) == (False, True)
    assert (HALTED.allows_entries, HALTED.allows_orders) == (False, False)


@pytest.mark.parametrize(
    ("start", "change", "expected"),
    [
        (RUNNING, lambda s: pause(s, by="cli", reason="r", now_ms=20), TradingState(Mode.PAUSED, "r", "cli", 20)),
        (PAUSED_BY_HAND, lambda s: pause(s, by="breaker:x", reason="r", now_ms=20), PAUSED_BY_HAND),  # first why stays
        (RUNNING, lambda s: kill(s, by="cli", reason="r", now_ms=20), TradingState(Mode.HALTED, "r", "cli", 20, False)),
        (
            PAUSED_BY_HAND,
            lambda s: kill(s, by="cli", reason="r", now_ms=20),
            TradingState(Mode.HALTED, "r", "cli", 20, False),
        ),
        (
            HALTED,
            lambda s: kill(s, by="cli", reason="again", now_ms=20),
            TradingState(Mode.HALTED, "panic", "telegram", 10, False),
        ),
        (HALTED, lambda s: resume(s, by="cli", now_ms=20), TradingState(Mode.RUNNING, "", "cli", 20)),
        (PAUSED_BY_HAND, lambda s: resume(s, by="telegram", now_ms=20), TradingState(Mode.RUNNING, "", "telegram", 20)),
        (
            PAUSED_BY_BREAKER,
            lambda s: resume(s, by="breaker:errors", now_ms=20),
            TradingState(Mode.RUNNING, "", "breaker:errors", 20),
        ),
        (RUNNING, lambda s: resume(s, by="breaker:errors", now_ms=20), RUNNING),
    ],
)
def test_allowed_changes(
    start: TradingState, change: Callable[[TradingState], TradingState], expected: TradingState
) -> None:
    assert change(start) == expected


@pytest.mark.parametrize(
    ("start", "change", "message"),
    [
        (HALTED, lambda s: pause(s, by="cli", reason="r", now_ms=20), "`resume` first"),
        (HALTED, lambda s: resume(s, by="breaker:errors", now_ms=20), "only a person can"),
        (PAUSED_BY_HAND, lambda s: resume(s, by="breaker:errors", now_ms=20), "only a person can"),
        (PAUSED_BY_BREAKER, lambda s: resume(s, by="breaker:latency", now_ms=20), "only a person can"),
    ],
)
def test_refused_changes(start: TradingState, change: Callable[[TradingState], TradingState], message: str) -> None:
    with pytest.raises(TransitionRefusedError, match=message):
        change(start)


@pytest.mark.parametrize("state", [RUNNING, PAUSED_BY_HAND, HALTED, TradingState(Mode.HALTED, "x", "cli", 5, False)])
def test_the_stored_form_reads_back_the_same(state: TradingState) -> None:
    assert TradingState.from_json(state.to_json()) == state


def test_nothing_stored_means_running() -> None:
    assert TradingState.from_json(None) == RUNNING


WILD = TradingState(Mode.PAUSED, "BTC range 9x", "breaker:volatility", 10)


@pytest.mark.parametrize(
    ("start", "halt", "expected"),
    [
        (RUNNING, False, TradingState(Mode.PAUSED, "down 5%", "breaker:daily_loss", 20)),
        (RUNNING, True, TradingState(Mode.HALTED, "down 5%", "breaker:daily_loss", 20, flattened=False)),
        # over a machinery pause, which would lift itself: the money's pause takes over
        (WILD, False, TradingState(Mode.PAUSED, "down 5%", "breaker:daily_loss", 20)),
        (PAUSED_BY_HAND, False, PAUSED_BY_HAND),  # a person's pause keeps its reason
        (PAUSED_BY_HAND, True, TradingState(Mode.HALTED, "down 5%", "breaker:daily_loss", 20, flattened=False)),
    ],
)
def test_a_money_breaker_trips(start: TradingState, halt: bool, expected: TradingState) -> None:
    assert trip(start, by="breaker:daily_loss", reason="down 5%", now_ms=20, halt=halt) == expected


@pytest.mark.parametrize(
    ("start", "tripped", "expected"),
    [
        (RUNNING, {}, RUNNING),
        (RUNNING, {"volatility": "wild"}, TradingState(Mode.PAUSED, "wild", "breaker:volatility", 20)),
        (WILD, {"volatility": "wilder"}, WILD),  # still tripped: the first reason stays
        (WILD, {}, TradingState(Mode.RUNNING, "", "breaker:volatility", 20)),  # mended: lifted
        # another machinery breaker takes over as the first one mends
        (WILD, {"latency": "slow"}, TradingState(Mode.PAUSED, "slow", "breaker:latency", 20)),
        (PAUSED_BY_HAND, {}, PAUSED_BY_HAND),  # not theirs to lift
        (HALTED, {"latency": "slow"}, HALTED),
        (
            TradingState(Mode.PAUSED, "", "breaker:drawdown", 5),
            {},
            TradingState(Mode.PAUSED, "", "breaker:drawdown", 5),
        ),
    ],
)
def test_the_machinery_steers_only_its_own_pause(
    start: TradingState, tripped: dict[str, str], expected: TradingState
) -> None:
    assert steer_machinery(start, tripped, 20) == expected
