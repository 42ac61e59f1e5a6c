"""Who may run what: every command with its role, its help text and whether it must be confirmed.
Deny by default: only the listed users, in the one configured chat, are served at all. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from bot.telegram_config import Role, TelegramConfig


@dataclass(frozen=True)
class CommandSpec:
    name: str
    role: Role
    usage: str  # arguments, as /help shows them
    help: str
    confirm: bool = False  # destructive: a button must confirm it (see confirm.py)


VIEW, OPER, ADMIN = Role.VIEWER, Role.OPERATOR, Role.ADMIN
COMMANDS = {
    spec.name: spec
    for spec in (
        CommandSpec("help", VIEW, "", "this list"),
        CommandSpec("start", VIEW, "", "the keyboard with the common commands"),
        CommandSpec("status", VIEW, "[id|table]", "open trades (one trade with its id; `table` for a compact table)"),
        CommandSpec("trades", VIEW, "[n]", "the last n closed trades (default 10)"),
        CommandSpec("profit", VIEW, "", "realised and unrealised profit"),
        CommandSpec("balance", VIEW, "", "the wallet, free and in orders"),
        CommandSpec("daily", VIEW, "[n]", "profit per UTC day, the last n days (default 7)"),
        CommandSpec("weekly", VIEW, "[n]", "profit per week from Monday, the last n weeks (default 8)"),
        CommandSpec("monthly", VIEW, "[n]", "profit per calendar month, the last n months (default 6)"),
        CommandSpec("performance", VIEW, "", "profit per pair"),
        CommandSpec("count", VIEW, "", "open trades against max_open_trades"),
        CommandSpec("locks", VIEW, "", "pairs locked by protections"),
        CommandSpec("whitelist", VIEW, "", "the pairs traded"),
        CommandSpec("health", VIEW, "", "last tick, loop lag, breakers, memory"),
        CommandSpec("logs", VIEW, "[n]", "the last n events (default 10)"),
        CommandSpec("version", VIEW, "", "Kestrel's version"),
        CommandSpec("show_config", VIEW, "", "the running config, secrets redacted"),
        CommandSpec("why", VIEW, "<pair>", "the last signal and what blocked an entry"),
        CommandSpec("chart", VIEW, "<pair>", "candles with entries and exits (PNG)"),
        CommandSpec("equity", VIEW, "", "equity and drawdown (PNG)"),
        CommandSpec("pause", OPER, "[reason]", "no new entries; exits and stops go on"),
        CommandSpec("resume", OPER, "", "trade again after a pause or a kill"),
        CommandSpec("unlock", OPER, "<pair|all>", "lift protection locks"),
        CommandSpec("forceexit", OPER, "<id|all>", "sell a trade (or all) at market"),
        CommandSpec("kill", ADMIN, "[reason]", "kill switch: cancel all, sell all, then no orders", confirm=True),
        CommandSpec("forceentry", ADMIN, "<pair>", "buy now, through every entry check", confirm=True),
        CommandSpec("reload", ADMIN, "", "reload config and strategy after validating them", confirm=True),
    )
}
SAFETY_COMMANDS = frozenset({"kill", "pause"})  # honoured even when sent while the bot was down


def needs_confirmation(spec: CommandSpec, args: list[str]) -> bool:
    """/forceexit is confirmed only for `all`: one trade is routine, every trade is not."""
    return spec.confirm or (spec.name == "forceexit" and [a.lower() for a in args[:1]] == ["all"])


class Verdict(Enum):
    SERVE = "serve"
    REFUSE = "refuse"  # a listed user whose role is too low: told so
    IGNORE = "ignore"  # anyone else, or any other chat: no reply at all


def authorise(cfg: TelegramConfig, user_id: int | None, chat_id: int | None, spec: CommandSpec | None) -> Verdict:
    """`spec` None: an unknown command, which a listed user is told about (REFUSE)."""
    if user_id is None or chat_id != cfg.chat_id:
        return Verdict.IGNORE
    role = cfg.role_of(user_id)
    if role is None:
        return Verdict.IGNORE
    if spec is None or role < spec.role:
        return Verdict.REFUSE
    return Verdict.SERVE


def refusal_text(cfg: TelegramConfig, user_id: int, spec: CommandSpec | None, name: str) -> str:
    if spec is None:
        return f"unknown command /{name}; /help lists them"
    role = cfg.role_of(user_id)
    held = role.name.lower() if role else "no role"
    return f"/{name} needs the {spec.role.name.lower()} role; you are {held}"


def parse_command(text: str, bot_username: str) -> tuple[str, list[str]] | None:
    """'/status@kestrel_bot 3' -> ('status', ['3']); None when the text is not a command to this bot."""
    if not text.startswith("/"):
        return None
    head, *args = text.split()
    name, _, addressee = head[1:].partition("@")
    if addressee and addressee.lower() != bot_username.lower():
        return None
    return name.lower(), args


def help_text(role: Role, available: frozenset[str]) -> str:
    shown = [s for s in COMMANDS.values() if role >= s.role and s.name in available]
    lines = [f"/{s.name} {s.usage}".rstrip() + f" - {s.help}" for s in shown]
    return "\n".join(lines)


class DenialLog:
    """At most one log line per `every_s` about the updates ignored, with how many there were:
    a stranger flooding the bot must not flood the log either."""

    def __init__(self, every_s: float = 60.0) -> None:
        self._every_s = every_s
        self._last_s: float | None = None
        self._held = 0

    def count(self, now_s: float) -> int | None:
        """The number to log now (this one and those held back), or None to stay quiet."""
        self._held += 1
        if self._last_s is not None and now_s - self._last_s < self._every_s:
            return None
        self._last_s, held, self._held = now_s, self._held, 0
        return held
