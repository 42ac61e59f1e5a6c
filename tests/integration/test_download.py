"""`kestrel download-data` end to end: the real ccxt binance class pages candles from a fake Binance
server on 127.0.0.1 into feather files."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import ccxt.async_support
import pandas as pd
import pytest
from aiohttp import web

from bot.data.candle_files import candle_path, merge_candles
from bot.data.download import DownloadResult, RetryPolicy, days_range, download, parse_timerange
from bot.errors import ConfigError, ExchangeError, TransientExchangeError
from tests.fakes.binance_http import (
    EXCHANGE_INFO_DUMP,
    FALLBACK_SYMBOLS,
    BinanceApiError,
    FakeBinance,
    Kline,
    ccxt_config_for,
    dump_symbols,
    generate_klines,
)

T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC
M5 = 300_000
H1 = 3_600_000
DAY = 86_400_000
FAST_RETRY = RetryPolicy(attempts=3, first_wait_s=0.01, max_wait_s=0.05)


@pytest.fixture
async def fake() -> AsyncIterator[FakeBinance]:
    async with FakeBinance() as server:
        yield server


async def run(
    fake: FakeBinance,
    datadir: Path,
    *,
    now_ms: int,
    pairs: Sequence[str] = ("BTC/USDT",),
    timeframes: Sequence[str] = ("5m",),
    since_ms: int = T0,
    page_limit: int = 100,
    timeout_ms: int = 2000,
    progress: io.StringIO | None = None,
) -> list[DownloadResult]:
    return await download(
        exchange_name="binance",
        pairs=pairs,
        timeframes=timeframes,
        datadir=datadir,
        since_ms=since_ms,
        until_ms=now_ms,
        now_ms=now_ms,
        ccxt_config=ccxt_config_for(fake.base_url, timeout_ms=timeout_ms),
        progress=progress,
        page_limit=page_limit,
        retry=FAST_RETRY,
    )


def frame_of(klines: Sequence[Kline]) -> pd.DataFrame:
    """What the file must hold for these server candles: open times in UTC, floats unchanged."""
    dates = pd.to_datetime([k[0] for k in klines], unit="ms", utc=True).astype("datetime64[ns, UTC]")
    columns: dict[str, Any] = {"date": dates}
    for i, name in enumerate(("open", "high", "low", "close", "volume"), start=1):
        columns[name] = pd.Series([k[i] for k in klines], dtype="float64")
    return pd.DataFrame(columns)


def stored(datadir: Path, pair: str = "BTC/USDT", timeframe: str = "5m") -> pd.DataFrame:
    return pd.read_feather(candle_path(datadir, "binance", pair, timeframe))


def start_times(fake: FakeBinance, symbol: str = "BTCUSDT", interval: str = "5m") -> list[int]:
    return [
        int(r.query["startTime"])
        for r in fake.requests_to("klines")
        if r.query["symbol"] == symbol and r.query["interval"] == interval
    ]


async def test_downloads_two_pairs_and_two_timeframes_page_by_page(fake: FakeBinance, tmp_path: Path) -> None:
    candles = {
        ("BTCUSDT", "5m"): generate_klines(T0, "5m", 350, seed=1, start_price=42000),
        ("ETHUSDT", "5m"): generate_klines(T0, "5m", 350, seed=2, start_price=2300),
        ("BTCUSDT", "1h"): generate_klines(T0, "1h", 130, seed=3, start_price=42000),
        ("ETHUSDT", "1h"): generate_klines(T0, "1h", 130, seed=4, start_price=2300),
    }
    for (symbol, interval), klines in candles.items():
        fake.set_klines(symbol, interval, klines)
    progress = io.StringIO()

    results = await run(
        fake,
        tmp_path,
        now_ms=T0 + 130 * H1 + 1,
        pairs=["BTC/USDT", "ETH/USDT"],
        timeframes=["5m", "1h"],
        progress=progress,
    )

    assert [(r.pair, r.timeframe, r.candles_added) for r in results] == [
        ("BTC/USDT", "5m", 350),
        ("BTC/USDT", "1h", 130),
        ("ETH/USDT", "5m", 350),
        ("ETH/USDT", "1h", 130),
    ]
    assert results[0].path == tmp_path / "binance" / "BTC_USDT-5m.feather"
    assert sorted(p.name for p in (tmp_path / "binance").iterdir()) == [  # no temporary files left behind
        "BTC_USDT-1h.feather",
        "BTC_USDT-5m.feather",
        "ETH_USDT-1h.feather",
        "ETH_USDT-5m.feather",
    ]
    assert (results[0].first_ms, results[0].last_ms) == (T0, T0 + 349 * M5)
    # ccxt paged: 100 candles per request, each page starting after the previous one's last candle
    assert start_times(fake, "BTCUSDT", "5m") == [T0 + i * M5 for i in (0, 100, 200, 300, 350)]
    assert start_times(fake, "ETHUSDT", "1h") == [T0, T0 + 100 * H1]
    assert {r.query["limit"] for r in fake.requests_to("klines")} == {"100"}
    assert [r.path for r in fake.requests if r.path != "/api/v3/klines"] == ["/api/v3/exchangeInfo"]  # spot only
    for (symbol, interval), klines in candles.items():
        df = stored(tmp_path, symbol.replace("USDT", "/USDT"), interval)
        assert list(df.columns) == ["date", "open", "high", "low", "close", "volume"]
        assert [str(t) for t in df.dtypes] == ["datetime64[ns, UTC]"] + ["float64"] * 5
        assert df["date"].iloc[0] == pd.Timestamp("2024-01-01 00:00", tz="UTC")  # open time, not close
        pd.testing.assert_frame_equal(df, frame_of(klines), check_exact=True)
    finished = [line.rsplit("\r", 1)[-1] for line in progress.getvalue().split("\n") if line]
    assert finished == [
        f"{pair} {tf} [{'#' * 20}] 100% {n} candles"
        for pair, tf, n in [
            ("BTC/USDT", "5m", 350),
            ("BTC/USDT", "1h", 130),
            ("ETH/USDT", "5m", 350),
            ("ETH/USDT", "1h", 130),
        ]
    ]
    assert progress.getvalue().split("\n")[0].count("\r") >= 5  # redrawn as pages arrive


async def test_a_second_run_resumes_after_the_last_stored_candle(fake: FakeBinance, tmp_path: Path) -> None:
    klines = generate_klines(T0, "5m", 370)
    fake.set_klines("BTCUSDT", "5m", klines[:250])
    await run(fake, tmp_path, now_ms=T0 + 250 * M5)
    assert len(stored(tmp_path)) == 250
    fake.set_klines("BTCUSDT", "5m", klines)
    fake.add_klines("BTCUSDT", "5m", [(T0, 1.0, 1.0, 1.0, 1.0, 1.0)])  # a changed old candle must not be fetched
    fake.requests.clear()

    [result] = await run(fake, tmp_path, now_ms=T0 + 370 * M5)

    assert start_times(fake) == [T0 + 250 * M5, T0 + 350 * M5]
    assert result.candles_added == 120
    pd.testing.assert_frame_equal(stored(tmp_path), frame_of(klines), check_exact=True)


async def test_an_earlier_start_fetches_the_missing_history_too(fake: FakeBinance, tmp_path: Path) -> None:
    klines = generate_klines(T0, "5m", 300)
    fake.set_klines("BTCUSDT", "5m", klines)
    await run(fake, tmp_path, now_ms=T0 + 300 * M5, since_ms=T0 + 100 * M5)
    fake.requests.clear()

    [result] = await run(fake, tmp_path, now_ms=T0 + 300 * M5, since_ms=T0)

    assert start_times(fake) == [T0]  # one page of 100 fills the hole up to the first stored candle
    assert result.candles_added == 100
    pd.testing.assert_frame_equal(stored(tmp_path), frame_of(klines), check_exact=True)


async def test_the_candle_in_progress_is_stored_only_once_closed(fake: FakeBinance, tmp_path: Path) -> None:
    klines = generate_klines(T0, "5m", 102)
    forming = (T0 + 100 * M5, 50.0, 51.0, 49.0, 50.5, 3.0)  # what the exchange shows 2 minutes in
    fake.set_klines("BTCUSDT", "5m", [*klines[:100], forming])

    [first] = await run(fake, tmp_path, now_ms=T0 + 100 * M5 + 120_000, page_limit=1000)

    [page] = fake.requests_to("klines")
    assert page.query["startTime"] == str(T0) and "endTime" not in page.query  # the server did send it
    assert (first.candles_added, first.last_ms) == (100, T0 + 99 * M5)
    pd.testing.assert_frame_equal(stored(tmp_path), frame_of(klines[:100]), check_exact=True)
    fake.add_klines("BTCUSDT", "5m", klines[100:])  # the candle closed with other values; the next forms

    [second] = await run(fake, tmp_path, now_ms=T0 + 101 * M5 + 60_000, page_limit=1000)

    assert (second.candles_added, second.last_ms) == (1, T0 + 100 * M5)
    pd.testing.assert_frame_equal(stored(tmp_path), frame_of(klines[:101]), check_exact=True)


@pytest.mark.parametrize(
    "body",
    [None, "<html><body><h1>503 Service Unavailable</h1></body></html>"],
    ids=["binance-json-1001", "proxy-html"],
)
async def test_503_twice_is_retried_and_the_result_complete(
    fake: FakeBinance, tmp_path: Path, body: str | None
) -> None:
    klines = generate_klines(T0, "5m", 150)
    fake.set_klines("BTCUSDT", "5m", klines)
    fake.fail_next("klines", status=503, times=2, body=body)

    [result] = await run(fake, tmp_path, now_ms=T0 + 150 * M5)

    assert [r.status for r in fake.requests_to("klines")] == [503, 503, 200, 200]
    assert start_times(fake) == [T0, T0, T0, T0 + 100 * M5]
    assert result.candles_added == 150
    pd.testing.assert_frame_equal(stored(tmp_path), frame_of(klines), check_exact=True)


async def test_a_timeout_is_retried(fake: FakeBinance, tmp_path: Path) -> None:
    klines = generate_klines(T0, "5m", 150)
    fake.set_klines("BTCUSDT", "5m", klines)
    fake.delay_next("klines", 1.0)

    await run(fake, tmp_path, now_ms=T0 + 150 * M5, timeout_ms=200)

    assert start_times(fake) == [T0, T0, T0 + 100 * M5]
    pd.testing.assert_frame_equal(stored(tmp_path), frame_of(klines), check_exact=True)


async def test_a_429_waits_as_long_as_retry_after_says(fake: FakeBinance, tmp_path: Path) -> None:
    fake.set_klines("BTCUSDT", "5m", generate_klines(T0, "5m", 50))
    fake.rate_limit_next("klines", retry_after_s=1)

    [result] = await run(fake, tmp_path, now_ms=T0 + 50 * M5)

    first, second = fake.requests_to("klines")
    assert (first.status, second.status) == (429, 200)
    assert second.at_s - first.at_s >= 0.95  # FAST_RETRY alone would wait 0.01 s
    assert result.candles_added == 50


async def test_an_ip_ban_longer_than_allowed_fails_at_once(fake: FakeBinance, tmp_path: Path) -> None:
    fake.set_klines("BTCUSDT", "5m", generate_klines(T0, "5m", 50))
    fake.rate_limit_next("klines", status=418, retry_after_s=3600)

    with pytest.raises(TransientExchangeError, match=r"BTC/USDT 5m") as caught:
        await run(fake, tmp_path, now_ms=T0 + 50 * M5)

    assert "\n" not in str(caught.value)
    assert len(fake.requests_to("klines")) == 1


async def test_exhausted_retries_keep_the_pages_already_fetched(fake: FakeBinance, tmp_path: Path) -> None:
    klines = generate_klines(T0, "5m", 350)
    fake.set_klines("BTCUSDT", "5m", klines)
    serve = fake.routes[("GET", "/api/v3/klines")]

    async def broken_third_page(request: web.Request) -> web.StreamResponse:
        if request.query["startTime"] == str(T0 + 200 * M5):
            raise BinanceApiError(503, -1001, "Internal error; unable to process your request. Please try again.")
        return await serve(request)

    fake.routes[("GET", "/api/v3/klines")] = broken_third_page
    with pytest.raises(TransientExchangeError, match=r"failed 3 times") as caught:
        await run(fake, tmp_path, now_ms=T0 + 350 * M5)
    assert "\n" not in str(caught.value)
    pd.testing.assert_frame_equal(stored(tmp_path), frame_of(klines[:200]), check_exact=True)

    fake.routes[("GET", "/api/v3/klines")] = serve
    fake.requests.clear()
    await run(fake, tmp_path, now_ms=T0 + 350 * M5)
    assert start_times(fake) == [T0 + 200 * M5, T0 + 300 * M5]
    pd.testing.assert_frame_equal(stored(tmp_path), frame_of(klines), check_exact=True)


async def test_a_refused_request_is_not_retried(fake: FakeBinance, tmp_path: Path) -> None:
    fake.set_klines("BTCUSDT", "5m", generate_klines(T0, "5m", 50))
    fake.fail_next("klines", status=400, body={"code": -1121, "msg": "Invalid symbol."})

    with pytest.raises(ExchangeError, match=r"binance: fetch_ohlcv BTC/USDT 5m .*Invalid symbol") as caught:
        await run(fake, tmp_path, now_ms=T0 + 50 * M5)

    assert not isinstance(caught.value, TransientExchangeError)
    assert "\n" not in str(caught.value)
    assert len(fake.requests_to("klines")) == 1


async def test_an_unknown_pair_is_one_line_naming_it(fake: FakeBinance, tmp_path: Path) -> None:
    fake.set_klines("BTCUSDT", "5m", generate_klines(T0, "5m", 50))

    with pytest.raises(ConfigError, match=r"'DOGE/USDT' is not a market") as caught:
        await run(fake, tmp_path, now_ms=T0 + 50 * M5, pairs=["BTC/USDT", "DOGE/USDT"])

    assert "\n" not in str(caught.value)
    assert fake.requests_to("klines") == []
    assert not (tmp_path / "binance").exists()


async def test_a_pair_without_slash_gets_a_hint(fake: FakeBinance, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'BTCUSDT' is not a market on this exchange, did you mean BTC/USDT\?"):
        await run(fake, tmp_path, now_ms=T0 + 50 * M5, pairs=["BTCUSDT"])


async def test_a_corrupt_file_is_one_line_naming_it_and_left_alone(fake: FakeBinance, tmp_path: Path) -> None:
    fake.set_klines("BTCUSDT", "5m", generate_klines(T0, "5m", 50))
    fake.set_klines("ETHUSDT", "5m", generate_klines(T0, "5m", 50))
    broken = candle_path(tmp_path, "binance", "ETH/USDT", "5m")
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"ARROW1 but then the disk filled up")

    with pytest.raises(ConfigError) as caught:
        await run(fake, tmp_path, now_ms=T0 + 50 * M5, pairs=["BTC/USDT", "ETH/USDT"])

    assert str(broken) in str(caught.value)
    assert "\n" not in str(caught.value)
    assert broken.read_bytes() == b"ARROW1 but then the disk filled up"
    assert fake.requests_to("klines") == []  # checked before downloading anything
    assert sorted(p.name for p in broken.parent.iterdir()) == ["ETH_USDT-5m.feather"]


async def test_the_ccxt_config_sends_every_api_family_to_the_fake(fake: FakeBinance) -> None:
    exchange = ccxt.async_support.binance(ccxt_config_for(fake.base_url))
    try:
        assert len(exchange.urls["api"]) > 10
        assert {name for name, url in exchange.urls["api"].items() if not url.startswith(fake.base_url + "/")} == set()
        await exchange.load_markets()
    finally:
        await exchange.close()
    assert [r.path for r in fake.requests] == ["/api/v3/exchangeInfo"]
    assert exchange.markets["SOL/USDT"]["precision"]["price"] == 0.001  # the exchangeInfo filters were read


async def test_an_unknown_exchange_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^exchange 'binancee' is not a ccxt exchange") as caught:
        await download(
            exchange_name="binancee",
            pairs=["BTC/USDT"],
            timeframes=["5m"],
            datadir=tmp_path,
            since_ms=T0,
            until_ms=T0 + DAY,
            now_ms=T0 + DAY,
            ccxt_config={},
        )
    assert "\n" not in str(caught.value)


def test_merge_keeps_one_row_per_date_and_the_new_one_wins() -> None:
    def flat(ts_ms: int, price: float) -> Kline:
        return (ts_ms, price, price, price, price, price)

    old = frame_of([flat(T0, 1.0), flat(T0 + M5, 2.0)])
    new = frame_of([flat(T0 + 2 * M5, 3.0), flat(T0 + M5, 9.0)])
    new["date"] = new["date"].astype("datetime64[ms, UTC]")  # another resolution, same instants

    merged = merge_candles(old, new)

    expected = frame_of([flat(T0, 1.0), flat(T0 + M5, 9.0), flat(T0 + 2 * M5, 3.0)])
    pd.testing.assert_frame_equal(merged, expected, check_exact=True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20240101-20240201", (T0, T0 + 31 * DAY)),
        ("20240101-", (T0, T0 + 40 * DAY)),
        ("-20240102", (0, T0 + DAY)),
    ],
)
def test_parse_timerange(text: str, expected: tuple[int, int]) -> None:
    assert parse_timerange(text, now_ms=T0 + 40 * DAY) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("20240101", r"expected YYYYMMDD-YYYYMMDD"),
        ("-", r"expected YYYYMMDD-YYYYMMDD"),
        ("2024-01-01", r"bad date '2024'"),
        ("20240132-", r"bad date '20240132'"),
        ("20240201-20240101", r"ends before it starts"),
    ],
)
def test_parse_timerange_rejects_in_one_line(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        parse_timerange(text, now_ms=T0)
    assert "\n" not in str(caught.value)


def test_days_range() -> None:
    assert days_range(3, T0) == (T0 - 3 * DAY, T0)
    with pytest.raises(ValueError, match="--days must be 1 or more"):
        days_range(0, T0)


@pytest.mark.shared
@pytest.mark.skipif(not EXCHANGE_INFO_DUMP.exists(), reason="needs ../shared")
def test_the_built_in_markets_equal_the_real_dump() -> None:
    real = dump_symbols()
    assert {s: real[s] for s in FALLBACK_SYMBOLS} == FALLBACK_SYMBOLS
