"""What the store hands out about trades and events: plain frozen values, importable by the pure
formatting code (Telegram, reports) without pulling in SQLModel."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class TradeRecord:
    id: int
    pair: str
    status: str
    stake_quote: Decimal
    amount: Decimal
    open_rate: Decimal | None
    open_ms: int | None
    open_fee: Decimal
    close_rate: Decimal | None
    close_ms: int | None
    close_fee: Decimal
    exit_reason: str | None
    enter_tag: str | None
    signal_ms: int
    max_rate: Decimal | None
    profit_quote: Decimal | None
    profit_ratio: Decimal | None


@dataclass(frozen=True)
class EventRecord:
    ts_ms: int
    wall_ms: int
    kind: str
    pair: str | None
    client_id: str | None
    message: str
    id: int = 0  # its row, in the order events were written


@dataclass(frozen=True)
class AuditRecord:
    wall_ms: int
    channel: str
    user_id: int | None
    username: str
    chat_id: int | None
    command: str
    args: str
    result: str
