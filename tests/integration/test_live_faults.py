"""Faults of the exchange through the real daemon, the real ccxt binance class and the fake Binance
desk: refusals (insufficient balance, a filter that changed), a 429 storm, 5xx answers, maintenance
at start. Each test ends with the one closing check: no duplicate, no orphan, books agree."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.fakes.binance_book import INSUFFICIENT
from tests.fakes.binance_trading import TradingDesk
from tests.integration.conftest import KEYS
from tests.integration.harness import configure, journal_of, read_back, run_daemon
from tests.integration.test_live_binance import assert_books_agree
from tests.integration.test_live_crashes import REPO_ROOT


def statuses(desk: TradingDesk, path: str, method: str | None = None) -> list[int | None]:
    return [r.status for r in desk.fake.requests_to(path) if method in (None, r.method)]


async def test_an_exit_refused_for_insufficient_balance_is_tried_again_and_the_trade_closes(
    desk: TradingDesk, live_config: Path
) -> None:
    configure(live_config, minimal_roi={"0": -0.5})  # the take-profit is reached at once
    desk.refuse_order("kestrel-1x0", -2010, INSUFFICIENT)
    assert await run_daemon(live_config, ticks=4, timeout_s=30, environ=KEYS) == 0
    stored = await read_back(live_config)
    refused = next(o for o in stored.orders if o.client_id == "kestrel-1x0")
    assert refused.status == "rejected"
    assert any(e.kind == "order_rejected" and "insufficient balance" in e.message for e in stored.events)
    assert desk.order("kestrel-1x1").status == "FILLED"  # the next tick sold it
    trade = next(t for t in stored.trades if t.id == 1)
    assert (trade.status, trade.exit_reason) == ("closed", "roi")
    assert_books_agree(stored, desk)


async def test_a_filter_that_changed_under_the_bot_is_refused_once_then_known(
    desk: TradingDesk, live_config: Path
) -> None:
    # Binance raises the minimum order value while the daemon runs: the first entry meets the new
    # rule (-1013), the markets are reloaded, and no order below it is sent again
    def raise_minimum() -> None:
        for symbol in ("BTCUSDT", "ETHUSDT"):
            desk.set_filter(symbol, "MIN_NOTIONAL", minNotional="500.00000000")  # the stake is 100

    desk.before_order("kestrel-1e0", raise_minimum)
    assert await run_daemon(live_config, ticks=4, timeout_s=30, environ=KEYS) == 0
    stored = await read_back(live_config)
    posts = [r.form.get("newClientOrderId") for r in desk.fake.requests_to("order") if r.method == "POST"]
    assert posts == ["kestrel-1e0"]  # refused once; after the reload the rule is known and kept
    (refused,) = await journal_of(live_config, trade_id=1)
    assert (refused.client_id, refused.status) == ("kestrel-1e0", "rejected")
    assert any(e.kind == "order_rejected" and "Filter failure: MIN_NOTIONAL" in e.message for e in stored.events)
    assert len(statuses(desk, "exchangeInfo")) >= 2  # loaded at start, reloaded after the refusal
    assert stored.trades == []  # the refused trade never existed
    assert_books_agree(stored, desk)


async def test_a_429_storm_is_waited_out_counted_and_nothing_is_sent_twice(
    desk: TradingDesk, live_config: Path
) -> None:
    desk.fake.rate_limit_next("order", retry_after_s=1, times=3)
    desk.fake.rate_limit_next("klines", retry_after_s=1, times=2)
    assert await run_daemon(live_config, ticks=5, timeout_s=40, environ=KEYS) == 0
    stored = await read_back(live_config)
    assert statuses(desk, "order").count(429) == 3 and statuses(desk, "klines").count(429) == 2
    assert isinstance(stored.state["rate_limited"], int) and stored.state["rate_limited"] >= 4
    buys = [o.client_id for o in desk.orders if o.side == "BUY"]
    assert len(buys) == 1 and len(set(buys)) == 1  # the entry met the storm; one order came of it
    assert next(t for t in stored.trades if t.status == "open").amount > 0
    assert_books_agree(stored, desk)


async def test_an_entry_answered_503_twice_is_looked_up_and_replaced_by_a_new_intent(
    desk: TradingDesk, live_config: Path
) -> None:
    desk.fake.fail_next("order", status=503, times=2)  # the submit, then its lookup
    assert await run_daemon(live_config, ticks=3, timeout_s=30, environ=KEYS) == 0
    stored = await read_back(live_config)
    assert statuses(desk, "order")[:3] == [503, 503, 400]  # submit, lookup, lookup: -2013 no such order
    (first,) = await journal_of(live_config, trade_id=1)  # a cancelled trade: not among stored.trades
    assert (first.client_id, first.status) == ("kestrel-1e0", "not_sent")
    assert all(o.client_id != "kestrel-1e0" for o in desk.orders)  # the 503 was real: never accepted
    assert desk.order("kestrel-2e0").status == "FILLED"  # a new intent only after "not found"
    assert_books_agree(stored, desk)


async def test_reads_answered_503_twice_are_retried_within_the_tick(desk: TradingDesk, live_config: Path) -> None:
    desk.fake.fail_next("account", status=503, times=2)
    desk.fake.fail_next("klines", status=502, times=2)
    assert await run_daemon(live_config, ticks=1, timeout_s=30, environ=KEYS) == 0
    stored = await read_back(live_config)
    assert statuses(desk, "account")[:3] == [503, 503, 200]
    assert statuses(desk, "klines")[:3] == [502, 502, 200]
    assert desk.order("kestrel-1e0").status == "FILLED"  # the first tick still traded
    assert_books_agree(stored, desk)


async def test_maintenance_at_start_is_waited_out_then_the_daemon_trades(desk: TradingDesk, live_config: Path) -> None:
    desk.maintenance(1.5)
    assert await run_daemon(live_config, ticks=2, timeout_s=30, environ=KEYS) == 0
    stored = await read_back(live_config)
    assert statuses(desk, "exchangeInfo")[0] == 503 and 200 in statuses(desk, "exchangeInfo")
    assert desk.order("kestrel-1e0").status == "FILLED"
    assert any(e.kind == "reconciled" for e in stored.events)
    assert_books_agree(stored, desk)


async def test_a_refused_api_key_stops_the_start_with_one_line_and_nothing_traded(
    desk: TradingDesk, live_config: Path
) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "trade",
        "--config",
        str(live_config),
        cwd=REPO_ROOT,
        env={**os.environ, "KESTREL_EXCHANGE_KEY": "revoked", "KESTREL_EXCHANGE_SECRET": "s"},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    lines = err.decode().strip().splitlines()
    assert proc.returncode == 2
    assert not any("Traceback" in line for line in lines), lines
    assert lines[-1].startswith("kestrel: ") and "refused the API key" in lines[-1] and "-2015" in lines[-1]
    assert [r.method for r in desk.fake.requests_to("order")] == []  # not one order attempted
    assert desk.orders == []
