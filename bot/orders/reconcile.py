"""Brings the journal in line with the venue: every order the journal does not know the end of is
looked up by its client id, and open orders carrying our prefix that the journal has never seen are
adopted (or, when nothing of ours explains them, cancelled). Run at start before the first new
order, and at every tick."""

from __future__ import annotations

from dataclasses import dataclass

from loguru import logger

from bot.errors import ExchangeError
from bot.exchange.base import Exchange, OrderRequest, OrderState, Side
from bot.ledger import STOP, TAKE_PROFIT, JournalOrder
from bot.orders.announce import announce
from bot.orders.ids import parse_client_id
from bot.store.repo import LIVE_TRADE_STATUSES, Repo


@dataclass(frozen=True)
class ReconcileReport:
    checked: int
    changed: int
    not_sent: int
    unresolved: int


async def refresh_orders(venue: Exchange, repo: Repo, now_ms: int) -> ReconcileReport:
    checked = changed = not_sent = unresolved = 0
    ended: list[JournalOrder] = []
    for order in await repo.nonfinal_orders():
        checked += 1
        try:
            state = await venue.order(order.pair, order.client_id)
        except ExchangeError as e:
            unresolved += 1
            logger.warning("cannot refresh order {} ({}): {}", order.client_id, order.pair, e)
            continue
        if state is None:
            if order.status == "intent":
                # journaled but never reached the venue (crash or failure before the send)
                await repo.mark_final(order.client_id, "not_sent", "not found at the venue after restart", now_ms)
                not_sent += 1
                await repo.add_event(
                    "order_not_sent",
                    f"{order.purpose} order never reached the venue",
                    ts_ms=now_ms,
                    pair=order.pair,
                    client_id=order.client_id,
                )
            else:
                await repo.mark_final(order.client_id, "expired", "the venue no longer knows this order", now_ms)
                changed += 1
            continue
        if state.status.value != order.status or state.filled != order.filled:
            recorded = await repo.record_state(state, now_ms)
            changed += 1
            if recorded.status == "filled":
                await announce(repo, "order_filled", recorded, now_ms)
            elif recorded.is_final:
                ended.append(recorded)
    for order in ended:  # after every refresh, so a fill that explains the cancel is recorded first
        if await _cancel_matters(repo, order):
            await announce(repo, "order_cancelled", order, now_ms)
    return ReconcileReport(checked, changed, not_sent, unresolved)


async def adopt_orphans(venue: Exchange, repo: Repo, pairs: list[str], prefix: str, now_ms: int) -> int:
    """Open orders with our prefix unknown to the journal. One that belongs to a live trade of
    ours joins it; an unknown buy becomes a trade of its own (the bot then manages it); an unknown
    sell protects nothing we know of and is cancelled. Returns how many were adopted."""
    adopted = 0
    for state in await venue.open_orders(pairs):
        if not state.client_id.startswith(f"{prefix}-") or await repo.has_order(state.client_id):
            continue
        parsed = parse_client_id(prefix, state.client_id)
        trade = await repo.trade(parsed.trade_id) if parsed is not None else None
        if (
            parsed is not None
            and trade is not None
            and trade.pair == state.symbol
            and trade.status in LIVE_TRADE_STATUSES
        ):
            await repo.journal_order(trade.id, _request(state), parsed.purpose, "adopted", now_ms)
        elif state.side is Side.BUY:
            request = _request(state)
            await repo.open_trade(
                pair=state.symbol,
                stake_quote=state.amount * (state.price or 0),
                signal_ms=now_ms,
                tag="adopted",
                now_ms=now_ms,
                request_for=lambda _trade_id, r=request: r,  # type: ignore[misc]
            )
        else:
            await _cancel_stray(venue, repo, state, now_ms)
            continue
        recorded = await repo.record_state(state, now_ms)
        await announce(repo, "order_adopted", recorded, now_ms)
        adopted += 1
    return adopted


async def _cancel_stray(venue: Exchange, repo: Repo, state: OrderState, now_ms: int) -> None:
    try:
        await venue.cancel(state.symbol, state.client_id)
    except ExchangeError as e:
        logger.warning("cannot cancel stray order {} ({}): {}", state.client_id, state.symbol, e)
        return
    text = f"cancelled a sell order with our prefix that no trade of ours explains: {state.amount} {state.symbol}"
    logger.warning("{} ({})", text, state.client_id)
    await repo.add_event("orphan_cancelled", text, ts_ms=now_ms, pair=state.symbol, client_id=state.client_id)


def _request(state: OrderState) -> OrderRequest:
    return OrderRequest(
        state.client_id,
        state.symbol,
        state.side,
        state.type,
        state.amount,
        price=state.price,
        stop_price=state.stop_price,
    )


async def _cancel_matters(repo: Repo, order: JournalOrder) -> bool:
    """Cancelled or expired at the venue, not by us (our cancels are recorded final at once). A
    protective order's OCO sibling going when the other fills is routine; one gone while its
    position is still open leaves the position unprotected until the next tick re-places it."""
    if order.purpose not in (STOP, TAKE_PROFIT):
        return True
    trade = await repo.trade(order.trade_id)
    return trade is not None and trade.status in ("open", "closing")
