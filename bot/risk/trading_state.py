"""Whether the bot may trade: `running`, `paused` (no new entries; exits and stops still managed) or
`halted` (the kill switch: every order cancelled, every position sold at market, then no order at
all until a person resumes). Pure: who may move the state where, and what each state allows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from bot.errors import KestrelError


class Mode(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    HALTED = "halted"


PEOPLE = frozenset({"cli", "telegram"})  # who may resume from a halt
# the machinery's breakers pause while the machinery is wrong and lift their own pause when it
# mends; a breaker on the money may take such a pause over (its pause waits for a person)
MACHINERY = frozenset({"breaker:exchange_errors", "breaker:latency", "breaker:stale_candles", "breaker:volatility"})


class TransitionRefusedError(KestrelError):
    """A request the current state does not allow; the message says why and what to do instead."""


@dataclass(frozen=True)
class TradingState:
    mode: Mode = Mode.RUNNING
    reason: str = ""
    by: str = ""  # "cli", "telegram", "breaker:<name>", "protection:<name>"
    since_ms: int = 0
    flattened: bool = True  # halted: every order cancelled and every position sold

    @property
    def allows_entries(self) -> bool:
        return self.mode is Mode.RUNNING

    @property
    def machinery_paused(self) -> bool:
        return self.mode is Mode.PAUSED and self.by in MACHINERY

    @property
    def allows_orders(self) -> bool:
        """Exits, stops and take-profits: anything but a halt."""
        return self.mode is not Mode.HALTED

    def describe(self) -> str:
        if self.mode is Mode.RUNNING:
            return "running"
        why = f": {self.reason}" if self.reason else ""
        return f"{self.mode.value} by {self.by or 'unknown'}{why}"

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode.value,
            "reason": self.reason,
            "by": self.by,
            "since_ms": self.since_ms,
            "flattened": self.flattened,
        }

    @classmethod
    def from_json(cls, raw: Any) -> TradingState:
        if not isinstance(raw, dict):
            return cls()
        return cls(
            Mode(raw.get("mode", "running")),
            str(raw.get("reason", "")),
            str(raw.get("by", "")),
            int(raw.get("since_ms", 0)),
            bool(raw.get("flattened", True)),
        )


def pause(current: TradingState, *, by: str, reason: str, now_ms: int) -> TradingState:
    if current.mode is Mode.HALTED:
        raise TransitionRefusedError(f"trading is halted ({current.describe()}); `resume` first, then pause")
    if current.mode is Mode.PAUSED:
        return current  # the first reason stays: it is the one that explains the pause
    return TradingState(Mode.PAUSED, reason, by, now_ms)


def kill(current: TradingState, *, by: str, reason: str, now_ms: int) -> TradingState:
    """Halt and flatten. Asked again while halted, it flattens again (whatever appeared since)."""
    if current.mode is Mode.HALTED:
        return replace(current, flattened=False)
    return TradingState(Mode.HALTED, reason, by, now_ms, flattened=False)


def resume(current: TradingState, *, by: str, now_ms: int) -> TradingState:
    """Only a person lifts a halt; a breaker may lift only a pause it set itself."""
    if current.mode is Mode.RUNNING:
        return current
    if by not in PEOPLE and (current.mode is Mode.HALTED or current.by != by):
        raise TransitionRefusedError(f"{by} cannot resume trading {current.describe()}; only a person can")
    return TradingState(Mode.RUNNING, "", by, now_ms)


def trip(current: TradingState, *, by: str, reason: str, now_ms: int, halt: bool) -> TradingState:
    """A breaker on the money (daily loss, drawdown, losing streak) pausing or halting. It takes
    over a machinery pause: that one would lift itself when the machinery mends, this one must not."""
    if halt:
        return kill(current, by=by, reason=reason, now_ms=now_ms)
    if current.machinery_paused:
        return TradingState(Mode.PAUSED, reason, by, now_ms)
    return pause(current, by=by, reason=reason, now_ms=now_ms)


def steer_machinery(current: TradingState, tripped: Mapping[str, str], now_ms: int) -> TradingState:
    """The machinery breakers' verdicts (name -> why) applied: pause while any is tripped, lift the
    pause once none of them is; any other state is not theirs to touch."""
    if current.machinery_paused and current.by.removeprefix("breaker:") not in tripped:
        current = resume(current, by=current.by, now_ms=now_ms)
    if current.mode is Mode.RUNNING and tripped:
        name, reason = next(iter(tripped.items()))
        current = pause(current, by=f"breaker:{name}", reason=reason, now_ms=now_ms)
    return current
