"""Client order ids: one per order intent, derived from the trade and the intent's sequence, so the
same intent always carries the same id and a lookup after a crash finds it. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.ledger import BY_HAND, ENTRY, EXIT, STOP, TAKE_PROFIT

_CODES = {ENTRY: "e", EXIT: "x", STOP: "s", TAKE_PROFIT: "p", BY_HAND: "h"}
_PURPOSES = {code: purpose for purpose, code in _CODES.items()}
_MAX_LEN = 36  # Binance's limit, the strictest of the major venues


def client_id_prefix(bot_name: str) -> str:
    """The part of every id that marks an order as ours (orphans are recognised by it)."""
    return re.sub(r"[^A-Za-z0-9]", "", bot_name)[:12] or "kestrel"


def client_id(prefix: str, trade_id: int, purpose: str, seq: int) -> str:
    cid = f"{prefix}-{trade_id}{_CODES[purpose]}{seq}"
    if len(cid) > _MAX_LEN:
        raise ValueError(f"client id {cid!r} longer than {_MAX_LEN} characters")
    return cid


@dataclass(frozen=True)
class ParsedId:
    trade_id: int
    purpose: str
    seq: int


def parse_client_id(prefix: str, cid: str) -> ParsedId | None:
    """The trade, purpose and sequence an id of ours encodes; None for anyone else's id."""
    match = re.fullmatch(rf"{re.escape(prefix)}-(\d+)([{''.join(_PURPOSES)}])(\d+)", cid)
    if match is None:
        return None
    return ParsedId(int(match[1]), _PURPOSES[match[2]], int(match[3]))
