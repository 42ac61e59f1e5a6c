"""Telegram: the command interface and the notifications (python-telegram-bot, in the daemon loop)."""
