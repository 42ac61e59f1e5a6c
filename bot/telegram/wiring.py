"""Builds the Telegram service from a runtime: the one place that knows every part it talks to."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.controls import Controls
from bot.runtime import Runtime
from bot.secrets_source import secret_values
from bot.store.audit import AuditLog
from bot.telegram.app import TelegramService
from bot.telegram.commands import CommandDesk
from bot.telegram.daily import DailySummary
from bot.telegram.health import LoopLag, gather_health
from bot.telegram.notifier import Notifier
from bot.telegram.outbox import Outbox
from bot.telegram.steering import BetweenTicks, Steering
from bot.telegram.views import Health


def build_telegram(
    rt: Runtime,
    act_now: Callable[[], Awaitable[None]],
    between_ticks: BetweenTicks,
    reload: Callable[[], Awaitable[str]] | None,
    lag: LoopLag,
) -> TelegramService:
    assert rt.telegram_token is not None
    cfg = rt.config.telegram
    audit = AuditLog(rt.engine, rt.wall)
    outboxes: list[Outbox] = []

    async def health() -> Health:
        return await gather_health(rt.repo, lag, outboxes[0])

    desk = CommandDesk(
        config=rt.config,
        repo=rt.repo,
        controls=Controls(rt.repo, rt.wall, act_now=act_now),
        clock=rt.clock,
        wall=rt.wall,
        last_closes=rt.candles.last_closes,
        candles=rt.candles.frame,
        timeframe=rt.timeframe,
        health=health,
        steering=Steering(
            config=rt.config,
            repo=rt.repo,
            clock=rt.clock,
            manual=rt.manual,
            between_ticks=between_ticks,
            decisions=lambda: rt.trader.decisions,
            reload=reload,
        ),
    )

    def notifier_for(outbox: Outbox) -> Notifier:
        outboxes.append(outbox)
        return Notifier(cfg, rt.repo, audit, outbox, rt.wall)

    service = TelegramService(
        cfg,
        rt.telegram_token,
        desk=desk,
        audit=audit,
        notifier_for=notifier_for,
        wall=rt.wall,
        secrets=secret_values(rt.config.model_dump(mode="json")),
    )
    service.summary = DailySummary(rt.repo, rt.clock, service.notifier, rt.config.stake_currency)
    return service
