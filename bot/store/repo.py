"""Every query Kestrel makes. Takes and returns domain values (ledger, book); rows stay inside."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, desc, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.book import Book, Position
from bot.clock import Clock
from bot.exchange.base import OrderRequest, OrderState
from bot.ledger import ENTRY, STOP, TAKE_PROFIT, JournalOrder, derive_trade
from bot.store.models import EquityRow, EventRow, KeyValueRow, LockRow, OrderRow, TradeRow
from bot.store.records import EventRecord, TradeRecord

LIVE_TRADE_STATUSES = ("opening", "open", "closing")


def _d(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


class Repo:
    def __init__(self, engine: AsyncEngine, wall: Clock, lot_steps: Mapping[str, Decimal] | None = None) -> None:
        self._engine = engine
        self._wall = wall
        self._lot_steps = dict(lot_steps or {})  # per pair: less than a lot left after the exits is dust

    def _session(self) -> AsyncSession:
        return AsyncSession(self._engine, expire_on_commit=False)

    # -- journal ---------------------------------------------------------------------------

    async def open_trade(
        self,
        *,
        pair: str,
        stake_quote: Decimal,
        signal_ms: int,
        tag: str | None,
        now_ms: int,
        request_for: Callable[[int], OrderRequest],
    ) -> OrderRequest:
        """Create the trade and journal its entry order in one transaction, before anything is sent."""
        async with self._session() as s:
            trade = TradeRow(
                pair=pair,
                status="opening",
                stake_quote=str(stake_quote),
                signal_ms=signal_ms,
                enter_tag=tag,
                created_ms=now_ms,
            )
            s.add(trade)
            await s.flush()
            assert trade.id is not None
            request = request_for(trade.id)
            s.add(_order_row(trade.id, request, ENTRY, None, now_ms))
            await s.commit()
            return request

    async def journal_order(
        self, trade_id: int, request: OrderRequest, purpose: str, exit_reason: str | None, now_ms: int
    ) -> None:
        async with self._session() as s:
            s.add(_order_row(trade_id, request, purpose, exit_reason, now_ms))
            await s.flush()
            await self._rederive(s, trade_id)
            await s.commit()

    async def record_state(self, state: OrderState, now_ms: int) -> JournalOrder:
        """Store what the venue says about an order, then re-derive its trade from all its orders."""
        async with self._session() as s:
            row = await self._order_row(s, state.client_id)
            row.status = state.status.value
            row.filled = str(state.filled)
            row.average = _s(state.average)
            row.fee_quote = str(state.fee_quote)
            row.fee_base = str(state.fee_base)
            row.venue_id = state.venue_id or row.venue_id
            row.note = state.reason or row.note
            row.updated_ms = state.updated_ms or now_ms
            s.add(row)
            await s.flush()
            await self._rederive(s, row.trade_id)
            await s.commit()
            return _order(row)

    async def mark_final(self, client_id: str, status: str, note: str, now_ms: int) -> JournalOrder:
        """Close an order the venue never took (`not_sent`, `rejected`), with the reason."""
        async with self._session() as s:
            row = await self._order_row(s, client_id)
            row.status, row.note, row.updated_ms = status, note[:500], now_ms
            s.add(row)
            await s.flush()
            await self._rederive(s, row.trade_id)
            await s.commit()
            return _order(row)

    async def has_order(self, client_id: str) -> bool:
        async with self._session() as s:
            return (await s.exec(select(OrderRow.id).where(OrderRow.client_id == client_id))).first() is not None

    async def nonfinal_orders(self) -> list[JournalOrder]:
        async with self._session() as s:
            rows = (
                await s.exec(
                    select(OrderRow)
                    .where(col(OrderRow.status).notin_(["filled", "canceled", "rejected", "expired", "not_sent"]))
                    .order_by(col(OrderRow.id))
                )
            ).all()
            return [_order(r) for r in rows]

    async def orders_of(self, trade_id: int) -> list[JournalOrder]:
        async with self._session() as s:
            rows = (
                await s.exec(select(OrderRow).where(OrderRow.trade_id == trade_id).order_by(col(OrderRow.id)))
            ).all()
            return [_order(r) for r in rows]

    async def count_orders(self, trade_id: int, purpose: str) -> int:
        return sum(1 for o in await self.orders_of(trade_id) if o.purpose == purpose)

    async def _order_row(self, s: AsyncSession, client_id: str) -> OrderRow:
        row = (await s.exec(select(OrderRow).where(OrderRow.client_id == client_id))).first()
        if row is None:
            raise KeyError(f"order {client_id} is not in the journal")
        return row

    async def _rederive(self, s: AsyncSession, trade_id: int) -> None:
        """Within the caller's transaction, so an order and its trade never disagree on disk."""
        rows = (await s.exec(select(OrderRow).where(OrderRow.trade_id == trade_id))).all()
        trade = await s.get(TradeRow, trade_id)
        assert trade is not None
        facts = derive_trade([_order(r) for r in rows], self._lot_steps.get(trade.pair, Decimal(0)))
        trade.status = facts.status
        trade.amount = str(facts.amount)
        trade.open_rate = _s(facts.open_rate)
        trade.open_ms = facts.open_ms
        trade.open_fee = str(facts.open_fee)
        trade.close_rate = _s(facts.close_rate)
        trade.close_ms = facts.close_ms
        trade.close_fee = str(facts.close_fee)
        trade.exit_reason = facts.exit_reason
        trade.profit_quote = _s(facts.profit_quote)
        trade.profit_ratio = _s(facts.profit_ratio)
        if trade.max_rate is None and facts.open_rate is not None:
            trade.max_rate = str(facts.open_rate)
        s.add(trade)

    # -- trades and the book ---------------------------------------------------------------

    async def book(self, free_quote: Decimal, closed_this_candle: frozenset[str] = frozenset()) -> Book:
        async with self._session() as s:
            trades = (
                await s.exec(
                    select(TradeRow).where(col(TradeRow.status).in_(LIVE_TRADE_STATUSES)).order_by(col(TradeRow.id))
                )
            ).all()
            ids = [t.id for t in trades]
            orders = (await s.exec(select(OrderRow).where(col(OrderRow.trade_id).in_(ids)))).all() if ids else []
        resting: dict[tuple[int, str], OrderRow] = {}
        for o in orders:
            if o.purpose in (STOP, TAKE_PROFIT) and o.status in ("intent", "open"):
                resting[(o.trade_id, o.purpose)] = o
        positions = []
        pending = set()
        for t in trades:
            assert t.id is not None
            if t.status == "opening":
                pending.add(t.pair)
                continue
            stop, tp = resting.get((t.id, STOP)), resting.get((t.id, TAKE_PROFIT))
            positions.append(
                Position(
                    trade_id=t.id,
                    pair=t.pair,
                    amount=Decimal(t.amount),
                    open_rate=Decimal(t.open_rate or "0"),
                    open_ms=t.open_ms or 0,
                    max_rate=Decimal(t.max_rate or t.open_rate or "0"),
                    closing=t.status == "closing",
                    stop_price=_d(stop.stop_price) if stop else None,
                    take_profit_price=_d(tp.price) if tp else None,
                )
            )
        return Book(tuple(positions), frozenset(pending), free_quote, closed_this_candle=closed_this_candle)

    async def raise_max_rate(self, trade_id: int, rate: Decimal) -> None:
        async with self._session() as s:
            trade = await s.get(TradeRow, trade_id)
            if trade is not None and (trade.max_rate is None or Decimal(trade.max_rate) < rate):
                trade.max_rate = str(rate)
                s.add(trade)
                await s.commit()

    async def trades(self, *, limit: int | None = None, live_only: bool = False) -> list[TradeRecord]:
        async with self._session() as s:
            query = select(TradeRow).where(TradeRow.status != "cancelled")
            if live_only:
                query = query.where(col(TradeRow.status).in_(LIVE_TRADE_STATUSES))
            query = query.order_by(desc(col(TradeRow.id)))
            if limit is not None:
                query = query.limit(limit)
            return [_trade(r) for r in (await s.exec(query)).all()]

    async def trade(self, trade_id: int) -> TradeRecord | None:
        async with self._session() as s:
            row = await s.get(TradeRow, trade_id)
            return None if row is None else _trade(row)

    async def closed_pairs_since(self, since_ms: int) -> frozenset[str]:
        async with self._session() as s:
            rows = (
                await s.exec(select(TradeRow).where(TradeRow.status == "closed", col(TradeRow.close_ms) >= since_ms))
            ).all()
            return frozenset(r.pair for r in rows)

    # -- events and named state ------------------------------------------------------------

    async def add_event(
        self, kind: str, message: str, *, ts_ms: int, pair: str | None = None, client_id: str | None = None
    ) -> None:
        async with self._session() as s:
            s.add(
                EventRow(
                    ts_ms=ts_ms,
                    wall_ms=self._wall.now_ms(),
                    kind=kind,
                    pair=pair,
                    client_id=client_id,
                    message=message[:2000],
                )
            )
            await s.commit()

    async def events(self, *, limit: int = 50, kind: str | None = None) -> list[EventRecord]:
        async with self._session() as s:
            query = select(EventRow)
            if kind is not None:
                query = query.where(EventRow.kind == kind)
            rows = (await s.exec(query.order_by(desc(col(EventRow.id))).limit(limit))).all()
            return [EventRecord(r.ts_ms, r.wall_ms, r.kind, r.pair, r.client_id, r.message, r.id or 0) for r in rows]

    async def equity_samples(self, *, limit: int = 1000) -> list[tuple[int, Decimal]]:
        """Newest first."""
        async with self._session() as s:
            rows = (await s.exec(select(EquityRow).order_by(desc(col(EquityRow.id))).limit(limit))).all()
            return [(r.ts_ms, Decimal(r.equity)) for r in rows]

    async def record_lock(self, pair: str | None, until_ms: int, reason: str, now_ms: int) -> bool:
        """Store a lock the first time it is seen; True when it is new."""
        key = pair or "*"
        async with self._session() as s:
            query = select(LockRow).where(LockRow.pair == key, LockRow.until_ms == until_ms, LockRow.reason == reason)
            if (await s.exec(query)).first() is not None:
                return False
            s.add(LockRow(pair=key, until_ms=until_ms, reason=reason, created_ms=now_ms))
            await s.commit()
            return True

    async def locks(self, *, until_after_ms: int, lifted: bool = False) -> list[tuple[str, int, str]]:
        """Stored locks still in force after `until_after_ms` (or, `lifted`, those lifted by hand):
        (pair or "*", until_ms, reason)."""
        async with self._session() as s:
            query = select(LockRow).where(LockRow.until_ms > until_after_ms).order_by(col(LockRow.until_ms))
            if lifted:
                query = query.where(col(LockRow.lifted_ms).is_not(None))
            else:
                query = query.where(col(LockRow.lifted_ms).is_(None))
            return [(r.pair, r.until_ms, r.reason) for r in (await s.exec(query)).all()]

    async def order_counts(self) -> dict[str, int]:
        """How many journal orders are in each state."""
        async with self._session() as s:
            query = select(OrderRow.status, func.count()).group_by(OrderRow.status)
            return {status: int(n) for status, n in (await s.exec(query)).all()}

    async def lift_locks(self, pair: str | None, now_ms: int) -> list[tuple[str, int, str]]:
        """Lift the locks in force on `pair` (None: every lock, "every pair" ones too); returns them."""
        async with self._session() as s:
            query = select(LockRow).where(LockRow.until_ms > now_ms, col(LockRow.lifted_ms).is_(None))
            if pair is not None:
                query = query.where(LockRow.pair == pair)
            rows = (await s.exec(query)).all()
            for row in rows:
                row.lifted_ms = now_ms
                s.add(row)
            await s.commit()
            return [(r.pair, r.until_ms, r.reason) for r in rows]

    async def set_state(self, values: dict[str, Any], *, equity: tuple[int, Decimal, Decimal] | None = None) -> None:
        """Upsert named facts; with `equity` (time, equity, quote) also one equity sample, in the same
        commit (one fsync per tick, not two)."""
        rows = [{"key": key, "value": json.dumps(value)} for key, value in values.items()]
        upsert = sqlite_insert(KeyValueRow).values(rows)
        upsert = upsert.on_conflict_do_update(index_elements=["key"], set_={"value": upsert.excluded.value})
        async with self._session() as s:
            await s.exec(upsert)
            if equity is not None:
                ts_ms, value, quote = equity
                s.add(EquityRow(ts_ms=ts_ms, equity=str(value), quote=str(quote)))
            await s.commit()

    async def get_state(self, key: str) -> Any:
        async with self._session() as s:
            row = await s.get(KeyValueRow, key)
            return None if row is None else json.loads(row.value)


def _order_row(trade_id: int, r: OrderRequest, purpose: str, exit_reason: str | None, now_ms: int) -> OrderRow:
    return OrderRow(
        client_id=r.client_id,
        trade_id=trade_id,
        pair=r.symbol,
        side=r.side.value,
        type=r.type.value,
        purpose=purpose,
        exit_reason=exit_reason,
        amount=str(r.amount),
        price=_s(r.price),
        stop_price=_s(r.stop_price),
        oco_with=r.oco_with,
        status="intent",
        created_ms=now_ms,
        updated_ms=now_ms,
    )


def _order(r: OrderRow) -> JournalOrder:
    return JournalOrder(
        client_id=r.client_id,
        trade_id=r.trade_id,
        pair=r.pair,
        side=r.side,
        type=r.type,
        purpose=r.purpose,
        amount=Decimal(r.amount),
        status=r.status,
        filled=Decimal(r.filled),
        average=_d(r.average),
        fee_quote=Decimal(r.fee_quote),
        price=_d(r.price),
        stop_price=_d(r.stop_price),
        exit_reason=r.exit_reason,
        oco_with=r.oco_with,
        created_ms=r.created_ms,
        updated_ms=r.updated_ms,
        fee_base=Decimal(r.fee_base),
    )


def _trade(r: TradeRow) -> TradeRecord:
    assert r.id is not None
    return TradeRecord(
        id=r.id,
        pair=r.pair,
        status=r.status,
        stake_quote=Decimal(r.stake_quote),
        amount=Decimal(r.amount),
        open_rate=_d(r.open_rate),
        open_ms=r.open_ms,
        open_fee=Decimal(r.open_fee),
        close_rate=_d(r.close_rate),
        close_ms=r.close_ms,
        close_fee=Decimal(r.close_fee),
        exit_reason=r.exit_reason,
        enter_tag=r.enter_tag,
        signal_ms=r.signal_ms,
        max_rate=_d(r.max_rate),
        profit_quote=_d(r.profit_quote),
        profit_ratio=_d(r.profit_ratio),
    )
