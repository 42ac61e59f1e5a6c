"""The public strategy API. Users write `class MyStrategy(Strategy)` in `strategies/*.py`."""

from bot.strategy.base import Strategy

__all__ = ["Strategy"]
