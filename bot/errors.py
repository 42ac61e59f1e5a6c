"""Kestrel's exception tree. Every error a user can meet is one of these, with a one-line message."""


class KestrelError(Exception):
    """Base of every error Kestrel raises on purpose."""


class ConfigError(KestrelError):
    """The config file is missing, unreadable or has a bad value; the message names file and key."""


class StrategyError(KestrelError):
    """A strategy file failed to load or a strategy method raised; the message names file and line."""


class BooksDisagreeError(KestrelError):
    """At start, the journal's open positions are not all held at the venue."""


class StartCancelledError(KestrelError):
    """A stop was requested before the daemon finished starting (e.g. while the exchange was down)."""


class StoreError(KestrelError):
    """The SQLite store cannot be opened or its schema is from an unknown version."""


class ExchangeError(KestrelError):
    """A venue refused or failed a request."""


class TransientExchangeError(ExchangeError):
    """Network trouble, timeouts, rate limits: the same request may succeed later."""


class RateLimitedError(TransientExchangeError):
    """The venue asked us to slow down (HTTP 429, or 418 for an IP ban)."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class AuthenticationFailedError(ExchangeError):
    """Keys missing, wrong or without the needed permission: nothing will work until a person acts."""


class OrderRejectedError(ExchangeError):
    """The venue refused the order itself (bad amount, price, unknown symbol)."""


class InsufficientFundsError(OrderRejectedError):
    """The wallet cannot pay for the order."""


class OrderNotFoundError(ExchangeError):
    """The venue has no order with this client id (a confirmed 'not found')."""


class UnsupportedError(KestrelError):
    """A feature named in the config is not available in this version."""


class StoppingError(KestrelError):
    """An action asked for while the daemon stops or reloads: not carried out."""


class TrainingError(KestrelError):
    """A model cannot be trained or judged: too few rows, one class only, a purge too short."""


class TrainingCancelledError(TrainingError):
    """A training in the daemon stopped because the daemon is stopping."""
