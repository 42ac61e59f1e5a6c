"""The audit trail of commands, and the events feed the Telegram notifier follows (by row id, so a
restart picks up exactly where the last notification left off)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, desc, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import Clock
from bot.store.models import AuditRow, EventRow
from bot.store.records import AuditRecord, EventRecord

_MAX_ARGS = 200


class AuditLog:
    def __init__(self, engine: AsyncEngine, wall: Clock) -> None:
        self._engine = engine
        self._wall = wall

    def _session(self) -> AsyncSession:
        return AsyncSession(self._engine, expire_on_commit=False)

    async def record(
        self,
        *,
        channel: str,
        command: str,
        args: str,
        result: str,
        user_id: int | None = None,
        username: str = "",
        chat_id: int | None = None,
    ) -> None:
        async with self._session() as s:
            s.add(
                AuditRow(
                    wall_ms=self._wall.now_ms(),
                    channel=channel,
                    user_id=user_id,
                    username=username[:64],
                    chat_id=chat_id,
                    command=command[:64],
                    args=args[:_MAX_ARGS],
                    result=result[:500],
                )
            )
            await s.commit()

    async def entries(self, *, limit: int = 50) -> list[AuditRecord]:
        """Newest first."""
        async with self._session() as s:
            rows = (await s.exec(select(AuditRow).order_by(desc(col(AuditRow.id))).limit(limit))).all()
            return [
                AuditRecord(r.wall_ms, r.channel, r.user_id, r.username, r.chat_id, r.command, r.args, r.result)
                for r in rows
            ]

    async def events_after(self, after_id: int, *, limit: int = 100) -> list[EventRecord]:
        """Events written after row `after_id`, oldest first."""
        async with self._session() as s:
            query = select(EventRow).where(col(EventRow.id) > after_id).order_by(col(EventRow.id)).limit(limit)
            rows = (await s.exec(query)).all()
            return [EventRecord(r.ts_ms, r.wall_ms, r.kind, r.pair, r.client_id, r.message, r.id or 0) for r in rows]

    async def last_event_id(self, kind: str | None = None) -> int:
        """The newest event's row id (of that kind, when given); 0 when there is none."""
        query = select(EventRow.id).order_by(desc(col(EventRow.id))).limit(1)
        if kind is not None:
            query = query.where(EventRow.kind == kind)
        async with self._session() as s:
            row = (await s.exec(query)).first()
            return row or 0
