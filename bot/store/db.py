"""Opening the database: WAL, full sync (an order journaled is an order on disk before it is
sent), one connection so there is one writer, and the schema version checked before anything else."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel import SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.errors import StoreError
from bot.store.models import SCHEMA_VERSION, SchemaVersionRow


def _pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


async def open_engine(path: Path, *, create: bool) -> AsyncEngine:
    """Open (and with `create`, create or migrate) the store. Readers pass create=False and get a
    StoreError instead of a new empty file when the daemon has never run."""
    if not create and not path.exists():
        raise StoreError(f"{path}: no database yet (start the daemon with `kestrel trade` first)")
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}", pool_size=1, max_overflow=0)
    event.listen(engine.sync_engine, "connect", _pragmas)
    try:
        if create:
            async with engine.begin() as conn:
                await conn.run_sync(SQLModel.metadata.create_all)
        await _check_version(engine, path, create=create)
    except (OperationalError, DatabaseError) as e:
        await engine.dispose()
        raise StoreError(f"{path}: cannot open database: {e.orig}") from None
    except StoreError:
        await engine.dispose()
        raise
    return engine


async def _check_version(engine: AsyncEngine, path: Path, *, create: bool) -> None:
    async with AsyncSession(engine) as session:
        row = (await session.exec(select(SchemaVersionRow))).first()
        if row is None:
            if not create:
                raise StoreError(f"{path}: not a Kestrel database (no schema version)")
            session.add(SchemaVersionRow(id=1, version=SCHEMA_VERSION))
            await session.commit()
            return
        if row.version > SCHEMA_VERSION:
            raise StoreError(
                f"{path}: schema version {row.version} is newer than this Kestrel understands "
                f"({SCHEMA_VERSION}); upgrade Kestrel"
            )
        if row.version < SCHEMA_VERSION:
            await _migrate(session, row.version)
            row.version = SCHEMA_VERSION
            session.add(row)
            await session.commit()


# Each step brings a database from the version before it, in one transaction with the version bump.
_MIGRATIONS = {
    2: ["ALTER TABLE orders ADD COLUMN fee_base VARCHAR NOT NULL DEFAULT '0'"],
    3: [],  # new tables only (equity, locks): create_all made them
    4: [],  # the audit table
    5: ["ALTER TABLE locks ADD COLUMN lifted_ms INTEGER"],
}


async def _migrate(session: AsyncSession, from_version: int) -> None:
    for version in range(from_version + 1, SCHEMA_VERSION + 1):
        for statement in _MIGRATIONS[version]:
            added = re.fullmatch(r"ALTER TABLE (\w+) ADD COLUMN (\w+) .*", statement)
            if added and await _has_column(session, added[1], added[2]):
                continue  # the table is newer than the database: create_all just made it whole
            await session.exec(text(statement))  # type: ignore[call-overload]


async def _has_column(session: AsyncSession, table: str, column: str) -> bool:
    rows = (await session.exec(text(f"PRAGMA table_info({table})"))).all()  # type: ignore[call-overload]
    return any(row[1] == column for row in rows)
