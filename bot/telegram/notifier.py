"""Notifications: the events table followed by row id (the cursor is stored, so after a restart
nothing is sent twice and nothing written meanwhile is skipped), each event sent, silently or not at
all as `telegram.notifications` says. Trading only writes events; it never waits for this."""

from __future__ import annotations

import asyncio
import contextlib

from loguru import logger

from bot.clock import Clock
from bot.store.audit import AuditLog
from bot.store.repo import Repo
from bot.telegram.notices import Repeats, chunks, notice_html, notification_kind
from bot.telegram.outbox import Outbox
from bot.telegram_config import TelegramConfig

CURSOR_KEY = "telegram_event_cursor"


class Notifier:
    def __init__(
        self, cfg: TelegramConfig, repo: Repo, audit: AuditLog, outbox: Outbox, wall: Clock, *, every_s: float = 1.0
    ) -> None:
        self._cfg = cfg
        self._repo = repo
        self._audit = audit
        self._outbox = outbox
        self._wall = wall
        self._every_s = every_s
        self._repeats = Repeats()
        self._poke = asyncio.Event()
        self.cursor = 0

    async def start_cursor(self) -> None:
        """The stored cursor; on the very first start, just before this run's `started` event (the
        history before it is not replayed)."""
        stored = await self._repo.get_state(CURSOR_KEY)
        if stored is not None:
            self.cursor = int(stored)
        else:
            started = await self._audit.last_event_id("started")
            self.cursor = started - 1 if started else await self._audit.last_event_id()
        if stored is None:
            await self._repo.set_state({CURSOR_KEY: self.cursor})

    def poke(self) -> None:
        """Something was written (a tick ended): look now rather than at the next interval."""
        self._poke.set()

    async def run(self) -> None:
        while True:
            try:
                await self.pump()
            except Exception as e:  # the store busy or failing: notifications wait, trading goes on
                logger.opt(exception=e).warning("notifications: cannot read events: {}", e)
            self._poke.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poke.wait(), self._every_s)

    async def pump(self) -> int:
        """Queue every event since the cursor; returns how many were queued."""
        queued = 0
        while True:
            events = await self._audit.events_after(self.cursor, limit=100)
            if not events:
                return queued
            for event in events:
                kind = notification_kind(event)
                delivery = self._cfg.delivery(kind) if kind else "off"
                if kind and delivery != "off" and not self._repeats.is_repeat(kind, event.message, self._now_s()):
                    self._post(kind, event.message, silent=delivery == "silent")
                    queued += 1
            self.cursor = events[-1].id
            await self._repo.set_state({CURSOR_KEY: self.cursor})

    def send(self, kind: str, text: str) -> None:
        """A notice that is not an event (the daily summary)."""
        delivery = self._cfg.delivery(kind)
        if delivery != "off":
            self._post(kind, text, silent=delivery == "silent")

    def _post(self, kind: str, text: str, *, silent: bool) -> None:
        text = self._outbox.scrub(text)  # before the cut, which could split a secret
        self._outbox.post(chunks(text, wrap=lambda piece: notice_html(kind, piece)), silent=silent)

    def _now_s(self) -> float:
        return self._wall.now_ms() / 1000
