"""The commands that change what the bot does beyond pause/resume/kill: /unlock, /forceexit,
/forceentry, and /why, which explains the last entry decision. Orders run between ticks (the
daemon's tick lock), through ManualOrders."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol, TypeVar

from bot.clock import Clock, iso_ms
from bot.config import Config
from bot.decisions import Decision
from bot.manual_orders import ManualOrders
from bot.store.repo import Repo
from bot.store.trading_control import read_trading_state, status_line
from bot.telegram.desk import CommandArgumentError, Reply, Request, count_arg
from bot.telegram.views import num

T = TypeVar("T")


class BetweenTicks(Protocol):
    """Runs `action(market time now)` while no tick runs (the daemon's tick lock)."""

    async def __call__(self, action: Callable[[int], Awaitable[T]]) -> T: ...


class Steering:
    def __init__(
        self,
        *,
        config: Config,
        repo: Repo,
        clock: Clock,
        manual: ManualOrders,
        between_ticks: BetweenTicks,
        decisions: Callable[[], Mapping[str, Decision]],
        reload: Callable[[], Awaitable[str]] | None = None,
    ) -> None:
        self._config = config
        self._repo = repo
        self._clock = clock
        self._manual = manual
        self._between_ticks = between_ticks
        self._decisions = decisions
        self._reload = reload

    def _pair(self, args: list[str], usage: str) -> str:
        if not args:
            raise CommandArgumentError(f"pair: missing; {usage}")
        pair = args[0].upper()
        if pair not in self._config.exchange.pair_whitelist:
            known = ", ".join(self._config.exchange.pair_whitelist)
            raise CommandArgumentError(f"pair: {args[0]!r} is not traded; the pairs are {known}")
        return pair

    async def _cmd_unlock(self, req: Request) -> Reply:
        if not req.args:
            raise CommandArgumentError("pair: missing; /unlock BTC/USDT, or /unlock all")
        everything = req.args[0].lower() == "all"
        pair = None if everything else self._pair(req.args, "/unlock BTC/USDT")
        lifted = await self._repo.lift_locks(pair, self._clock.now_ms())
        if not lifted:
            return Reply(f"no lock in force on {pair or 'any pair'}")
        lines = [f"lifted: {'every pair' if p == '*' else p} until {iso_ms(t)} ({why})" for p, t, why in lifted]
        await self._repo.add_event(
            "locks_lifted",
            f"{len(lifted)} lock(s) lifted by {req.caller.reason([], 'hand')}",
            ts_ms=self._clock.now_ms(),
        )
        return Reply("\n".join(lines))

    async def _cmd_forceexit(self, req: Request) -> Reply:
        if not req.args:
            raise CommandArgumentError("id: missing; /forceexit 3, or /forceexit all")
        trade_id = None if req.args[0].lower() == "all" else count_arg(req.args, 0, name="id", most=10**9)

        async def act(now_ms: int) -> list[str]:
            return await self._manual.force_exit(trade_id, now_ms)

        return Reply("\n".join(await self._between_ticks(act)))

    async def _cmd_forceentry(self, req: Request) -> Reply:
        if not self._config.telegram.allow_forceentry:
            raise CommandArgumentError("/forceentry is off; set telegram.allow_forceentry to true to allow it")
        pair = self._pair(req.args, "/forceentry BTC/USDT")

        async def act(now_ms: int) -> str:
            return await self._manual.force_entry(pair, now_ms)

        return Reply(await self._between_ticks(act))

    async def _cmd_why(self, req: Request) -> Reply:
        pair = self._pair(req.args, "/why BTC/USDT")
        state = await read_trading_state(self._repo)
        decision = self._decisions().get(pair)
        if decision is None:
            return Reply(f"{status_line(state)}\n{pair}: no entry decided since the daemon started")
        lines = [status_line(state), f"{pair} at {iso_ms(decision.tick_ms)}: {decision.verdict}"]
        sig = decision.signal
        if sig is not None:
            lines.append(
                f"signal on the candle of {iso_ms(sig.candle_ms)}: enter {int(sig.enter)}, exit {int(sig.exit)}"
                + (f", tag {sig.tag}" if sig.tag else "")
            )
            lines += [f"  {name} = {num(value, 6)}" for name, value in sig.values]
        return Reply("\n".join(lines), pre=True)

    async def _cmd_reload(self, _req: Request) -> Reply:
        if self._reload is None:
            raise CommandArgumentError("/reload: this daemon was not started from a config file")
        return Reply(await self._reload())
