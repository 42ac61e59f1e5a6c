"""ccxt's exceptions turned into Kestrel's, once, at the adapter's edge: nothing above the adapter
imports ccxt. The mapping decides what the executor may do next, so it is spelled out here."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import ccxt

from bot.errors import (
    AuthenticationFailedError,
    ExchangeError,
    InsufficientFundsError,
    OrderNotFoundError,
    OrderRejectedError,
    RateLimitedError,
    TransientExchangeError,
)


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())[:300] or type(error).__name__


def retry_after_s(headers: Mapping[str, str] | None) -> float | None:
    """Binance's Retry-After header (seconds) on a 429/418, if it sent one."""
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == "retry-after":
            try:
                return max(0.0, float(value))
            except ValueError:
                return None
    return None


@contextmanager
def translated(
    action: str, symbol: str, last_headers: Callable[[], Mapping[str, str] | None] | None = None
) -> Iterator[None]:
    """Run a ccxt call; any ccxt error leaves as one of ours, with `action symbol: reason`.

    A duplicate client order id, a timeout, a dropped connection, a 5xx or an unreadable reply are
    *transient*: for a submit they are ambiguous (the order may exist), so the executor looks the
    order up by client id instead of sending it again."""
    where = f"{action} {symbol}"
    try:
        yield
    except ccxt.OrderNotFound as e:
        raise OrderNotFoundError(f"{where}: {_one_line(e)}") from e
    except ccxt.DuplicateOrderId as e:
        raise TransientExchangeError(f"{where}: the client order id is already in use: {_one_line(e)}") from e
    except ccxt.InsufficientFunds as e:
        raise InsufficientFundsError(f"{where}: {_one_line(e)}") from e
    except (ccxt.InvalidOrder, ccxt.BadRequest, ccxt.OperationRejected) as e:
        if "Duplicate order sent" in str(e):  # Binance's -2010 for a client id in use; ccxt: InvalidOrder
            raise TransientExchangeError(f"{where}: the client order id is already in use: {_one_line(e)}") from e
        raise OrderRejectedError(f"{where}: {_one_line(e)}") from e
    except ccxt.AuthenticationError as e:
        raise AuthenticationFailedError(
            f"{where}: the exchange refused the API key (check KESTREL_EXCHANGE_KEY/SECRET, or "
            f"exchange.key/secret, and the key's permissions and IP list): {_one_line(e)}"
        ) from e
    except (ccxt.RateLimitExceeded, ccxt.DDoSProtection) as e:
        headers = last_headers() if last_headers is not None else None
        raise RateLimitedError(f"{where}: rate limited: {_one_line(e)}", retry_after_s(headers)) from e
    except ccxt.OperationFailed as e:  # network, timeout, maintenance, nonce, malformed reply
        raise TransientExchangeError(f"{where}: {_one_line(e)}") from e
    except (AttributeError, TypeError) as e:  # ccxt parsing a 200 reply that was not the JSON it expects
        raise TransientExchangeError(f"{where}: unreadable reply: {_one_line(e)}") from e
    except ccxt.BaseError as e:
        raise ExchangeError(f"{where}: {_one_line(e)}") from e


def check_reply(result: Any, where: str) -> None:
    """ccxt returns whatever a 200 reply carried: one that was not JSON comes back as a structure of
    empty fields with the raw text as `info` (an empty balance, an order of Nones). Never trust it."""
    rows = result if isinstance(result, list) else [result]
    if any(isinstance(row, Mapping) and isinstance(row.get("info"), str) for row in rows):
        raise TransientExchangeError(f"{where}: unreadable reply (not JSON)")
