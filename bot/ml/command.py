"""`kestrel train` and `kestrel models list|show|promote`: the ML strategy's pairs read from the
candle files, a candidate built (judged walk-forward, then trained on every usable row), its test
windows backtested with their own models, and the whole stored as a new version, never promoted
by itself: a person does, or the daemon's retraining within its tolerance."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, TextIO

import lightgbm as lgb
import pandas as pd

from bot.backtest.command import BacktestRequest, backtest
from bot.backtest.series import candle_file, read_candles
from bot.candles import dates_ms
from bot.config import Config
from bot.errors import ConfigError
from bot.ml.candidate import Candidate, build_candidate
from bot.ml.registry import Registry, StoredModel
from bot.ml.strategy import MLStrategy
from bot.ml.train import Progress
from bot.strategy.guard import check_informative


def registry_for(config: Config) -> Registry:
    return Registry(config.user_data_dir / "models")


def read_frames(
    config: Config, strategy: MLStrategy, datadir: Path, from_ms: int | None = None, until_ms: int | None = None
) -> dict[str, pd.DataFrame]:
    """The whitelist's candles from `datadir`, cut to [from_ms, until_ms) when given."""
    check_informative(strategy, config.exchange.pair_whitelist)
    frames = {}
    for pair in config.exchange.pair_whitelist:
        frame = read_candles(candle_file(datadir, pair, strategy.timeframe))
        opened = dates_ms(frame["date"])
        keep = (opened >= (from_ms or 0)) & (opened < (until_ms or 2**62))
        frames[pair] = frame[keep].reset_index(drop=True)
    return frames


def backtest_test_windows(
    config: Config, strategy: MLStrategy, datadir: Path, candidate: Candidate, until_ms: int | None = None
) -> dict[str, Any]:
    """The candidate's test windows traded by the daemon's own backtester, each period by the model
    of its window (trained before it), next to holding the pairs over the same span."""
    start_ms = candidate.first_test_ms()
    if start_ms is None:
        return {}
    copy = strategy.walk_forward_copy(candidate.window_models())
    pairs = sorted(candidate.metadata["pairs"])
    request = BacktestRequest(datadir=datadir, from_ms=start_ms, until_ms=until_ms, pairs=pairs)
    summary = backtest(config, copy, request).summary
    return {
        "start": summary["start"],
        "end": summary["end"],
        "trades": summary["trades"],
        "profit_total_ratio": summary["profit_total_ratio"],
        "max_drawdown_ratio": summary["max_drawdown_ratio"],
        "win_rate": summary["win_rate"],
        "buy_and_hold_ratio": buy_and_hold(datadir, pairs, strategy.timeframe, start_ms, until_ms),
    }


def buy_and_hold(datadir: Path, pairs: list[str], timeframe: str, start_ms: int, until_ms: int | None) -> float | None:
    """The stake split evenly over the pairs, bought at the first open from `start_ms`, valued at the
    last close (no fees): what doing nothing clever earned."""
    changes = []
    for pair in pairs:
        frame = read_candles(candle_file(datadir, pair, timeframe))
        opened = dates_ms(frame["date"])
        span = frame[(opened >= start_ms) & (opened < (until_ms or 2**62))]
        if len(span):
            changes.append(float(span["close"].iloc[-1]) / float(span["open"].iloc[0]) - 1)
    return sum(changes) / len(changes) if changes else None


def train(
    config: Config,
    strategy: MLStrategy,
    datadir: Path,
    *,
    seed: int = 42,
    now_ms: int,
    from_ms: int | None = None,
    until_ms: int | None = None,
    progress: TextIO | None = None,
) -> str:
    """Returns the report printed to the user; raises ConfigError or TrainingError with one line."""
    name = type(strategy).__name__
    candidate = candidate_from_files(
        config, strategy, datadir, seed=seed, now_ms=now_ms, progress=progress, from_ms=from_ms, until_ms=until_ms
    )
    tested = backtest_test_windows(config, strategy, datadir, candidate, until_ms)
    stored = store(config, name, candidate, tested)
    return f"{report(name, stored.version, candidate, tested)}; stored in {stored.path}\n" + (
        f"serve it with: kestrel models promote {stored.version} --strategy {name}"
    )


def store(config: Config, name: str, candidate: Candidate, tested: dict[str, Any], **extra: Any) -> StoredModel:
    metadata = {**candidate.metadata, "test_backtest": tested, **extra}
    return registry_for(config).save(name, candidate.model.model_to_string(), metadata)


def report(name: str, version: str, candidate: Candidate, tested: dict[str, Any]) -> str:
    meta = candidate.metadata
    value = "-" if candidate.metric is None else f"{candidate.metric:.3f}"
    baseline = "0.5 is a coin toss" if meta["metric"] == "auc" else "rank correlation; 0 is none"
    line = (
        f"{name} {version}: {meta['rows']} rows from {len(meta['pairs'])} pairs, "
        f"{len(candidate.judged.windows)} walk-forward windows, out-of-sample {meta['metric'].upper()} {value} "
        f"({baseline})"
    )
    if tested:
        line += f"; test windows backtested: {tested_summary(tested)}"
    return line


def tested_summary(tested: dict[str, Any]) -> str:
    """`243 trades, -3.89% (buy and hold +16.21%)`: the test-window backtest in one phrase."""
    hold = tested.get("buy_and_hold_ratio")
    return (
        f"{tested['trades']} trades, {tested['profit_total_ratio'] * 100:+.2f}% "
        f"(buy and hold {'-' if hold is None else f'{hold * 100:+.2f}%'})"
    )


def progress_bar(out: TextIO | None, label: str, width: int = 20) -> Progress | None:
    """`LgbmSignal walk-forward [#####...............] 3/12 windows`, redrawn in place."""
    if out is None:
        return None

    def draw(done: int, total: int) -> None:
        filled = width * done // max(total, 1)
        out.write(f"\r{label} walk-forward [{'#' * filled}{'.' * (width - filled)}] {done}/{total} windows")
        if done == total:
            out.write("\n")
        out.flush()

    return draw


def walk_forward_models(
    config: Config, strategy: MLStrategy, datadir: Path, *, seed: int = 42, now_ms: int = 0
) -> list[tuple[int, lgb.Booster]]:
    """For `kestrel backtest --walk-forward`: one model per walk-forward window, trained on the rows
    before it (purge included), serving from the window's first candle to the next's."""
    return candidate_from_files(
        config, strategy, datadir, seed=seed, now_ms=now_ms, progress=sys.stderr
    ).window_models()


def candidate_from_files(
    config: Config,
    strategy: MLStrategy,
    datadir: Path,
    *,
    seed: int,
    now_ms: int,
    progress: TextIO | None,
    from_ms: int | None = None,
    until_ms: int | None = None,
) -> Candidate:
    frames = read_frames(config, strategy, datadir, from_ms, until_ms)
    return build_candidate(
        frames,
        strategy,
        fee_frac=float(config.fee or 0),
        seed=seed,
        trained_at_ms=now_ms,
        progress=progress_bar(progress, type(strategy).__name__),
    )


def models(config: Config, action: str, strategy: str, version: str | None) -> str:
    registry = registry_for(config)
    if action == "list":
        promoted = registry.promoted(strategy)
        lines = []
        for v in registry.versions(strategy):
            meta = registry.load(strategy, v).metadata
            value = meta.get("oos_metric", meta.get("oos_auc"))
            metric = str(meta.get("metric", "auc")).upper()
            mark = " (promoted)" if v == promoted else ""
            tested = meta.get("test_backtest") or {}
            profit = tested.get("profit_total_ratio")
            tested_text = "-" if profit is None else f"{profit * 100:+.2f}%"
            lines.append(
                f"{v}{mark}: {meta.get('rows')} rows, {metric} {'-' if value is None else f'{value:.3f}'}, "
                f"test windows {tested_text}, trained {meta.get('trained_at', '-')}"
                + (f", {meta['decision']}" if meta.get("decision") else "")
            )
        return "\n".join(lines) or f"no models for {strategy} in {config.user_data_dir / 'models'}"
    if action == "show":
        return json.dumps(registry.load(strategy, version).metadata, indent=1, sort_keys=True)
    if version is None:
        raise ConfigError("models promote: which version? e.g. kestrel models promote v0002 --strategy LgbmSignal")
    registry.promote(strategy, version)
    return f"{strategy}: {version} promoted; a running daemon uses it after /reload or a restart"
