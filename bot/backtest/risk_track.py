"""The daemon's trading state through a backtest: the equity breakers and the volatility brake, with
the daemon's own pure steps (`equity_step`, `trip`, `too_volatile`), so a backtest with them
configured shows the strategy as the daemon would trade it.

The daemon samples the equity every tick; the backtester runs only the ticks where something can
happen. Between two of them the book does not change, so the equity is the cash plus fixed amounts
at each candle's close: numpy proposes the ticks where a limit could be crossed (with a margin for
float noise and price rounding), those ticks are run, and the exact Decimal step decides. The
marks (the day's opening, the high-water mark) are rolled over the skipped ticks exactly."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

import numpy as np

from bot.backtest.series import BoolArray, FloatArray, IntArray, PairSeries
from bot.book import Position
from bot.exchange.fills import candle_price
from bot.risk import trading_state as ts
from bot.risk.circuit import too_volatile
from bot.risk.equity import (
    DAILY,
    DAY_MS,
    EquityLimits,
    EquityMarks,
    equity_of,
    equity_step,
    losing_streak,
    roll_marks,
)

_REL = 1e-9  # float noise on top of the price-rounding margin


@dataclass(frozen=True)
class RiskSettings:
    equity: EquityLimits = field(default_factory=EquityLimits)
    on_breach: Literal["pause", "halt"] = "pause"
    volatility_k: float | None = None
    volatility_lookback: int = 48

    @property
    def active(self) -> bool:
        return self.equity.any or self.volatility_k is not None


@dataclass(frozen=True)
class Holding:
    """An open position as the equity sees it (in trade id order, as the daemon's book lists it)."""

    s: int  # index of the pair's series
    trade_id: int
    amount: Decimal
    open_rate: Decimal


class RiskTrack:
    def __init__(
        self, series: Sequence[PairSeries], tf_ms: int, settings: RiskSettings, first_ms: int, last_ms: int
    ) -> None:
        self.series = series
        self.tf = tf_ms
        self.end_ms = last_ms + tf_ms  # no tick at or after this
        self.cfg = settings
        self.state = ts.TradingState()
        self.marks: EquityMarks | None = None
        self.sampled_ms = first_ms - tf_ms  # every tick up to here is in the marks
        self.events: list[tuple[int, str]] = []  # (tick, what changed), as the daemon's events say it
        self.wild = [self._wild_candidates(s) for s in series] if settings.volatility_k is not None else []

    # -- what the runner asks -----------------------------------------------------------------

    def catch_up(self, now_ms: int, quote: Decimal, holdings: Sequence[Holding]) -> None:
        """Roll the marks over the ticks skipped before `now_ms`, the book as it was then."""
        if self.cfg.equity.any and self.sampled_ms + self.tf < now_ms:
            self._roll_over(self.sampled_ms + self.tf, now_ms, quote, holdings)
        self.sampled_ms = max(self.sampled_ms, now_ms - self.tf)

    def step(
        self, now_ms: int, quote: Decimal, holdings: Sequence[Holding], closed: Iterable[tuple[int, int, Decimal]]
    ) -> None:
        """The equity breakers' step at a tick that is run, after its resting fills (`closed`: the
        closed trades, newest first, as `equity_step` takes them)."""
        self.sampled_ms = now_ms
        if not self.cfg.equity.any:
            return
        equity = self._equity(now_ms, quote, holdings)
        step = equity_step(self.state, self.marks, equity, closed=closed, limits=self.cfg.equity, now_ms=now_ms)
        self.marks = step.marks
        if step.lift_daily:
            self.state = ts.resume(self.state, by=DAILY, now_ms=now_ms)
            self.events.append((now_ms, "a new UTC day: the daily loss limit's pause is lifted"))
        elif step.breach is not None:
            by = f"breaker:{step.breach.breaker}"
            halt = self.cfg.on_breach == "halt"
            self.state = ts.trip(self.state, by=by, reason=step.breach.reason, now_ms=now_ms, halt=halt)
            self.events.append((now_ms, f"{by}: {step.breach.reason}"))

    @property
    def halted(self) -> bool:
        return self.state.mode is ts.Mode.HALTED

    @property
    def entries_may_come(self) -> bool:
        """No entry until the state changes (which the scheduler makes a tick of its own)."""
        return self.state.allows_entries

    def entry_block(self, now_ms: int) -> str | None:
        """Why entries are not allowed on this tick, as the daemon's state would say, or None."""
        if not self.state.allows_entries:
            return self.state.describe()
        if self.cfg.volatility_k is not None:
            wild = [why for s in range(len(self.series)) if (why := self._wild_now(s, now_ms))]
            if wild:
                return f"paused by breaker:volatility: {'; '.join(wild)}"
        return None

    def note_skipped(self, now_ms: int, block: str, pairs: Sequence[str]) -> None:
        """Entries the volatility brake stopped, as events (the daemon's pause is a trip event)."""
        if pairs:
            self.events.append((now_ms, f"{block}; entries skipped: {', '.join(pairs)}"))

    def next_tick(
        self,
        now_ms: int,
        before_ms: int,
        quote: Decimal,
        holdings: Sequence[Holding],
        closed: Iterable[tuple[int, int, Decimal]],
    ) -> int:
        """The first tick after `now_ms` and before `before_ms` at which the equity step may change
        the state (a limit crossed, the daily pause lifted); `before_ms` when there is none."""
        if not self.cfg.equity.any or self.marks is None or self.halted or before_ms <= now_ms + self.tf:
            return before_ms
        state = self.state
        if state.mode is ts.Mode.PAUSED and state.by == DAILY:
            lift = now_ms - now_ms % DAY_MS + DAY_MS
            return min(before_ms, self._ceil_tick(lift, now_ms))
        if not (state.mode is ts.Mode.RUNNING or state.machinery_paused):
            return before_ms  # paused for good: only a person could resume
        streak = self.cfg.equity.max_losing_streak
        if streak is not None and losing_streak(closed, self.marks.reset_ms) >= streak:
            return now_ms + self.tf  # a trade closed on this tick after the step: the next one trips
        if not holdings:  # the equity is the cash until the book changes: only the next tick is new
            return now_ms + self.tf if self._may_breach_flat(quote) else before_ms
        ticks = np.arange(now_ms + self.tf, min(before_ms, self.end_ms), self.tf, dtype=np.int64)
        found = self._first_breach(ticks, quote, holdings)
        return int(ticks[found]) if found is not None else before_ms

    # -- equity, exact and proposed -------------------------------------------------------------

    def _equity(self, tick_ms: int, quote: Decimal, holdings: Sequence[Holding]) -> Decimal:
        positions, prices = [], {}
        for h in holdings:
            series = self.series[h.s]
            pos = Position(h.trade_id, series.pair, h.amount, h.open_rate, 0, h.open_rate)
            positions.append(pos)
            row = min(series.index_of(tick_ms - self.tf, self.tf), len(series) - 1)
            if row >= 0:
                prices[series.pair] = candle_price(series.close[row], series.market)
        return equity_of(quote, positions, prices)

    def _float_equity(self, ticks: IntArray, quote: Decimal, holdings: Sequence[Holding]) -> tuple[FloatArray, float]:
        """Equity per tick in floats, and how far it may be from the exact one."""
        eq = np.full(len(ticks), float(quote))
        tol = 0.0
        for h in holdings:
            series = self.series[h.s]
            rows = np.minimum((ticks - self.tf - series.first_ms) // self.tf, len(series) - 1)
            prices = np.where(rows >= 0, series.close[np.maximum(rows, 0)], float(h.open_rate))
            eq += float(h.amount) * prices
            tol += float(h.amount) * float(series.market.price_tick)
        return eq, tol + _REL * float(np.abs(eq).max(initial=1.0))

    def _roll_over(self, start_ms: int, end_ms: int, quote: Decimal, holdings: Sequence[Holding]) -> None:
        """The marks after sampling every tick in [start_ms, end_ms), where nothing tripped."""
        if self.marks is None:
            self.marks = roll_marks(None, self._equity(start_ms, quote, holdings), start_ms)
            start_ms += self.tf
        ticks = np.arange(start_ms, end_ms, self.tf, dtype=np.int64)
        if not len(ticks):
            return
        marks = self.marks
        eq, tol = self._float_equity(ticks, quote, holdings)
        best = [int(i) for i in np.flatnonzero(eq >= eq.max() - 2 * tol)]
        high = max(marks.high, *(self._equity(int(ticks[i]), quote, holdings) for i in best))
        last_day = int(ticks[-1] - ticks[-1] % DAY_MS)
        day_start = marks.day_start
        if last_day != marks.day_ms:
            opening = int(np.argmax(ticks >= last_day))
            day_start = self._equity(int(ticks[opening]), quote, holdings)
        self.marks = EquityMarks(last_day, day_start, high, marks.reset_ms, marks.resumed_ms)

    def _first_breach(self, ticks: IntArray, quote: Decimal, holdings: Sequence[Holding]) -> int | None:
        """The first of `ticks` at which a limit may be crossed (a superset: the step decides)."""
        assert self.marks is not None
        lim = self.cfg.equity
        eq, tol = self._float_equity(ticks, quote, holdings)
        low = eq - 2 * tol  # the equity could be this low ...
        hit = np.zeros(len(ticks), dtype=bool)
        if lim.daily_loss_frac is not None:
            day = ticks - ticks % DAY_MS
            opening = np.where(day == self.marks.day_ms, float(self.marks.day_start), np.nan)
            new_day = (day != self.marks.day_ms) & np.r_[True, day[1:] != day[:-1]]
            opening[new_day] = eq[new_day]
            opening = _forward_fill(opening) + 2 * tol  # ... and the opening this high
            hit |= low <= opening * (1 - float(lim.daily_loss_frac))
        if lim.max_drawdown_frac is not None:
            high = np.maximum.accumulate(np.maximum(eq, float(self.marks.high))) + 2 * tol
            hit |= low <= high * (1 - float(lim.max_drawdown_frac))
        found = np.flatnonzero(hit)
        return int(found[0]) if len(found) else None

    def _may_breach_flat(self, quote: Decimal) -> bool:
        """With no position the equity is the cash: the next tick may trip, or none will."""
        assert self.marks is not None
        lim = self.cfg.equity
        equity = float(quote) * (1 - 2 * _REL)  # as low as it could be
        daily = lim.daily_loss_frac is not None and equity <= float(self.marks.day_start) * (
            1 - float(lim.daily_loss_frac)
        )
        drawdown = lim.max_drawdown_frac is not None and equity <= float(self.marks.high) * (
            1 - float(lim.max_drawdown_frac)
        )
        return daily or drawdown

    def _ceil_tick(self, ts_ms: int, now_ms: int) -> int:
        """The first tick at or after `ts_ms` on the grid of `now_ms`."""
        return now_ms + -(-(ts_ms - now_ms) // self.tf) * self.tf

    # -- the volatility brake --------------------------------------------------------------------

    def _wild_candidates(self, series: PairSeries) -> BoolArray:
        """Candles whose range may be over k times the average of the ones before (a superset)."""
        k = self.cfg.volatility_k
        assert k is not None
        ranges = (series.high - series.low) / series.close
        csum = np.r_[0.0, np.cumsum(ranges)]
        rows = np.arange(len(ranges))
        first = np.maximum(rows - self.cfg.volatility_lookback, 0)
        count = np.maximum(rows - first, 1)
        average = (csum[rows] - csum[first]) / count
        out: BoolArray = (rows >= 1) & (ranges >= k * average * (1 - 1e-6))
        return out

    def _wild_now(self, s: int, now_ms: int) -> str | None:
        """The daemon's verdict on the pair's newest candle at `now_ms` (its own function, on the
        same floats), for the candles numpy proposed."""
        series = self.series[s]
        row = min(series.index_of(now_ms - self.tf, self.tf), len(series) - 1)
        if row < 1 or not self.wild[s][row]:
            return None
        lo = max(row - self.cfg.volatility_lookback, 0)
        ranges = ((series.high[lo : row + 1] - series.low[lo : row + 1]) / series.close[lo : row + 1]).tolist()
        assert self.cfg.volatility_k is not None
        return too_volatile(series.pair, ranges, self.cfg.volatility_k)


def _forward_fill(values: FloatArray) -> FloatArray:
    """Each NaN replaced by the last number before it (the first value is never NaN here)."""
    idx = np.where(np.isnan(values), 0, np.arange(len(values)))
    np.maximum.accumulate(idx, out=idx)
    return values[idx]
