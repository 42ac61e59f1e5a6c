"""Synthetic 5m candles for benchmarks: a seeded block bootstrap of real candle shapes.

Each synthetic pair is a chain of random blocks (12 h by default) cut from real 5m files. A block
carries the candles' shapes, not their prices: the log gap from the previous close, the log body,
both log wicks and the quote volume relative to its source pair's mean. The chain is rebuilt from a
random start price, with each source pair's mean log return removed so no pair inherits the 2024
trend, and prices are rounded to a tick of about five significant digits of the start price.

Pair i depends only on (seed, i) and the source files, so SYN001 is the same file whether 20 or
100 pairs are made. Output: freqtrade-style `SYN001_USDT-5m.feather` files with date (UTC),
open, high, low, close, volume as float64.

    python benchmarks/make_candles.py --pairs 100 --days 365 --seed 42 --out /tmp/syn
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

DEFAULT_SRC = Path("/work/shared/data/ohlcv")
SOURCE_GLOB = "*_USDT-5m.feather"
TF_MS = 5 * 60 * 1000
CANDLES_PER_DAY = 288
DEFAULT_START = "2024-01-01T00:00:00+00:00"
START_PRICE_LOG10 = (-3.0, 4.5)  # start prices from 0.001 to about 30,000
QUOTE_VOLUME_LOG10 = (4.0, 6.5)  # mean quote volume per candle, 10k to about 3M
TICK_DIGITS = 5  # significant digits of the start price kept by the tick

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Shapes:
    """Per-candle shape rows of all source pairs, stacked; `starts` are rows that begin a block
    lying wholly inside one contiguous run of one source file."""

    gap: Floats  # log(open / previous close), as traded
    body: Floats  # log(close / open), less the source pair's mean log return
    upper: Floats  # log(high / max(open, close)) >= 0
    lower: Floats  # log(min(open, close) / low) >= 0
    rel_volume: Floats  # quote volume / the source pair's mean quote volume
    starts: Ints
    sources: tuple[str, ...]


def source_files(src: Path) -> list[Path]:
    """The 5m USDT files of `src`, with or without an exchange prefix (`binance_BTC_USDT-5m`)."""
    files = sorted(src.glob(SOURCE_GLOB))
    if not files:
        raise SystemExit(f"make_candles: no {SOURCE_GLOB} files in {src}")
    return files


def pair_name(path: Path) -> str:
    return re.sub(r"^[a-z]+_", "", path.name).removesuffix("-5m.feather")


def read_shapes(path: Path, block: int) -> tuple[dict[str, Floats], Ints]:
    """One source file's shape rows and the rows where a `block`-long contiguous run may start."""
    df = pd.read_feather(path, columns=["date", "open", "high", "low", "close", "volume"])
    df = df.sort_values("date").drop_duplicates("date")
    ts = df["date"].to_numpy("datetime64[ms]").astype(np.int64)
    o, h, lo, c, v = (df[k].to_numpy(np.float64) for k in ("open", "high", "low", "close", "volume"))
    top, bottom = np.maximum(o, c), np.minimum(o, c)
    with np.errstate(divide="ignore", invalid="ignore"):
        rows = {
            "gap": np.log(o[1:] / c[:-1]),
            "body": np.log(c[1:] / o[1:]),
            "upper": np.log(np.maximum(h[1:], top[1:]) / top[1:]),
            "lower": np.log(bottom[1:] / np.minimum(lo[1:], bottom[1:])),
        }
        quote = v[1:] * c[1:]
        rows["rel_volume"] = quote / np.mean(quote[np.isfinite(quote)])
    # a row is usable when it follows its predecessor by exactly one candle and all shapes are finite
    ok = np.diff(ts) == TF_MS
    for values in rows.values():
        ok &= np.isfinite(values)
    # the source's trend comes out of the bodies; gaps stay as traded (mostly zero)
    rows["body"] = rows["body"] - float(np.mean(rows["gap"][ok] + rows["body"][ok]))
    bad_before = np.concatenate(([0], np.cumsum(~ok)))
    n_starts = len(ok) - block + 1
    if n_starts <= 0:
        return rows, np.empty(0, np.int64)
    starts = np.flatnonzero(bad_before[block : block + n_starts] == bad_before[:n_starts])
    return rows, starts.astype(np.int64)


def load_shapes(files: list[Path], block: int) -> Shapes:
    parts: dict[str, list[Floats]] = {k: [] for k in ("gap", "body", "upper", "lower", "rel_volume")}
    starts, offset = [], 0
    for path in files:
        rows, file_starts = read_shapes(path, block)
        for key, values in rows.items():
            parts[key].append(values)
        starts.append(file_starts + offset)
        offset += len(rows["gap"])
    all_starts = np.concatenate(starts)
    if not len(all_starts):
        raise SystemExit(f"make_candles: no contiguous {block}-candle block in the source files")
    return Shapes(
        **{k: np.concatenate(v) for k, v in parts.items()},
        starts=all_starts,
        sources=tuple(pair_name(p) for p in files),
    )


def tick_decimals(price: float) -> int:
    """Binance-like tick: TICK_DIGITS significant digits of the start price, as decimals to keep."""
    return int(TICK_DIGITS - 1 - np.floor(np.log10(price)))


def make_pair(shapes: Shapes, rng: np.random.Generator, n: int, block: int) -> dict[str, Floats]:
    """n contiguous candles built from random blocks, from a random start price."""
    n_blocks = -(-n // block)
    picks = shapes.starts[rng.integers(0, len(shapes.starts), n_blocks)]
    rows = (picks[:, None] + np.arange(block)).ravel()[:n]
    start_price = 10.0 ** rng.uniform(*START_PRICE_LOG10)
    mean_quote = 10.0 ** rng.uniform(*QUOTE_VOLUME_LOG10)
    gap, body = shapes.gap[rows], shapes.body[rows]
    log_close = np.log(start_price) + np.cumsum(gap + body)
    log_open = log_close - body
    decimals = tick_decimals(start_price)
    # rounding to decimals (not `round(x / tick) * tick`) keeps prices free of float noise such as
    # 5527.400000000001, which would change the price precision a backtester infers from the data;
    # it is monotone, so the wicks stay outside the body
    open_ = np.round(np.exp(log_open), decimals)
    close = np.round(np.exp(log_close), decimals)
    high = np.round(np.exp(np.maximum(log_open, log_close) + shapes.upper[rows]), decimals)
    low = np.round(np.exp(np.minimum(log_open, log_close) - shapes.lower[rows]), decimals)
    low = np.maximum(low, np.round(10.0**-decimals, decimals))
    open_, close = np.maximum(open_, low), np.maximum(close, low)
    high = np.maximum(high, np.maximum(open_, close))
    volume = np.round(shapes.rel_volume[rows] * mean_quote / close, 8)
    return {"open": open_, "high": high, "low": low, "close": close, "volume": volume}


def check_candles(name: str, df: pd.DataFrame) -> None:
    """Refuse to write a file a backtester would reject or misread."""
    o, h, lo, c = (df[k].to_numpy() for k in ("open", "high", "low", "close"))
    problems = []
    if not np.isfinite(df[["open", "high", "low", "close", "volume"]].to_numpy()).all():
        problems.append("non-finite values")
    if (lo <= 0).any():
        problems.append("non-positive low")
    if (lo > np.minimum(o, c)).any():
        problems.append("low above min(open, close)")
    if (h < np.maximum(o, c)).any():
        problems.append("high below max(open, close)")
    if (df["volume"].to_numpy() < 0).any():
        problems.append("negative volume")
    steps = np.diff(df["date"].to_numpy("datetime64[ms]").astype(np.int64))
    if (steps != TF_MS).any():
        problems.append("dates not contiguous 5m")
    if problems:
        raise SystemExit(f"make_candles: {name}: {', '.join(problems)}")


def make_candles(
    src: Path, out: Path, *, pairs: int, days: int, seed: int, block: int, start: str = DEFAULT_START
) -> list[Path]:
    """Write `pairs` files of `days` x 288 candles to `out`; returns their paths."""
    shapes = load_shapes(source_files(src), block)
    n = days * CANDLES_PER_DAY
    first = pd.Timestamp(start)
    start_ns = (first.tz_localize("UTC") if first.tz is None else first.tz_convert("UTC")).value
    dates = pd.DatetimeIndex(
        (start_ns + np.arange(n, dtype=np.int64) * TF_MS * 1_000_000).astype("datetime64[ns]")
    ).tz_localize("UTC")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for i in range(pairs):
        rng = np.random.default_rng([seed, i])
        df = pd.DataFrame({"date": dates, **make_pair(shapes, rng, n, block)})
        name = f"SYN{i + 1:03d}_USDT-5m.feather"
        check_candles(name, df)
        path = out / name
        df.to_feather(path)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pairs", type=int, default=100)
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--src", type=Path, default=DEFAULT_SRC, help=f"folder of real {SOURCE_GLOB} files")
    p.add_argument("--block-hours", type=int, default=12, help="length of a bootstrap block")
    p.add_argument("--start", default=DEFAULT_START, help="open time of the first candle (UTC)")
    args = p.parse_args(argv)
    if args.pairs < 1 or args.pairs > 999 or args.days < 1 or args.block_hours < 1:
        p.error("--pairs must be 1..999, --days and --block-hours at least 1")
    started = time.perf_counter()  # elapsed time for the message only
    files = make_candles(
        args.src,
        args.out,
        pairs=args.pairs,
        days=args.days,
        seed=args.seed,
        block=args.block_hours * 12,
        start=args.start,
    )
    print(
        f"wrote {len(files)} pairs x {args.days} d ({len(files) * args.days * CANDLES_PER_DAY:,} candles) "
        f"to {args.out} in {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
