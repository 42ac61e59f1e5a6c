"""Tables. Money is stored as decimal TEXT so nothing is ever rounded by a float on its way to disk."""

from __future__ import annotations

from sqlmodel import Field, SQLModel

SCHEMA_VERSION = 5  # 2: orders.fee_base; 3: the equity and locks tables; 4: the audit table; 5: locks.lifted_ms


class SchemaVersionRow(SQLModel, table=True):
    __tablename__ = "schema_version"
    id: int = Field(default=1, primary_key=True)
    version: int


class TradeRow(SQLModel, table=True):
    """A position, derived from its filled orders. Status: opening, open, closing, closed, cancelled."""

    __tablename__ = "trades"
    id: int | None = Field(default=None, primary_key=True)
    pair: str = Field(index=True)
    status: str = Field(index=True)
    stake_quote: str
    amount: str = "0"
    open_rate: str | None = None
    open_ms: int | None = None
    open_fee: str = "0"
    close_rate: str | None = None
    close_ms: int | None = None
    close_fee: str = "0"
    exit_reason: str | None = None
    enter_tag: str | None = None
    signal_ms: int
    max_rate: str | None = None
    profit_quote: str | None = None
    profit_ratio: str | None = None
    created_ms: int


class OrderRow(SQLModel, table=True):
    """The journal: written with its client id before the order is sent. Purpose: entry, exit, stop,
    take_profit. Status: intent (not yet confirmed by the venue), open, filled, canceled, rejected,
    expired, not_sent (confirmed never to have reached the venue)."""

    __tablename__ = "orders"
    id: int | None = Field(default=None, primary_key=True)
    client_id: str = Field(unique=True, index=True)
    trade_id: int = Field(foreign_key="trades.id", index=True)
    pair: str
    side: str
    type: str
    purpose: str
    exit_reason: str | None = None
    amount: str
    price: str | None = None
    stop_price: str | None = None
    oco_with: str | None = None
    status: str = Field(index=True)
    filled: str = "0"
    average: str | None = None
    fee_quote: str = "0"
    fee_base: str = "0"  # a fee taken from the coins bought (Binance's default on buys)
    venue_id: str = ""
    note: str = ""
    created_ms: int
    updated_ms: int


class EventRow(SQLModel, table=True):
    """The audit log: every state change of the bot, in market time and wall time."""

    __tablename__ = "events"
    id: int | None = Field(default=None, primary_key=True)
    ts_ms: int = Field(index=True)
    wall_ms: int
    kind: str = Field(index=True)
    pair: str | None = None
    client_id: str | None = None
    message: str


class KeyValueRow(SQLModel, table=True):
    """Small named facts: last tick times, the latest wallet snapshot, the running mode."""

    __tablename__ = "bot_state"
    key: str = Field(primary_key=True)
    value: str


class EquityRow(SQLModel, table=True):
    """Equity sampled at every tick: the stake currency held plus open positions at their price."""

    __tablename__ = "equity"
    id: int | None = Field(default=None, primary_key=True)
    ts_ms: int = Field(index=True)
    equity: str
    quote: str


class LockRow(SQLModel, table=True):
    """A protection's lock as it was first seen in force: no entries on `pair` ("*": all) until then."""

    __tablename__ = "locks"
    id: int | None = Field(default=None, primary_key=True)
    pair: str = Field(index=True)
    until_ms: int
    reason: str
    created_ms: int
    lifted_ms: int | None = None  # lifted by hand (/unlock): no longer keeps entries out


class AuditRow(SQLModel, table=True):
    """Every command a person sent, served or not: who, what, and what came of it."""

    __tablename__ = "audit"
    id: int | None = Field(default=None, primary_key=True)
    wall_ms: int = Field(index=True)
    channel: str  # "telegram", "cli"
    user_id: int | None = None
    username: str = ""
    chat_id: int | None = None
    command: str
    args: str = ""
    result: str
