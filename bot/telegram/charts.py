"""PNG charts for `/chart <pair>` and `/equity`. Pure: data in, bytes out.

Matplotlib is imported inside the functions so importing this module (and starting the daemon) stays
cheap, and only the object API with the Agg canvas is used: `pyplot` keeps global figures, which leak and
race in a long-running process. Renders are also serialised by a lock, as matplotlib is not thread-safe.
"""

from __future__ import annotations

import io
import itertools
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from decimal import Decimal
from typing import TYPE_CHECKING

from bot.errors import KestrelError
from bot.timeframes import timeframe_ms

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.collections import PolyCollection
    from matplotlib.figure import Figure

WIDTH_IN, HEIGHT_IN, DPI = 10.0, 6.0, 100  # -> 1000 x 600 pixels
MAX_CANDLES = 200
MAX_EQUITY_POINTS = 2000
GREEN, RED, BLUE, GREY = "#1a7f37", "#cf222e", "#0969da", "#8c959f"
ENTRY, EXIT = "entry", "exit"
_CANDLE_COLUMNS = ("date", "open", "high", "low", "close", "volume")
_RENDER_LOCK = threading.Lock()


class ChartError(KestrelError):
    """There is nothing (or too little) to draw; the message says what is missing."""


@dataclass(frozen=True)
class TradeMark:
    """An entry or an exit to draw on the candle chart."""

    ts_ms: int  # when it happened (ms since epoch, UTC)
    price: Decimal
    side: str  # ENTRY or EXIT
    label: str = ""  # e.g. "#12 stop_loss -1.2%"

    def __post_init__(self) -> None:
        if self.side not in (ENTRY, EXIT):
            raise ValueError(f"TradeMark side must be {ENTRY!r} or {EXIT!r}, got {self.side!r}")


def drawdown_frac(values: Sequence[float] | npt.ArrayLike) -> np.ndarray:
    """Fall from the running high-water mark as a fraction (0 at a new high, -0.25 for 25 % below it).
    Where the high-water mark is not positive there is no meaningful fraction, so 0 is used."""
    import numpy as np

    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return v
    hwm = np.maximum.accumulate(v)
    out = np.zeros_like(v)
    np.divide(v, hwm, out=out, where=hwm > 0)
    return np.where(hwm > 0, np.minimum(out - 1.0, 0.0), 0.0)


def downsample_minmax(
    xs: npt.ArrayLike, ys: npt.ArrayLike, max_points: int = MAX_EQUITY_POINTS
) -> tuple[np.ndarray, np.ndarray]:
    """At most `max_points` of (xs, ys), in order: the first, the last, and the lowest and highest point of
    each of equal buckets between them. Plain striding would drop the one bad tick a drawdown is about."""
    import numpy as np

    x, y = np.asarray(xs), np.asarray(ys, dtype=np.float64)
    if len(x) != len(y):
        raise ValueError(f"xs and ys differ in length: {len(x)} != {len(y)}")
    if max_points < 4:
        raise ValueError(f"max_points must be 4 or more, got {max_points}")
    if len(y) <= max_points:
        return x, y
    buckets = (max_points - 2) // 2
    edges = np.linspace(1, len(y) - 1, buckets + 1).astype(np.int64)
    keep = [0, len(y) - 1]
    for lo, hi in itertools.pairwise(edges.tolist()):
        if hi > lo:
            keep += [lo + int(np.argmin(y[lo:hi])), lo + int(np.argmax(y[lo:hi]))]
    idx = np.unique(np.asarray(keep, dtype=np.int64))
    return x[idx], y[idx]


def _new_figure(rows: int, height_ratios: list[float]) -> tuple[Figure, list[Axes]]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, 1, sharex=True, gridspec_kw={"height_ratios": height_ratios}, squeeze=False)
    for ax in axes[:, 0]:
        ax.grid(True, color=GREY, alpha=0.25, linewidth=0.6)
    return fig, list(axes[:, 0])


def _utc_time_axis(ax: Axes) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(tz=UTC)  # type: ignore[no-untyped-call]  # matplotlib.dates is unannotated
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=UTC))  # type: ignore[no-untyped-call]
    ax.set_xlabel("UTC")


def _png(fig: Figure) -> bytes:
    """Fixed size and no 'Software' text chunk, so the same data gives the same bytes on any version."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def _day_nums(ts_ms: npt.ArrayLike) -> np.ndarray:
    """Matplotlib's float days for epoch milliseconds (UTC)."""
    import matplotlib.dates as mdates
    import numpy as np

    return np.asarray(mdates.date2num(np.asarray(ts_ms, dtype="datetime64[ms]")), dtype=np.float64)  # type: ignore[no-untyped-call]


def _boxes(
    x: np.ndarray, width: float, bottom: np.ndarray, height: np.ndarray, colours: list[str], *, alpha: float = 1.0
) -> PolyCollection:
    """Bars as one collection: `Axes.bar` adds a patch per bar, several times slower for 200 candles."""
    import numpy as np
    from matplotlib.collections import PolyCollection

    left, right, top = x - width / 2, x + width / 2, bottom + height
    verts = np.stack([np.column_stack(p) for p in ((left, bottom), (left, top), (right, top), (right, bottom))], 1)
    return PolyCollection(list(verts), facecolors=colours, edgecolors="none", alpha=alpha)


def _money(value: Decimal) -> str:
    return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.8f}".rstrip("0").rstrip(".")


def candle_chart_png(
    candles: pd.DataFrame,
    marks: Sequence[TradeMark],
    *,
    pair: str,
    timeframe: str,
    stop_price: Decimal | None = None,
    take_profit_price: Decimal | None = None,
) -> bytes:
    """Candlesticks of the last MAX_CANDLES candles over a volume panel, with the trade marks in that
    window and the optional stop / take-profit levels."""
    if candles.empty:
        raise ChartError(f"no candles for {pair}")
    missing = [c for c in _CANDLE_COLUMNS if c not in candles.columns]
    if missing:
        raise ChartError(f"candles for {pair} lack column(s) {', '.join(missing)}")
    import numpy as np
    import pandas as pd

    df = candles.iloc[-MAX_CANDLES:]
    dates = df["date"]
    if pd.api.types.is_datetime64_any_dtype(dates):  # the daemon's frames carry datetimes, tests ints
        ts = np.asarray(pd.DatetimeIndex(dates).as_unit("ms").asi8, dtype=np.int64)
    else:
        ts = np.asarray(dates, dtype=np.int64)
    try:
        tf_ms = timeframe_ms(timeframe)
    except ValueError:
        tf_ms = int(np.median(np.diff(ts))) if len(ts) > 1 else 60_000
    o, h, lo, c, vol = (np.asarray(df[k], dtype=np.float64) for k in ("open", "high", "low", "close", "volume"))
    x = _day_nums(ts)
    width = 0.7 * tf_ms / 86_400_000
    colours = [GREEN if up else RED for up in c >= o]
    tiny = max(float(np.nanmax(h) - np.nanmin(lo)), abs(float(np.nanmax(h)))) * 1e-4  # dojis stay visible
    shown = [m for m in marks if int(ts[0]) <= m.ts_ms < int(ts[-1]) + tf_ms]

    with _RENDER_LOCK:
        fig, (ax, ax_vol) = _new_figure(2, [3.0, 1.0])
        ax.vlines(x, lo, h, colors=colours, linewidth=0.8)
        ax.add_collection(_boxes(x, width, np.minimum(o, c), np.maximum(np.abs(c - o), tiny), colours))
        for side, marker, colour in ((ENTRY, "^", GREEN), (EXIT, "v", RED)):
            ms = [m for m in shown if m.side == side]
            if not ms:
                continue
            mx, my = _day_nums([m.ts_ms for m in ms]), [float(m.price) for m in ms]
            ax.scatter(mx, my, marker=marker, s=90, color=colour, edgecolors="black", linewidths=0.6, zorder=3)
            for m, px, py in zip(ms, mx, my, strict=True):
                if m.label:
                    offset = (0, -14) if side == ENTRY else (0, 8)
                    ax.annotate(m.label, (px, py), xytext=offset, textcoords="offset points", fontsize=7, ha="center")
        for level, name, colour in ((stop_price, "stop", RED), (take_profit_price, "take profit", GREEN)):
            if level is not None:
                ax.axhline(float(level), color=colour, linestyle="--", linewidth=1.0, label=f"{name} {level:f}")
        if ax.get_legend_handles_labels()[0]:  # only the level lines carry labels
            ax.legend(loc="best", fontsize=8)
        ax.set_title(f"{pair} {timeframe}")
        ax.set_ylabel("price")
        ax_vol.add_collection(_boxes(x, width, np.zeros_like(vol), vol, colours, alpha=0.6))
        ax_vol.set_ylim(0.0, max(float(np.nanmax(vol)), 1e-12) * 1.05)
        ax_vol.set_ylabel("volume")
        ax_vol.set_xlim(x[0] - width, x[-1] + width)
        _utc_time_axis(ax_vol)
        return _png(fig)


def equity_chart_png(samples: Sequence[tuple[int, Decimal]], *, currency: str) -> bytes:
    """Equity with its high-water mark over the drawdown in percent. Both are computed on every sample
    and only then thinned for drawing, so the reported max drawdown is exact."""
    if len(samples) < 2:
        raise ChartError(f"need at least 2 equity samples for a chart, have {len(samples)}")
    import numpy as np

    ts = np.fromiter((s[0] for s in samples), dtype=np.int64, count=len(samples))
    eq = np.fromiter((float(s[1]) for s in samples), dtype=np.float64, count=len(samples))
    hwm = np.maximum.accumulate(eq)
    dd = drawdown_frac(eq)
    last, worst = samples[-1][1], float(dd.min())
    xe, ye = downsample_minmax(ts, eq)
    xh, yh = downsample_minmax(ts, hwm)
    xd, yd = downsample_minmax(ts, dd * 100.0)

    with _RENDER_LOCK:
        fig, (ax, ax_dd) = _new_figure(2, [2.0, 1.0])
        ax.plot(_day_nums(xh), yh, color=GREY, linestyle="--", linewidth=1.0, label="high-water mark")
        ax.plot(_day_nums(xe), ye, color=BLUE, linewidth=1.2, label="equity")
        ax.legend(loc="best", fontsize=8)
        ax.set_ylabel(currency)
        ax.set_title(f"Equity {_money(last)} {currency} · max drawdown {worst:.2%}")
        days_dd = _day_nums(xd)
        ax_dd.fill_between(days_dd, yd, 0.0, color=RED, alpha=0.35, linewidth=0)
        ax_dd.plot(days_dd, yd, color=RED, linewidth=0.8)
        ax_dd.set_ylim(min(float(yd.min()) * 1.05, -0.01), 0.0)  # a flat line still gets an axis
        ax_dd.set_ylabel("drawdown %")
        ax_dd.set_xlim(float(days_dd[0]), float(days_dd[-1]))
        _utc_time_axis(ax_dd)
        return _png(fig)
