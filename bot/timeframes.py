"""Timeframe strings ('5m', '1h') and candle-boundary arithmetic. Pure."""

from __future__ import annotations

import re

_UNIT_S = {"m": 60, "h": 3600, "d": 86400, "w": 604800}
_PATTERN = re.compile(r"^([1-9][0-9]*)([mhdw])$")


def timeframe_s(timeframe: str) -> int:
    """Seconds in one candle; raises ValueError with the accepted forms on a bad string."""
    match = _PATTERN.match(timeframe)
    if match is None:
        raise ValueError(f"bad timeframe {timeframe!r}, expected e.g. 1m, 5m, 15m, 1h, 4h, 1d")
    return int(match.group(1)) * _UNIT_S[match.group(2)]


def timeframe_ms(timeframe: str) -> int:
    return timeframe_s(timeframe) * 1000


def floor_ms(ts_ms: int, tf_ms: int) -> int:
    """Open time of the candle that contains `ts_ms`."""
    return ts_ms - ts_ms % tf_ms


def ceil_ms(ts_ms: int, tf_ms: int) -> int:
    """The first candle boundary at or after `ts_ms`."""
    return -(-ts_ms // tf_ms) * tf_ms
