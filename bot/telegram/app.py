"""The Telegram side of the daemon: python-telegram-bot in the daemon's own loop (initialize, start,
updater.start_polling; never run_polling), deny by default, every command audited, destructive ones
confirmed by a button, and the commands sent while the daemon was down answered at start (a kill or
a pause from someone allowed to send it is honoured, before any order). Telegram failing in any way
(down, 401, 409, 429) is logged and never stops trading."""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import secrets
from collections.abc import Callable, Iterable

from loguru import logger
from telegram import (
    Bot,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.error import InvalidToken, TelegramError
from telegram.ext import Application, ContextTypes, TypeHandler

from bot.clock import Clock
from bot.errors import KestrelError
from bot.store.audit import AuditLog
from bot.telegram.access import (
    COMMANDS,
    SAFETY_COMMANDS,
    DenialLog,
    Verdict,
    authorise,
    needs_confirmation,
    parse_command,
    refusal_text,
)
from bot.telegram.commands import CommandDesk
from bot.telegram.confirm import CANCEL, CONFIRM, Confirmations, callback_data
from bot.telegram.daily import DailySummary
from bot.telegram.desk import Caller, Reply
from bot.telegram.notices import chunks, pre
from bot.telegram.notifier import Notifier
from bot.telegram.outbox import Outbox
from bot.telegram_config import TelegramConfig

KEYBOARD = [["/status", "/profit", "/balance"], ["/trades", "/daily", "/health"], ["/pause", "/resume", "/help"]]
START_TIMEOUT_S = 10.0
RETRY_START_S = (2.0, 5.0, 15.0, 30.0, 60.0)  # then every minute


class TelegramService:
    def __init__(
        self,
        cfg: TelegramConfig,
        token: str,
        *,
        desk: CommandDesk,
        audit: AuditLog,
        notifier_for: Callable[[Outbox], Notifier],
        wall: Clock,
        secrets: Iterable[str] = (),
    ) -> None:
        self._cfg = cfg
        self._desk = desk
        self._audit = audit
        self._wall = wall
        builder = Application.builder().token(token).concurrent_updates(False)
        if cfg.base_url:
            builder = builder.base_url(cfg.base_url).base_file_url(cfg.base_url.replace("/bot", "/file/bot", 1))
        builder = builder.get_updates_read_timeout(cfg.poll_timeout_s + 10).connect_timeout(5).read_timeout(10)
        self._app = builder.build()
        self._app.add_handler(TypeHandler(Update, self._on_update))
        self._app.add_error_handler(self._on_error)
        assert cfg.chat_id is not None  # the config refuses enabled without it
        self.outbox = Outbox(self._app.bot, cfg.chat_id, secrets=[token, *secrets])
        self.notifier = notifier_for(self.outbox)
        self._confirmations = Confirmations(cfg.confirm_timeout_s)
        self._denials = DenialLog()
        self._polling_errors = DenialLog()
        self._tasks: list[asyncio.Task[None]] = []
        self.running = False
        self.summary: DailySummary | None = None  # set by the wiring

    @property
    def bot(self) -> Bot:
        return self._app.bot

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect, answer the backlog, then poll. When Telegram cannot be reached, trading starts
        anyway and the connection is tried again in the background (what was sent meanwhile is
        then the backlog); a refused token is final until a restart."""
        await self.notifier.start_cursor()
        self._tasks = [asyncio.create_task(self.outbox.run(), name="telegram-outbox")]
        if not await self._connect():
            self._tasks.append(asyncio.create_task(self._connect_later(), name="telegram-connect"))

    async def _connect_later(self) -> None:
        for attempt in itertools.count():
            await asyncio.sleep(RETRY_START_S[min(attempt, len(RETRY_START_S) - 1)])
            if await self._connect():
                return

    async def _connect(self) -> bool:
        """True when done: serving, or refused for good."""
        try:
            await asyncio.wait_for(self._app.initialize(), START_TIMEOUT_S)
            await self._answer_backlog()
            await self._app.start()
            assert self._app.updater is not None
            await self._app.updater.start_polling(
                poll_interval=0,
                timeout=int(self._cfg.poll_timeout_s),
                allowed_updates=["message", "callback_query"],
                drop_pending_updates=False,
                error_callback=self._on_polling_error,
            )
            built = self._desk.available
            await self.bot.set_my_commands([(s.name, s.help[:256]) for s in COMMANDS.values() if s.name in built])
        except InvalidToken as e:
            logger.error("Telegram refused the token ({}); Telegram is off until a restart, trading goes on", e)
            self.outbox.disabled = "invalid token"
            return True
        except (TelegramError, TimeoutError) as e:
            held = self._polling_errors.count(self._wall.now_ms() / 1000)
            if held is not None:
                logger.error("Telegram cannot be reached ({}: {}); trading goes on, retrying", type(e).__name__, e)
            await self._undo_start()
            return False
        except asyncio.CancelledError:  # stopped while connecting: leave nothing running
            await self._undo_start()
            raise
        except Exception as e:  # anything else (the audit table busy...): logged, tried again later
            logger.opt(exception=e).error(
                "Telegram start failed: {}: {}; trading goes on, retrying", type(e).__name__, e
            )
            await self._undo_start()
            return False
        self.running = True
        self._tasks.append(asyncio.create_task(self.notifier.run(), name="telegram-notifier"))
        logger.info("Telegram: serving chat {} for {} users", self._cfg.chat_id, len(self._cfg.users))
        return True

    async def _undo_start(self) -> None:
        """After a start that failed half-way: back to not started, so the next try starts clean."""
        with contextlib.suppress(TelegramError, RuntimeError):
            if self._app.updater is not None and self._app.updater.running:
                await self._app.updater.stop()
            if self._app.running:
                await self._app.stop()

    async def stop_polling(self) -> None:
        """No new update is fetched; the handlers in hand run to their end. First step of a stop."""
        connecting = [t for t in self._tasks if t.get_name() == "telegram-connect" and not t.done()]
        for task in connecting:
            task.cancel()
        await asyncio.gather(*connecting, return_exceptions=True)
        with contextlib.suppress(TelegramError, RuntimeError):
            if self._app.updater is not None and self._app.updater.running:
                await self._app.updater.stop()
            if self._app.running:
                await self._app.stop()

    async def stop(self, *, drain_s: float = 3.0) -> None:
        """After the daemon's last event: what is queued (the 'stopped' notice among it) gets a
        bounded moment to go out, then everything is closed."""
        await self.stop_polling()
        if self.running:
            with contextlib.suppress(Exception):
                await self.notifier.pump()
            await self.outbox.drain(drain_s)
        with contextlib.suppress(TelegramError, RuntimeError):
            await self._app.shutdown()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.running = False

    async def after_tick(self) -> None:
        """Notifications now rather than at the next interval; the daily summary when a day ended."""
        self.notifier.poke()
        if not self.running or self.summary is None:
            return
        try:
            await self.summary.check()
        except Exception as e:  # a summary is never worth a failed tick
            logger.opt(exception=e).warning("daily summary not sent: {}: {}", type(e).__name__, e)

    async def _answer_backlog(self) -> None:
        """Updates that waited while the daemon was down, answered before the first tick. What this
        call returns is the backlog (message dates are whole seconds, too coarse to tell). Each batch
        is confirmed before it is handled, so a failure half-way never handles one twice; only the
        fetching has a time limit (a kill handled here may take its time)."""

        async def fetch(offset: int | None) -> tuple[Update, ...]:
            return await asyncio.wait_for(
                self.bot.get_updates(offset=offset, timeout=0, allowed_updates=["message", "callback_query"]),
                START_TIMEOUT_S,
            )

        batch = await fetch(None)
        while batch:
            following = await fetch(batch[-1].update_id + 1)  # confirms `batch`
            for update in batch:
                await self._handle(update, backlog=True)
            batch = following

    # -- updates -------------------------------------------------------------------------------

    async def _on_update(self, update: object, _context: ContextTypes.DEFAULT_TYPE) -> None:
        if isinstance(update, Update):
            await self._handle(update)

    async def _handle(self, update: Update, *, backlog: bool = False) -> None:
        if update.callback_query is not None:
            await self._on_press(update.callback_query)
            return
        message = update.message
        if message is None or message.text is None or message.from_user is None:
            return
        parsed = parse_command(message.text, self.bot.username)
        if parsed is None:
            return
        name, args = parsed
        user = message.from_user
        spec = COMMANDS.get(name)
        verdict = authorise(self._cfg, user.id, message.chat.id, spec)
        if verdict is Verdict.IGNORE:
            held = self._denials.count(self._wall.now_ms() / 1000)
            if held is not None:
                logger.warning(
                    "Telegram: ignored {} update(s), latest /{} from user {} in chat {}",
                    held,
                    name,
                    user.id,
                    message.chat.id,
                )
            await self._note(name, " ".join(args), "ignored", (user.id, user.username or "", message.chat.id))
            return
        if verdict is Verdict.REFUSE:
            result = refusal_text(self._cfg, user.id, spec, name)
            await self._note(name, " ".join(args), result, (user.id, user.username or "", message.chat.id))
            self._reply(Reply(result))
            return
        assert spec is not None
        caller = Caller(user.id, user.username or "", self._cfg.role_of(user.id) or COMMANDS["help"].role)
        if backlog:
            await self._backlog(name, args, caller, message)
            return
        early = self._desk.refuse_early(name)
        if early is not None:
            await self._note(name, " ".join(args), f"refused: {early}", (user.id, user.username or "", message.chat.id))
            self._reply(Reply(early))
            return
        if needs_confirmation(spec, args):
            await self._ask(name, args, caller, message.chat.id)
            return
        await self._run(name, args, caller)

    async def _backlog(self, name: str, args: list[str], caller: Caller, message: Message) -> None:
        sent = message.date.strftime("%H:%M UTC")
        if name in SAFETY_COMMANDS:
            await self._run(name, args, caller, note=f"(sent at {sent} while the bot was down; honoured)")
            return
        text = f"/{name} expired, sent while the bot was down ({sent}); send it again"
        await self._note(name, " ".join(args), "expired", (caller.user_id, caller.username, message.chat.id))
        self._reply(Reply(text))

    async def _run(self, name: str, args: list[str], caller: Caller, *, note: str = "") -> None:
        try:
            reply = await self._desk.run(name, args, caller)
            result = "done"
        except KestrelError as e:  # a wrong argument, a transition the state refuses
            reply, result = Reply(str(e)), f"refused: {e}"
        except Exception as e:  # the Telegram error boundary: one line to the user, the traceback to the log
            logger.opt(exception=e).error("/{} failed: {}: {}", name, type(e).__name__, e)
            reply, result = Reply(f"/{name} failed: {type(e).__name__}; see the log"), f"failed: {e}"
        await self._note(name, " ".join(args), result, (caller.user_id, caller.username, self._cfg.chat_id))
        if note:
            reply = Reply(f"{reply.text}\n{note}", pre=False)
        self._reply(reply)

    def _reply(self, reply: Reply) -> None:
        text = self.outbox.scrub(reply.text)  # before any cut, which could split a secret
        if reply.photo is not None:
            self.outbox.post_photo(reply.photo, html.escape(text[:1000]), silent=reply.silent)
            return
        markup = ReplyKeyboardMarkup(KEYBOARD, resize_keyboard=True) if reply.keyboard else None
        wrap = pre if reply.pre else html.escape
        self.outbox.post(chunks(text, wrap=wrap), silent=reply.silent, reply_markup=markup)

    # -- confirmations -------------------------------------------------------------------------

    async def _ask(self, name: str, args: list[str], caller: Caller, chat_id: int) -> None:
        token = secrets.token_urlsafe(9)
        now_s = self._wall.now_ms() / 1000
        self._confirmations.ask(token, name, args, user_id=caller.user_id, chat_id=chat_id, now_s=now_s)
        await self._note(name, " ".join(args), "asked to confirm", (caller.user_id, caller.username, chat_id))
        buttons = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(f"Yes, /{name}", callback_data=callback_data(CONFIRM, token)),
                    InlineKeyboardButton("Cancel", callback_data=callback_data(CANCEL, token)),
                ]
            ]
        )
        limit = f"{self._confirmations.timeout_s:g}"
        text = f"Confirm /{' '.join([name, *args])}? The button works once, for {limit} s."
        sent = self.outbox.post([html.escape(text)], reply_markup=buttons)
        sent.add_done_callback(lambda f: self._attach(token, f))

    def _attach(self, token: str, future: asyncio.Future[Message | None]) -> None:
        message = None if future.cancelled() else future.result()
        if message is not None:
            self._confirmations.attach(token, message.message_id)

    async def _on_press(self, query: CallbackQuery) -> None:
        message, user = query.message, query.from_user
        chat_id = message.chat.id if message is not None else None
        if authorise(self._cfg, query.from_user.id, chat_id, COMMANDS["help"]) is not Verdict.SERVE:
            await self._note("button", query.data or "", "ignored", (user.id, user.username or "", chat_id))
            return
        assert message is not None
        assert chat_id is not None
        press = self._confirmations.press(
            query.data or "",
            user_id=query.from_user.id,
            chat_id=chat_id,
            message_id=message.message_id,
            now_s=self._wall.now_ms() / 1000,
        )
        if press.answer:
            with contextlib.suppress(TelegramError):
                await query.answer(press.answer)
        if press.pending is None:
            return
        pending = press.pending
        await self._note(pending.command, " ".join(pending.args), press.answer, (user.id, user.username or "", chat_id))
        with contextlib.suppress(TelegramError):  # the buttons go: they work once
            await self.bot.edit_message_text(
                html.escape(f"/{pending.command}: {press.answer}"), chat_id=chat_id, message_id=message.message_id
            )
        if press.run:
            caller = Caller(
                query.from_user.id,
                query.from_user.username or "",
                self._cfg.role_of(query.from_user.id) or COMMANDS["help"].role,
            )
            await self._run(pending.command, list(pending.args), caller)

    async def _note(self, command: str, args: str, result: str, who: tuple[int | None, str, int | None]) -> None:
        """The audit row of a command or a button press; `who`: user id, username, chat id."""
        user_id, username, chat_id = who
        await self._audit.record(
            channel="telegram",
            command=command,
            args=args,
            result=result,
            user_id=user_id,
            username=username,
            chat_id=chat_id,
        )

    # -- errors --------------------------------------------------------------------------------

    def _on_polling_error(self, error: TelegramError) -> None:
        held = self._polling_errors.count(self._wall.now_ms() / 1000)
        if held is not None:
            logger.warning("Telegram polling: {}: {} (retrying; trading goes on)", type(error).__name__, error)

    async def _on_error(self, _update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        error = context.error
        logger.opt(exception=error).error("Telegram handler failed: {}: {}", type(error).__name__, error)
