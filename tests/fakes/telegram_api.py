"""A fake Telegram Bot API server on 127.0.0.1 that the REAL python-telegram-bot talks to over HTTP,
so tests exercise PTB's own request building, parsing, polling and error mapping without the internet.

    async with FakeTelegram(TOKEN) as tg:
        config["telegram"]["base_url"] = tg.base_url
        tg.send_text(user_id=1, chat_id=1, text="/status")
        await tg.wait_for(lambda: tg.messages_to(1))

* Served: getMe, getUpdates (offsets confirm, long polling, a second poller ends the first with 409
  like Telegram), deleteWebhook, sendMessage, sendPhoto (multipart), editMessageText,
  editMessageReplyMarkup, answerCallbackQuery, set/get/deleteMyCommands, getChat, close, logOut.
  A wrong token gets 401; an unknown method 404.
* Checked like Telegram checks them: 4096 characters per message, 1024 per caption, HTML that Telegram
  would refuse to parse (unknown or unbalanced tags, a bare `<` or `&`), buttons' callback data over
  64 bytes, editing a message that does not exist or did not change.
* Users' side: `send_text` (a message in a chat, dated now or when given) and `press_button` (a
  callback query on one of the bot's messages, or on a copy of it elsewhere).
* What the bot did: `sent` (every message, photo and edit, with its markup), `answered_callbacks`,
  `commands` (the menu), `requests` (every call with its parameters and the status it got).
* Faults, per method: `fail_next` (any status; 429 carries `parameters.retry_after` as Telegram
  sends it) and `fail_always` until `clear_faults`.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import json
import re
import socket
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.telegram_rules import (
    CAPTION_LIMIT,
    TEXT_LIMIT,
    BadRequest,
    check_text,
    markup_of,
    plain,
    set_markup,
)


@dataclass
class Sent:
    """One message the bot sent, or one edit of a message."""

    method: str  # sendMessage, sendPhoto, editMessageText, editMessageReplyMarkup
    chat_id: int
    message_id: int
    text: str  # as sent (HTML when parse_mode is HTML); a photo's caption
    parse_mode: str | None
    reply_markup: dict[str, Any] | None
    silent: bool
    photo: bytes | None = None
    at: float = 0.0  # time.monotonic()

    @property
    def plain(self) -> str:
        """What the user reads: tags removed, entities decoded."""
        if self.parse_mode != "HTML":
            return self.text
        return html.unescape(re.sub(r"<[^>]+>", "", self.text))

    def buttons(self) -> list[tuple[str, str]]:
        """(label, callback data) of the inline keyboard, row by row."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [(b["text"], b.get("callback_data", "")) for row in rows for b in row]


@dataclass
class Logged:
    method: str
    params: dict[str, Any]
    status: int = 200
    at: float = 0.0


@dataclass
class Fault:
    status: int
    description: str
    retry_after: int | None = None


_DESCRIPTIONS = {
    400: "Bad Request: chat not found",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    409: "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
    429: "Too Many Requests: retry after {retry_after}",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


@dataclass
class _Poll:
    """One getUpdates call that is waiting; a newer one supersedes it (Telegram answers it 409)."""

    superseded: bool = False
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class FakeTelegram:
    def __init__(
        self, token: str = "123456:TEST-token", *, bot_username: str = "kestrel_test_bot", port: int = 0
    ) -> None:
        self.token = token
        self.bot_user = {
            "id": int(token.split(":", maxsplit=1)[0]),
            "is_bot": True,
            "first_name": "Kestrel",
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.sent: list[Sent] = []
        self.answered_callbacks: list[tuple[str, str | None, bool]] = []  # (query id, text, show_alert)
        self.commands: list[dict[str, str]] = []
        self.requests: list[Logged] = []
        self._updates: list[dict[str, Any]] = []  # not yet confirmed by an offset
        self._next_update = itertools.count(1000)
        self._next_message = itertools.count(1)
        self._queries = 0  # callback query ids issued: 1.._queries
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}  # (chat, message id) -> message
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self._always: dict[str, Fault] = {}
        self._poll: _Poll | None = None
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._port = port  # 0: any free port

    # -- lifecycle -----------------------------------------------------------------------------
    async def __aenter__(self) -> FakeTelegram:
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self._port))
        self._port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._closing = True
        if self._poll is not None:
            self._poll.wake.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        """What `telegram.base_url` is set to: PTB appends the token and the method."""
        return f"http://127.0.0.1:{self._port}/bot"

    # -- the users' side -----------------------------------------------------------------------
    def send_text(self, user_id: int, chat_id: int, text: str, *, username: str = "", date_s: int | None = None) -> int:
        """A user writes `text` in a chat; returns the update id."""
        message = {
            "message_id": next(self._next_message),
            "from": _user(user_id, username),
            "chat": _chat(chat_id, user_id, username),
            "date": int(time.time()) if date_s is None else date_s,
            "text": text,
        }
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split(maxsplit=1)[0])}]
        return self._push({"message": message})

    def press_button(self, user_id: int, chat_id: int, message_id: int, data: str, *, username: str = "") -> int:
        """A user presses an inline button on message `message_id` in `chat_id`: one of the bot's
        messages, or (any other pair) a copy of it, such as one forwarded to another chat."""
        message = self._messages.get((chat_id, message_id)) or {
            "message_id": message_id,
            "from": self.bot_user,
            "chat": _chat(chat_id, user_id, username),
            "date": int(time.time()),
            "text": "(a copy)",
        }
        query = {
            "id": str(self._issue_query()),
            "from": _user(user_id, username),
            "message": message,
            "chat_instance": str(chat_id),
            "data": data,
        }
        return self._push({"callback_query": query})

    def _push(self, body: dict[str, Any]) -> int:
        update_id = next(self._next_update)
        self._updates.append({"update_id": update_id, **body})
        if self._poll is not None:
            self._poll.wake.set()
        return update_id

    @property
    def pending_updates(self) -> int:
        """Updates not yet confirmed by the bot (getUpdates with a higher offset)."""
        return len(self._updates)

    # -- what the bot did ----------------------------------------------------------------------
    def messages_to(self, chat_id: int) -> list[Sent]:
        return [s for s in self.sent if s.chat_id == chat_id and s.method in ("sendMessage", "sendPhoto")]

    def texts_to(self, chat_id: int) -> list[str]:
        return [s.plain for s in self.messages_to(chat_id)]

    def requests_to(self, method: str) -> list[Logged]:
        return [r for r in self.requests if r.method == method]

    async def wait_for(self, predicate: Callable[[], Any], timeout_s: float = 10.0, what: str = "") -> Any:
        """Polls `predicate` until it is truthy and returns its value; fails with what was sent."""
        deadline = time.monotonic() + timeout_s
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                sent = "\n".join(f"  {s.method} {s.chat_id}: {s.plain[:200]!r}" for s in self.sent[-15:])
                raise AssertionError(f"timed out after {timeout_s} s waiting for {what or predicate}; sent:\n{sent}")
            await asyncio.sleep(0.02)

    # -- faults --------------------------------------------------------------------------------
    def fail_next(
        self, method: str, *, status: int = 429, times: int = 1, retry_after: int | None = None, description: str = ""
    ) -> None:
        """The next `times` calls of `method` get `status`; a 429 carries `retry_after` (default 1)."""
        fault = _fault(status, retry_after, description)
        self._faults[method].extend(fault for _ in range(times))

    def fail_always(
        self, method: str, *, status: int = 429, retry_after: int | None = None, description: str = ""
    ) -> None:
        """Every call of `method` ("*" for all) gets `status` until `clear_faults`."""
        self._always[method] = _fault(status, retry_after, description)

    def clear_faults(self) -> None:
        self._faults.clear()
        self._always.clear()

    # -- dispatch ------------------------------------------------------------------------------
    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        parts = request.path.strip("/").split("/")
        if len(parts) != 2 or not parts[0].startswith("bot"):
            return _error(404, "Not Found")
        token, method = parts[0][3:], parts[1]
        params, files = await _read_params(request)
        entry = Logged(method, params, at=time.monotonic())
        self.requests.append(entry)
        if token != self.token:
            entry.status = 401
            return _error(401, "Unauthorized")
        fault = self._fault_for(method)
        if fault is not None:
            entry.status = fault.status
            return _error(fault.status, fault.description, fault.retry_after)
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            entry.status = 404
            return _error(404, "Not Found")
        try:
            result = await handler(params, files)
        except BadRequest as e:
            entry.status = 400
            return _error(400, f"Bad Request: {e}")
        except _Conflict:
            entry.status = 409
            return _error(409, _DESCRIPTIONS[409])
        return web.json_response({"ok": True, "result": result})

    def _fault_for(self, method: str) -> Fault | None:
        queued = self._faults.get(method)
        if queued:
            return queued.popleft()
        return self._always.get(method) or self._always.get("*")

    # -- methods -------------------------------------------------------------------------------
    async def _api_getMe(self, _p: dict[str, Any], _f: dict[str, bytes]) -> Any:
        return self.bot_user

    async def _api_deleteWebhook(self, _p: dict[str, Any], _f: dict[str, bytes]) -> Any:
        return True

    async def _api_close(self, _p: dict[str, Any], _f: dict[str, bytes]) -> Any:
        return True

    async def _api_logOut(self, _p: dict[str, Any], _f: dict[str, bytes]) -> Any:
        return True

    async def _api_getUpdates(self, p: dict[str, Any], _f: dict[str, bytes]) -> Any:
        offset = int(p.get("offset", 0))
        if offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if self._poll is not None:  # a second poller: Telegram ends the first one with 409
            self._poll.superseded = True
            self._poll.wake.set()
        poll = self._poll = _Poll()
        deadline = time.monotonic() + float(p.get("timeout", 0))
        try:
            while not self._updates and not self._closing:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(poll.wake.wait(), left)
                poll.wake.clear()
                if poll.superseded:
                    raise _Conflict
        finally:
            if self._poll is poll:
                self._poll = None
        allowed = json.loads(p["allowed_updates"]) if p.get("allowed_updates") else None
        batch = self._updates[: int(p.get("limit", 100))]
        return [u for u in batch if allowed is None or any(k in u for k in allowed)]

    async def _api_sendMessage(self, p: dict[str, Any], _f: dict[str, bytes]) -> Any:
        text = p.get("text", "")
        if not text.strip():
            raise BadRequest("message text is empty")
        check_text(text, p.get("parse_mode"), TEXT_LIMIT, "message is too long")
        return self._store("sendMessage", p, text)

    async def _api_sendPhoto(self, p: dict[str, Any], files: dict[str, bytes]) -> Any:
        photo = files.get("photo")
        if photo is None and str(p.get("photo", "")).startswith("attach://"):
            photo = files.get(p["photo"][len("attach://") :])
        if not photo:
            raise BadRequest("there is no photo in the request")
        caption = p.get("caption", "")
        check_text(caption, p.get("parse_mode"), CAPTION_LIMIT, "message caption is too long")
        return self._store("sendPhoto", p, caption, photo=photo)

    async def _api_editMessageText(self, p: dict[str, Any], _f: dict[str, bytes]) -> Any:
        message = self._message(p)
        text = p.get("text", "")
        check_text(text, p.get("parse_mode"), TEXT_LIMIT, "message is too long")
        markup = markup_of(p)
        if text == message.get("_raw", message.get("text")) and markup == message.get("reply_markup"):
            raise BadRequest(
                "message is not modified: specified new message content and reply markup are exactly the same"
            )
        message["text"], message["_raw"] = plain(text, p.get("parse_mode")), text
        set_markup(message, markup)
        self._record("editMessageText", p, message, text)
        return _public(message)

    async def _api_editMessageReplyMarkup(self, p: dict[str, Any], _f: dict[str, bytes]) -> Any:
        message = self._message(p)
        set_markup(message, markup_of(p))
        self._record("editMessageReplyMarkup", p, message, message.get("_raw", ""))
        return _public(message)

    async def _api_answerCallbackQuery(self, p: dict[str, Any], _f: dict[str, bytes]) -> Any:
        query_id = str(p.get("callback_query_id", ""))
        if not query_id.isdigit() or not 1 <= int(query_id) <= self._queries:
            raise BadRequest("query is too old and response timeout expired or query ID is invalid")
        self.answered_callbacks.append((query_id, p.get("text"), p.get("show_alert") == "true"))
        return True

    async def _api_setMyCommands(self, p: dict[str, Any], _f: dict[str, bytes]) -> Any:
        commands = json.loads(p.get("commands", "[]"))
        for c in commands:
            if (
                not re.fullmatch(r"[a-z0-9_]{1,32}", c.get("command", ""))
                or not 1 <= len(c.get("description", "")) <= 256
            ):
                raise BadRequest(f"BOT_COMMAND_INVALID: {c}")
        self.commands = commands
        return True

    async def _api_getMyCommands(self, _p: dict[str, Any], _f: dict[str, bytes]) -> Any:
        return self.commands

    async def _api_deleteMyCommands(self, _p: dict[str, Any], _f: dict[str, bytes]) -> Any:
        self.commands = []
        return True

    async def _api_getChat(self, p: dict[str, Any], _f: dict[str, bytes]) -> Any:
        chat_id = int(p["chat_id"])
        return _chat(chat_id, chat_id, "")

    # -- the stored messages -------------------------------------------------------------------
    def _issue_query(self) -> int:
        self._queries += 1
        return self._queries

    def _store(self, method: str, p: dict[str, Any], text: str, *, photo: bytes | None = None) -> dict[str, Any]:
        chat_id = int(p["chat_id"])
        message: dict[str, Any] = {
            "message_id": next(self._next_message),
            "from": self.bot_user,
            "chat": _chat(chat_id, chat_id, ""),
            "date": int(time.time()),
            "_raw": text,
        }
        if photo is not None:
            message["photo"] = [
                {"file_id": f"photo{message['message_id']}", "file_unique_id": "u", "width": 1, "height": 1}
            ]
            if text:
                message["caption"] = plain(text, p.get("parse_mode"))
        else:
            message["text"] = plain(text, p.get("parse_mode"))
        set_markup(message, markup_of(p))
        self._messages[(chat_id, message["message_id"])] = message
        self._record(method, p, message, text, photo=photo)
        return _public(message)

    def _record(
        self, method: str, p: dict[str, Any], message: dict[str, Any], text: str, *, photo: bytes | None = None
    ) -> None:
        self.sent.append(
            Sent(
                method=method,
                chat_id=message["chat"]["id"],
                message_id=message["message_id"],
                text=text,
                parse_mode=p.get("parse_mode"),
                reply_markup=markup_of(p),
                silent=p.get("disable_notification") == "true",
                photo=photo,
                at=time.monotonic(),
            )
        )

    def _message(self, p: dict[str, Any]) -> dict[str, Any]:
        key = (int(p.get("chat_id", 0)), int(p.get("message_id", 0)))
        if key not in self._messages:
            raise BadRequest("message to edit not found")
        return self._messages[key]


class _Conflict(Exception):
    pass


# -- helpers ---------------------------------------------------------------------------------------
def _user(user_id: int, username: str) -> dict[str, Any]:
    user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": username or f"user{user_id}"}
    if username:
        user["username"] = username
    return user


def _chat(chat_id: int, user_id: int, username: str) -> dict[str, Any]:
    """A private chat when the chat id is the user's (as Telegram numbers them), else a group."""
    if chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": username or f"user{user_id}"}
    return {"id": chat_id, "type": "group", "title": f"group {chat_id}"}


def _fault(status: int, retry_after: int | None, description: str) -> Fault:
    if status == 429 and retry_after is None:
        retry_after = 1
    text = description or _DESCRIPTIONS.get(status, "Internal Server Error").format(retry_after=retry_after)
    return Fault(status, text, retry_after if status == 429 else None)


def _error(status: int, description: str, retry_after: int | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=status)


async def _read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Query string, then the form (urlencoded or multipart, as PTB sends them), then a JSON body."""
    params: dict[str, Any] = dict(request.query)
    files: dict[str, bytes] = {}
    if request.method != "POST" or not request.can_read_body:
        return params, files
    if request.content_type == "application/json":
        body = await request.json()
        params.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()})
        return params, files
    form = await request.post()
    for key, value in form.items():
        if isinstance(value, web.FileField):
            files[key] = value.file.read()
        else:
            params[key] = value
    return params, files


def _public(message: dict[str, Any]) -> dict[str, Any]:
    """The message as Telegram returns it (without the fake's own `_raw` text)."""
    return {k: v for k, v in message.items() if not k.startswith("_")}
