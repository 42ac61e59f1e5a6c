"""Timeframe strings ('5m', '1h') and candle-boundary arithmetic. Pure."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
DAY_MS = 86_400_000
_PATTERN = re.compile(r"^([1-9][0-9]*)([smhdw])$")


def timeframe_s(timeframe: str) -> int:
    """Seconds in one candle; raises ValueError with the accepted forms on a bad string."""
    match = _PATTERN.match(timeframe)
    if match is None:
        raise ValueError(f"bad timeframe {timeframe!r}, expected e.g. 1s, 1m, 5m, 15m, 1h, 4h, 1d")
    return int(match.group(1)) * _UNIT_S[match.group(2)]


def timeframe_ms(timeframe: str) -> int:
    return timeframe_s(timeframe) * 1000


def floor_ms(ts_ms: int, tf_ms: int) -> int:
    """Open time of the candle that contains `ts_ms`."""
    return ts_ms - ts_ms % tf_ms


def ceil_ms(ts_ms: int, tf_ms: int) -> int:
    """The first candle boundary at or after `ts_ms`."""
    return -(-ts_ms // tf_ms) * tf_ms


def days_range(days: int, now_ms: int) -> tuple[int, int]:
    """`--days N`: (since_ms, until_ms) covering the last N days up to now."""
    if days < 1:
        raise ValueError(f"--days must be 1 or more, got {days}")
    return now_ms - days * DAY_MS, now_ms


def parse_timerange(text: str, *, now_ms: int) -> tuple[int, int]:
    """`YYYYMMDD-YYYYMMDD` -> (since_ms, until_ms), UTC midnights, the end exclusive. An empty start
    means the exchange's first candle, an empty end means now."""
    start_text, sep, end_text = text.strip().partition("-")
    if not sep or not (start_text or end_text):
        raise ValueError(f"bad timerange {text!r}, expected YYYYMMDD-YYYYMMDD (one side may be empty)")
    since_ms = _parse_day_ms(start_text, text) if start_text else 0
    until_ms = _parse_day_ms(end_text, text) if end_text else now_ms
    if since_ms >= until_ms:
        raise ValueError(f"timerange {text!r} ends before it starts")
    return since_ms, until_ms


def _parse_day_ms(day: str, text: str) -> int:
    try:
        parsed = datetime.strptime(day, "%Y%m%d").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"bad date {day!r} in timerange {text!r}, expected YYYYMMDD") from None
    return int(parsed.timestamp() * 1000)
