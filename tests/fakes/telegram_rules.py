"""What Telegram checks in what a bot sends (the fake Bot API server applies it): lengths, the HTML
subset it parses, and inline buttons' callback data."""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser
from typing import Any

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64  # bytes
_HTML_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "code", "pre"}
_HTML_TAGS |= {"blockquote", "tg-emoji"}
_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")


class BadRequest(Exception):
    """What Telegram answers 400 with; the message becomes the description."""


def markup_of(p: dict[str, Any]) -> dict[str, Any] | None:
    raw = p.get("reply_markup")
    if not raw:
        return None
    markup = json.loads(raw)
    for row in markup.get("inline_keyboard", []):
        for button in row:
            if len(button.get("callback_data", "").encode()) > CALLBACK_DATA_LIMIT:
                raise BadRequest("BUTTON_DATA_INVALID")
    return markup


def set_markup(message: dict[str, Any], markup: dict[str, Any] | None) -> None:
    """Only inline keyboards belong to a message; a reply keyboard belongs to the chat."""
    if markup is not None and "inline_keyboard" in markup:
        message["reply_markup"] = markup
    else:
        message.pop("reply_markup", None)


def _public(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if not k.startswith("_")}


def plain(text: str, parse_mode: str | None) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text)) if parse_mode == "HTML" else text


def check_text(text: str, parse_mode: str | None, limit: int, too_long: str) -> None:
    if parse_mode == "HTML":
        _check_html(text)
    if len(plain(text, parse_mode)) > limit:
        raise BadRequest(too_long)


class _TagChecker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _HTML_TAGS:
            raise BadRequest(f'can\'t parse entities: unsupported start tag "{tag}"')
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            raise BadRequest(f"can't parse entities: can't find end tag corresponding to start tag \"{tag}\"")
        self.open.pop()


def _check_html(text: str) -> None:
    """Refuses what Telegram's HTML parser refuses: unknown or unbalanced tags, and a `<` or `&` that
    is not escaped (Telegram reads `<x` as a tag and `&x` as an entity)."""
    for match in re.finditer(r"&", text):
        if not _ENTITY.match(text, match.start()):
            raise BadRequest(f"can't parse entities: unsupported entity at byte offset {match.start()}")
    if "<" in re.sub(r"</?[a-z-]+(\s[^<>]*)?>", "", text):
        raise BadRequest("can't parse entities: unexpected '<'")
    checker = _TagChecker()
    checker.feed(text)
    checker.close()
    if checker.open:
        raise BadRequest(f"can't parse entities: can't find end tag corresponding to start tag \"{checker.open[-1]}\"")
