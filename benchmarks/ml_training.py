"""ML training on real Binance candles (../shared/data/ohlcv): what `kestrel train` reports out of
sample (AUC, precision at the entry threshold, the test windows backtested next to buy and hold)
and what it costs (wall time and peak memory on this machine), against a peer measured in the
same run: bare LightGBM training the same number of models on the same rows (loaded from a .npy
dump), once with Kestrel's deterministic single-thread settings and once with LightGBM's defaults
(every core). The ratios say what features, pooling, the walk-forward bookkeeping and the backtest
add, and what determinism costs.

Every case runs in its own child process, so each peak RSS is that process's alone.

    bash benchmarks/run_ml.sh [--cases btc_eth_5m btc_eth_1h multipair_1h]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "ohlcv"

# name: (pairs or a folder, timeframe, strategy overrides)
CASES: dict[str, dict[str, Any]] = {
    "btc_eth_5m": {"files": "binance_{}_USDT-5m.feather", "pairs": ["BTC", "ETH"], "timeframe": "5m"},
    "btc_eth_1h": {"files": "binance_{}_USDT-1h.feather", "pairs": ["BTC", "ETH"], "timeframe": "1h"},
    "multipair_1h": {"folder": "multipair_2024_1h", "timeframe": "1h", "train_rows": 3000},
}

STRATEGY_1H = '''
from strategies.lgbm_signal import LgbmSignal


class LgbmSignal1h(LgbmSignal):
    """The shipped LgbmSignal on 1h candles: the same features (no longer timeframe), the same label
    (12 candles ahead, 0.5 % after fees), the same thresholds, stop and ROI."""

    timeframe = "1h"
    startup_candle_count = 150
    higher_timeframes = ()
    train_rows = {train_rows}
'''


def datadir_for(case: dict[str, Any], work: Path) -> tuple[Path, list[str]]:
    """A folder of `BTC_USDT-5m.feather` links to the shared files (names without `binance_`)."""
    data = work / "data"
    data.mkdir(parents=True, exist_ok=True)
    pairs = []
    if "folder" in case:
        for path in sorted((SHARED / case["folder"]).glob(f"*-{case['timeframe']}.feather")):
            name = path.name.removeprefix("binance_")
            (data / name).symlink_to(path)
            pairs.append(name.split("-")[0].replace("_", "/"))
    else:
        for base in case["pairs"]:
            name = f"{base}_USDT-{case['timeframe']}.feather"
            (data / name).symlink_to(SHARED / case["files"].format(base))
            pairs.append(f"{base}/USDT")
    return data, pairs


def run_kestrel(name: str, work: Path) -> dict[str, Any]:
    """In the child: build the candidate exactly as `kestrel train` does, backtest its test windows,
    dump the rows and windows for the peer."""
    import numpy as np

    from bot.config import Config
    from bot.ml.candidate import build_candidate
    from bot.ml.command import backtest_test_windows, read_frames
    from bot.strategy.loader import load_strategy

    case = CASES[name]
    data, pairs = datadir_for(case, work)
    strategies = work / "strategies"
    strategies.mkdir()
    (strategies / "lgbm_1h.py").write_text(STRATEGY_1H.format(train_rows=case.get("train_rows", 5000)))
    sys.path.insert(0, str(ROOT))
    config = Config.model_validate(
        {
            "strategy_path": str(strategies if case["timeframe"] == "1h" else ROOT / "strategies"),
            "stake_currency": "USDT",
            "stake_amount": 100,
            "dry_run_wallet": 1000,
            "max_open_trades": 3,
            "fee": 0.001,
            "user_data_dir": str(work / "user_data"),
            "db_url": f"sqlite:///{work / 'k.sqlite'}",
            "exchange": {"name": "simulated", "pair_whitelist": pairs},
        }
    )
    strategy_name = "LgbmSignal1h" if case["timeframe"] == "1h" else "LgbmSignal"
    strategy = load_strategy(config.strategy_path, strategy_name, {"user_data_dir": str(work / "user_data")})
    started = time.perf_counter()
    frames = read_frames(config, strategy, data)  # type: ignore[arg-type]
    candidate = build_candidate(frames, strategy, fee_frac=0.001, seed=42, trained_at_ms=0)  # type: ignore[arg-type]
    trained = time.perf_counter()
    tested = backtest_test_windows(config, strategy, data, candidate, None)  # type: ignore[arg-type]
    done = time.perf_counter()
    np.save(work / "x.npy", candidate.x.to_numpy(dtype="float64"))
    np.save(work / "y.npy", candidate.y.to_numpy(dtype="float64"))
    windows = [[w.split.train.start, w.split.train.stop] for w in candidate.judged.windows]
    (work / "windows.json").write_text(json.dumps({"windows": windows, "rounds": candidate.spec.rounds}))
    meta = candidate.metadata
    return {
        "strategy": strategy_name,
        "pairs": len(pairs),
        "candles": int(sum(len(f) for f in frames.values())),
        "rows": meta["rows"],
        "range": meta["train_range"],
        "windows": len(candidate.judged.windows),
        "models": len(candidate.judged.windows) + 1,
        "oos_auc": meta["oos_auc"],
        "auc_min": min(w["auc"] for w in meta["walk_forward"] if w["auc"] is not None),
        "auc_max": max(w["auc"] for w in meta["walk_forward"] if w["auc"] is not None),
        "oos_precision_at_entry": meta["oos_precision_at_entry"],
        "positive_share": meta["positive_share"],
        "test_backtest": tested,
        "train_s": trained - started,
        "backtest_s": done - trained,
        "total_s": done - started,
    }


def run_peer(work: Path, deterministic: bool) -> dict[str, Any]:
    """In the child: the same number of LightGBM fits on the same rows, nothing else."""
    import lightgbm as lgb
    import numpy as np

    from bot.ml.train import TrainSpec

    x, y = np.load(work / "x.npy"), np.load(work / "y.npy")
    plan = json.loads((work / "windows.json").read_text())
    params = TrainSpec().lgb_params()
    if not deterministic:
        for key in ("deterministic", "force_row_wise", "num_threads"):
            params.pop(key)
    started = time.perf_counter()
    for start, stop in [*plan["windows"], [0, len(x)]]:  # the windows, then the final model on every row
        lgb.train(params, lgb.Dataset(x[start:stop], label=y[start:stop]), num_boost_round=plan["rounds"])
    return {"total_s": time.perf_counter() - started, "models": len(plan["windows"]) + 1}


def child(args: list[str]) -> dict[str, Any]:
    """Runs this file again as a child; returns its JSON plus its own peak RSS."""
    command = [sys.executable, __file__, *args]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)  # noqa: S603 (this very file)
    _, status, usage = os.wait4(proc.pid, 0)
    out = proc.stdout.read() if proc.stdout else ""
    if status != 0:
        raise RuntimeError(f"{args} failed ({status})")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["peak_rss_mb"] = usage.ru_maxrss / 1024
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--table", action="store_true", help="print the tables of the stored results and exit")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "WORK"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, work = args.child
        result = run_peer(Path(work), kind == "peer_det") if kind.startswith("peer") else run_kestrel(kind, Path(work))
        print(json.dumps(result, default=str))
        return
    if args.table:
        print(table(json.loads((args.out / "ml_training.json").read_text())["cases"]))
        return
    if not SHARED.is_dir():
        print(f"skipped: {SHARED} is absent (the real candles this benchmark needs)")
        return
    results = {}
    for name in args.cases:
        with tempfile.TemporaryDirectory(prefix=f"kestrel-ml-{name}-") as tmp:
            kestrel = child(["--child", name, tmp])
            same = child(["--child", "peer_det", tmp])
            fast = child(["--child", "peer_fast", tmp])
        results[name] = {"kestrel": kestrel, "peer_same_settings": same, "peer_lightgbm_defaults": fast}
        print(line(name, results[name]), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ml_training.json").write_text(json.dumps({"cores": os.cpu_count(), "cases": results}, indent=1))
    (args.out / "ml_training.md").write_text(table(results))
    print(table(results))


def line(name: str, r: dict[str, Any]) -> str:
    k = r["kestrel"]
    return (
        f"{name}: {k['rows']} rows, {k['models']} models, AUC {k['oos_auc']:.3f}; kestrel {k['total_s']:.1f} s "
        f"{k['peak_rss_mb']:.0f} MB, bare LightGBM same settings {r['peer_same_settings']['total_s']:.1f} s, "
        f"defaults {r['peer_lightgbm_defaults']['total_s']:.1f} s"
    )


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:+.2f}%"


def table(results: dict[str, dict[str, Any]]) -> str:
    rows = [
        "| case | pairs | rows | windows | OOS AUC (min-max) | precision at 0.6 | positives | test windows | "
        "trades | profit | buy and hold | max drawdown |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    cost = [
        "| case | models | kestrel train + backtest s | peak RSS MB | bare LightGBM, same settings s | ratio | "
        "bare LightGBM, defaults s | ratio | peer peak RSS MB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in results.items():
        k, same, fast = r["kestrel"], r["peer_same_settings"], r["peer_lightgbm_defaults"]
        t = k["test_backtest"]
        precision = k["oos_precision_at_entry"]
        rows.append(
            f"| {name} | {k['pairs']} | {k['rows']:,} | {k['windows']} | {k['oos_auc']:.3f} "
            f"({k['auc_min']:.3f}-{k['auc_max']:.3f}) | {'-' if precision is None else f'{precision:.3f}'} "
            f"| {k['positive_share']:.3f} | {t['start'][:10]} to {t['end'][:10]} | {t['trades']} "
            f"| {pct(t['profit_total_ratio'])} | {pct(t['buy_and_hold_ratio'])} "
            f"| {t['max_drawdown_ratio'] * 100:.2f}% |"
        )
        cost.append(
            f"| {name} | {k['models']} | {k['total_s']:.1f} (train {k['train_s']:.1f}) | {k['peak_rss_mb']:.0f} "
            f"| {same['total_s']:.1f} | {k['total_s'] / same['total_s']:.2f}x | {fast['total_s']:.1f} "
            f"| {k['total_s'] / fast['total_s']:.2f}x | {same['peak_rss_mb']:.0f} |"
        )
    return "\n".join(["Out of sample:", "", *rows, "", "Cost on this machine:", "", *cost, ""])


if __name__ == "__main__":
    main()
