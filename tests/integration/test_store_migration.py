"""A database written by an older Kestrel is migrated in place, its rows kept."""

import sqlite3
from pathlib import Path

from bot.clock import SystemClock
from bot.store.db import open_engine
from bot.store.models import SCHEMA_VERSION
from bot.store.repo import Repo

V1_ORDERS = """CREATE TABLE orders (id INTEGER PRIMARY KEY, client_id VARCHAR NOT NULL UNIQUE, trade_id INTEGER NOT NULL
REFERENCES trades (id), pair VARCHAR NOT NULL, side VARCHAR NOT NULL, type VARCHAR NOT NULL, purpose VARCHAR NOT NULL,
exit_reason VARCHAR, amount VARCHAR NOT NULL, price VARCHAR, stop_price VARCHAR, oco_with VARCHAR,
status VARCHAR NOT NULL, filled VARCHAR NOT NULL, average VARCHAR, fee_quote VARCHAR NOT NULL,
venue_id VARCHAR NOT NULL, note VARCHAR NOT NULL, created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL)"""
V1_TRADES = """CREATE TABLE trades (id INTEGER PRIMARY KEY, pair VARCHAR NOT NULL, status VARCHAR NOT NULL,
stake_quote VARCHAR NOT NULL, amount VARCHAR NOT NULL, open_rate VARCHAR, open_ms INTEGER, open_fee VARCHAR NOT NULL,
close_rate VARCHAR, close_ms INTEGER, close_fee VARCHAR NOT NULL, exit_reason VARCHAR, enter_tag VARCHAR,
signal_ms INTEGER NOT NULL, max_rate VARCHAR, profit_quote VARCHAR, profit_ratio VARCHAR,
created_ms INTEGER NOT NULL)"""


def _v1_database(path: Path) -> None:
    db = sqlite3.connect(path)
    with db:
        db.execute("CREATE TABLE schema_version (id INTEGER PRIMARY KEY, version INTEGER NOT NULL)")
        db.execute("INSERT INTO schema_version VALUES (1, 1)")
        db.execute(V1_TRADES)
        db.execute(V1_ORDERS)
        db.execute(
            "INSERT INTO trades (id, pair, status, stake_quote, amount, open_rate, open_ms, open_fee, close_fee,"
            " signal_ms, created_ms) VALUES (1, 'BTC/USDT', 'open', '100', '0.002', '50000', 5, '0.1', '0', 1, 1)"
        )
        db.execute(
            "INSERT INTO orders (client_id, trade_id, pair, side, type, purpose, amount, status, filled, average,"
            " fee_quote, venue_id, note, created_ms, updated_ms) VALUES ('k-1e0', 1, 'BTC/USDT', 'buy', 'market',"
            " 'entry', '0.002', 'filled', '0.002', '50000', '0.1', '', '', 1, 5)"
        )
    db.close()


async def test_a_version_1_database_gains_the_fee_base_column_and_keeps_its_trades(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    _v1_database(path)
    engine = await open_engine(path, create=True)
    try:
        repo = Repo(engine, SystemClock())
        (order,) = await repo.orders_of(1)
        assert (order.client_id, order.filled, order.fee_base) == ("k-1e0", order.amount, 0)
        (trade,) = await repo.trades()
        assert (trade.pair, trade.status, str(trade.amount)) == ("BTC/USDT", "open", "0.002")
    finally:
        await engine.dispose()
    db = sqlite3.connect(path)
    assert db.execute("SELECT version FROM schema_version").fetchone() == (SCHEMA_VERSION,)
    db.close()


async def test_a_version_4_database_gains_lifted_locks_and_keeps_its_locks(tmp_path: Path) -> None:
    path = tmp_path / "v4.sqlite"
    engine = await open_engine(path, create=True)
    await Repo(engine, SystemClock()).record_lock("BTC/USDT", 10_000, "StoplossGuard: 2 stops", 1)
    await engine.dispose()
    db = sqlite3.connect(path)
    with db:  # as Kestrel 4 left it
        db.execute("ALTER TABLE locks DROP COLUMN lifted_ms")
        db.execute("UPDATE schema_version SET version = 4")
    db.close()
    engine = await open_engine(path, create=True)
    try:
        repo = Repo(engine, SystemClock())
        assert await repo.locks(until_after_ms=5) == [("BTC/USDT", 10_000, "StoplossGuard: 2 stops")]
        assert await repo.lift_locks("BTC/USDT", 5) == [("BTC/USDT", 10_000, "StoplossGuard: 2 stops")]
        assert await repo.locks(until_after_ms=5) == []
        assert await repo.locks(until_after_ms=5, lifted=True) == [("BTC/USDT", 10_000, "StoplossGuard: 2 stops")]
        assert await repo.lift_locks(None, 5) == []  # lifted once
    finally:
        await engine.dispose()
