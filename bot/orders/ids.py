"""Client order ids: one per order intent, derived from the trade and the intent's sequence, so the
same intent always carries the same id and a lookup after a crash finds it. Pure."""

from __future__ import annotations

import re

from bot.ledger import ENTRY, EXIT, STOP, TAKE_PROFIT

_CODES = {ENTRY: "e", EXIT: "x", STOP: "s", TAKE_PROFIT: "p"}
_MAX_LEN = 36  # Binance's limit, the strictest of the major venues


def client_id_prefix(bot_name: str) -> str:
    """The part of every id that marks an order as ours (orphans are recognised by it)."""
    return re.sub(r"[^A-Za-z0-9]", "", bot_name)[:12] or "kestrel"


def client_id(prefix: str, trade_id: int, purpose: str, seq: int) -> str:
    cid = f"{prefix}-{trade_id}{_CODES[purpose]}{seq}"
    if len(cid) > _MAX_LEN:
        raise ValueError(f"client id {cid!r} longer than {_MAX_LEN} characters")
    return cid
