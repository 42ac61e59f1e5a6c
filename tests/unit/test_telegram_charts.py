"""The /chart and /equity PNGs: right size, valid PNG, same bytes for the same data, marks and levels
drawn, thinning that keeps the worst tick, hand-checked drawdowns, clear errors."""

from __future__ import annotations

import struct
import subprocess
import sys
import time
import zlib
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from bot.errors import KestrelError
from bot.telegram.charts import (
    ChartError,
    TradeMark,
    candle_chart_png,
    downsample_minmax,
    drawdown_frac,
    equity_chart_png,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
T0 = 1_700_000_000_000
HOUR = 3_600_000


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from IHDR, after checking the chunk CRCs and that the pixel data inflates to
    exactly the size IHDR announces (a real decode, without Pillow)."""
    assert data[:8] == PNG_SIGNATURE
    pos, chunks = 8, dict[bytes, bytes]()
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, kind
        chunks[kind] = chunks.get(kind, b"") + body
        pos += 12 + length
    assert data.endswith(b"IEND\xaeB`\x82")
    width, height, depth, colour_type = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    channels = {2: 3, 6: 4}[colour_type]
    assert depth == 8
    assert len(zlib.decompress(chunks[b"IDAT"])) == height * (1 + width * channels)
    return width, height


def make_candles(n: int, seed: int = 7, start_ms: int = T0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.004, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.004, n))
    date = start_ms + np.arange(n, dtype=np.int64) * HOUR
    return pd.DataFrame(
        {"date": date, "open": open_, "high": high, "low": low, "close": close, "volume": 1 + rng.random(n) * 9}
    )


def chart(df: pd.DataFrame, marks: list[TradeMark] | None = None, **kw: Decimal) -> bytes:
    return candle_chart_png(df, marks or [], pair="BTC/USDT", timeframe="1h", **kw)


def mark_at(df: pd.DataFrame, i: int, side: str, label: str = "") -> TradeMark:
    return TradeMark(int(df["date"].iloc[i]), Decimal(str(round(float(df["close"].iloc[i]), 2))), side, label)


def equity_samples(n: int, seed: int = 3) -> list[tuple[int, Decimal]]:
    rng = np.random.default_rng(seed)
    values = 1000 * np.exp(np.cumsum(rng.normal(0, 0.0005, n)))
    return [(T0 + i * 60_000, Decimal(f"{v:.2f}")) for i, v in enumerate(values)]


@pytest.fixture(scope="module")
def candles() -> pd.DataFrame:
    return make_candles(120)


@pytest.fixture(scope="module")
def plain(candles: pd.DataFrame) -> bytes:
    return chart(candles)


def test_candle_chart_is_a_1000_by_600_png_and_repeatable(candles: pd.DataFrame, plain: bytes) -> None:
    assert png_size(plain) == (1000, 600)
    assert chart(candles) == plain


def test_marks_and_levels_each_change_the_image(candles: pd.DataFrame, plain: bytes) -> None:
    entry = mark_at(candles, 40, "entry", "#1")
    exit_ = mark_at(candles, 80, "exit", "#1 stop_loss -1.2%")
    images = {
        plain,
        chart(candles, [entry]),
        chart(candles, [entry, exit_]),
        chart(candles, stop_price=Decimal("95")),
        chart(candles, take_profit_price=Decimal("105")),
    }
    assert len(images) == 5


def test_only_the_last_200_candles_and_the_marks_in_them_are_drawn() -> None:
    df = make_candles(230)
    last_200 = chart(df.iloc[-200:].reset_index(drop=True))
    too_early = mark_at(df, 10, "entry", "old")  # before the window: left out
    too_late = TradeMark(int(df["date"].iloc[-1]) + 5 * HOUR, Decimal(100), "exit")
    assert chart(df, [too_early, too_late]) == last_200  # 30 more candles or a stray mark would show
    assert chart(df, [mark_at(df, 220, "entry")]) != last_200


def test_datetime_dates_draw_like_epoch_milliseconds(candles: pd.DataFrame, plain: bytes) -> None:
    as_datetimes = candles.assign(date=pd.to_datetime(candles["date"], unit="ms", utc=True))
    assert chart(as_datetimes) == plain


def test_no_candles_is_a_chart_error_naming_the_pair(candles: pd.DataFrame) -> None:
    with pytest.raises(ChartError, match=r"^no candles for ETH/BTC$"):
        candle_chart_png(candles.iloc[0:0], [], pair="ETH/BTC", timeframe="5m")
    with pytest.raises(ChartError, match=r"ETH/BTC.*volume"):
        candle_chart_png(candles.drop(columns="volume"), [], pair="ETH/BTC", timeframe="5m")
    assert issubclass(ChartError, KestrelError)


def test_a_mark_is_an_entry_or_an_exit() -> None:
    with pytest.raises(ValueError, match="side"):
        TradeMark(T0, Decimal(1), "buy")


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([100, 110, 99, 121, 108.9, 133.1], [0, 0, -0.1, 0, -0.1, 0]),
        ([50, 40, 30, 45, 60], [0, -0.2, -0.4, -0.1, 0]),
        ([10, 10, 10], [0, 0, 0]),
        ([0, 0, 5, 4], [0, 0, 0, -0.2]),  # no positive high-water mark yet: no drawdown
    ],
)
def test_drawdown_from_the_high_water_mark(values: list[float], expected: list[float]) -> None:
    got = drawdown_frac(values)
    np.testing.assert_allclose(got, expected, atol=1e-12)
    assert (got <= 0).all()


def test_thinning_keeps_the_single_lowest_and_highest_point() -> None:
    n = 10_000
    xs = np.arange(n)
    ys = np.full(n, 100.0)
    ys[::2] = 101.0  # wiggle, so a stride could never tell the extremes apart
    ys[6_543] = 1.0  # the one bad tick
    ys[9_001] = 500.0
    tx, ty = downsample_minmax(xs, ys, max_points=200)
    assert len(tx) <= 200
    assert ty.min() == 1.0
    assert tx[np.argmin(ty)] == 6_543
    assert ty.max() == 500.0
    assert (np.diff(tx) > 0).all()  # still in time order
    assert (tx[0], tx[-1]) == (0, n - 1)  # the line spans the whole period
    assert np.array_equal(ty, ys[tx])  # real samples, not averages


def test_short_series_are_not_thinned() -> None:
    tx, ty = downsample_minmax([1, 2, 3], [3.0, 1.0, 2.0], max_points=4)
    assert tx.tolist() == [1, 2, 3]
    assert ty.tolist() == [3.0, 1.0, 2.0]


def test_equity_chart_of_100k_samples_is_quick_and_keeps_a_one_tick_dip() -> None:
    samples = equity_samples(100_000)
    dipped = list(samples)
    ts, value = dipped[61_234]
    dipped[61_234] = (ts, value * Decimal("0.7"))
    started = time.perf_counter()
    png = equity_chart_png(samples, currency="USDT")
    elapsed = time.perf_counter() - started
    assert png_size(png) == (1000, 600)
    assert elapsed < 2.0, f"100k samples took {elapsed:.2f} s"
    assert equity_chart_png(dipped, currency="USDT") != png  # a stride of 50 would most likely miss it


def test_equity_chart_is_a_1000_by_600_png_and_repeatable() -> None:
    samples = equity_samples(500)
    png = equity_chart_png(samples, currency="USDT")
    assert png_size(png) == (1000, 600)
    assert equity_chart_png(samples, currency="USDT") == png
    flat = [(T0, Decimal(1000)), (T0 + HOUR, Decimal(1000))]  # no drawdown at all still draws
    assert png_size(equity_chart_png(flat, currency="USDT")) == (1000, 600)


def test_equity_needs_two_samples() -> None:
    with pytest.raises(ChartError, match="2 equity samples"):
        equity_chart_png([(T0, Decimal(1000))], currency="USDT")
    with pytest.raises(ChartError, match="2 equity samples"):
        equity_chart_png([], currency="USDT")


def test_import_is_cheap_and_rendering_never_touches_pyplot() -> None:
    code = (
        "import sys, bot.telegram.charts as c\n"
        "heavy = ('matplotlib', 'numpy', 'pandas', 'telegram', 'sqlmodel', 'sqlalchemy', 'ccxt', 'loguru')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
        "from decimal import Decimal\n"
        "c.equity_chart_png([(0, Decimal(1)), (60000, Decimal(2))], currency='USDT')\n"
        "print('matplotlib.pyplot' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:2] == ["[]", "False"]
