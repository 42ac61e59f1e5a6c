"""What every command handler takes and gives: the request (arguments and caller) and the reply.
Shared by the handler groups (commands.py, report_commands.py, steering.py)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.errors import KestrelError
from bot.telegram_config import Role


class CommandArgumentError(KestrelError):
    """A command's argument is wrong; the message says which and what is expected."""


@dataclass(frozen=True)
class Reply:
    text: str
    pre: bool = False  # monospace (tables)
    keyboard: bool = False  # with the reply keyboard of common commands
    silent: bool = False
    photo: bytes | None = None  # a PNG, with `text` as its caption


@dataclass(frozen=True)
class Caller:
    """Who sent the command."""

    user_id: int
    username: str
    role: Role

    @property
    def by(self) -> str:
        return "telegram"

    def reason(self, words: list[str], default: str) -> str:
        text = " ".join(words) or default
        return f"{text} (@{self.username})" if self.username else f"{text} (user {self.user_id})"


@dataclass(frozen=True)
class Request:
    args: list[str]
    caller: Caller


def count_arg(args: list[str], default: int, *, name: str = "n", most: int = 365) -> int:
    if not args:
        return default
    try:
        value = int(args[0])
    except ValueError:
        raise CommandArgumentError(f"{name}: {args[0]!r} is not a whole number") from None
    if not 1 <= value <= most:
        raise CommandArgumentError(f"{name}: must be between 1 and {most}, got {value}")
    return value
