"""The Telegram interface end to end: the real daemon (simulated market, real SQLite file) with the
real python-telegram-bot polling a fake Bot API server on 127.0.0.1. Users are simulated at the
server: they write commands and press buttons; what the bot sends back is read there."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from bot.clock import SystemClock
from bot.config import load_config, require_strategy
from bot.runtime import build_runtime
from bot.service import Daemon, serve
from bot.store.audit import AuditLog
from bot.store.db import open_engine
from bot.store.records import AuditRecord
from bot.store.repo import Repo
from bot.strategy.loader import load_strategy
from bot.telegram.views import num
from bot.telegram_config import NOTIFICATION_KINDS
from tests.fakes.telegram_api import FakeTelegram, Sent
from tests.integration.harness import assert_no_duplicate_orders, read_back
from tests.integration.harness import configure as configure_json
from tests.integration.test_kill_switch import EVERY_CANDLE, PAIRS, assert_flat
from tests.integration.test_systemd_notify import NotifyListener

TOKEN = "700100:AAH-the-bot-token-nobody-may-see"
EXCHANGE_KEY, EXCHANGE_SECRET = "exchange-api-key-1234567890", "exchange-api-secret-0987654321"
ENV = {"KESTREL_TELEGRAM_TOKEN": TOKEN}
CHAT, OTHER_CHAT = -100_111, -100_999  # the group the bot serves; another group
ADMIN, OPERATOR, VIEWER, STRANGER = 11, 22, 33, 44
ALL_OFF = dict.fromkeys(NOTIFICATION_KINDS, "off")
RUNNING: list[Daemon] = []  # the daemons `running` started, so `ask` can wait for their send queues


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(TOKEN) as server:
        yield server


def telegram_section(tg: FakeTelegram, **changes: Any) -> dict[str, Any]:
    section = {
        "enabled": True,
        "chat_id": CHAT,
        "users": {str(ADMIN): "admin", str(OPERATOR): "operator", str(VIEWER): "viewer"},
        "base_url": tg.base_url,
        "notifications": ALL_OFF,
        "confirm_timeout_s": 60,
        "poll_timeout_s": 1,
    }
    return {**section, **changes}


@pytest.fixture
def make_config(tmp_path: Path, write_config: Any, tg: FakeTelegram) -> Any:
    (tmp_path / "strats").mkdir()
    (tmp_path / "strats" / "every.py").write_text(EVERY_CANDLE)

    def make(**telegram: Any) -> Path:
        path: Path = write_config(
            strategy="EveryCandle",
            strategy_path=str(tmp_path / "strats"),
            exchange={"name": "simulated", "pair_whitelist": PAIRS, "key": EXCHANGE_KEY, "secret": EXCHANGE_SECRET},
            simulated={"speed": 3000, "history_candles": 50},
            telegram=telegram_section(tg, **telegram),
        )
        path.chmod(0o600)  # it holds an exchange key: Kestrel refuses it open to others
        return path

    return make


@contextlib.asynccontextmanager
async def running(config_path: Path, environ: dict[str, str] | None = None) -> AsyncIterator[Daemon]:
    """The daemon as `kestrel trade` runs it, with Telegram started; stopped on the way out."""
    config, _ = load_config(config_path)
    strategy = load_strategy(config.strategy_path, require_strategy(config, config_path))
    daemon = Daemon(await build_runtime(config, strategy, environ=ENV if environ is None else environ))
    task = asyncio.create_task(daemon.run(install_signal_handlers=False))
    RUNNING.append(daemon)
    try:
        await asyncio.wait_for(daemon.wait_ticks(1), 20)
        yield daemon
    finally:
        RUNNING.remove(daemon)
        daemon.request_stop()
        assert await asyncio.wait_for(task, 20) == 0


async def ask(tg: FakeTelegram, user: int, text: str, *, chat: int = CHAT, replies: int = 1) -> list[Sent]:
    """`user` writes `text`; returns the bot's next `replies` messages in that chat."""
    before = len(tg.messages_to(chat))
    tg.send_text(user, chat, text, username=f"user{user}")
    await tg.wait_for(lambda: len(tg.messages_to(chat)) >= before + replies, what=f"a reply to {text!r}")
    # a long reply comes in several messages, queued together: wait until the last one has gone
    outboxes = [d.telegram.outbox for d in RUNNING if d.telegram is not None]
    await tg.wait_for(lambda: all(o.idle for o in outboxes), what="the rest of a long reply")
    return tg.messages_to(chat)[before:]


async def say(tg: FakeTelegram, user: int, text: str, *, chat: int = CHAT) -> str:
    """The plain text of the one reply to `text`."""
    return "\n".join(s.plain for s in await ask(tg, user, text, chat=chat))


async def audit_of(config_path: Path) -> list[AuditRecord]:
    config, _ = load_config(config_path)
    engine = await open_engine(config.db_path, create=False)
    try:
        return list(reversed(await AuditLog(engine, SystemClock()).entries(limit=500)))
    finally:
        await engine.dispose()


async def add_event(config_path: Path, kind: str, message: str) -> None:
    config, _ = load_config(config_path)
    engine = await open_engine(config.db_path, create=False)
    try:
        await Repo(engine, SystemClock()).add_event(kind, message, ts_ms=SystemClock().now_ms())
    finally:
        await engine.dispose()


def assert_no_secret(tg: FakeTelegram) -> None:
    for sent in tg.sent:
        for secret in (TOKEN, EXCHANGE_KEY, EXCHANGE_SECRET):
            assert secret not in sent.text, (secret, sent.plain[:300])


# -- commands against the real store --------------------------------------------------------------
async def test_read_commands_answer_from_the_real_store_without_secrets(
    make_config: Any, tg: FakeTelegram, tmp_path: Path
) -> None:
    path = make_config()
    async with running(path) as daemon:
        await asyncio.wait_for(daemon.wait_ticks(4), 20)
        paused = await say(tg, OPERATOR, "/pause")  # nothing opens while we compare
        assert "PAUSED" in paused and "@user22" in paused
        await asyncio.wait_for(daemon.wait_ticks(daemon.ticks + 2), 20)
        stored = await read_back(path)
        open_trades = [t for t in stored.trades if t.status == "open"]
        assert open_trades

        status = await say(tg, VIEWER, "/status")
        assert "PAUSED" in status
        for trade in open_trades:
            assert f"Trade {trade.id}: {trade.pair} (open)" in status
        table = await say(tg, VIEWER, "/status table")
        assert all(t.pair in table for t in open_trades)
        one = open_trades[0]
        detail = await say(tg, VIEWER, f"/status {one.id}")
        assert detail.startswith(f"Trade {one.id}: {one.pair} (open)\namount ")
        assert await say(tg, VIEWER, "/status 99999") == "id: no open trade 99999; /status lists the open ones"
        assert await say(tg, VIEWER, "/status x") == "id: 'x' is not a whole number"

        balance = await say(tg, VIEWER, "/balance")
        for asset in ("USDT", *(t.pair.split("/")[0] for t in open_trades)):
            assert asset in balance
        assert await say(tg, VIEWER, "/whitelist") == f"3 pairs: {', '.join(PAIRS)}"
        assert "no pair is locked" in await say(tg, VIEWER, "/locks")
        logs = await say(tg, VIEWER, "/logs 5")
        assert "trading_state" in logs and len(logs.splitlines()) == 5
        assert await say(tg, VIEWER, "/logs 0") == "n: must be between 1 and 100, got 0"
        assert "EveryCandle" in await say(tg, VIEWER, "/version")
        shown = await say(tg, VIEWER, "/show_config")
        assert '"strategy": "EveryCandle"' in shown and '"key": "***"' in shown and '"secret": "***"' in shown
        health = await say(tg, VIEWER, "/health")
        assert "last tick:" in health and "loop lag" in health

        helped = await say(tg, VIEWER, "/help")
        assert "/status" in helped and "/kill" not in helped  # a viewer is shown what a viewer may do
        assert "/kill" in await say(tg, ADMIN, "/help")
        assert (await ask(tg, VIEWER, "/start"))[0].reply_markup is not None  # the reply keyboard

        (chart,) = await ask(tg, VIEWER, f"/chart {one.pair}")
        assert chart.photo is not None and chart.photo.startswith(b"\x89PNG")
        assert "no candles for 'DOGE/USDT'" in await say(tg, VIEWER, "/chart DOGE/USDT")
        (equity,) = await ask(tg, VIEWER, "/equity")
        assert equity.photo is not None and equity.photo.startswith(b"\x89PNG")

        assert await say(tg, VIEWER, "/nonsense") == "unknown command /nonsense; /help lists them"
        await add_event(path, "tick_error", f"GET https://api.telegram.org/bot{TOKEN}/getMe key={EXCHANGE_KEY}")
        leaked = await say(tg, VIEWER, "/logs 1")
        assert "tick_error" in leaked and "***" in leaked
    assert [c["command"] for c in tg.commands][:3] == ["help", "start", "status"]  # the command menu
    assert_no_secret(tg)
    audit = await audit_of(path)
    assert ("status", "99999", "refused: id: no open trade 99999; /status lists the open ones") in [
        (a.command, a.args, a.result) for a in audit
    ]
    assert {a.command for a in audit if a.result == "done"} >= {"status", "balance", "chart", "equity", "pause"}
    assert all(a.channel == "telegram" and a.chat_id == CHAT for a in audit)


# -- who may do what ------------------------------------------------------------------------------
async def test_strangers_other_chats_and_forwarded_buttons_get_nothing_and_change_nothing(
    make_config: Any, tg: FakeTelegram
) -> None:
    path = make_config()
    async with running(path) as daemon:
        tg.send_text(STRANGER, CHAT, "/kill")
        tg.send_text(STRANGER, CHAT, "/status")
        tg.send_text(ADMIN, OTHER_CHAT, "/kill")  # the admin, but in a chat the bot does not serve
        tg.send_text(STRANGER, STRANGER, "/pause")  # a private chat with a stranger
        refused = await say(tg, VIEWER, "/pause")  # after the ones above: they were handled first
        assert refused == "/pause needs the operator role; you are viewer"
        assert len(tg.messages_to(CHAT)) == 1
        assert tg.messages_to(OTHER_CHAT) == [] and tg.messages_to(STRANGER) == []

        (question,) = await ask(tg, ADMIN, "/kill")
        assert [label for label, _ in question.buttons()] == ["Yes, /kill", "Cancel"]
        yes = question.buttons()[0][1]
        await tg.wait_for(lambda: daemon.telegram is not None and tg.requests_to("sendMessage"))
        tg.press_button(STRANGER, CHAT, question.message_id, yes)  # a stranger in the chat
        tg.press_button(ADMIN, OTHER_CHAT, 777, yes)  # a forwarded copy, in another chat
        tg.press_button(ADMIN, CHAT, question.message_id + 1000, yes)  # a copy in the same chat
        tg.press_button(OPERATOR, CHAT, question.message_id, yes)  # an operator: not who asked
        await tg.wait_for(lambda: tg.answered_callbacks, what="the operator told off")
        assert tg.answered_callbacks[0][1] == "only the person who asked can confirm this"
        assert "running" in await say(tg, VIEWER, "/start")
        tg.press_button(ADMIN, CHAT, question.message_id, question.buttons()[1][1])  # Cancel
        await tg.wait_for(lambda: len(tg.answered_callbacks) == 2)
        assert tg.answered_callbacks[1][1] == "cancelled"
        assert "running" in await say(tg, VIEWER, "/start")
        await asyncio.wait_for(daemon.wait_ticks(daemon.ticks + 2), 20)
    stored = await read_back(path)
    assert "trading_state" not in [e.kind for e in stored.events]  # neither killed nor paused
    assert len(tg.answered_callbacks) == 2  # nothing answered to the stranger or the copies
    audit = [(a.user_id, a.chat_id, a.command, a.result) for a in await audit_of(path)]
    assert (STRANGER, CHAT, "kill", "ignored") in audit
    assert (ADMIN, OTHER_CHAT, "kill", "ignored") in audit
    assert (STRANGER, CHAT, "button", "ignored") in audit and (ADMIN, OTHER_CHAT, "button", "ignored") in audit
    assert (VIEWER, CHAT, "pause", "/pause needs the operator role; you are viewer") in audit
    assert (ADMIN, CHAT, "kill", "cancelled") in audit


async def test_a_confirmation_expires_and_works_once(make_config: Any, tg: FakeTelegram) -> None:
    path = make_config(confirm_timeout_s=1)
    async with running(path) as daemon:
        await asyncio.wait_for(daemon.wait_ticks(3), 20)
        (late,) = await ask(tg, ADMIN, "/kill")
        await asyncio.sleep(1.3)
        tg.press_button(ADMIN, CHAT, late.message_id, late.buttons()[0][1])
        await tg.wait_for(lambda: tg.answered_callbacks)
        assert tg.answered_callbacks[-1][1] == "expired after 1 s; send /kill again"
        assert "running" in await say(tg, VIEWER, "/start")

        (question,) = await ask(tg, ADMIN, "/kill market looks wrong")
        yes = question.buttons()[0][1]
        tg.press_button(ADMIN, CHAT, question.message_id, yes)
        tg.press_button(ADMIN, CHAT, question.message_id, yes)  # a double press
        await tg.wait_for(lambda: len(tg.answered_callbacks) == 3)
        assert [a[1] for a in tg.answered_callbacks[1:]] == ["confirmed", "already confirmed"]
        killed = await tg.wait_for(lambda: [t for t in tg.texts_to(CHAT) if "HALTED" in t])
        assert "market looks wrong (user 11)" in killed[0] and "every position sold" in killed[0]
        edits = [s.plain for s in tg.sent if s.method == "editMessageText"]
        assert edits == ["/kill: expired after 1 s; send /kill again", "/kill: confirmed"]
        await asyncio.wait_for(daemon.wait_ticks(daemon.ticks + 2), 20)

        stored = await read_back(path)  # the reports on the trades the kill closed
        closed = stored.closed()
        assert closed
        realised = sum((t.profit_quote or D(0) for t in closed), D(0))
        profit = await say(tg, VIEWER, "/profit")
        assert f"realised  {num(realised, 4)} USDT" in profit and f"{len(closed)} closed" in profit
        assert "open      0 trades, unrealised 0 USDT" in profit
        listed = (await say(tg, VIEWER, "/trades")).splitlines()[1:]
        assert sorted(int(line.split()[0]) for line in listed) == sorted(t.id for t in closed)
        assert all(line.split()[-1] == "kill_switch" for line in listed)
        daily = (await say(tg, VIEWER, "/daily 3")).splitlines()
        wins = sum(1 for t in closed if (t.profit_quote or 0) > 0)
        assert len(daily) == 5 and daily[-1].split() == ["total", num(realised, 4), str(len(closed)), str(wins)]
        for command in ("/weekly 2", "/monthly 2"):
            assert (await say(tg, VIEWER, command)).splitlines()[-1].split()[1:3] == [
                num(realised, 4),
                str(len(closed)),
            ]
        performance = await say(tg, VIEWER, "/performance")
        assert {line.split()[0] for line in performance.splitlines()[1:]} == {t.pair for t in closed}
        assert await say(tg, VIEWER, "/count") == "open trades 0 of 3; stake in them 0 USDT"
        assert await say(tg, VIEWER, "/daily 400") == "n: must be between 1 and 365, got 400"
    stored = await read_back(path)
    assert_flat(stored)
    assert [e.kind for e in stored.events].count("trading_state") == 1  # killed once
    results = [(a.command, a.result) for a in await audit_of(path) if a.command == "kill"]
    assert results == [
        ("kill", "asked to confirm"),
        ("kill", "expired after 1 s; send /kill again"),
        ("kill", "asked to confirm"),
        ("kill", "confirmed"),
        ("kill", "done"),
    ]


# -- the backlog ----------------------------------------------------------------------------------
async def test_a_kill_sent_while_the_daemon_was_down_is_honoured_before_any_order(
    make_config: Any, tg: FakeTelegram
) -> None:
    path = make_config()
    sent_at = int(time.time()) - 600
    tg.send_text(VIEWER, CHAT, "/status", date_s=sent_at)
    tg.send_text(VIEWER, CHAT, "/kill", date_s=sent_at)  # a viewer may not
    tg.send_text(STRANGER, CHAT, "/resume", date_s=sent_at)
    tg.send_text(ADMIN, CHAT, "/kill phone alert", date_s=sent_at + 60)
    async with running(path) as daemon:
        await asyncio.wait_for(daemon.wait_ticks(3), 20)
        texts = await tg.wait_for(lambda: len(tg.texts_to(CHAT)) >= 3 and tg.texts_to(CHAT))
    assert texts[0].startswith("/status expired, sent while the bot was down (")
    assert texts[1] == "/kill needs the admin role; you are viewer"
    assert "HALTED" in texts[2] and "phone alert (user 11)" in texts[2] and "honoured" in texts[2]
    assert len(texts) == 3 and tg.pending_updates == 0
    stored = await read_back(path)
    assert stored.orders == [] and stored.trades == []  # halted before the first tick could buy
    assert [e.kind for e in stored.events].count("trading_state") == 1


# -- notifications --------------------------------------------------------------------------------
async def test_notifications_follow_their_settings_and_are_not_sent_twice_across_a_restart(
    make_config: Any, tg: FakeTelegram
) -> None:
    path = make_config(notifications={**ALL_OFF, "startup": "silent", "entry": "on", "breaker": "on"})
    async with running(path) as daemon:
        await asyncio.wait_for(daemon.wait_ticks(3), 20)
        await tg.wait_for(lambda: [t for t in tg.texts_to(CHAT) if "trade_opened" in t or "opened" in t])
    first_run = list(tg.messages_to(CHAT))
    async with running(path) as daemon:
        await say(tg, ADMIN, "/pause")
        await asyncio.wait_for(daemon.wait_ticks(daemon.ticks + 2), 20)
    stored = await read_back(path)
    messages = tg.messages_to(CHAT)
    started = [m for m in messages if "Kestrel started" in m.plain]
    assert len(started) == 2 and all(m.silent for m in started)
    assert len([m for m in messages if "Kestrel stopped" in m.plain]) == 2
    assert stored.trades
    for trade in stored.trades:  # each entry told once, loudly, though the second run re-read the table
        told = [m for m in messages if f"trade {trade.id} opened: " in m.plain]
        assert len(told) == 1 and not told[0].silent, trade.id
    assert len([m for m in first_run if "opened: " in m.plain]) >= 1
    assert not any("order_sent" in m.plain or "closed" in m.plain for m in messages)  # exits are off
    assert any("PAUSED" in m.plain for m in messages)  # the breaker kind: a pause is a trading state


# -- Telegram failing never stops trading ---------------------------------------------------------
async def test_a_429_storm_delays_messages_but_not_the_ticks(make_config: Any, tg: FakeTelegram) -> None:
    path = make_config(notifications={**ALL_OFF, "entry": "on", "startup": "on"})
    tg.fail_always("sendMessage", status=429, retry_after=1)
    async with running(path) as daemon:
        before = daemon.ticks
        await asyncio.wait_for(daemon.wait_ticks(before + 20), 30)  # 20 ticks while every send gets 429
        assert daemon.telegram is not None
        assert daemon.telegram.outbox.waited_s >= 1 and daemon.telegram.outbox.queued > 0
        assert tg.messages_to(CHAT) == []
        storm = len([r for r in tg.requests_to("sendMessage") if r.status == 429])
        assert storm >= 1
        health = await tg.wait_for(lambda: tg.requests_to("getUpdates"))  # polling is not blocked either
        assert health
        tg.clear_faults()
        await tg.wait_for(lambda: any("Kestrel started" in t for t in tg.texts_to(CHAT)), timeout_s=10)
    stored = await read_back(path)
    assert stored.trades  # trading went on
    assert storm < 20  # the queue waited as told instead of hammering


async def test_a_refused_token_leaves_trading_running(make_config: Any, tg: FakeTelegram) -> None:
    path = make_config(notifications={**ALL_OFF, "entry": "on"})
    async with running(path, environ={"KESTREL_TELEGRAM_TOKEN": "700100:revoked"}) as daemon:
        await asyncio.wait_for(daemon.wait_ticks(5), 20)
        assert daemon.telegram is not None and not daemon.telegram.running
    stored = await read_back(path)
    assert stored.trades and tg.sent == []
    assert [r.status for r in tg.requests] == [401]  # one refused getMe, then silence


async def test_polling_conflicts_are_retried_and_commands_still_answered(make_config: Any, tg: FakeTelegram) -> None:
    path = make_config()
    async with running(path) as daemon:
        tg.fail_next("getUpdates", status=409, times=2)
        tg.fail_next("getUpdates", status=502, times=1)
        assert "running" in await say(tg, VIEWER, "/start")
        await asyncio.wait_for(daemon.wait_ticks(daemon.ticks + 2), 20)
    assert [r.status for r in tg.requests_to("getUpdates")].count(409) == 2


# -- orders by hand, locks and why ----------------------------------------------------------------
NEVER = """
from bot.strategy import Strategy


class Never(Strategy):
    timeframe = "5m"
    minimal_roi = {"0": 1.0}
    stoploss = -0.5

    def populate_indicators(self, df, metadata):
        df["sma3"] = df["close"].rolling(3).mean()
        return df

    def populate_entry_trend(self, df, metadata):
        df["enter_long"] = 0
        return df
"""


async def test_forceexit_then_a_cooldown_lock_explained_by_why_and_lifted_by_unlock(
    make_config: Any, tg: FakeTelegram
) -> None:
    path = configure_json(
        make_config(), protections=[{"method": "CooldownPeriod", "stop_duration_candles": 500}], max_open_trades=3
    )
    async with running(path) as daemon:
        await asyncio.wait_for(daemon.wait_ticks(3), 20)
        first = (await read_back(path)).by_pair()["BTC/USDT"]
        assert await say(tg, VIEWER, f"/forceexit {first.id}") == "/forceexit needs the operator role; you are viewer"
        done = await say(tg, OPERATOR, f"/forceexit {first.id}")
        assert done == f"trade {first.id} (BTC/USDT): market order filled"
        assert await say(tg, OPERATOR, "/forceexit 999") == "id: no open trade 999; /status lists the open ones"
        await asyncio.wait_for(daemon.wait_ticks(daemon.ticks + 2), 20)
        locks = await say(tg, VIEWER, "/locks")
        assert locks.startswith("BTC/USDT until ") and "CooldownPeriod" in locks
        why = await say(tg, VIEWER, "/why BTC/USDT")
        assert "BTC/USDT: locked until" in why and "enter 1, exit 0" in why
        assert "no entry signal" not in why
        assert "locked" not in await say(tg, VIEWER, "/why ETH/USDT")  # open: its trade holds the slot
        assert await say(tg, VIEWER, "/why DOGE/USDT") == (
            f"pair: 'DOGE/USDT' is not traded; the pairs are {', '.join(PAIRS)}"
        )
        lifted = await say(tg, OPERATOR, "/unlock BTC/USDT")
        assert lifted.startswith("lifted: BTC/USDT until ")
        assert await say(tg, OPERATOR, "/unlock BTC/USDT") == "no lock in force on BTC/USDT"
        await asyncio.wait_for(daemon.wait_ticks(daemon.ticks + 3), 20)
        assert await say(tg, VIEWER, "/locks") == "no pair is locked"
        reentered = [t for t in (await read_back(path)).trades if t.pair == "BTC/USDT"]
        assert [t.status for t in reentered] == ["closed", "open"]  # entered again once the lock was lifted

        (question,) = await ask(tg, OPERATOR, "/forceexit all")  # every trade: confirmed first
        assert question.buttons()[0][0] == "Yes, /forceexit"
        tg.press_button(OPERATOR, CHAT, question.message_id, question.buttons()[0][1], username="user22")
        sold = await tg.wait_for(lambda: [t for t in tg.texts_to(CHAT) if t.startswith("trade ") and "\n" in t])
        assert len(sold[0].splitlines()) == 3 and all(
            line.endswith("market order filled") for line in sold[0].splitlines()
        )
    stored = await read_back(path)
    btc = [t for t in stored.trades if t.pair == "BTC/USDT"]
    assert btc[0].exit_reason == "force_exit"
    assert {t.exit_reason for t in stored.trades if t.id in {int(x.split()[1]) for x in sold[0].splitlines()}} == {
        "force_exit"
    }
    assert "locks_lifted" in [e.kind for e in stored.events]


async def test_forceentry_is_off_by_default_and_when_on_is_confirmed_and_checked(
    make_config: Any, tg: FakeTelegram, tmp_path: Path
) -> None:
    (tmp_path / "strats" / "never.py").write_text(NEVER)
    path = configure_json(make_config(), strategy="Never")
    async with running(path) as daemon:
        assert await say(tg, ADMIN, "/forceentry BTC/USDT") == (
            "/forceentry is off; set telegram.allow_forceentry to true to allow it"
        )
        why = await say(tg, VIEWER, "/why ETH/USDT")
        assert "ETH/USDT at " in why and ": no entry signal" in why and "sma3 = " in why
        await asyncio.wait_for(daemon.wait_ticks(daemon.ticks + 1), 20)
    assert (await read_back(path)).trades == []

    path = configure_json(path, telegram=telegram_section(tg, allow_forceentry=True))
    async with running(path) as daemon:
        assert await say(tg, OPERATOR, "/forceentry SOL/USDT") == "/forceentry needs the admin role; you are operator"
        (question,) = await ask(tg, ADMIN, "/forceentry SOL/USDT")
        tg.press_button(ADMIN, CHAT, question.message_id, question.buttons()[0][1], username="user11")
        entered = await tg.wait_for(lambda: [t for t in tg.texts_to(CHAT) if t.startswith("SOL/USDT: entry of ")])
        assert entered[0].endswith("market order filled")
        await say(tg, OPERATOR, "/pause")
        (question,) = await ask(tg, ADMIN, "/forceentry BTC/USDT")
        tg.press_button(ADMIN, CHAT, question.message_id, question.buttons()[0][1], username="user11")
        refused = await tg.wait_for(lambda: [t for t in tg.texts_to(CHAT) if t.startswith("no entry: ")])
        assert "PAUSED" in refused[0] or "paused" in refused[0]
        await asyncio.wait_for(daemon.wait_ticks(daemon.ticks + 2), 20)
    stored = await read_back(path)
    assert [(t.pair, t.status, t.enter_tag) for t in stored.trades] == [("SOL/USDT", "open", "force_entry")]
    stop = [o for o in stored.orders if o.purpose == "stop" and o.status == "open"]
    assert len(stop) == 1  # the next tick protected it like any other trade


async def test_the_daily_summary_is_sent_once_when_the_market_day_turns(make_config: Any, tg: FakeTelegram) -> None:
    path = configure_json(
        make_config(notifications={**ALL_OFF, "daily_summary": "silent"}),
        simulated={"speed": 3000, "history_candles": 50, "start": "2025-03-01T23:35:00Z"},
    )
    async with running(path) as daemon:
        summary = await tg.wait_for(lambda: [m for m in tg.messages_to(CHAT) if "daily summary" in m.plain])
        await asyncio.wait_for(daemon.wait_ticks(daemon.ticks + 2), 20)
    (sent,) = summary
    assert sent.plain.splitlines()[0].endswith("daily summary for 2025-03-01 (UTC)") and sent.silent
    stored = await read_back(path)
    opened_on_day_one = [t for t in stored.trades if (t.open_ms or 0) < 1_740_873_600_000]  # 2025-03-02
    assert f"open    {len(opened_on_day_one)} trades" in sent.plain and "closed  0 trades" in sent.plain
    async with running(path) as daemon:
        await asyncio.wait_for(daemon.wait_ticks(daemon.ticks + 3), 20)
    assert len([m for m in tg.messages_to(CHAT) if "daily summary" in m.plain]) == 1  # not again after a restart


# -- reload ---------------------------------------------------------------------------------------
async def test_reload_checks_first_then_restarts_the_loop_on_the_new_config(
    make_config: Any, tg: FakeTelegram, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    systemd = NotifyListener(tmp_path / "notify.sock")  # what systemd hears of the reload
    monkeypatch.setenv("NOTIFY_SOCKET", str(systemd.path))
    path = make_config()
    config, _ = load_config(path)
    strategy = load_strategy(config.strategy_path, require_strategy(config, path))
    stop = asyncio.Event()
    task = asyncio.create_task(serve(path, config, strategy, stop=stop, environ=ENV))

    async def confirmed(command: str) -> str:
        before = len(tg.messages_to(CHAT))
        (question,) = await ask(tg, ADMIN, command)
        tg.press_button(ADMIN, CHAT, question.message_id, question.buttons()[0][1], username="user11")
        texts = await tg.wait_for(lambda: len(tg.messages_to(CHAT)) >= before + 2 and tg.texts_to(CHAT)[before + 1 :])
        return str(texts[0])

    try:
        await tg.wait_for(lambda: tg.requests_to("setMyCommands"))
        good = path.read_text()
        path.write_text(good.replace('"stake_amount": 100', '"stake_amount": "lots"'))
        bad = await confirmed("/reload")
        assert bad.startswith(f"{path}: stake_amount: ") and "\n" not in bad
        (tmp_path / "strats" / "every.py").write_text("class EveryCandle(Strategy)\n")  # no colon
        path.write_text(good)
        broken = await confirmed("/reload")
        assert "every.py" in broken and "\n" not in broken
        (tmp_path / "strats" / "every.py").write_text(EVERY_CANDLE)
        path.write_text(good.replace('"name": "simulated"', '"name": "binance"'))
        assert "exchange.name: cannot change on /reload" in await confirmed("/reload")
        assert "running" in await say(tg, VIEWER, "/start")  # still trading on what it had

        path.write_text(good.replace('"max_open_trades": 3', '"max_open_trades": 1'))
        done = await confirmed("/reload")
        assert "changed keys: max_open_trades" in done and "restarting" in done
        await tg.wait_for(lambda: len(tg.requests_to("setMyCommands")) == 2, what="the second start")
        assert await say(tg, VIEWER, "/count") == f"open trades {len(await open_now(path))} of 1; stake in them " + (
            f"{len(await open_now(path)) * 100} USDT"
        )
        path.write_text(good)
        again = await confirmed("/reload")
        assert "changed keys: max_open_trades" in again
        stop.set()  # a SIGTERM while the reload is under way: it stops, it does not start again
        assert await asyncio.wait_for(task, 20) == 0
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 20) == 0
    systemd.close()
    said = [k for d in systemd.received for k in ("READY", "RELOADING", "STOPPING") if k in d.fields]
    # a SIGTERM during the second reload: STOPPING, once or twice (from the loop and from `serve`)
    assert said[:4] == ["READY", "RELOADING", "READY", "RELOADING"] and set(said[4:]) == {"STOPPING"}
    stored = await read_back(path)
    assert [e.kind for e in stored.events].count("started") == 2
    assert_no_duplicate_orders(stored)


async def open_now(path: Path) -> list[Any]:
    return [t for t in (await read_back(path)).trades if t.status == "open"]


async def test_telegram_unreachable_at_start_then_back_then_gone_never_stops_trading(make_config: Any) -> None:
    with socket.socket() as probe:  # a port nobody listens on, yet
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    path = configure_json(
        make_config(), telegram={**telegram_section_for(f"http://127.0.0.1:{port}/bot"), "notifications": ALL_OFF}
    )
    async with running(path) as daemon:
        await asyncio.wait_for(daemon.wait_ticks(5), 20)
        assert daemon.telegram is not None and not daemon.telegram.running
        async with FakeTelegram(TOKEN, port=port) as server:  # Telegram comes back
            server.send_text(VIEWER, CHAT, "/status")  # sent while it could not be reached: the backlog
            await server.wait_for(lambda: daemon.telegram is not None and daemon.telegram.running, timeout_s=15)
            (expired,) = await server.wait_for(lambda: server.texts_to(CHAT))
            assert expired.startswith("/status expired, sent while the bot was down")
            assert "running" in await say(server, VIEWER, "/start")
        seen = daemon.ticks  # and goes again: polling fails, ticks go on
        await asyncio.wait_for(daemon.wait_ticks(seen + 10), 20)
        started = time.monotonic()
    assert time.monotonic() - started < 5  # stopping does not wait on the dead connection
    assert (await read_back(path)).trades


def telegram_section_for(base_url: str) -> dict[str, Any]:
    return {
        "enabled": True,
        "chat_id": CHAT,
        "users": {str(VIEWER): "viewer"},
        "base_url": base_url,
        "poll_timeout_s": 1,
    }


async def test_a_stop_while_commands_are_in_hand_does_not_hang(make_config: Any, tg: FakeTelegram) -> None:
    path = make_config()
    async with running(path) as daemon:
        await asyncio.wait_for(daemon.wait_ticks(3), 20)
        trade = (await read_back(path)).trades[0]
        for _ in range(3):
            tg.send_text(OPERATOR, CHAT, f"/forceexit {trade.id}")
            tg.send_text(ADMIN, CHAT, "/kill")
        await tg.wait_for(lambda: tg.pending_updates == 0)
        daemon.request_stop()  # `running` fails if the stop takes more than 20 s
    stored = await read_back(path)
    assert_no_duplicate_orders(stored)
    assert len([o for o in stored.orders if o.trade_id == trade.id and o.purpose == "exit"]) <= 1
