"""The trading state as stored (key `trading` in bot_state), changed only through here so every
change is an event. The CLI writes it while the daemon runs (SQLite in WAL mode takes a second
writer); the daemon reads it at every tick, and at start before any order."""

from __future__ import annotations

from collections.abc import Callable

from bot.clock import iso_ms
from bot.risk.trading_state import Mode, TradingState
from bot.store.repo import Repo

KEY = "trading"


async def read_trading_state(repo: Repo) -> TradingState:
    return TradingState.from_json(await repo.get_state(KEY))


async def change_trading_state(
    repo: Repo, change: Callable[[TradingState], TradingState], *, ts_ms: int
) -> tuple[TradingState, TradingState]:
    """Apply `change` (one of trading_state's transitions, which may refuse) and store the result
    with an event when it differs. Returns (before, after)."""
    before = await read_trading_state(repo)
    after = change(before)
    if after != before:
        await repo.set_state({KEY: after.to_json()})
        await repo.add_event("trading_state", describe_change(before, after), ts_ms=ts_ms)
    return before, after


async def mark_flattened(repo: Repo, *, ts_ms: int, message: str) -> None:
    state = await read_trading_state(repo)
    if state.mode is Mode.HALTED and not state.flattened:
        await repo.set_state({KEY: TradingState(state.mode, state.reason, state.by, state.since_ms).to_json()})
        await repo.add_event("kill_switch_done", message, ts_ms=ts_ms)


def describe_change(before: TradingState, after: TradingState) -> str:
    if after.mode is Mode.HALTED and not after.flattened:
        return f"kill switch: {after.describe()}; cancelling every order and selling every position"
    return f"trading {after.describe()} (was {before.mode.value})"


def status_line(state: TradingState) -> str:
    """`kestrel status`: the state, since when, who and why, and what it means."""
    if state.mode is Mode.RUNNING:
        return "trading: running"
    since = f" since {iso_ms(state.since_ms)}" if state.since_ms else ""
    if state.mode is Mode.PAUSED:
        return f"trading: PAUSED{since}, {state.describe()} (no new entries; exits and stops still managed)"
    pending = "" if state.flattened else "; still cancelling orders and selling positions"
    return f"trading: HALTED{since}, {state.describe()} (no orders until `kestrel resume`{pending})"
