"""Confirmation buttons for destructive commands: one press, by the person who asked, in the chat
where it was asked, within the time limit. Anything else is refused; nothing runs twice. Pure: the
caller passes the time and the token."""

from __future__ import annotations

from dataclasses import dataclass, replace

CONFIRM, CANCEL = "ok", "no"


@dataclass(frozen=True)
class Pending:
    token: str
    command: str
    args: tuple[str, ...]
    user_id: int
    chat_id: int
    asked_s: float
    message_id: int | None = None  # the message that carries the buttons, once sent


@dataclass(frozen=True)
class Press:
    """What a button press comes to: `run` the pending command, or not, and what to say."""

    pending: Pending | None
    run: bool
    answer: str  # shown to the presser (callback answer); "" = no answer at all (a stranger)


def callback_data(choice: str, token: str) -> str:
    return f"{choice}:{token}"


class Confirmations:
    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._pending: dict[str, Pending] = {}
        self._done: dict[str, str] = {}  # token -> how it ended, so a second press is told

    def ask(self, token: str, command: str, args: list[str], *, user_id: int, chat_id: int, now_s: float) -> Pending:
        self._forget_old(now_s)
        pending = Pending(token, command, tuple(args), user_id, chat_id, now_s)
        self._pending[token] = pending
        return pending

    def attach(self, token: str, message_id: int) -> None:
        if token in self._pending:
            self._pending[token] = replace(self._pending[token], message_id=message_id)

    def press(self, data: str, *, user_id: int, chat_id: int, message_id: int, now_s: float) -> Press:
        choice, _, token = data.partition(":")
        pending = self._pending.get(token)
        if pending is None:
            ended = self._done.get(token)
            return Press(None, False, f"already {ended}" if ended else "this button is no longer valid")
        if (chat_id, message_id) != (pending.chat_id, pending.message_id):
            return Press(None, False, "")  # a forwarded copy, or another chat: not the request
        if user_id != pending.user_id:
            return Press(None, False, "only the person who asked can confirm this")
        del self._pending[token]
        if now_s - pending.asked_s > self.timeout_s:
            self._done[token] = "expired"
            return Press(pending, False, f"expired after {self.timeout_s:g} s; send /{pending.command} again")
        if choice != CONFIRM:
            self._done[token] = "cancelled"
            return Press(pending, False, "cancelled")
        self._done[token] = "confirmed"
        return Press(pending, True, "confirmed")

    def _forget_old(self, now_s: float) -> None:
        """Requests nobody answered: dropped after ten time limits (their buttons say 'no longer valid')."""
        for token, pending in list(self._pending.items()):
            if now_s - pending.asked_s > 10 * self.timeout_s:
                del self._pending[token]
        if len(self._done) > 1000:
            self._done.clear()
