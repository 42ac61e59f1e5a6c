"""The backtest as one self-contained HTML page: headline numbers, equity, drawdown, monthly returns
and the trades. Inline CSS and SVG only, and a policy that forbids loading anything, so the file
opens offline and a hostile pair name cannot run code."""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import escape
from typing import Any

import pandas as pd

from bot.backtest.metrics import breakdown_rows, fmt_amount, fmt_minutes, fmt_pct, headline_rows
from bot.backtest.svg_charts import bar_chart, line_chart, underwater_chart

MAX_TRADE_ROWS = 200  # a page with 100k rows is useless and slow; head and tail tell the story

_CSS = """
body { font-family: system-ui, sans-serif; margin: 24px auto; max-width: 980px; color: #1f2328; }
h1 { font-size: 22px; } h2 { font-size: 16px; margin-top: 28px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { padding: 3px 10px; border-bottom: 1px solid #eaeef2; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
table.headline td:last-child { text-align: left; }
.pos { color: #1a7f37; } .neg { color: #cf222e; } .note { color: #57606a; font-size: 13px; }
.wide { overflow-x: auto; }
"""
# Nothing may be fetched: no scripts, fonts, images or frames, only the inline styles above.
_POLICY = "default-src 'none'; style-src 'unsafe-inline'"
_SIGNED_CELL = re.compile(r"<td>([+-])(?=\d)")


def _table(rows: Sequence[Sequence[str]], *, header: bool = True, css_class: str = "") -> str:
    """Rows of plain text into an HTML table; every cell is escaped here and nowhere else."""
    out = [f'<table class="{css_class}">' if css_class else "<table>"]
    for i, row in enumerate(rows):
        tag = "th" if header and i == 0 else "td"
        out.append("<tr>" + "".join(f"<{tag}>{escape(cell)}</{tag}>" for cell in row) + "</tr>")
    out.append("</table>")
    return "".join(out)


def _rate(value: float) -> str:
    return f"{value:.8g}"


def _trade_cells(trades: pd.DataFrame) -> list[list[str]]:
    opened = pd.to_datetime(trades["open_date"], utc=True)
    closed = pd.to_datetime(trades["close_date"], utc=True)
    minutes = ((closed - opened).dt.total_seconds() / 60).tolist()
    return [
        [
            str(pair),
            o.strftime("%Y-%m-%d %H:%M"),
            c.strftime("%Y-%m-%d %H:%M"),
            fmt_minutes(float(m)),
            _rate(float(open_rate)),
            _rate(float(close_rate)),
            _rate(float(amount)),
            fmt_pct(float(ratio), signed=True),
            fmt_amount(float(profit)),
            str(reason),
        ]
        for pair, o, c, m, open_rate, close_rate, amount, ratio, profit, reason in zip(
            trades["pair"].tolist(),
            opened.tolist(),
            closed.tolist(),
            minutes,
            trades["open_rate"].tolist(),
            trades["close_rate"].tolist(),
            trades["amount"].tolist(),
            trades["profit_ratio"].tolist(),
            trades["profit_abs"].tolist(),
            trades["exit_reason"].tolist(),
            strict=True,
        )
    ]


def _trades_section(trades: pd.DataFrame, currency: str, max_rows: int) -> str:
    """All trades in open order, or the first and last max_rows/2 with a note saying what was left out."""
    header = ["Pair", "Open (UTC)", "Close (UTC)", "Duration", "Open rate", "Close rate", "Amount", "Profit %"]
    header += [f"Profit {currency}", "Exit reason"]
    if trades.empty:
        return '<p class="note">No trades.</p>'
    ordered = trades.sort_values("open_date", kind="stable")
    if len(ordered) <= max_rows:
        note = f"{len(ordered)} trade{'s' if len(ordered) > 1 else ''}, all shown."
        rows = _trade_cells(ordered)
    else:
        half = max(max_rows // 2, 1)
        skipped = len(ordered) - 2 * half
        note = f"{len(ordered)} trades: the first {half} and the last {half} are shown, {skipped} in between are not."
        gap = [f"... {skipped} trades not shown ...", *[""] * (len(header) - 1)]
        rows = [*_trade_cells(ordered.head(half)), gap, *_trade_cells(ordered.tail(half))]
    return f'<p class="note">{escape(note)}</p><div class="wide">{_table([header, *rows])}</div>'


def _charts(summary: dict[str, Any]) -> str:
    """Equity and drawdown start from the wallet at the range's start, then one point per day's end."""
    daily = summary["daily"]
    dates = [str(summary["start"])[:10]] + [str(d["date"]) for d in daily]
    currency = str(summary["stake_currency"])
    equity = line_chart(
        [float(summary["wallet"])] + [float(d["equity"]) for d in daily],
        dates,
        title=f"Equity ({currency}, realised, end of day)",
    )
    underwater = underwater_chart(
        [0.0] + [-100 * float(d["drawdown_ratio"]) for d in daily], dates, title="Drawdown from peak (%)", unit="%"
    )
    monthly = bar_chart(
        [(str(m["month"]), 100 * float(m["return_ratio"] or 0.0)) for m in summary["monthly"]],
        title="Monthly returns (%)",
        unit="%",
    )
    return "".join(f"<figure>{svg}</figure>" for svg in (equity, underwater, monthly))


def _colour_signs(html: str) -> str:
    """Tint signed percentages in the tables; cheap, and harmless because the text is already escaped."""
    return _SIGNED_CELL.sub(lambda m: f'<td class="{"pos" if m[1] == "+" else "neg"}">{m[1]}', html)


def render_report(
    trades: pd.DataFrame, summary: dict[str, Any], *, title: str, max_trade_rows: int = MAX_TRADE_ROWS
) -> str:
    """One HTML document for a backtest: summary is compute_summary()'s dict for the same trades."""
    currency = str(summary["stake_currency"])
    sections = [
        f"<h1>{escape(title)}</h1>",
        _table(headline_rows(summary), header=False, css_class="headline"),
        "<h2>Charts</h2>",
        _charts(summary),
        f"<h2>Per pair (profit in {escape(currency)})</h2>",
        _colour_signs(_table(breakdown_rows(summary["per_pair"], "pair"))),
        f"<h2>Per exit reason (profit in {escape(currency)})</h2>",
        _colour_signs(_table(breakdown_rows(summary["per_exit_reason"], "exit_reason"))),
        "<h2>Trades</h2>",
        _colour_signs(_trades_section(trades, currency, max_trade_rows)),
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_POLICY}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head>\n"
        f"<body>\n{chr(10).join(sections)}\n</body></html>\n"
    )
