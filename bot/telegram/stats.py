"""The numbers behind /trades, /profit, /daily, /weekly, /monthly, /performance and /count, from
the stored trades. Pure: the caller passes the trades and the time; periods are UTC calendar days,
ISO weeks (from Monday) and months."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Literal

from bot.clock import iso_ms
from bot.store.records import TradeRecord
from bot.telegram.views import num, pct

Period = Literal["day", "week", "month"]
ZERO = Decimal(0)


def closed_only(trades: Iterable[TradeRecord]) -> list[TradeRecord]:
    """Closed trades with their profit known, oldest close first."""
    done = [t for t in trades if t.status == "closed" and t.close_ms is not None and t.profit_quote is not None]
    return sorted(done, key=lambda t: (t.close_ms or 0, t.id))


def trades_text(closed: Sequence[TradeRecord], n: int, currency: str) -> str:
    """The last `n` closed trades, newest first."""
    if not closed:
        return "no closed trades yet"
    lines = [f"{'id':>4} {'pair':<11} {'closed':<11} {'profit':>8} {currency:>10}  exit"]
    for t in reversed(closed[-n:]):
        when = iso_ms(t.close_ms or 0)[5:16].replace("T", " ")
        lines.append(
            f"{t.id:>4} {t.pair:<11} {when:<11} {pct(t.profit_ratio or ZERO):>8} "
            f"{num(t.profit_quote or ZERO, 4):>10}  {t.exit_reason or '-'}"
        )
    return "\n".join(lines)


@dataclass(frozen=True)
class Profit:
    closed: int
    wins: int
    losses: int
    realised: Decimal  # quote, after fees
    staked: Decimal  # what the closed trades put in
    best: TradeRecord | None
    worst: TradeRecord | None
    avg_duration_ms: int | None
    first_open_ms: int | None
    last_close_ms: int | None

    @property
    def ratio(self) -> Decimal | None:
        """Realised profit over the stake the closed trades used."""
        return self.realised / self.staked if self.staked > 0 else None


def profit(closed: Sequence[TradeRecord]) -> Profit:
    wins = sum(1 for t in closed if (t.profit_quote or ZERO) > 0)
    losses = sum(1 for t in closed if (t.profit_quote or ZERO) < 0)
    durations = [t.close_ms - t.open_ms for t in closed if t.close_ms is not None and t.open_ms is not None]
    opens = [t.open_ms for t in closed if t.open_ms is not None]
    return Profit(
        closed=len(closed),
        wins=wins,
        losses=losses,
        realised=sum((t.profit_quote or ZERO for t in closed), ZERO),
        staked=sum((t.stake_quote for t in closed), ZERO),
        best=max(closed, key=lambda t: t.profit_ratio or ZERO, default=None),
        worst=min(closed, key=lambda t: t.profit_ratio or ZERO, default=None),
        avg_duration_ms=sum(durations) // len(durations) if durations else None,
        first_open_ms=min(opens, default=None),
        last_close_ms=closed[-1].close_ms if closed else None,
    )


def profit_text(p: Profit, open_count: int, unrealised: Decimal | None, currency: str) -> str:
    if p.closed == 0:
        head = "no closed trades yet"
    else:
        ratio = f" ({pct(p.ratio)} of the stake used)" if p.ratio is not None else ""
        draws = p.closed - p.wins - p.losses
        head = "\n".join(
            [
                f"realised  {num(p.realised, 4)} {currency}{ratio}",
                f"trades    {p.closed} closed: {p.wins} won, {p.losses} lost, {draws} even "
                f"({pct(Decimal(p.wins) / Decimal(p.closed))} won)",
                f"best      {_trade_short(p.best)}",
                f"worst     {_trade_short(p.worst)}",
                f"average   {_duration(p.avg_duration_ms)} per trade",
                f"first     {iso_ms(p.first_open_ms)[:16] if p.first_open_ms else '-'}",
                f"latest    {iso_ms(p.last_close_ms)[:16] if p.last_close_ms else '-'}",
            ]
        )
    shown = "-" if unrealised is None else f"{num(unrealised, 4)} {currency}"
    return f"{head}\nopen      {open_count} trades, unrealised {shown}"


def _trade_short(t: TradeRecord | None) -> str:
    return "-" if t is None else f"#{t.id} {t.pair} {pct(t.profit_ratio or ZERO)}"


def _duration(ms: int | None) -> str:
    if ms is None:
        return "-"
    minutes = ms // 60_000
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes / 60:.1f} h" if minutes < 2880 else f"{minutes / 1440:.1f} d"


def period_start(day: date, period: Period) -> date:
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _previous(start: date, period: Period) -> date:
    if period == "day":
        return start - timedelta(days=1)
    if period == "week":
        return start - timedelta(days=7)
    return (start - timedelta(days=1)).replace(day=1)


@dataclass(frozen=True)
class PeriodRow:
    start: date
    profit: Decimal
    trades: int
    wins: int


def by_period(closed: Sequence[TradeRecord], now_ms: int, period: Period, n: int) -> list[PeriodRow]:
    """The last `n` periods up to the one holding `now_ms`, newest first, empty ones included."""
    current = period_start(_day(now_ms), period)
    starts = [current]
    while len(starts) < n:
        starts.append(_previous(starts[-1], period))
    grouped: dict[date, list[TradeRecord]] = {s: [] for s in starts}
    for t in closed:
        key = period_start(_day(t.close_ms or 0), period)
        if key in grouped:
            grouped[key].append(t)
    return [
        PeriodRow(
            s,
            sum((t.profit_quote or ZERO for t in ts), ZERO),
            len(ts),
            sum(1 for t in ts if (t.profit_quote or ZERO) > 0),
        )
        for s, ts in grouped.items()
    ]


def period_text(rows: Sequence[PeriodRow], period: Period, currency: str) -> str:
    label = {"day": "day", "week": "week from", "month": "month"}[period]
    lines = [f"{label:<11} {currency:>12} {'trades':>6} {'won':>4}"]
    for r in rows:
        when = r.start.isoformat()[:7] if period == "month" else r.start.isoformat()
        lines.append(f"{when:<11} {num(r.profit, 4):>12} {r.trades:>6} {r.wins:>4}")
    total = sum((r.profit for r in rows), ZERO)
    lines.append(f"{'total':<11} {num(total, 4):>12} {sum(r.trades for r in rows):>6} {sum(r.wins for r in rows):>4}")
    return "\n".join(lines)


@dataclass(frozen=True)
class PairRow:
    pair: str
    profit: Decimal
    trades: int
    mean_ratio: Decimal


def performance(closed: Sequence[TradeRecord]) -> list[PairRow]:
    """Per pair, best total profit first."""
    grouped: dict[str, list[TradeRecord]] = {}
    for t in closed:
        grouped.setdefault(t.pair, []).append(t)
    rows = [
        PairRow(
            pair,
            sum((t.profit_quote or ZERO for t in ts), ZERO),
            len(ts),
            sum((t.profit_ratio or ZERO for t in ts), ZERO) / len(ts),
        )
        for pair, ts in grouped.items()
    ]
    return sorted(rows, key=lambda r: (-r.profit, r.pair))


def performance_text(rows: Sequence[PairRow], currency: str) -> str:
    if not rows:
        return "no closed trades yet"
    lines = [f"{'pair':<11} {currency:>12} {'trades':>6} {'mean':>8}"]
    lines += [f"{r.pair:<11} {num(r.profit, 4):>12} {r.trades:>6} {pct(r.mean_ratio):>8}" for r in rows]
    return "\n".join(lines)


def count_text(open_trades: Sequence[TradeRecord], max_open: int, currency: str) -> str:
    staked = sum((t.stake_quote for t in open_trades), ZERO)
    return f"open trades {len(open_trades)} of {max_open}; stake in them {num(staked, 2)} {currency}"


def _day(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, UTC).date()
