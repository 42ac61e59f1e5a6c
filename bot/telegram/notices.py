"""What the events table becomes on the phone: which notification kind an event is, how it reads,
and how a long text is cut into messages Telegram accepts. Pure."""

from __future__ import annotations

import html
from collections.abc import Callable

from bot.store.records import EventRecord

MESSAGE_LIMIT = 4096  # characters Telegram takes in one message

_FIXED = {
    "started": "startup",
    "stopped": "startup",
    "replay_finished": "startup",
    "reconciled": "startup",
    "trade_opened": "entry",
    "trade_closed": "exit",
    "order_timed_out": "cancel",
    "order_rejected": "cancel",
    "order_cancelled": "cancel",
    "order_not_sent": "cancel",
    "orphan_cancelled": "cancel",
    "pair_locked": "protection",
    "locks_lifted": "protection",
    "breaker_tripped": "breaker",
    "breaker_recovered": "breaker",
    "trading_state": "breaker",
    "kill_switch_done": "breaker",
    "tick_error": "error",
    "strategy_error": "error",
    "balance_gap": "error",
    "balance_gap_resolved": "error",
    "books_disagree": "error",
    "model_promoted": "model",
    "model_rejected": "model",
    "retrain_failed": "model",
}
_ICONS = {
    "startup": "\u2139\ufe0f",  # information
    "entry": "\U0001f7e2",  # green circle
    "exit": "\U0001f535",  # blue circle
    "cancel": "\u26aa",  # white circle
    "protection": "\U0001f512",  # lock
    "breaker": "\U0001f6d1",  # stop sign
    "error": "\u26a0\ufe0f",  # warning
    "daily_summary": "\U0001f4c5",  # calendar
    "model": "\U0001f916",  # robot
}


def notification_kind(event: EventRecord) -> str | None:
    """None: not worth a message. An order placed (or adopted after a restart) is an entry or an
    exit by its purpose, which its message starts with; a protective order being placed is routine.
    Fills are told by trade_opened and trade_closed, which carry the rate and the profit."""
    if event.kind in _FIXED:
        return _FIXED[event.kind]
    if event.kind in ("order_sent", "order_adopted"):
        purpose = event.message.split(" ", 1)[0]
        if purpose == "entry":
            return "entry"
        if purpose == "exit" or event.kind == "order_adopted":
            return "exit"
    return None


def notice_html(kind: str, text: str) -> str:
    return f"{_ICONS.get(kind, '')} {html.escape(text)}".strip()


def chunks(text: str, *, limit: int = MESSAGE_LIMIT, wrap: Callable[[str], str] = html.escape) -> list[str]:
    """`text` cut at line ends into pieces whose wrapped form (escaped, perhaps put in <pre>) fits
    `limit`; a single line longer than that is cut inside. Never an empty message."""
    pieces: list[str] = []
    current: list[str] = []

    def fits(lines: list[str]) -> bool:
        return len(wrap("\n".join(lines))) <= limit

    for whole in text.split("\n"):
        if fits([*current, whole]):
            current.append(whole)
            continue
        if current:
            pieces.append(wrap("\n".join(current)))
            current = []
        rest = whole
        while not fits([rest]):  # one line too long on its own: cut it where it still fits
            cut = _longest_prefix(rest, fits)
            pieces.append(wrap(rest[:cut]))
            rest = rest[cut:]
        current = [rest]
    if current and any(current):
        pieces.append(wrap("\n".join(current)))
    return pieces or [wrap("(empty)")]


def _longest_prefix(line: str, fits: Callable[[list[str]], bool]) -> int:
    lo, hi = 1, len(line)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits([line[:mid]]):
            lo = mid
        else:
            hi = mid - 1
    return lo


def pre(text: str) -> str:
    """A monospace block (tables), escaped."""
    return f"<pre>{html.escape(text)}</pre>"


class Repeats:
    """The same notice again within `window_s` is dropped: a strategy failing on every tick is one
    message, not one a minute."""

    def __init__(self, window_s: float = 600.0) -> None:
        self._window_s = window_s
        self._seen: dict[tuple[str, str], float] = {}

    def is_repeat(self, kind: str, text: str, now_s: float) -> bool:
        key = (kind, text)
        last = self._seen.get(key)
        if last is not None and now_s - last < self._window_s:
            return True
        self._seen[key] = now_s
        if len(self._seen) > 500:
            self._seen = {k: t for k, t in self._seen.items() if now_s - t < self._window_s}
        return False
