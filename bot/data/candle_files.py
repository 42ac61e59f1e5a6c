"""Candle files on disk: freqtrade-compatible names and columns, merges where the newer copy of a
candle wins, and atomic writes so an interrupted download never damages what was stored."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import pandas as pd
import pyarrow as pa

from bot.errors import ConfigError
from bot.exchange.base import CANDLE_COLUMNS

DATE_DTYPE: Final = "datetime64[ns, UTC]"  # what freqtrade writes, so files are interchangeable
_PRICE_COLUMNS = CANDLE_COLUMNS[1:]
_UNSAFE_IN_NAME = re.compile(r"[/:\\]")  # 'BTC/USDT' -> 'BTC_USDT', 'BTC/USDT:USDT' -> 'BTC_USDT_USDT'


def candle_path(datadir: Path, exchange: str, pair: str, timeframe: str) -> Path:
    """`<datadir>/<exchange>/BTC_USDT-5m.feather`, the layout freqtrade and the backtester read."""
    return datadir / exchange / f"{_UNSAFE_IN_NAME.sub('_', pair)}-{timeframe}.feather"


def empty_candles() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "date": pd.Series([], dtype=DATE_DTYPE),
            **{column: pd.Series([], dtype="float64") for column in _PRICE_COLUMNS},
        }
    )


def candles_from_rows(rows: Sequence[Sequence[Any]]) -> pd.DataFrame:
    """A frame from ccxt's `[open_ms, open, high, low, close, volume]` rows (sorted, deduplicated)."""
    if not rows:
        return empty_candles()
    frame = pd.DataFrame([list(row[:6]) for row in rows], columns=list(CANDLE_COLUMNS))
    frame["date"] = pd.to_datetime(frame["date"].astype("int64"), unit="ms", utc=True)
    return _normalized(frame)


def read_candles(path: Path) -> pd.DataFrame:
    """The stored candles, or an empty frame when there is no file yet; a damaged file is a one-line
    ConfigError naming it (and is left as it is)."""
    if not path.exists():
        return empty_candles()
    try:
        frame = pd.read_feather(path)
    except (OSError, ValueError, pa.ArrowException) as e:
        raise ConfigError(
            f"{path}: not a readable candle file ({_one_line(e)}); move it away to download afresh"
        ) from None
    missing = [column for column in CANDLE_COLUMNS if column not in frame.columns]
    if missing:
        raise ConfigError(f"{path}: not a candle file, columns {missing} are missing")
    try:
        return _normalized(frame)
    except (ValueError, TypeError) as e:
        raise ConfigError(f"{path}: bad candle values ({_one_line(e)})") from None


def merge_candles(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Union of both frames, sorted by date; on equal dates the row from `new` wins."""
    if new.empty:
        return _normalized(old)
    if old.empty:
        return _normalized(new)
    return _normalized(pd.concat([_normalized(old), _normalized(new)], ignore_index=True))


def write_candles_atomic(path: Path, frame: pd.DataFrame) -> None:
    """Write to a temporary file next to `path`, fsync it, then rename it over `path`: readers and a
    crash at any moment see either the old file or the new one, never a torn one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    clean = _normalized(frame)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            clean.to_feather(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # only still there when something above failed
    _fsync_dir(path.parent)


def _normalized(frame: pd.DataFrame) -> pd.DataFrame:
    """Exactly the six columns with their dtypes, sorted by date, the last copy of a date kept."""
    out = pd.DataFrame({"date": pd.to_datetime(frame["date"], utc=True).astype(DATE_DTYPE)})
    for column in _PRICE_COLUMNS:
        out[column] = frame[column].astype("float64").to_numpy()
    out = out.sort_values("date", kind="stable").drop_duplicates("date", keep="last")
    return out.reset_index(drop=True)


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())[:200] or type(error).__name__
