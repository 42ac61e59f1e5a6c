"""Our orders in ccxt's unified terms and back. Pure (no client): what `create_order` is called
with, and what an order ccxt returns means for us."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from bot.exchange.base import OrderRequest, OrderState, OrderStatus, OrderType, Side

_STATUS = {
    "open": OrderStatus.OPEN,
    "closed": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "cancelled": OrderStatus.CANCELED,
    "expired": OrderStatus.EXPIRED,
    "rejected": OrderStatus.REJECTED,
}


def order_params(order: OrderRequest) -> tuple[str, float | None, dict[str, Any]]:
    """(ccxt type, price, params) for `create_order`; the client id always travels with the order."""
    params: dict[str, Any] = {"clientOrderId": order.client_id}
    if order.type is OrderType.MARKET:
        return "market", None, params
    if order.type is OrderType.LIMIT:
        assert order.price is not None
        params["timeInForce"] = "GTC"
        return "limit", float(order.price), params
    assert order.stop_price is not None
    # a stop-market sell (Binance spot: STOP_LOSS); a stop buy would be a take-profit trigger
    params["stopLossPrice" if order.side is Side.SELL else "takeProfitPrice"] = float(order.stop_price)
    return "market", None, params


def _d(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def order_state(raw: Mapping[str, Any], client_id: str, now_ms: int) -> OrderState:
    """ccxt's unified order as an OrderState. Fees paid in the quote currency are `fee_quote`; fees
    taken from the base coin (Binance buys) are `fee_base`, so the position is what was really got."""
    symbol = str(raw.get("symbol") or "")
    base, _, quote = symbol.partition("/")
    amount = _d(raw.get("amount")) or Decimal(0)
    filled = _d(raw.get("filled")) or Decimal(0)
    status = _STATUS.get(str(raw.get("status") or "open"), OrderStatus.OPEN)
    if status is OrderStatus.FILLED and filled < amount:
        status = OrderStatus.CANCELED  # closed with a remainder: the rest will never fill
    fee_quote = fee_base = Decimal(0)
    fees = raw.get("fees") or ([raw["fee"]] if raw.get("fee") else [])
    for fee in fees:
        fee_cost = _d(fee.get("cost")) or Decimal(0)
        if fee.get("currency") == quote:
            fee_quote += fee_cost
        elif fee.get("currency") == base:
            fee_base += fee_cost
    average = _d(raw.get("average"))
    if average is None and filled > 0:
        spent = _d(raw.get("cost"))
        average = spent / filled if spent is not None else _d(raw.get("price"))
    kind = str(raw.get("type") or "market").lower()
    stop = _d(raw.get("triggerPrice") or raw.get("stopPrice"))
    order_type = (
        OrderType.STOP
        if stop is not None and "limit" not in kind
        else (OrderType.LIMIT if "limit" in kind else OrderType.MARKET)
    )
    info: Mapping[str, Any] = raw["info"] if isinstance(raw.get("info"), Mapping) else {}
    stamp = int(raw.get("lastTradeTimestamp") or raw.get("timestamp") or 0)
    return OrderState(
        # a cancel's reply names the cancel request in clientOrderId and the order in origClientOrderId
        client_id=str(info.get("origClientOrderId") or raw.get("clientOrderId") or client_id),
        symbol=symbol,
        side=Side(str(raw.get("side") or "buy")),
        type=order_type,
        status=status,
        amount=amount,
        filled=filled,
        average=average,
        fee_quote=fee_quote,
        fee_base=fee_base,
        price=_d(raw.get("price")) if order_type is OrderType.LIMIT else None,
        stop_price=stop,
        venue_id=str(raw.get("id") or ""),
        updated_ms=stamp if stamp > 0 else now_ms,  # a resting stop's reply has workingTime -1
        reason=str(info.get("status", "")),
    )
