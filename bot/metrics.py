"""What /health and /metrics say, from values gathered by the daemon: whether ticks are fresh, and
the Prometheus text exposition (format 0.0.4). Pure."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class Snapshot:
    now_wall_ms: int
    last_tick_wall_ms: int | None
    fresh_within_s: float  # a tick older than this is stale
    job_alive: bool  # the tick job is not stuck (systemd_notify.alive)
    trading_state: str  # running, paused, halted
    tick_seconds_last: float | None
    tick_seconds_sum: float
    tick_count: int
    orders_by_state: Mapping[str, int]
    exchange_errors: Mapping[str, int]
    equity: Decimal | None
    currency: str
    open_trades: int
    exposure: Decimal  # open positions at their last price, in the stake currency
    breakers: Mapping[str, bool]  # name -> tripped
    telegram_queue: int | None  # None: Telegram off
    loop_lag_ms: float
    memory_mb: float
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def last_tick_age_s(self) -> float | None:
        if self.last_tick_wall_ms is None:
            return None
        return max(0.0, (self.now_wall_ms - self.last_tick_wall_ms) / 1000)

    @property
    def healthy(self) -> bool:
        age = self.last_tick_age_s
        return self.job_alive and age is not None and age < self.fresh_within_s


def health_json(s: Snapshot) -> dict[str, object]:
    return {
        "status": "ok" if s.healthy else "stale",
        "last_tick_age_s": s.last_tick_age_s,
        "fresh_within_s": s.fresh_within_s,
        "tick_job_alive": s.job_alive,
        "trading": s.trading_state,
        "open_trades": s.open_trades,
    }


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float | int | Decimal) -> str:
    """Full precision (`:g` would turn 1234567.89 into 1.23457e+06); NaN and infinities as Prometheus spells them."""
    if isinstance(value, bool | int):
        return str(int(value))
    number = float(value)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    return format(value, "f") if isinstance(value, Decimal) else repr(number)


def _sample(name: str, value: float | int | Decimal, labels: Mapping[str, str] | None = None) -> str:
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted((labels or {}).items()))
    return f"{name}{{{inner}}} {_number(value)}" if inner else f"{name} {_number(value)}"


def _family(name: str, kind: str, help_text: str, samples: Sequence[str]) -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", *samples]


def prometheus_text(s: Snapshot) -> str:
    lines: list[str] = []
    lines += _family(
        "kestrel_up", "gauge", "1 while ticks are fresh and the tick job alive", [_sample("kestrel_up", int(s.healthy))]
    )
    age = s.last_tick_age_s
    lines += _family(
        "kestrel_last_tick_age_seconds",
        "gauge",
        "seconds since the last tick (wall clock)",
        [_sample("kestrel_last_tick_age_seconds", age if age is not None else float("nan"))],
    )
    lines += _family(
        "kestrel_tick_duration_seconds",
        "summary",
        "time one tick took",
        [
            _sample("kestrel_tick_duration_seconds_sum", s.tick_seconds_sum),
            _sample("kestrel_tick_duration_seconds_count", s.tick_count),
        ],
    )
    lines += _family(
        "kestrel_last_tick_duration_seconds",
        "gauge",
        "time the last tick took",
        [
            _sample(
                "kestrel_last_tick_duration_seconds",
                s.tick_seconds_last if s.tick_seconds_last is not None else float("nan"),
            )
        ],
    )
    lines += _family(
        "kestrel_orders",
        "gauge",
        "journal orders by state",
        [_sample("kestrel_orders", n, {"state": state}) for state, n in sorted(s.orders_by_state.items())],
    )
    lines += _family(
        "kestrel_exchange_errors_total",
        "counter",
        "failed exchange calls since start, by error",
        [_sample("kestrel_exchange_errors_total", n, {"kind": kind}) for kind, n in sorted(s.exchange_errors.items())],
    )
    if s.equity is not None:
        lines += _family(
            "kestrel_equity",
            "gauge",
            "wallet value in the stake currency",
            [_sample("kestrel_equity", s.equity, {"currency": s.currency})],
        )
    lines += _family("kestrel_open_trades", "gauge", "open trades", [_sample("kestrel_open_trades", s.open_trades)])
    lines += _family(
        "kestrel_open_exposure",
        "gauge",
        "open positions at their last price",
        [_sample("kestrel_open_exposure", s.exposure, {"currency": s.currency})],
    )
    lines += _family(
        "kestrel_breaker_tripped",
        "gauge",
        "1 while a circuit breaker is tripped",
        [_sample("kestrel_breaker_tripped", int(t), {"breaker": b}) for b, t in sorted(s.breakers.items())],
    )
    lines += _family(
        "kestrel_trading_state",
        "gauge",
        "1 for the trading state in force",
        [
            _sample("kestrel_trading_state", int(st == s.trading_state), {"state": st})
            for st in ("running", "paused", "halted")
        ],
    )
    if s.telegram_queue is not None:
        lines += _family(
            "kestrel_telegram_queue",
            "gauge",
            "Telegram messages waiting to be sent",
            [_sample("kestrel_telegram_queue", s.telegram_queue)],
        )
    lines += _family(
        "kestrel_event_loop_lag_seconds",
        "gauge",
        "how late the event loop woke",
        [_sample("kestrel_event_loop_lag_seconds", s.loop_lag_ms / 1000)],
    )
    lines += _family(
        "kestrel_resident_memory_megabytes",
        "gauge",
        "resident memory",
        [_sample("kestrel_resident_memory_megabytes", s.memory_mb)],
    )
    return "\n".join(lines) + "\n"
