"""Circuit breakers for the machinery: the exchange failing too often or answering too slowly,
candles that stopped coming, and a market moving far more than it did. Each is a pure verdict; the
breaker board (bot/breaker_board.py) turns verdicts into a pause and back.

The error breaker is the classic three-state circuit: closed (normal), open after `max_errors`
failed calls within `window_ms` (no new entries), half-open after `cooldown_ms` (the next call is
the probe), closed again when the probe succeeds, open again when it fails."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum


class Circuit(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


@dataclass(frozen=True)
class ErrorBreakerConfig:
    max_errors: int = 5
    window_ms: int = 300_000
    cooldown_ms: int = 120_000


@dataclass(frozen=True)
class ErrorBreaker:
    circuit: Circuit = Circuit.CLOSED
    errors_ms: tuple[int, ...] = ()  # wall times of the recent failures (closed state)
    opened_ms: int = 0
    last_error: str = ""


def after_call(b: ErrorBreaker, cfg: ErrorBreakerConfig, *, ok: bool, now_ms: int, error: str = "") -> ErrorBreaker:
    b = probe_due(b, cfg, now_ms)
    if b.circuit is Circuit.HALF_OPEN:
        return ErrorBreaker() if ok else ErrorBreaker(Circuit.OPEN, (), now_ms, error)
    if b.circuit is Circuit.OPEN or ok:
        return b
    recent = (*(t for t in b.errors_ms if t > now_ms - cfg.window_ms), now_ms)
    if len(recent) >= cfg.max_errors:
        return ErrorBreaker(Circuit.OPEN, (), now_ms, error)
    return replace(b, errors_ms=recent, last_error=error)


def probe_due(b: ErrorBreaker, cfg: ErrorBreakerConfig, now_ms: int) -> ErrorBreaker:
    """An open circuit becomes half-open once the cool-down has passed."""
    if b.circuit is Circuit.OPEN and now_ms - b.opened_ms >= cfg.cooldown_ms:
        return replace(b, circuit=Circuit.HALF_OPEN)
    return b


def slow(latencies_ms: Sequence[float], limit_ms: float) -> str | None:
    """The exchange is slow when the median round trip of the tick's calls is above the limit."""
    if not latencies_ms:
        return None
    ordered = sorted(latencies_ms)
    median = ordered[len(ordered) // 2]
    if median <= limit_ms:
        return None
    return f"median round trip {median:.0f} ms over {len(ordered)} calls, above {limit_ms:.0f} ms"


STALE_FLOOR_MS = 10_000  # one-second candles are published a moment late: never stale sooner


def stale(pair: str, last_open_ms: int | None, now_ms: int, tf_ms: int) -> str | None:
    """Candles stopped: the newest closed candle is more than two timeframes old (and 10 s)."""
    if last_open_ms is None:
        return f"{pair}: no candles"
    closed_ms = last_open_ms + tf_ms
    if now_ms - closed_ms > max(2 * tf_ms, STALE_FLOOR_MS):
        return f"{pair}: newest candle closed {(now_ms - closed_ms) // 1000} s ago, over two timeframes"
    return None


def too_volatile(pair: str, ranges: Sequence[float], k: float) -> str | None:
    """The newest candle's range (high - low, over close) is more than `k` times the average of the
    candles before it."""
    if len(ranges) < 2:
        return None
    *before, last = ranges
    average = sum(before) / len(before)
    if average > 0 and last > k * average:
        return f"{pair}: last candle's range {last:.2%} is {last / average:.1f}x its recent average {average:.2%}"
    return None
