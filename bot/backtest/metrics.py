"""Backtest statistics from the closed-trades table. Pure and JSON-ready, and defined once here so the
terminal summary, the HTML report and any later comparison all read the same numbers.

Conventions (all times UTC, all ratios are fractions: 0.1 means 10 %):
- A trade is a win when profit_abs > 0, a loss when profit_abs < 0, a draw otherwise.
- Equity is the wallet plus realised profit. It steps at each trade's close, in close order (ties keep
  the table's order); open positions are not marked to market.
- Drawdown at a close is peak - equity (abs) and (peak - equity) / peak (ratio), the peak being the
  running maximum of equity, starting at the wallet. max_drawdown_abs, its start (when equity last
  stood at that peak) and end (the trough) describe the largest absolute drop; max_drawdown_ratio is
  the largest ratio anywhere (usually the same episode).
- Days are the UTC calendar days of the half-open range [start_ms, end_ms), widened to any close
  outside it. A day's return is its realised profit over the equity at the end of the previous day
  (the wallet on the first day); days without closes return 0.
- Sharpe = mean(daily) / std(daily, ddof=1) * sqrt(365); Sortino = mean(daily) / downside * sqrt(365),
  downside = sqrt(mean(min(r, 0)^2)) over every day. Risk-free rate 0. None when the denominator is 0.
- CAGR = (final / wallet) ^ (365.25 / range_days) - 1 with range_days = (end_ms - start_ms) / 1 day;
  None when the range is under a day or the final balance is not positive. Calmar = CAGR / max
  drawdown ratio, None without a drawdown.
- Undefined values (no trades, no losses, ...) are None, never NaN or infinity.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from bot.clock import iso_ms

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

REQUIRED_COLUMNS = (
    "pair",
    "open_date",
    "close_date",
    "open_rate",
    "close_rate",
    "amount",
    "profit_ratio",
    "profit_abs",
    "exit_reason",
)
DAY_MS = 86_400_000
_YEAR_DAYS = 365.25
_PERIODS_PER_YEAR = 365  # crypto trades every day
_TINY = 1e-12  # below this a deviation is float noise, not risk


def _finite(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _ratio(num: float, den: float) -> float | None:
    return _finite(num / den) if abs(den) > _TINY else None


def _to_ms(column: pd.Series[Any]) -> IntArray:
    dates = pd.to_datetime(column, utc=True)
    return np.asarray(dates.dt.as_unit("ms").astype("int64"), dtype=np.int64)


def _in_close_order(trades: pd.DataFrame) -> pd.DataFrame:
    """Validate the contract and sort by close time, adding open_ms/close_ms as int64 epoch ms."""
    missing = [c for c in REQUIRED_COLUMNS if c not in trades.columns]
    if missing:
        raise ValueError(f"trades table lacks columns: {', '.join(missing)}")
    frame = pd.DataFrame(
        {
            "pair": trades["pair"].astype(str).to_numpy(),
            "exit_reason": trades["exit_reason"].astype(str).to_numpy(),
            "open_ms": _to_ms(trades["open_date"]),
            "close_ms": _to_ms(trades["close_date"]),
            "profit_abs": trades["profit_abs"].astype("float64").to_numpy(),
            "profit_ratio": trades["profit_ratio"].astype("float64").to_numpy(),
        }
    )
    dates_missing = trades["open_date"].isna().any() or trades["close_date"].isna().any()
    if dates_missing or not np.isfinite(frame[["profit_abs", "profit_ratio"]].to_numpy()).all():
        raise ValueError("trades table has missing dates or non-finite profits")
    return frame.sort_values("close_ms", kind="stable").reset_index(drop=True)


def _drawdown(
    equity: FloatArray, close_ms: IntArray, *, wallet: float, start_ms: int
) -> tuple[dict[str, Any], FloatArray]:
    """Largest fall from a running peak (the wallet at start_ms is the first point), and the
    drawdown ratio after each close for the underwater series."""
    levels = np.concatenate(([wallet], equity))
    times = np.concatenate(([start_ms], close_ms))
    peak = np.maximum.accumulate(levels)
    fall = peak - levels
    trough = int(np.argmax(fall))
    result: dict[str, Any] = {
        "max_drawdown_abs": float(fall[trough]),
        "max_drawdown_ratio": float(np.max(fall / peak)),
        "max_drawdown_start": None,
        "max_drawdown_end": None,
    }
    if fall[trough] > 0:
        at_peak = int(np.flatnonzero(levels[: trough + 1] >= peak[trough])[-1])
        result["max_drawdown_start"] = iso_ms(int(times[at_peak]))
        result["max_drawdown_end"] = iso_ms(int(times[trough]))
    return result, (fall / peak)[1:]


def _day_span(close_ms: IntArray, start_ms: int, end_ms: int) -> tuple[int, int]:
    first = start_ms // DAY_MS
    last = (end_ms - 1) // DAY_MS if end_ms > start_ms else first
    if len(close_ms):
        first = min(first, int(close_ms.min()) // DAY_MS)
        last = max(last, int(close_ms.max()) // DAY_MS)
    return first, last - first + 1


def _daily(closes: pd.DataFrame, dd_ratio: FloatArray, *, wallet: float, start_ms: int, end_ms: int) -> pd.DataFrame:
    """One row per calendar day: realised profit, closing equity, return, and how far under water."""
    first, n_days = _day_span(closes["close_ms"].to_numpy(), start_ms, end_ms)
    day = (closes["close_ms"].to_numpy() // DAY_MS - first).astype(np.int64)
    profit = np.bincount(day, weights=closes["profit_abs"].to_numpy(), minlength=n_days).astype(np.float64)
    equity = wallet + np.cumsum(profit)
    prev = np.concatenate(([wallet], equity[:-1]))
    # A day's underwater value is its worst close; quiet days stay where the last close left them.
    per_day = pd.DataFrame({"day": day, "dd": dd_ratio}).groupby("day")["dd"].agg(["max", "last"])
    worst = np.full(n_days, np.nan)
    last = np.full(n_days, np.nan)
    worst[per_day.index.to_numpy()] = per_day["max"].to_numpy()
    last[per_day.index.to_numpy()] = per_day["last"].to_numpy()
    carried = pd.Series(last).ffill().fillna(0.0).to_numpy()
    dates = (first + np.arange(n_days)).astype("datetime64[D]").astype(str)
    return pd.DataFrame(
        {
            "date": dates,
            "profit_abs": profit,
            "equity": equity,
            "prev_equity": prev,
            "return": np.divide(profit, prev, out=np.full(n_days, np.nan), where=prev > 0),
            "trades": np.bincount(day, minlength=n_days),
            "drawdown_ratio": np.where(np.isnan(worst), carried, worst),
        }
    )


def _daily_records(daily: pd.DataFrame) -> list[dict[str, Any]]:
    columns = ("date", "profit_abs", "equity", "drawdown_ratio")
    return [
        dict(zip(columns, values, strict=True)) for values in zip(*(daily[c].tolist() for c in columns), strict=True)
    ]


def _risk_ratios(returns: FloatArray) -> dict[str, float | None]:
    if len(returns) < 2 or not np.all(np.isfinite(returns)):
        return {"sharpe": None, "sortino": None}
    mean = float(returns.mean())
    std = float(returns.std(ddof=1))
    downside = math.sqrt(float(np.mean(np.minimum(returns, 0.0) ** 2)))
    scale = math.sqrt(_PERIODS_PER_YEAR)
    return {
        "sharpe": _finite(mean / std * scale) if std > _TINY else None,
        "sortino": _finite(mean / downside * scale) if downside > _TINY else None,
    }


def _cagr(final: float, wallet: float, range_ms: int) -> float | None:
    range_days = range_ms / DAY_MS
    if range_days < 1 or final <= 0:
        return None
    exponent = _YEAR_DAYS / range_days * math.log(final / wallet)
    return _finite(math.expm1(exponent)) if exponent < 700 else None  # beyond that, exp() overflows


def _monthly(daily: pd.DataFrame) -> list[dict[str, Any]]:
    months = daily.assign(month=daily["date"].str.slice(0, 7)).groupby("month", sort=True)
    table = months.agg(profit_abs=("profit_abs", "sum"), start=("prev_equity", "first"), trades=("trades", "sum"))
    return [
        {
            "month": str(month),
            "trades": int(trades),
            "profit_abs": float(profit),
            "return_ratio": _ratio(profit, start) if start > 0 else None,
        }
        for month, trades, profit, start in zip(
            table.index.tolist(),
            table["trades"].tolist(),
            table["profit_abs"].tolist(),
            table["start"].tolist(),
            strict=True,
        )
    ]


def _breakdown(closes: pd.DataFrame, key: str) -> list[dict[str, Any]]:
    """Per-group totals, most profitable first (ties by name, so the order is stable)."""
    rows = []
    for name, group in closes.groupby(key, sort=True, dropna=False):
        profit = group["profit_abs"].to_numpy()
        rows.append(
            {
                key: str(name),
                "trades": len(group),
                "profit_abs": float(profit.sum()),
                "profit_ratio_mean": float(group["profit_ratio"].mean()),
                "win_rate": float(np.count_nonzero(profit > 0) / len(group)),
            }
        )
    return sorted(rows, key=lambda r: (-r["profit_abs"], r[key]))


def _trade_ref(closes: pd.DataFrame, i: int) -> dict[str, Any]:
    return {
        "pair": str(closes["pair"].tolist()[i]),
        "profit_ratio": float(closes["profit_ratio"].to_numpy()[i]),
        "profit_abs": float(closes["profit_abs"].to_numpy()[i]),
    }


def compute_summary(
    trades: pd.DataFrame, *, wallet: float, stake_currency: str, start_ms: int, end_ms: int
) -> dict[str, Any]:
    """Every headline number of a backtest (conventions in the module docstring). The dict holds only
    str/int/float/bool/None/list/dict, so json.dumps(..., allow_nan=False) always succeeds."""
    if not wallet > 0:
        raise ValueError(f"wallet must be positive, got {wallet}")
    if end_ms < start_ms:
        raise ValueError(f"end_ms {end_ms} is before start_ms {start_ms}")
    closes = _in_close_order(trades)
    profit = closes["profit_abs"].to_numpy()
    n = len(closes)
    wins, losses = int(np.count_nonzero(profit > 0)), int(np.count_nonzero(profit < 0))
    gross_profit, gross_loss = float(profit[profit > 0].sum()), float(-profit[profit < 0].sum())
    total = float(profit.sum())
    final = wallet + total
    equity = wallet + np.cumsum(profit)
    drawdown, ratio_per_close = _drawdown(equity, closes["close_ms"].to_numpy(), wallet=wallet, start_ms=start_ms)
    daily = _daily(closes, ratio_per_close, wallet=wallet, start_ms=start_ms, end_ms=end_ms)
    cagr = _cagr(final, wallet, end_ms - start_ms)
    minutes = (closes["close_ms"] - closes["open_ms"]).to_numpy() / 60_000
    return {
        "stake_currency": stake_currency,
        "wallet": float(wallet),
        "start": iso_ms(start_ms),
        "end": iso_ms(end_ms),
        "range_days": (end_ms - start_ms) / DAY_MS,
        "trades": n,
        "wins": wins,
        "losses": losses,
        "draws": n - wins - losses,
        "win_rate": wins / n if n else None,
        "profit_total_abs": total,
        "profit_total_ratio": total / wallet,
        "final_balance": final,
        "cagr": cagr,
        **_risk_ratios(daily["return"].to_numpy()),
        "calmar": _ratio(cagr, drawdown["max_drawdown_ratio"]) if cagr is not None else None,
        **drawdown,
        "profit_factor": _ratio(gross_profit, gross_loss) if losses else None,
        "expectancy_abs": total / n if n else None,
        "expectancy_ratio": float(closes["profit_ratio"].mean()) if n else None,
        "avg_duration_minutes": float(minutes.mean()) if n else None,
        "best_trade": _trade_ref(closes, int(closes["profit_ratio"].to_numpy().argmax())) if n else None,
        "worst_trade": _trade_ref(closes, int(closes["profit_ratio"].to_numpy().argmin())) if n else None,
        "per_pair": _breakdown(closes, "pair"),
        "per_exit_reason": _breakdown(closes, "exit_reason"),
        "daily": _daily_records(daily),
        "monthly": _monthly(daily),
    }


# --- plain-text rendering ----------------------------------------------------------------------


def fmt_amount(value: float | None) -> str:
    """Stake amounts: cents for big numbers, significant digits for BTC-sized ones."""
    if value is None:
        return "-"
    return f"{value:,.2f}" if abs(value) >= 1 or not value else f"{value:.4g}"


def fmt_pct(value: float | None, *, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value * 100:+.2f}%" if signed else f"{value * 100:.2f}%"


def fmt_num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def fmt_minutes(value: float | None) -> str:
    if value is None:
        return "-"
    days, rest = divmod(round(value), 1440)
    hours, minutes = divmod(rest, 60)
    return f"{days}d {hours}h {minutes:02d}m" if days else f"{hours}h {minutes:02d}m"


def _fmt_trade(ref: dict[str, Any] | None) -> str:
    return "-" if ref is None else f"{ref['pair']} {fmt_pct(ref['profit_ratio'], signed=True)}"


def headline_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """The headline block as (label, value) text pairs, shared by the terminal and the HTML report."""
    s, cur = summary, summary["stake_currency"]
    signed_abs = f"{'+' if s['profit_total_abs'] >= 0 else ''}{fmt_amount(s['profit_total_abs'])}"
    expectancy = "-"
    if s["expectancy_abs"] is not None:
        expectancy = f"{fmt_amount(s['expectancy_abs'])} {cur} ({fmt_pct(s['expectancy_ratio'], signed=True)})"
    dd_period = "-"
    if s["max_drawdown_start"] is not None:
        dd_period = f"{s['max_drawdown_start']} -> {s['max_drawdown_end']}"
    return [
        ("Period", f"{s['start']} -> {s['end']} ({s['range_days']:.1f} days)"),
        ("Starting wallet", f"{fmt_amount(s['wallet'])} {cur}"),
        ("Final balance", f"{fmt_amount(s['final_balance'])} {cur}"),
        ("Total profit", f"{signed_abs} {cur} ({fmt_pct(s['profit_total_ratio'], signed=True)})"),
        ("CAGR", fmt_pct(s["cagr"], signed=True)),
        ("Trades", f"{s['trades']} ({s['wins']} won, {s['losses']} lost, {s['draws']} even)"),
        ("Win rate", fmt_pct(s["win_rate"])),
        ("Profit factor", fmt_num(s["profit_factor"])),
        ("Expectancy / trade", expectancy),
        ("Sharpe / Sortino / Calmar", " / ".join(fmt_num(s[k]) for k in ("sharpe", "sortino", "calmar"))),
        ("Max drawdown", f"{fmt_amount(s['max_drawdown_abs'])} {cur}, {fmt_pct(s['max_drawdown_ratio'])} of peak"),
        ("Drawdown period", dd_period),
        ("Average duration", fmt_minutes(s["avg_duration_minutes"])),
        ("Best / worst trade", f"{_fmt_trade(s['best_trade'])} / {_fmt_trade(s['worst_trade'])}"),
    ]


def breakdown_rows(rows: list[dict[str, Any]], key: str) -> list[list[str]]:
    """A per-pair or per-exit-reason breakdown as text cells, header first."""
    header = [key.replace("_", " ").capitalize(), "Trades", "Profit", "Avg profit", "Win rate"]
    body = [
        [
            str(r[key]),
            str(r["trades"]),
            fmt_amount(r["profit_abs"]),
            fmt_pct(r["profit_ratio_mean"], signed=True),
            fmt_pct(r["win_rate"]),
        ]
        for r in rows
    ]
    return [header, *body]


def _text_table(cells: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = []
    for row in cells:
        parts = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(parts).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


_SHOWN_EVENTS = 20


def format_summary(summary: dict[str, Any]) -> str:
    """A compact plain-text summary for the terminal: headline block, then per-pair and per-exit tables."""
    rows = headline_rows(summary)
    width = max(len(label) for label, _ in rows)
    lines = [f"{label.ljust(width)}  {value}" for label, value in rows]
    for title, key, items in (
        ("Per pair", "pair", summary["per_pair"]),
        ("Per exit reason", "exit_reason", summary["per_exit_reason"]),
    ):
        lines += ["", f"{title} (profit in {summary['stake_currency']})"]
        lines += _text_table(breakdown_rows(items, key)) if items else ["(no trades)"]
    events = summary.get("risk_events") or []
    if events:
        lines += ["", f"Risk events ({len(events)})"]
        lines += [f"{e['time']}  {e['event']}" for e in events[:_SHOWN_EVENTS]]
        if len(events) > _SHOWN_EVENTS:
            lines.append(f"... {len(events) - _SHOWN_EVENTS} more in summary.json")
    return "\n".join(lines) + "\n"
