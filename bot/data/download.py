"""`kestrel download-data`: page candles from a ccxt exchange into feather files. Resumes after the
last stored candle, stores closed candles only, and replaces a file only by an atomic rename."""

from __future__ import annotations

import difflib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import ccxt
import ccxt.async_support as ccxt_async
import pandas as pd
from loguru import logger
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from bot.candles import dates_ms
from bot.clock import iso_ms
from bot.data.candle_files import candle_path, candles_from_rows, merge_candles, read_candles, write_candles_atomic
from bot.data.progress import ProgressLine
from bot.errors import ConfigError, ExchangeError, KestrelError, TransientExchangeError
from bot.timeframes import ceil_ms, days_range, floor_ms, parse_timerange, timeframe_ms

__all__ = ["DownloadResult", "RetryPolicy", "days_range", "download", "parse_timerange"]


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to retry one failed request. Fetching candles is idempotent, so retrying is safe."""

    attempts: int = 5
    first_wait_s: float = 1.0  # doubled after every failure ...
    max_wait_s: float = 30.0  # ... up to this
    max_retry_after_s: float = 120.0  # a longer Retry-After (an IP ban, HTTP 418) ends the download instead


@dataclass(frozen=True)
class DownloadResult:
    """What one pair x timeframe ended with, for the summary the CLI prints."""

    pair: str
    timeframe: str
    path: Path
    candles_added: int
    first_ms: int | None  # open time of the oldest stored candle after the download; None if none
    last_ms: int | None  # open time of the newest stored candle after the download; None if none


@dataclass(frozen=True)
class _Range:
    start_ms: int
    end_ms: int  # exclusive
    resumes: bool  # continues the stored candles without a hole, so a partial result may be kept


async def download(
    *,
    exchange_name: str,
    pairs: Sequence[str],
    timeframes: Sequence[str],
    datadir: Path,
    since_ms: int,
    until_ms: int,
    now_ms: int,
    ccxt_config: Mapping[str, Any],
    progress: TextIO | None = None,
    page_limit: int = 1000,
    retry: RetryPolicy = RetryPolicy(),
) -> list[DownloadResult]:
    """Download candles opening in [since_ms, until_ms) for every pair x timeframe, closed by now_ms."""
    if since_ms >= until_ms:
        raise ConfigError(f"nothing to download: {iso_ms(since_ms)} is not before {iso_ms(until_ms)}")
    tf_ms = {tf: _checked_timeframe_ms(tf) for tf in timeframes}
    jobs = [(pair, tf, candle_path(datadir, exchange_name, pair, tf)) for pair in pairs for tf in timeframes]
    for _, _, path in jobs:
        read_candles(path)  # a damaged file stops us before any request, and stays as it is
    exchange = _build_exchange(exchange_name, ccxt_config)
    try:
        venue = _Venue(exchange, exchange_name, retry)
        await venue.call("load_markets", exchange.load_markets)
        _check_offered(exchange, exchange_name, pairs, timeframes)
        results = []
        for pair, tf, path in jobs:
            bar = ProgressLine(progress, f"{pair} {tf}")
            end_ms = min(until_ms, floor_ms(now_ms, tf_ms[tf]))  # later candles are not closed at now_ms
            results.append(
                await _download_one(
                    venue, pair=pair, tf=tf, path=path, since_ms=since_ms, end_ms=end_ms, page_limit=page_limit, bar=bar
                )
            )
        return results
    finally:
        await exchange.close()


async def _download_one(
    venue: _Venue, *, pair: str, tf: str, path: Path, since_ms: int, end_ms: int, page_limit: int, bar: ProgressLine
) -> DownloadResult:
    tf_ms = timeframe_ms(tf)
    stored = read_candles(path)
    ranges = _ranges(stored, ceil_ms(since_ms, tf_ms), end_ms, tf_ms)
    bar.start(sum(-(-(r.end_ms - r.start_ms) // tf_ms) for r in ranges))
    rows: list[list[Any]] = []
    for part in ranges:
        fetched: list[list[Any]] = []
        try:
            async for page in venue.pages(pair, tf, part, page_limit):
                fetched.extend(page)
                bar.update(len(rows) + len(fetched))
        except KestrelError:
            bar.stop()
            kept = rows + (fetched if part.resumes else [])  # only what joins up with the stored candles
            if kept:  # so the next run resumes after it instead of starting over
                write_candles_atomic(path, merge_candles(stored, candles_from_rows(kept)))
            raise
        rows.extend(fetched)
    merged = merge_candles(stored, candles_from_rows(rows)) if rows else stored
    if rows:
        write_candles_atomic(path, merged)
    bar.finish(len(rows))
    stamps = dates_ms(merged["date"])
    return DownloadResult(
        pair=pair,
        timeframe=tf,
        path=path,
        candles_added=len(merged) - len(stored),
        first_ms=int(stamps[0]) if len(stamps) else None,
        last_ms=int(stamps[-1]) if len(stamps) else None,
    )


def _ranges(stored: pd.DataFrame, start_ms: int, end_ms: int, tf_ms: int) -> list[_Range]:
    """What is missing: history before the first stored candle, then everything after the last."""
    if stored.empty:
        return [_Range(start_ms, end_ms, resumes=True)] if start_ms < end_ms else []
    stamps = dates_ms(stored["date"])
    first_ms, last_ms = int(stamps[0]), int(stamps[-1])
    out = []
    if start_ms < min(first_ms, end_ms):
        out.append(_Range(start_ms, min(first_ms, end_ms), resumes=False))
    resume_ms = max(start_ms, last_ms + tf_ms)
    if resume_ms < end_ms:
        out.append(_Range(resume_ms, end_ms, resumes=True))
    return out


class _Venue:
    """The ccxt exchange behind retries (transient failures only) and error translation."""

    def __init__(self, exchange: Any, name: str, retry: RetryPolicy) -> None:
        self._exchange = exchange
        self._name = name
        self._retry = retry

    async def pages(self, pair: str, tf: str, part: _Range, limit: int) -> AsyncIterator[list[list[Any]]]:
        """Pages of candles in [start, end), oldest first; ends at an empty page or one that does
        not move forward (some exchanges repeat their last page instead of returning nothing)."""
        cursor_ms = part.start_ms
        while cursor_ms < part.end_ms:
            action = f"fetch_ohlcv {pair} {tf} from {iso_ms(cursor_ms)}"
            # No "until" param: not every ccxt exchange maps it, so the overshoot is cut off here instead.
            raw = await self.call(action, self._exchange.fetch_ohlcv, pair, tf, cursor_ms, limit)
            page = [list(row) for row in raw if cursor_ms <= int(row[0]) < part.end_ms]
            if not page:
                return
            yield page
            cursor_ms = max(int(row[0]) for row in page) + timeframe_ms(tf)

    async def call(self, action: str, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(ccxt.OperationFailed),
            stop=self._should_stop,
            wait=self._wait_s,
            before_sleep=lambda state: self._log_retry(action, state),
            reraise=True,
        )
        try:
            return await retrying(fn, *args)
        # OperationFailed, not just NetworkError: Binance answers an overloaded 503 with
        # {"code":-1001} or {"code":-1008}, which ccxt raises as OperationFailed.
        except ccxt.OperationFailed as e:
            attempts = retrying.statistics.get("attempt_number", 1)
            tries = "once" if attempts == 1 else f"{attempts} times"
            raise TransientExchangeError(f"{self._name}: {action} failed {tries}: {_one_line(e)}") from e
        except ccxt.BaseError as e:
            raise ExchangeError(f"{self._name}: {action}: {_one_line(e)}") from e

    def _should_stop(self, state: RetryCallState) -> bool:
        retry_after_s = self._retry_after_s(state)
        too_long = retry_after_s is not None and retry_after_s > self._retry.max_retry_after_s
        return too_long or stop_after_attempt(self._retry.attempts)(state)

    def _wait_s(self, state: RetryCallState) -> float:
        backoff_s = min(self._retry.max_wait_s, self._retry.first_wait_s * 2.0 ** (state.attempt_number - 1))
        return max(backoff_s, self._retry_after_s(state) or 0.0)

    def _retry_after_s(self, state: RetryCallState) -> float | None:
        """The server's Retry-After on a 418/429 (ccxt keeps the last response's headers)."""
        error = state.outcome.exception() if state.outcome is not None else None
        if not isinstance(error, ccxt.DDoSProtection):
            return None
        headers = getattr(self._exchange, "last_response_headers", None) or {}
        value = next((v for k, v in headers.items() if str(k).lower() == "retry-after"), None)
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None

    def _log_retry(self, action: str, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        wait_s = float(state.next_action.sleep) if state.next_action is not None else 0.0
        logger.warning("{}: {} failed ({}), retry in {:.1f}s", self._name, action, _one_line(error), wait_s)


def _build_exchange(name: str, ccxt_config: Mapping[str, Any]) -> Any:
    if name not in ccxt_async.exchanges:
        raise ConfigError(f"exchange {name!r} is not a ccxt exchange (see ccxt.exchanges for the names)")
    return getattr(ccxt_async, name)(dict(ccxt_config))


def _check_offered(exchange: Any, name: str, pairs: Sequence[str], timeframes: Sequence[str]) -> None:
    markets = exchange.markets or {}
    for pair in pairs:
        if pair not in markets:
            close = difflib.get_close_matches(pair, list(markets), n=1)
            hint = f", did you mean {close[0]}?" if close else ""
            raise ConfigError(f"{name}: pair {pair!r} is not a market on this exchange{hint}")
    offered = exchange.timeframes or {}
    for tf in timeframes:
        if offered and tf not in offered:
            raise ConfigError(f"{name}: timeframe {tf!r} is not offered, choose one of {', '.join(offered)}")


def _checked_timeframe_ms(tf: str) -> int:
    try:
        return timeframe_ms(tf)
    except ValueError as e:
        raise ConfigError(str(e)) from None


def _one_line(error: BaseException | None) -> str:
    return " ".join(str(error).split())[:300] or type(error).__name__
