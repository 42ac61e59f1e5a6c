"""Every message the bot sends goes through one queue and one sender task, so trading never waits
for Telegram: a 429 is waited out (Telegram says how long), a network failure is retried with a
growing pause, a full queue drops its oldest notices (and says so later), and a revoked token
(401/403) stops sending for good while trading goes on."""

from __future__ import annotations

import asyncio
import contextlib
import html
import warnings
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from loguru import logger
from telegram import Bot, InputFile, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter

from bot.telegram.views import REDACTED

MAX_BACKOFF_S = 60.0


@dataclass
class Outgoing:
    html: str  # text, or a photo's caption
    silent: bool = False
    reply_markup: Any = None
    photo: bytes | None = None
    done: asyncio.Future[Message | None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


def retry_after_s(error: RetryAfter) -> float:
    """PTB gives seconds as int, or as a timedelta when told to: either way, seconds."""
    with warnings.catch_warnings():  # PTB 22 warns on every read that the type will change
        warnings.simplefilter("ignore")
        value: Any = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class Outbox:
    def __init__(
        self,
        bot: Bot,
        chat_id: int,
        *,
        max_queued: int = 500,
        secrets: Iterable[str] = (),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._bot = bot
        self._chat_id = chat_id
        self._max = max_queued
        # the last guard for "no secret in any message": an error text quoting a URL with the token,
        # a config value echoed back; short strings are left alone (they would blank ordinary words)
        self._secrets = sorted({v for s in secrets if len(s) >= 8 for v in (s, html.escape(s))}, key=len, reverse=True)
        self._sleep = sleep
        self._queue: deque[Outgoing] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()  # set while nothing waits to be sent
        self._idle.set()
        self._dropped = 0
        self.disabled: str | None = None  # why sending stopped for good
        self.sent = 0
        self.waited_s = 0.0  # time spent waiting out 429s and failures (for /health)
        self.unreachable = False  # the last try failed on the network (a stop does not wait for it)

    @property
    def queued(self) -> int:
        return len(self._queue)

    @property
    def idle(self) -> bool:
        """Nothing waiting and nothing being sent."""
        return self._idle.is_set()

    def post(
        self, pieces: list[str], *, silent: bool = False, reply_markup: Any = None
    ) -> asyncio.Future[Message | None]:
        """Queue a text already cut by notices.chunks; the future gets the last message sent (the
        one carrying `reply_markup`), or None if it was never sent."""
        items = [Outgoing(p, silent) for p in pieces]
        items[-1].reply_markup = reply_markup
        for item in items[:-1]:
            item.done.set_result(None)
        for item in items:
            self._put(item)
        return items[-1].done

    def post_photo(self, photo: bytes, caption_html: str, *, silent: bool = False) -> asyncio.Future[Message | None]:
        item = Outgoing(caption_html, silent, photo=photo)
        self._put(item)
        return item.done

    def scrub(self, text: str) -> str:
        """`text` with every known secret replaced (also applied to everything queued)."""
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def _put(self, item: Outgoing) -> None:
        item.html = self.scrub(item.html)
        if self.disabled is not None:
            item.done.set_result(None)
            return
        while len(self._queue) >= self._max:
            self._queue.popleft().done.set_result(None)
            self._dropped += 1
        self._queue.append(item)
        self._idle.clear()
        self._wake.set()

    async def run(self) -> None:
        """The sender: until cancelled, or for good when Telegram refuses the token."""
        backoff_s = 1.0
        while self.disabled is None:
            if not self._queue:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            item = self._queue[0]
            try:
                message = await self._send(item)
            except RetryAfter as e:
                await self._wait(retry_after_s(e), f"Telegram asks to wait (429): {retry_after_s(e):g} s")
                continue
            except (InvalidToken, Forbidden) as e:
                self._stop(f"Telegram refused the bot ({type(e).__name__}: {e}); no more messages until a restart")
                return
            except BadRequest as e:  # this message can never be sent; the next ones may
                logger.error("Telegram refused a message: {} ({} characters)", e, len(item.html))
                message = None
            except NetworkError as e:  # unreachable, timed out, 5xx: the same message again later
                self.unreachable = True
                await self._wait(backoff_s, f"Telegram unreachable ({e}); retrying in {backoff_s:g} s")
                backoff_s = min(backoff_s * 2, MAX_BACKOFF_S)
                continue
            backoff_s = 1.0
            self.unreachable = False
            self._queue.popleft()
            if not item.done.done():
                item.done.set_result(message)
            if message is not None:
                self.sent += 1
            if self._dropped and not self._queue:
                dropped, self._dropped = self._dropped, 0
                self._put(Outgoing(f"{dropped} notifications were dropped while Telegram could not be reached"))

    async def _send(self, item: Outgoing) -> Message:
        if item.photo is not None:
            return await self._bot.send_photo(
                self._chat_id,
                InputFile(item.photo, filename="chart.png"),
                caption=item.html,
                parse_mode=ParseMode.HTML,
                disable_notification=item.silent,
            )
        return await self._bot.send_message(
            self._chat_id,
            item.html,
            parse_mode=ParseMode.HTML,
            disable_notification=item.silent,
            reply_markup=item.reply_markup,
        )

    async def _wait(self, seconds: float, why: str) -> None:
        logger.warning("{}", why)
        self.waited_s += seconds
        await self._sleep(seconds)

    def _stop(self, why: str) -> None:
        logger.error("{}", why)
        self.disabled = why
        while self._queue:
            item = self._queue.popleft()
            if not item.done.done():
                item.done.set_result(None)
        self._idle.set()

    async def drain(self, timeout_s: float) -> None:
        """At stop: give the queue a bounded moment to go out (the 'stopped' notice among it); no
        moment at all while Telegram cannot be reached."""
        if self.unreachable:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout_s)
