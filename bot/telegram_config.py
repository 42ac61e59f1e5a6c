"""The `telegram` section of config.json: who may talk to the bot, with which role, and which
notifications are sent. Off by default; the token may come from KESTREL_TELEGRAM_TOKEN instead."""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from typing import Literal

from pydantic import Field, field_validator, model_validator

from bot.config_section import Section
from bot.errors import ConfigError
from bot.secrets_source import secret

TOKEN_ENV = "KESTREL_TELEGRAM_TOKEN"  # noqa: S105 (the name of the variable, not a token)


class Role(IntEnum):
    """Ordered: each role may do what the ones below it may."""

    VIEWER = 1
    OPERATOR = 2
    ADMIN = 3


# every kind of notification, and the events table kinds behind it (see bot/telegram/notices.py)
NOTIFICATION_KINDS = (
    "startup",  # started, stopped
    "entry",  # entry orders placed and filled, trades opened
    "exit",  # exit orders placed and filled, trades closed with profit
    "cancel",  # orders cancelled, expired or rejected
    "protection",  # pair locks
    "breaker",  # breakers tripping and recovering, trading state changes, the kill switch
    "error",  # what needs a person: tick failures, strategy errors, balance gaps
    "daily_summary",
    "model",  # ML retraining: a new model promoted or rejected, a retraining that failed
)
Delivery = Literal["on", "silent", "off"]


class TelegramConfig(Section):
    enabled: bool = False
    token: str = ""
    chat_id: int | None = None
    users: dict[int, Literal["viewer", "operator", "admin"]] = Field(default_factory=dict)
    base_url: str | None = None  # a local Bot API server, e.g. http://127.0.0.1:8081/bot
    notifications: dict[str, Delivery] = Field(default_factory=dict)
    allow_forceentry: bool = False
    confirm_timeout_s: float = Field(default=60, gt=0, le=3600)
    poll_timeout_s: float = Field(default=10, ge=0, le=60)

    @field_validator("notifications")
    @classmethod
    def _known_kinds(cls, value: dict[str, Delivery]) -> dict[str, Delivery]:
        unknown = sorted(set(value) - set(NOTIFICATION_KINDS))
        if unknown:
            raise ValueError(f"unknown kind {unknown[0]!r}; known: {', '.join(NOTIFICATION_KINDS)}")
        return value

    @field_validator("chat_id", mode="before")
    @classmethod
    def _blank_chat(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("users", mode="before")
    @classmethod
    def _user_ids(cls, value: object) -> object:
        if isinstance(value, dict):
            for key in value:
                if not str(key).lstrip("-").isdigit():
                    raise ValueError(f"{key!r} is not a Telegram user id (a number, see README)")
        return value

    @model_validator(mode="after")
    def _usable_when_enabled(self) -> TelegramConfig:
        if self.enabled and self.chat_id is None:
            raise ValueError("chat_id: required when telegram is enabled (the one chat the bot serves)")
        return self

    def role_of(self, user_id: int) -> Role | None:
        name = self.users.get(user_id)
        return None if name is None else Role[name.upper()]

    def delivery(self, kind: str) -> Delivery:
        return self.notifications.get(kind, "on")


def telegram_token(config: TelegramConfig, environ: Mapping[str, str]) -> str:
    """The bot token: the environment, a file, systemd's credentials (keeps it out of config.json),
    then the config."""
    token = secret(TOKEN_ENV, "telegram_token", environ, config.token)
    if not token:
        raise ConfigError(f"telegram.token: empty while telegram.enabled is true; set it or {TOKEN_ENV}")
    return token
