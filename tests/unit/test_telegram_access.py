"""Who may run what (deny by default), confirmations that work once, notices cut to Telegram's size."""

from __future__ import annotations

import html

import pytest

from bot.store.records import EventRecord
from bot.telegram.access import (
    COMMANDS,
    DenialLog,
    Verdict,
    authorise,
    help_text,
    needs_confirmation,
    parse_command,
)
from bot.telegram.confirm import CANCEL, CONFIRM, Confirmations, callback_data
from bot.telegram.notices import Repeats, chunks, notification_kind, pre
from bot.telegram.views import REDACTED, redact
from bot.telegram_config import Role, TelegramConfig

CHAT = -100200300
CFG = TelegramConfig(enabled=True, token="1:x", chat_id=CHAT, users={11: "viewer", 22: "operator", 33: "admin"})


@pytest.mark.parametrize(
    ("user", "chat", "command", "verdict"),
    [
        (11, CHAT, "status", Verdict.SERVE),
        (11, CHAT, "pause", Verdict.REFUSE),  # a viewer may not pause
        (22, CHAT, "pause", Verdict.SERVE),
        (22, CHAT, "forceexit", Verdict.SERVE),
        (22, CHAT, "kill", Verdict.REFUSE),  # only an admin kills
        (33, CHAT, "kill", Verdict.SERVE),
        (33, CHAT, "reload", Verdict.SERVE),
        (33, 33, "status", Verdict.IGNORE),  # an admin, but in a private chat: not the configured chat
        (44, CHAT, "status", Verdict.IGNORE),  # a stranger in the right chat
        (None, CHAT, "status", Verdict.IGNORE),  # no sender (a channel post)
        (11, CHAT, "nonsense", Verdict.REFUSE),  # a listed user is told the command is unknown
        (44, CHAT, "nonsense", Verdict.IGNORE),
    ],
)
def test_authorise(user: int | None, chat: int, command: str, verdict: Verdict) -> None:
    assert authorise(CFG, user, chat, COMMANDS.get(command)) is verdict


def test_every_command_has_help_and_the_destructive_ones_need_admin_or_confirmation() -> None:
    assert all(spec.help for spec in COMMANDS.values())
    assert {n for n, s in COMMANDS.items() if s.confirm} == {"kill", "forceentry", "reload"}
    assert all(COMMANDS[n].role is Role.ADMIN for n in ("kill", "forceentry", "reload"))
    assert needs_confirmation(COMMANDS["forceexit"], ["all"])
    assert needs_confirmation(COMMANDS["forceexit"], ["ALL"]) and needs_confirmation(COMMANDS["forceexit"], ["All"])
    assert not needs_confirmation(COMMANDS["forceexit"], ["3"])


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("/status", ("status", [])),
        ("/Status 3", ("status", ["3"])),
        ("/daily@kestrel_test_bot 7", ("daily", ["7"])),
        ("/daily@other_bot 7", None),  # addressed to another bot in the group
        ("status", None),
        ("/pause  going   out ", ("pause", ["going", "out"])),
    ],
)
def test_parse_command(text: str, parsed: tuple[str, list[str]] | None) -> None:
    assert parse_command(text, "kestrel_test_bot") == parsed


def test_denials_are_logged_once_a_minute_with_the_count() -> None:
    log = DenialLog(every_s=60)
    assert [log.count(t) for t in (0, 1, 2, 59, 61, 62)] == [1, None, None, None, 4, None]


def test_config_refuses_what_it_cannot_serve() -> None:
    with pytest.raises(ValueError, match="chat_id"):
        TelegramConfig(enabled=True, token="1:x")
    with pytest.raises(ValueError, match="not a Telegram user id"):
        TelegramConfig.model_validate({"users": {"alice": "admin"}})
    with pytest.raises(ValueError, match="unknown kind 'trades'"):
        TelegramConfig.model_validate({"notifications": {"trades": "off"}})
    assert TelegramConfig.model_validate({"chat_id": ""}).chat_id is None


# -- confirmations -----------------------------------------------------------------------------


def _asked(timeout_s: float = 60) -> Confirmations:
    c = Confirmations(timeout_s)
    c.ask("t1", "kill", ["now"], user_id=33, chat_id=CHAT, now_s=1000)
    c.attach("t1", 7)
    return c


def test_a_confirmation_runs_once() -> None:
    c = _asked()
    first = c.press(callback_data(CONFIRM, "t1"), user_id=33, chat_id=CHAT, message_id=7, now_s=1030)
    assert first.run
    assert first.pending is not None
    assert first.pending.args == ("now",)
    again = c.press(callback_data(CONFIRM, "t1"), user_id=33, chat_id=CHAT, message_id=7, now_s=1031)
    assert not again.run
    assert again.answer == "already confirmed"


@pytest.mark.parametrize(
    ("data", "user", "chat", "message", "now_s", "answer"),
    [
        (callback_data(CONFIRM, "t1"), 33, CHAT, 7, 1061, "expired after 60 s; send /kill again"),
        (callback_data(CANCEL, "t1"), 33, CHAT, 7, 1010, "cancelled"),
        (callback_data(CONFIRM, "t1"), 22, CHAT, 7, 1010, "only the person who asked can confirm this"),
        (callback_data(CONFIRM, "t1"), 33, 33, 7, 1010, ""),  # the button on a forwarded copy: nothing
        (callback_data(CONFIRM, "t1"), 33, CHAT, 8, 1010, ""),  # another message in the chat
        (callback_data(CONFIRM, "nope"), 33, CHAT, 7, 1010, "this button is no longer valid"),
    ],
)
def test_presses_that_run_nothing(data: str, user: int, chat: int, message: int, now_s: float, answer: str) -> None:
    c = _asked()
    press = c.press(data, user_id=user, chat_id=chat, message_id=message, now_s=now_s)
    assert not press.run
    assert press.answer == answer


def test_an_expired_button_stays_dead() -> None:
    c = _asked()
    c.press(callback_data(CONFIRM, "t1"), user_id=33, chat_id=CHAT, message_id=7, now_s=1061)
    late = c.press(callback_data(CONFIRM, "t1"), user_id=33, chat_id=CHAT, message_id=7, now_s=1062)
    assert (late.run, late.answer) == (False, "already expired")


# -- notices -----------------------------------------------------------------------------------


def _event(kind: str, message: str) -> EventRecord:
    return EventRecord(0, 0, kind, None, None, message)


@pytest.mark.parametrize(
    ("kind", "message", "expected"),
    [
        ("order_sent", "entry buy limit 0.1 BTC/USDT @ 100 [open]", "entry"),
        ("order_sent", "exit sell market 0.1 BTC/USDT @ 100 [open]", "exit"),
        ("order_sent", "stop sell stop_loss 0.1 BTC/USDT @ 90 [open]", None),  # routine protection
        ("order_filled", "entry buy market 0.1 BTC/USDT @ 100 [filled]", None),  # trade_opened tells it
        ("trade_closed", "trade 3 closed (roi): ...", "exit"),
        ("breaker_tripped", "breaker:daily_loss: ...", "breaker"),
        ("pair_locked", "BTC/USDT locked until ...", "protection"),
        ("tick_error", "ExchangeError: down", "error"),
        ("order_cancelled", "stop sell stop_loss ...", "cancel"),
        ("started", "Kestrel started", "startup"),
        ("model_promoted", "LgbmSignal v0003 promoted: AUC 0.571 against 0.563 ...", "model"),
        ("model_rejected", "LgbmSignal v0004 rejected: AUC 0.512, below the floor ...", "model"),
        ("retrain_failed", "LgbmSignal: retraining failed: ...", "model"),
        ("something_new", "x", None),
    ],
)
def test_notification_kinds(kind: str, message: str, expected: str | None) -> None:
    assert notification_kind(_event(kind, message)) == expected


def test_chunks_fit_telegram_after_escaping_and_keep_every_character() -> None:
    lines = [f"line {i} <b>&amp; {'x' * (i % 50)}" for i in range(400)]
    text = "\n".join(lines)
    pieces = chunks(text, limit=4096, wrap=pre)
    assert len(pieces) > 1
    assert all(len(p) <= 4096 for p in pieces)
    unwrapped = [html.unescape(p.removeprefix("<pre>").removesuffix("</pre>")) for p in pieces]
    assert "\n".join(unwrapped) == text


def test_a_single_line_longer_than_a_message_is_cut_inside() -> None:
    text = "&" * 5000  # 25,000 characters once escaped
    pieces = chunks(text, limit=4096)
    assert all(len(p) <= 4096 for p in pieces)
    assert "".join(html.unescape(p) for p in pieces) == text


def test_the_same_notice_within_ten_minutes_is_sent_once() -> None:
    r = Repeats(window_s=600)
    assert [r.is_repeat("error", "boom", t) for t in (0, 10, 599, 601)] == [False, True, True, False]
    assert not r.is_repeat("error", "other", 10)


def test_show_config_redacts_every_secret() -> None:
    config = {
        "exchange": {"key": "K-123", "secret": "S-456", "ccxt_config": {"password": "P", "options": {"x": 1}}},
        "telegram": {"token": "123:ABC", "chat_id": 5, "users": {"1": "admin"}},
        "stake_amount": 100,
        "empty": {"key": ""},
    }
    shown = redact(config)
    flat = repr(shown)
    for secret in ("K-123", "S-456", "123:ABC", "'P'"):
        assert secret not in flat
    assert shown["exchange"]["secret"] == REDACTED
    assert shown["stake_amount"] == 100
    assert shown["empty"]["key"] == ""  # nothing to hide, and an empty key says so


def test_help_shows_what_the_role_may_run_and_what_is_built() -> None:
    built = frozenset({"status", "pause", "kill"})
    assert [line.split()[0] for line in help_text(Role.VIEWER, built).splitlines()] == ["/status"]
    assert [line.split()[0] for line in help_text(Role.OPERATOR, built).splitlines()] == ["/status", "/pause"]
    admin = help_text(Role.ADMIN, built)
    assert admin.splitlines()[-1].startswith("/kill [reason] - kill switch")
    assert "/reload" not in admin  # an admin command, but not built
