"""Explains, trade by trade, where Kestrel's backtest and freqtrade's reference differ. Each
difference must fall under a named, checkable cause; nothing may be left unexplained."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import pandas as pd

from bot.backtest.outcome import BacktestTrade
from bot.backtest.series import PairSeries
from bot.candles import dates_ms

FLOAT_NOISE_EXIT = "freqtrade's exit order at the candle open missed the candle (float noise)"
FLOAT_NOISE_ENTRY = "freqtrade's entry order at the candle open missed the candle (float noise)"
SLOT_FREED_INSIDE = "freqtrade reused a slot freed later in the same candle"
DIVERGED = "the other system held the pair or all slots (after an earlier difference)"
END_OF_DATA = "Kestrel force-exits what is open when the data ends"


@dataclass
class Comparison:
    exact: int = 0
    explained: Counter[str] = field(default_factory=Counter)
    unexplained: list[str] = field(default_factory=list)
    first_quirk_ms: int | None = None
    first_divergence_ms: int | None = None


def load_reference(path: Path) -> pd.DataFrame:
    df = pd.read_csv(
        path, dtype={"open_rate": str, "close_rate": str, "amount": str, "profit_ratio": str, "profit_abs": str}
    )
    df["open_ms"] = dates_ms(pd.to_datetime(df["open_date"], utc=True))
    df["close_ms"] = dates_ms(pd.to_datetime(df["close_date"], utc=True))
    return df


def _rel(a: Decimal, b: Decimal) -> Decimal:
    return abs(a / b - 1) if b != 0 else abs(a)


def same_numbers(k: BacktestTrade, f: pd.Series, fee: Decimal) -> bool:
    """Rates and amount within 1e-9 relative; profit as freqtrade prints it (8 decimals) and the
    ratio as freqtrade derives it, from that rounded profit over the entry cost."""
    tol = Decimal("1e-9")
    profit_8 = k.profit_abs.quantize(Decimal("1e-8"), rounding=ROUND_HALF_EVEN)
    ratio_from_8 = profit_8 / (k.amount * k.open_rate * (1 + fee))
    return (
        _rel(k.open_rate, Decimal(f["open_rate"])) <= tol
        and _rel(k.close_rate, Decimal(f["close_rate"])) <= tol
        and _rel(k.amount, Decimal(f["amount"])) <= tol
        and abs(k.profit_abs - Decimal(f["profit_abs"])) <= Decimal("5e-9")
        and _rel(ratio_from_8, Decimal(f["profit_ratio"])) <= tol
    )


class Candles:
    """Candle lookups on the same gap-filled rows the backtest used."""

    def __init__(self, series: list[PairSeries], tf_ms: int, tick: Decimal) -> None:
        self._by_pair = {s.pair: s for s in series}
        self._tf = tf_ms
        self.tf_ms = tf_ms
        self._tick = tick

    def last_open_ms(self, pair: str) -> int:
        return self._by_pair[pair].last_ms

    def open_misses_candle(self, pair: str, open_ms: int) -> bool:
        """Does the candle's open, rounded to the price tick as freqtrade rounds an order price,
        fall outside the candle's own [low, high]? (It does when the stored float is one ulp off.)"""
        s = self._by_pair[pair]
        row = s.index_of(open_ms, self._tf)
        rounded = float((Decimal(repr(float(s.open[row]))) / self._tick).to_integral_value() * self._tick)
        return bool(rounded < s.low[row] or rounded > s.high[row])


def holders(trades: pd.DataFrame, at_ms: int, pair_order: list[str], pair: str, *, freqtrade: bool) -> pd.DataFrame:
    """Trades in the way when `pair` wanted to enter at `at_ms`: opened before (or at the same time
    by a pair earlier in the whitelist) and not yet gone. Kestrel sells exit signals at the open,
    before entries; a stop or ROI exit inside the candle still holds its slot at the open. freqtrade
    handles the pairs that hold trades first, so any trade of another pair that closes in this candle
    has already given its slot back (its quirk), while the pair's own trade closing now still keeps
    the pair from re-entering (freqtrade checks entries before that pair's exit orders fill)."""
    rank = {p: i for i, p in enumerate(pair_order)}
    earlier_now = (trades["open_ms"] == at_ms) & (trades["pair"].map(rank) < rank[pair])
    opened = (trades["open_ms"] < at_ms) | earlier_now
    closing_now = trades["close_ms"] == at_ms
    if freqtrade:
        still_open = (trades["close_ms"] > at_ms) | (closing_now & (trades["pair"] == pair))
    else:
        still_open = (trades["close_ms"] > at_ms) | (closing_now & (trades["exit_reason"] != "exit_signal"))
    return trades[opened & still_open]


def compare(
    kestrel: list[BacktestTrade],
    ref: pd.DataFrame,
    candles: Candles,
    *,
    fee: Decimal,
    max_open: int,
    pairs: list[str],
) -> Comparison:
    out = Comparison()
    ours = pd.DataFrame(
        {
            "pair": [t.pair for t in kestrel],
            "open_ms": [t.open_ms for t in kestrel],
            "close_ms": [t.close_ms for t in kestrel],
            "exit_reason": [t.exit_reason for t in kestrel],
        }
    )
    theirs = ref[["pair", "open_ms", "close_ms", "exit_reason"]]
    by_key = {(t.pair, t.open_ms): t for t in kestrel}
    ref_keys = {(r.pair, r.open_ms): r for r in ref.itertuples(index=False)}
    exact: set[tuple[str, int]] = set()
    quirk_times = []

    for key_, f in ref_keys.items():
        k = by_key.get(key_)
        if k is None:
            continue
        row = ref[(ref["pair"] == key_[0]) & (ref["open_ms"] == key_[1])].iloc[0]
        if k.close_ms == f.close_ms and k.exit_reason == f.exit_reason and same_numbers(k, row, fee):
            out.exact += 1
            exact.add(key_)
        elif (
            k.exit_reason == "exit_signal"
            and f.close_ms > k.close_ms
            and candles.open_misses_candle(k.pair, k.close_ms)
        ):
            out.explained[FLOAT_NOISE_EXIT] += 1
            quirk_times.append(k.close_ms)
        else:
            out.unexplained.append(
                f"{key_}: kestrel {k.close_ms} {k.exit_reason} {k.close_rate} / "
                f"freqtrade {f.close_ms} {f.exit_reason} {f.close_rate}"
            )

    def blocked_by_a_difference(pair: str, at_ms: int, other: pd.DataFrame, other_is_freqtrade: bool) -> bool:
        """The other system could not enter: it held the pair or every slot, and at least one of the
        trades in its way is not one both systems share exactly (so the states had diverged)."""
        held = holders(other, at_ms, pairs, pair, freqtrade=other_is_freqtrade)
        blocking = held[held["pair"] == pair] if pair in set(held["pair"]) else held
        if pair not in set(held["pair"]) and len(held) < max_open:
            return False
        return any((p, o) not in exact for p, o in zip(blocking["pair"], blocking["open_ms"], strict=True))

    for key_, f in ref_keys.items():
        if key_ in by_key:
            continue
        held = holders(ours, f.open_ms, pairs, f.pair, freqtrade=False)
        inside = held[(held["close_ms"] == f.open_ms) & held["exit_reason"].isin(["roi", "stop_loss"])]
        if len(held) >= max_open and len(inside) and len(held) - len(inside) < max_open:
            why: str | None = SLOT_FREED_INSIDE
        elif blocked_by_a_difference(f.pair, f.open_ms, ours, other_is_freqtrade=False):
            why = DIVERGED
        else:
            why = None
        _record(out, why, f"freqtrade-only {key_}", quirk_times, f.open_ms)
    for key_, k in by_key.items():
        if key_ in ref_keys:
            continue
        series_last = candles.last_open_ms(k.pair)
        if k.exit_reason == "force_exit" and k.open_ms >= series_last - 2 * candles.tf_ms:
            why = END_OF_DATA  # opened in the last candles of its pair: freqtrade stops before
        elif candles.open_misses_candle(k.pair, k.open_ms):
            why = FLOAT_NOISE_ENTRY  # freqtrade's entry order could not fill on this candle
        elif blocked_by_a_difference(k.pair, k.open_ms, theirs, other_is_freqtrade=True):
            why = DIVERGED
        else:
            why = None
        _record(out, why, f"kestrel-only {key_}", quirk_times, k.open_ms)
    out.first_quirk_ms = min(quirk_times) if quirk_times else None
    return out


def _record(out: Comparison, why: str | None, what: str, quirk_times: list[int], at_ms: int) -> None:
    if why is None:
        out.unexplained.append(what)
        return
    out.explained[why] += 1
    if why == DIVERGED:
        out.first_divergence_ms = min(at_ms, out.first_divergence_ms or at_ms)
    if why in (FLOAT_NOISE_ENTRY, SLOT_FREED_INSIDE):
        quirk_times.append(at_ms)
