"""The Prometheus text and the health verdict, from a snapshot."""

from decimal import Decimal as D

from bot.metrics import Snapshot, health_json, prometheus_text


def snap(**changes: object) -> Snapshot:
    values: dict[str, object] = {
        "now_wall_ms": 100_000,
        "last_tick_wall_ms": 95_000,
        "fresh_within_s": 10.0,
        "job_alive": True,
        "trading_state": "paused",
        "tick_seconds_last": 0.25,
        "tick_seconds_sum": 2.5,
        "tick_count": 10,
        "orders_by_state": {"filled": 3, "open": 1},
        "exchange_errors": {"RateLimitError": 2},
        "equity": D("1012.5"),
        "currency": "USDT",
        "open_trades": 1,
        "exposure": D("99.5"),
        "breakers": {'odd "name"': True, "stale": False},
        "telegram_queue": None,
        "loop_lag_ms": 12.0,
        "memory_mb": 150.0,
    }
    values.update(changes)
    return Snapshot(**values)  # type: ignore[arg-type]


def test_health_is_fresh_ticks_and_a_live_job() -> None:
    assert snap().healthy and health_json(snap())["status"] == "ok"
    assert not snap(last_tick_wall_ms=80_000).healthy  # 20 s old, 10 allowed
    assert not snap(job_alive=False).healthy
    assert not snap(last_tick_wall_ms=None).healthy and health_json(snap(last_tick_wall_ms=None))["status"] == "stale"


def test_prometheus_text_lines() -> None:
    lines = prometheus_text(snap()).splitlines()
    for wanted in (
        "# TYPE kestrel_up gauge",
        "kestrel_up 1",
        "kestrel_last_tick_age_seconds 5.0",
        "kestrel_tick_duration_seconds_sum 2.5",
        "kestrel_tick_duration_seconds_count 10",
        'kestrel_orders{state="filled"} 3',
        'kestrel_exchange_errors_total{kind="RateLimitError"} 2',
        'kestrel_equity{currency="USDT"} 1012.5',
        'kestrel_open_exposure{currency="USDT"} 99.5',
        'kestrel_breaker_tripped{breaker="odd \\"name\\""} 1',
        'kestrel_breaker_tripped{breaker="stale"} 0',
        'kestrel_trading_state{state="paused"} 1',
        'kestrel_trading_state{state="running"} 0',
        "kestrel_event_loop_lag_seconds 0.012",
    ):
        assert wanted in lines, wanted
    assert not any(line.startswith("kestrel_telegram_queue") for line in lines)  # Telegram off
    assert "kestrel_telegram_queue 4" in prometheus_text(snap(telegram_queue=4)).splitlines()
    assert "kestrel_last_tick_age_seconds NaN" in prometheus_text(snap(last_tick_wall_ms=None)).splitlines()
    big = prometheus_text(snap(equity=D("1234567.89"), tick_seconds_sum=98765.4321)).splitlines()
    assert 'kestrel_equity{currency="USDT"} 1234567.89' in big and "kestrel_tick_duration_seconds_sum 98765.4321" in big
