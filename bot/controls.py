"""The one way people steer the bot: `kestrel pause|resume|kill` and the Telegram commands both come
through here, so a state change is the same event whoever asked. Inside the daemon, `act_now` lets
a kill flatten at once instead of at the next candle."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

from bot.clock import Clock
from bot.risk import trading_state as ts
from bot.store.repo import Repo
from bot.store.trading_control import change_trading_state, read_trading_state, status_line


@dataclass(frozen=True)
class ControlOutcome:
    before: ts.TradingState
    after: ts.TradingState

    @property
    def changed(self) -> bool:
        return self.after != self.before

    def describe(self) -> str:
        return status_line(self.after) + ("" if self.changed else " (no change)")


class Controls:
    def __init__(self, repo: Repo, wall: Clock, *, act_now: Callable[[], Awaitable[None]] | None = None) -> None:
        self._repo = repo
        self._wall = wall
        self._act_now = act_now

    async def pause(self, *, by: str, reason: str) -> ControlOutcome:
        now = self._wall.now_ms()
        return await self._change(partial(ts.pause, by=by, reason=reason or "paused by hand", now_ms=now), now)

    async def resume(self, *, by: str) -> ControlOutcome:
        now = self._wall.now_ms()
        return await self._change(partial(ts.resume, by=by, now_ms=now), now)

    async def kill(self, *, by: str, reason: str) -> ControlOutcome:
        """Halt; the flattening runs now when inside the daemon (`act_now`), else at its next start."""
        now = self._wall.now_ms()
        outcome = await self._change(partial(ts.kill, by=by, reason=reason or "kill switch by hand", now_ms=now), now)
        if self._act_now is not None:
            await self._act_now()
            outcome = ControlOutcome(outcome.before, await read_trading_state(self._repo))  # flattened by now?
        return outcome

    async def _change(self, change: Callable[[ts.TradingState], ts.TradingState], now_ms: int) -> ControlOutcome:
        """Raises TransitionRefusedError when the state does not allow it."""
        before, after = await change_trading_state(self._repo, change, ts_ms=now_ms)
        return ControlOutcome(before, after)
