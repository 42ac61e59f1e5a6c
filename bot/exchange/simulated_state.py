"""The simulated market's own books on disk: one JSON snapshot in a small SQLite file, rewritten
after every change, like an exchange keeps its records apart from its clients'."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.exchange.base import Balance, OrderRequest, OrderState, OrderStatus, OrderType, Side


@dataclass(frozen=True)
class Resting:
    """One order as the venue holds it: the request, its state, and what it reserves."""

    request: OrderRequest
    state: OrderState
    placed_ms: int
    reserved: Decimal  # base for sells, quote for buys; an OCO pair shares one reservation
    next_bar_ms: int  # the first candle open it may still be matched against


@dataclass(frozen=True)
class VenueSnapshot:
    settled_ms: int
    now_ms: int
    balances: Mapping[str, Balance]
    orders: Mapping[str, Resting]


class VenueStateFile:
    def __init__(self, path: Path) -> None:
        self._db = _open_state(path)

    def save(self, snapshot: VenueSnapshot) -> None:
        doc = {
            "settled_ms": snapshot.settled_ms,
            "now_ms": snapshot.now_ms,
            "balances": {a: [str(b.free), str(b.used)] for a, b in snapshot.balances.items()},
            "orders": [_book_to_json(b) for b in snapshot.orders.values()],
        }
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO venue_state (id, doc) VALUES (1, ?)", (json.dumps(doc),))

    def load(self) -> VenueSnapshot | None:
        row = self._db.execute("SELECT doc FROM venue_state WHERE id = 1").fetchone()
        if row is None:
            return None
        doc = json.loads(row[0])
        orders = {}
        for item in doc["orders"]:
            book = _book_from_json(item)
            orders[book.request.client_id] = book
        balances = {a: Balance(Decimal(f), Decimal(u)) for a, (f, u) in doc["balances"].items()}
        return VenueSnapshot(int(doc["settled_ms"]), int(doc["now_ms"]), balances, orders)

    def close(self) -> None:
        self._db.close()

    @staticmethod
    def saved_now_ms(path: Path) -> int | None:
        if not path.exists():
            return None
        state = VenueStateFile(path)
        try:
            snapshot = state.load()
        finally:
            state.close()
        return None if snapshot is None else snapshot.now_ms


def _open_state(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE IF NOT EXISTS venue_state (id INTEGER PRIMARY KEY, doc TEXT NOT NULL)")
    return db


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _book_to_json(book: Resting) -> dict[str, Any]:
    r, s = book.request, book.state
    return {
        "request": [
            r.client_id,
            r.symbol,
            r.side.value,
            r.type.value,
            str(r.amount),
            _s(r.price),
            _s(r.stop_price),
            r.oco_with,
        ],
        "state": [s.status.value, str(s.filled), _s(s.average), str(s.fee_quote), s.venue_id, s.updated_ms, s.reason],
        "placed_ms": book.placed_ms,
        "reserved": str(book.reserved),
        "next_bar_ms": book.next_bar_ms,
    }


def _book_from_json(item: dict[str, Any]) -> Resting:
    cid, symbol, side, type_, amount, price, stop, oco = item["request"]
    request = OrderRequest(cid, symbol, Side(side), OrderType(type_), Decimal(amount), _dec(price), _dec(stop), oco)
    status, filled, average, fee, venue_id, updated_ms, reason = item["state"]
    state = OrderState(
        client_id=cid,
        symbol=symbol,
        side=request.side,
        type=request.type,
        status=OrderStatus(status),
        amount=request.amount,
        filled=Decimal(filled),
        average=_dec(average),
        fee_quote=Decimal(fee),
        price=request.price,
        stop_price=request.stop_price,
        venue_id=venue_id,
        updated_ms=updated_ms,
        reason=reason,
    )
    placed_ms = int(item["placed_ms"])
    return Resting(request, state, placed_ms, Decimal(item["reserved"]), int(item.get("next_bar_ms", placed_ms)))
