"""One place that tells the log and the events table what happened to an order and its trade."""

from __future__ import annotations

from loguru import logger

from bot.ledger import ENTRY, EXIT_PURPOSES, JournalOrder
from bot.store.repo import Repo


async def announce(repo: Repo, kind: str, order: JournalOrder, now_ms: int) -> None:
    price = order.average if order.average is not None else (order.price or order.stop_price)
    amount = order.filled if order.filled > 0 else order.amount
    message = f"{order.purpose} {order.side} {order.type} {amount} {order.pair} @ {price} [{order.status}]"
    logger.info("{}: {} ({})", kind, message, order.client_id)
    await repo.add_event(kind, message, ts_ms=now_ms, pair=order.pair, client_id=order.client_id)
    if order.filled <= 0 or not order.is_final:  # filled, or cancelled after a part filled
        return
    trade = await repo.trade(order.trade_id)
    if trade is None:
        return
    if order.purpose == ENTRY:
        text = f"trade {trade.id} opened: {trade.amount} {trade.pair} @ {trade.open_rate}"
        logger.info(text)
        await repo.add_event("trade_opened", text, ts_ms=now_ms, pair=trade.pair)
    elif order.purpose in EXIT_PURPOSES and trade.status == "closed":
        ratio = trade.profit_ratio or 0
        text = (
            f"trade {trade.id} closed ({trade.exit_reason}): {trade.pair} @ {trade.close_rate}, "
            f"profit {trade.profit_quote:.8f} ({ratio:.2%})"
        )
        logger.info(text)
        await repo.add_event("trade_closed", text, ts_ms=now_ms, pair=trade.pair)
