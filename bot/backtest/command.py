"""`kestrel backtest`: load the candles, run the engine over them, report and export. The only
I/O-doing part of bot/backtest; runner, metrics and report are pure."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from bot.backtest.causality import lookahead_problems
from bot.backtest.metrics import REQUIRED_COLUMNS, compute_summary, format_summary
from bot.backtest.outcome import BacktestResult, BacktestTrade
from bot.backtest.report import render_report
from bot.backtest.risk_track import RiskSettings
from bot.backtest.runner import BacktestSettings, run_backtest
from bot.backtest.series import PairSeries, candle_file, informative_frames, load_series, read_candles
from bot.config import Config
from bot.errors import ConfigError
from bot.strategy.base import Strategy
from bot.timeframes import timeframe_ms
from bot.trading_rules import (
    equity_limits_for,
    fill_model_for,
    limits_for,
    policy_for,
    protections_for,
    rules_for,
    timeframe_for,
)

TRADE_COLUMNS = REQUIRED_COLUMNS  # trades.csv has exactly the columns the metrics read
CAUSALITY_CANDLES = 3000


@dataclass(frozen=True)
class BacktestRequest:
    datadir: Path
    timeframe: str | None = None
    from_ms: int | None = None  # the first candle whose signal may act; earlier ones are warm-up
    until_ms: int | None = None  # candles opening at or after this are not used
    pairs: Sequence[str] | None = None
    export_dir: Path | None = None
    every_tick: bool = False  # run every tick, as the daemon does (slow: tests use it to check the skipping)


@dataclass(frozen=True)
class BacktestOutcome:
    result: BacktestResult
    series: list[PairSeries]
    summary: dict[str, Any]
    warnings: list[str]


def settings_for(config: Config, strategy: Strategy, tf_ms: int) -> BacktestSettings:
    """The same limits and rules the daemon builds from the same config (runtime.build_runtime)."""
    rules = rules_for(config, strategy)
    return BacktestSettings(
        limits=limits_for(config, rules),
        rules=rules,
        wallet=config.dry_run_wallet,
        tf_ms=tf_ms,
        policy=policy_for(config),
        fills=fill_model_for(config),
        protections=protections_for(config, tf_ms),
        risk=backtest_risk_for(config),
    )


def backtest_risk_for(config: Config) -> RiskSettings:
    """The breakers a backtest can meet: the equity breakers and the volatility brake (the others
    watch the exchange and the candle feed, which a replay of stored candles does not have)."""
    risk = config.risk
    return RiskSettings(equity_limits_for(config), risk.on_breach, risk.volatility_brake_k, risk.volatility_lookback)


def backtest(
    config: Config, strategy: Strategy, request: BacktestRequest, out: TextIO | None = None
) -> BacktestOutcome:
    started = time.perf_counter()  # elapsed time for the report, not a market clock
    timeframe = request.timeframe or timeframe_for(config, strategy)
    tf_ms = timeframe_ms(timeframe)
    pairs = list(request.pairs or config.exchange.pair_whitelist)
    for pair in pairs:
        if pair.partition("/")[2] != config.stake_currency:
            raise ConfigError(f"--pairs: {pair!r} is not quoted in stake_currency {config.stake_currency!r}")
    warmup_ms = strategy.startup_candle_count * tf_ms
    load_from = None if request.from_ms is None else request.from_ms - warmup_ms
    series = load_series(
        strategy,
        pairs,
        datadir=request.datadir,
        timeframe=timeframe,
        tf_ms=tf_ms,
        sim=config.simulated,
        from_ms=load_from,
        until_ms=request.until_ms,
    )
    if not series:
        raise ConfigError(f"{request.datadir}: no {timeframe} candles for {', '.join(pairs)} in the time range")
    first_candle = min(s.first_ms for s in series)
    signal_from = max(first_candle + warmup_ms, request.from_ms or first_candle)
    last_candle = max(s.last_ms for s in series)
    result = run_backtest(
        series,
        settings_for(config, strategy, tf_ms),
        first_tick_ms=signal_from + tf_ms,
        last_tick_ms=last_candle + tf_ms,
        every_tick=request.every_tick,
    )
    warnings = causality_warnings(strategy, request.datadir, series[0].pair, timeframe)
    trades = trades_frame(result.trades)
    summary = compute_summary(
        trades,
        wallet=float(config.dry_run_wallet),
        stake_currency=config.stake_currency,
        start_ms=signal_from,
        end_ms=last_candle + tf_ms,
    )
    summary.update(
        strategy=type(strategy).__name__,
        timeframe=timeframe,
        pairs=[s.pair for s in series],
        candles_processed=result.candles,
        ticks_run=result.ticks_run,
        wall_seconds=round(time.perf_counter() - started, 3),
        lookahead_warnings=warnings,
        risk_events=[{"time": _iso(ms), "event": text} for ms, text in result.risk_events],
    )
    if out is not None:
        for warning in warnings:
            print(f"warning: {warning}", file=out)
        print(format_summary(summary), file=out)
    if request.export_dir is not None:
        export(request.export_dir, result.trades, trades, summary)
    return BacktestOutcome(result, series, summary, warnings)


def causality_warnings(strategy: Strategy, datadir: Path, pair: str, timeframe: str) -> list[str]:
    """The lookahead check on the first pair's first candles: cheap, and a leak shows anywhere."""
    candles = read_candles(candle_file(datadir, pair, timeframe)).iloc[:CAUSALITY_CANDLES].reset_index(drop=True)
    others = informative_frames(strategy, datadir, timeframe, timeframe_ms(timeframe))
    return lookahead_problems(strategy, candles, pair, informative=others)


def trades_frame(trades: Sequence[BacktestTrade]) -> pd.DataFrame:
    """The trades as metrics and the report want them (floats; the CSV keeps exact decimals)."""
    return pd.DataFrame(
        {
            "pair": [t.pair for t in trades],
            "open_date": pd.to_datetime([t.open_ms for t in trades], unit="ms", utc=True),
            "close_date": pd.to_datetime([t.close_ms for t in trades], unit="ms", utc=True),
            "open_rate": [float(t.open_rate) for t in trades],
            "close_rate": [float(t.close_rate) for t in trades],
            "amount": [float(t.amount) for t in trades],
            "profit_ratio": [float(t.profit_ratio) for t in trades],
            "profit_abs": [float(t.profit_abs) for t in trades],
            "exit_reason": [t.exit_reason for t in trades],
        }
    )


def export(directory: Path, trades: Sequence[BacktestTrade], frame: pd.DataFrame, summary: dict[str, Any]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    lines = [",".join(TRADE_COLUMNS)]
    for t in trades:
        lines.append(
            ",".join(
                (
                    t.pair,
                    _iso(t.open_ms),
                    _iso(t.close_ms),
                    str(t.open_rate),
                    str(t.close_rate),
                    str(t.amount),
                    f"{t.profit_ratio:.12g}",
                    str(t.profit_abs.quantize(Decimal("1e-12"))),
                    t.exit_reason,
                )
            )
        )
    (directory / "trades.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (directory / "summary.json").write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    title = f"Kestrel backtest: {summary['strategy']} {summary['timeframe']}"
    (directory / "report.html").write_text(render_report(frame, summary, title=title), encoding="utf-8")


def _iso(ts_ms: int) -> str:
    return pd.Timestamp(ts_ms, unit="ms", tz="UTC").isoformat()
