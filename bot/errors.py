"""Kestrel's exception tree. Every error a user can meet is one of these, with a one-line message."""


class KestrelError(Exception):
    """Base of every error Kestrel raises on purpose."""


class ConfigError(KestrelError):
    """The config file is missing, unreadable or has a bad value; the message names file and key."""


class StrategyError(KestrelError):
    """A strategy file failed to load or a strategy method raised; the message names file and line."""


class BooksDisagreeError(KestrelError):
    """At start, the journal's open positions are not all held at the venue."""


class StoreError(KestrelError):
    """The SQLite store cannot be opened or its schema is from an unknown version."""


class ExchangeError(KestrelError):
    """A venue refused or failed a request."""


class TransientExchangeError(ExchangeError):
    """Network trouble, timeouts, rate limits: the same request may succeed later."""


class OrderRejectedError(ExchangeError):
    """The venue refused the order itself (bad amount, price, unknown symbol)."""


class InsufficientFundsError(OrderRejectedError):
    """The wallet cannot pay for the order."""


class OrderNotFoundError(ExchangeError):
    """The venue has no order with this client id (a confirmed 'not found')."""


class UnsupportedError(KestrelError):
    """A feature named in the config is not available in this version."""
