"""Why a pair was or was not entered on the last candle (/why): the signal and the check, lock or
breaker that decided, from what the tick planned. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from bot.engine import EntryIntent, Skip
from bot.strategy.guard import PairSignal


@dataclass(frozen=True)
class Decision:
    pair: str
    tick_ms: int  # the tick that decided (market time)
    signal: PairSignal | None
    verdict: str


def explain_entries(
    whitelist: Iterable[str],
    signals: Mapping[str, PairSignal],
    entries: Sequence[EntryIntent],
    skipped: Sequence[Skip],
    *,
    blocked: str,
    tick_ms: int,
) -> dict[str, Decision]:
    """`signals` as the strategy gave them (before a balance gap blanked the entries: `blocked`)."""
    entered = {e.pair for e in entries}
    skips = {s.pair: s.reason for s in skipped}
    out = {}
    for pair in whitelist:
        sig = signals.get(pair)
        if sig is None:
            verdict = "no signal: no new candle for it yet, or the strategy failed on it (see /logs)"
        elif not sig.enter:
            verdict = "no entry signal"
        elif sig.exit:
            verdict = "entry and exit signals on the same candle: no entry"
        elif blocked:
            verdict = f"entries stopped: {blocked}"
        elif pair in entered:
            verdict = "entry order sent"
        elif pair in skips:
            verdict = skips[pair]
        else:
            verdict = "a trade on it closed on this candle: no new entry until the next one"
        out[pair] = Decision(pair, tick_ms, sig, verdict)
    return out
