"""What each command does, apart from Telegram: read the store, steer through Controls, and return a
Reply. The service (app.py) decides who may run it and sends the reply."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from importlib.metadata import PackageNotFoundError, version

import pandas as pd

from bot.clock import Clock
from bot.config import Config
from bot.controls import Controls
from bot.ledger import STOP, TAKE_PROFIT
from bot.risk.trading_state import TradingState
from bot.store.repo import Repo
from bot.store.trading_control import read_trading_state, status_line
from bot.telegram import charts, views
from bot.telegram.access import COMMANDS, help_text
from bot.telegram.desk import Caller, CommandArgumentError, Reply, Request, count_arg
from bot.telegram.report_commands import Reports


class CommandDesk:
    def __init__(
        self,
        *,
        config: Config,
        repo: Repo,
        controls: Controls,
        clock: Clock,
        wall: Clock,
        last_closes: Callable[[], Mapping[str, float]],
        candles: Callable[[str], pd.DataFrame | None],
        health: Callable[[], Awaitable[views.Health]],
        timeframe: str,
        steering: object | None = None,  # Steering: the commands that act between ticks
    ) -> None:
        self._config = config
        self._repo = repo
        self._controls = controls
        self._clock = clock
        self._wall = wall
        self._last_closes = last_closes
        self._candles = candles
        self._health = health
        self._timeframe = timeframe

        self._groups: list[object] = [
            self,
            Reports(config=config, repo=repo, clock=clock, last_closes=last_closes),
            *([steering] if steering is not None else []),
        ]

    def _handler(self, name: str) -> Callable[[Request], Awaitable[Reply]] | None:
        for group in self._groups:
            handler = getattr(group, f"_cmd_{name}", None)
            if handler is not None:
                return handler  # type: ignore[no-any-return]
        return None

    @property
    def available(self) -> frozenset[str]:
        """The commands built so far (the others answer that they are not available)."""
        return frozenset(name for name in COMMANDS if self._handler(name) is not None)

    def refuse_early(self, name: str) -> str | None:
        """Why a command cannot run at all, said before any confirmation is asked for."""
        if self._handler(name) is None:
            return f"/{name} is not available in this version"
        if name == "forceentry" and not self._config.telegram.allow_forceentry:
            return "/forceentry is off; set telegram.allow_forceentry to true to allow it"
        return None

    async def run(self, name: str, args: list[str], caller: Caller) -> Reply:
        """Raises CommandArgumentError (and TransitionRefusedError from the controls) for the
        caller to answer with its message."""
        handler = self._handler(name)
        if handler is None:
            raise CommandArgumentError(f"/{name} is not available in this version")
        return await handler(Request(args, caller))

    # -- reading -------------------------------------------------------------------------------

    async def _cmd_help(self, req: Request) -> Reply:
        return Reply(help_text(req.caller.role, self.available), keyboard=True)

    async def _cmd_start(self, _req: Request) -> Reply:
        state = await read_trading_state(self._repo)
        return Reply(f"Kestrel is here. {status_line(state)}\n/help lists the commands.", keyboard=True)

    async def _open_trades(self) -> list[views.OpenTrade]:
        closes = self._last_closes()
        out = []
        for trade in reversed(await self._repo.trades(live_only=True)):
            price = closes.get(trade.pair)
            out.append(
                views.OpenTrade(
                    trade, await self._repo.orders_of(trade.id), None if price is None else Decimal(str(price))
                )
            )
        return out

    async def _cmd_status(self, req: Request) -> Reply:
        trades = await self._open_trades()
        now = self._clock.now_ms()
        if req.args and req.args[0] == "table":
            return Reply(views.status_table(trades, now), pre=True)
        currency = self._config.stake_currency
        if req.args:
            wanted = count_arg(req.args, 0, name="id", most=10**9)
            found = [t for t in trades if t.trade.id == wanted]
            if not found:
                raise CommandArgumentError(f"id: no open trade {wanted}; /status lists the open ones")
            return Reply(views.trade_detail(found[0], now, currency), pre=True)
        state = await read_trading_state(self._repo)
        return Reply(views.status_text(status_line(state), trades, now, currency), pre=True)

    async def _cmd_balance(self, _req: Request) -> Reply:
        balances = await self._repo.get_state("balances")
        samples = await self._repo.equity_samples(limit=1)
        equity = samples[-1][1] if samples else None
        return Reply(views.balance_text(balances, equity, self._config.stake_currency), pre=True)

    async def _cmd_locks(self, _req: Request) -> Reply:
        now = self._clock.now_ms()
        return Reply(views.locks_text(await self._repo.locks(until_after_ms=now), now))

    async def _cmd_whitelist(self, _req: Request) -> Reply:
        pairs = self._config.exchange.pair_whitelist
        return Reply(f"{len(pairs)} pairs: " + ", ".join(pairs))

    async def _cmd_logs(self, req: Request) -> Reply:
        n = count_arg(req.args, 10, most=100)
        return Reply(views.events_text(await self._repo.events(limit=n)), pre=True)

    async def _cmd_version(self, _req: Request) -> Reply:
        try:
            ours = version("kestrel")
        except PackageNotFoundError:
            ours = "unknown (not installed)"
        return Reply(f"Kestrel {ours}, strategy {self._config.strategy}, {self._config.exchange.name} market")

    async def _cmd_show_config(self, _req: Request) -> Reply:
        return Reply(views.config_text(self._config.model_dump(mode="json")), pre=True)

    async def _cmd_health(self, _req: Request) -> Reply:
        return Reply(views.health_text(await self._health(), self._wall.now_ms()), pre=True)

    # -- steering ------------------------------------------------------------------------------

    async def _cmd_pause(self, req: Request) -> Reply:
        outcome = await self._controls.pause(
            by=req.caller.by, reason=req.caller.reason(req.args, "paused from Telegram")
        )
        return Reply(outcome.describe())

    async def _cmd_resume(self, req: Request) -> Reply:
        outcome = await self._controls.resume(by=req.caller.by)
        return Reply(outcome.describe())

    async def _cmd_kill(self, req: Request) -> Reply:
        outcome = await self._controls.kill(
            by=req.caller.by, reason=req.caller.reason(req.args, "kill switch from Telegram")
        )
        state: TradingState = outcome.after
        done = "\nevery order cancelled, every position sold" if state.flattened else ""
        return Reply(outcome.describe() + done)

    # -- charts --------------------------------------------------------------------------------

    async def _cmd_chart(self, req: Request) -> Reply:
        if not req.args:
            raise CommandArgumentError("pair: missing; /chart BTC/USDT")
        pair = req.args[0].upper()
        frame = self._candles(pair)
        if frame is None or frame.empty:
            known = ", ".join(self._config.exchange.pair_whitelist)
            raise CommandArgumentError(f"pair: no candles for {pair!r}; the pairs traded are {known}")
        marks, stop, target = [], None, None
        for trade in await self._repo.trades(limit=200):
            if trade.pair != pair:
                continue
            if trade.open_ms is not None and trade.open_rate is not None:
                marks.append(charts.TradeMark(trade.open_ms, trade.open_rate, "entry", f"#{trade.id}"))
            if trade.close_ms is not None and trade.close_rate is not None:
                marks.append(charts.TradeMark(trade.close_ms, trade.close_rate, "exit", f"#{trade.id}"))
            if trade.status in ("open", "closing"):
                orders = await self._repo.orders_of(trade.id)
                stop = views.resting(orders, STOP)
                target = views.resting(orders, TAKE_PROFIT)
        png = await asyncio.to_thread(
            charts.candle_chart_png,
            frame,
            marks,
            pair=pair,
            timeframe=self._timeframe,
            stop_price=stop,
            take_profit_price=target,
        )
        return Reply(f"{pair} {self._timeframe}: {len(marks)} entries and exits shown", photo=png)

    async def _cmd_equity(self, _req: Request) -> Reply:
        samples = list(reversed(await self._repo.equity_samples(limit=100_000)))
        if len(samples) < 2:
            raise CommandArgumentError("equity: not enough samples yet (one is stored per tick)")
        png = await asyncio.to_thread(charts.equity_chart_png, samples, currency=self._config.stake_currency)
        return Reply(f"equity: {len(samples)} samples", photo=png)
