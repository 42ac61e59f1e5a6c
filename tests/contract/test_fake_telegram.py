"""The fake Bot API server answers the real python-telegram-bot the way Telegram does: if it did
not, every Telegram test built on it would prove nothing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Conflict, InvalidToken, NetworkError, RetryAfter
from telegram.request import HTTPXRequest

from bot.telegram.outbox import retry_after_s
from tests.fakes.telegram_api import FakeTelegram

TOKEN = "424242:fake-token-for-tests"
CHAT = 5001


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(TOKEN) as server:
        yield server


def bot_for(tg: FakeTelegram, token: str = TOKEN) -> Bot:
    request = HTTPXRequest(read_timeout=5, connect_timeout=2)
    return Bot(token, base_url=tg.base_url, request=request, get_updates_request=HTTPXRequest(read_timeout=5))


async def test_get_me_and_a_wrong_token(tg: FakeTelegram) -> None:
    async with bot_for(tg) as bot:
        assert bot.username == "kestrel_test_bot"
        assert bot.id == 424242
    with pytest.raises(InvalidToken):
        async with bot_for(tg, token="424242:wrong"):
            pass
    assert [r.status for r in tg.requests_to("getMe")] == [200, 401]


async def test_updates_are_confirmed_by_offset_and_long_polling_wakes_on_a_message(tg: FakeTelegram) -> None:
    first = tg.send_text(7, CHAT, "/status", username="ann")
    async with bot_for(tg) as bot:
        updates = await bot.get_updates(timeout=0)
        assert [u.update_id for u in updates] == [first]
        message = updates[0].message
        assert message is not None and message.text == "/status"
        assert message.from_user is not None and message.from_user.username == "ann"
        assert message.chat.id == CHAT
        assert (await bot.get_updates(timeout=0))[0].update_id == first  # not yet confirmed
        assert await bot.get_updates(offset=first + 1, timeout=0) == ()
        assert tg.pending_updates == 0

        started = time.monotonic()
        waiting = asyncio.create_task(bot.get_updates(offset=first + 1, timeout=3))
        await asyncio.sleep(0.2)
        second = tg.send_text(7, CHAT, "/balance")
        got = await waiting
        assert [u.update_id for u in got] == [second]
        assert 0.15 < time.monotonic() - started < 2

        started = time.monotonic()
        assert await bot.get_updates(offset=second + 1, timeout=1) == ()  # waits out its timeout
        assert time.monotonic() - started >= 0.9


async def test_a_second_poller_ends_the_first_with_a_conflict(tg: FakeTelegram) -> None:
    async with bot_for(tg) as one, bot_for(tg) as two:
        first = asyncio.create_task(one.get_updates(timeout=3))
        await asyncio.sleep(0.2)
        second = asyncio.create_task(two.get_updates(timeout=0))
        with pytest.raises(Conflict):
            await first
        assert await second == ()


async def test_messages_edits_buttons_and_photos_are_recorded(tg: FakeTelegram) -> None:
    async with bot_for(tg) as bot:
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="ok:abc")]])
        sent = await bot.send_message(CHAT, "<b>Confirm</b> 1 &lt; 2?", parse_mode="HTML", reply_markup=markup)
        assert sent.text == "Confirm 1 < 2?"
        assert tg.messages_to(CHAT)[0].plain == "Confirm 1 < 2?"
        assert tg.messages_to(CHAT)[0].buttons() == [("Yes", "ok:abc")]

        tg.press_button(7, CHAT, sent.message_id, "ok:abc")
        (update,) = await bot.get_updates(timeout=0)
        query = update.callback_query
        assert query is not None and query.data == "ok:abc"
        assert query.message is not None and query.message.message_id == sent.message_id
        assert await bot.answer_callback_query(query.id, text="Done")
        assert tg.answered_callbacks == [(query.id, "Done", False)]
        with pytest.raises(BadRequest, match=r"(?i)query id is invalid"):
            await bot.answer_callback_query("999")

        edited = await bot.edit_message_text("Confirmed", chat_id=CHAT, message_id=sent.message_id)
        assert edited.text == "Confirmed" and edited.reply_markup is None  # the buttons are gone
        with pytest.raises(BadRequest, match="not modified"):
            await bot.edit_message_text("Confirmed", chat_id=CHAT, message_id=sent.message_id)
        with pytest.raises(BadRequest, match="not found"):
            await bot.edit_message_text("x", chat_id=CHAT, message_id=10_000)

        png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
        photo = await bot.send_photo(CHAT, png, caption="equity", disable_notification=True)
        assert photo.caption == "equity"
        assert tg.messages_to(CHAT)[-1].photo == png
        assert tg.messages_to(CHAT)[-1].silent


async def test_what_telegram_refuses_is_refused(tg: FakeTelegram) -> None:
    async with bot_for(tg) as bot:
        with pytest.raises(BadRequest, match="too long"):
            await bot.send_message(CHAT, "x" * 4097)
        await bot.send_message(CHAT, "x" * 4096)
        with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
            await bot.send_message(CHAT, "1 < 2 & so", parse_mode="HTML")
        with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
            await bot.send_message(CHAT, "<b>open", parse_mode="HTML")
        with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
            await bot.send_message(CHAT, "<table>x</table>", parse_mode="HTML")
        with pytest.raises(BadRequest, match="empty"):
            await bot.send_message(CHAT, " ")
        too_long = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="y" * 65)]])
        with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
            await bot.send_message(CHAT, "x", reply_markup=too_long)
    assert len(tg.messages_to(CHAT)) == 1


async def test_faults_map_to_ptb_errors(tg: FakeTelegram) -> None:
    async with bot_for(tg) as bot:
        tg.fail_next("sendMessage", status=429, retry_after=7)
        with pytest.raises(RetryAfter) as retry:
            await bot.send_message(CHAT, "a")
        assert retry_after_s(retry.value) == 7
        tg.fail_next("sendMessage", status=502)
        with pytest.raises(NetworkError):
            await bot.send_message(CHAT, "b")
        tg.fail_next("getUpdates", status=409)
        with pytest.raises(Conflict):
            await bot.get_updates(timeout=0)
        await bot.send_message(CHAT, "c")
        tg.fail_always("*", status=401)
        with pytest.raises(InvalidToken):
            await bot.send_message(CHAT, "d")
        tg.clear_faults()
        await bot.set_my_commands([("status", "open trades")])
        assert tg.commands == [{"command": "status", "description": "open trades"}]
    assert tg.texts_to(CHAT) == ["c"]
