"""`kestrel backtest` against freqtrade's backtesting, on the same candles, in the same run.

For each size the candles are made once; then Kestrel and freqtrade run one after the other (never
side by side), each in its own process under `/usr/bin/time -v`, with SmaCross and the same
settings (stake 100, max_open_trades 3, wallet 1000, fee 0.001). freqtrade runs through the offline
harness in ../shared/tools/freqtrade-offline (invoked, not copied). Prints a markdown table, saves
it with the raw numbers to benchmarks/results/, and exits 1 if Kestrel misses a target, 2 if a run
failed. Run it by hand (see benchmarks/README.md):

    /tmp/kv/bin/python benchmarks/backtest_vs_freqtrade.py [--sizes testdata,20x365,100x365] [--skip-freqtrade]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from make_candles import CANDLES_PER_DAY, DEFAULT_SRC, make_candles

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SHARED = REPO.parent / "shared"
DEFAULT_SIZES = "testdata,20x365,100x365"
TESTDATA_PAIRS = ("ADA", "DASH", "ETC", "ETH", "LTC", "NXT", "TRX", "XLM", "XMR", "ZEC")
SETTINGS = {"stake_amount": 100, "max_open_trades": 3, "dry_run_wallet": 1000, "fee": 0.001}
STRATEGY = "SmaCross"
FT_VENV_DEFAULT = "/tmp/ftvenv"  # noqa: S108 (setup.sh's default)

# Kestrel's targets: the big case on its own, and the speed-up over freqtrade on every size measured
TARGET_CASE = "100x365"
TARGET_WALL_S = 20.0
TARGET_RSS_MB = 1024.0
TARGET_SPEEDUP = 20.0


@dataclass(frozen=True)
class Case:
    name: str
    datadir: Path
    pairs: tuple[str, ...]
    candles: int
    synthetic: bool


@dataclass
class Run:
    """One process: what /usr/bin/time saw, and the numbers from the system's summary.json."""

    returncode: int
    wall_s: float
    peak_rss_mb: float
    trades: int | None = None
    inner_s: float | None = None  # Kestrel: its wall_seconds; freqtrade: its backtest phase
    extra: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------- cases
def prepare_case(size: str, work: Path, src: Path, seed: int) -> Case:
    if size == "testdata":
        datadir = SHARED / "data" / "ohlcv" / "freqtrade-testdata"
        files = [datadir / f"{base}_BTC-5m.feather" for base in TESTDATA_PAIRS]
        candles = sum(len(pd.read_feather(f, columns=["date"])) for f in files)
        return Case("testdata 10x20 (real, BTC)", datadir, tuple(f"{b}/BTC" for b in TESTDATA_PAIRS), candles, False)
    match = re.fullmatch(r"(\d+)x(\d+)", size)
    if match is None:
        raise SystemExit(f"--sizes: {size!r} is neither 'testdata' nor PAIRSxDAYS like 20x365")
    n_pairs, days = int(match[1]), int(match[2])
    datadir = work / "data" / size
    shutil.rmtree(datadir, ignore_errors=True)
    started = time.perf_counter()
    make_candles(src, datadir, pairs=n_pairs, days=days, seed=seed, block=144)
    progress(f"[{size}] made {n_pairs} pairs x {days} d in {time.perf_counter() - started:.1f} s -> {datadir}")
    pairs = tuple(f"SYN{i + 1:03d}/USDT" for i in range(n_pairs))
    return Case(size, datadir, pairs, n_pairs * days * CANDLES_PER_DAY, True)


# ----------------------------------------------------------------------------------------- processes
def run_timed(cmd: list[str], out: Path) -> Run:
    """Run `cmd` to completion under /usr/bin/time -v; logs go to `out`."""
    out.mkdir(parents=True, exist_ok=True)
    timing = out / "time.txt"
    with (out / "console.log").open("w") as log:
        if Path("/usr/bin/time").exists():
            rc = subprocess.call(["/usr/bin/time", "-v", "-o", str(timing), *cmd], stdout=log, stderr=log)  # noqa: S603
            return Run(rc, *parse_gnu_time(timing.read_text()))
        # no GNU time: the child's own rusage gives the same peak RSS
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=log, stderr=log)  # noqa: S603
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        return Run(proc.returncode, time.perf_counter() - started, usage.ru_maxrss / 1024)


def parse_gnu_time(text: str) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) from `/usr/bin/time -v` output."""
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", text)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    if wall is None or rss is None:
        raise SystemExit(f"cannot read /usr/bin/time -v output:\n{text}")
    hours, minutes, seconds = int(wall[1] or 0), int(wall[2]), float(wall[3])
    return hours * 3600 + minutes * 60 + seconds, int(rss[1]) / 1024


def run_kestrel(case: Case, out: Path, python: str, extra_config: dict[str, Any] | None = None) -> Run:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    config = {
        "strategy": STRATEGY,
        "strategy_path": str(REPO / "strategies"),
        "stake_currency": case.pairs[0].split("/")[1],
        **SETTINGS,
        "exchange": {"name": "binance", "pair_whitelist": list(case.pairs)},
        **(extra_config or {}),
    }
    (out / "config.json").write_text(json.dumps(config, indent=2))
    cmd = [python, "-m", "bot", "backtest", "--config", str(out / "config.json"), "--datadir", str(case.datadir)]
    run = run_timed([*cmd, "--strategy", STRATEGY, "--export-dir", str(out / "export")], out)
    summary_path = out / "export" / "summary.json"
    if run.returncode == 0 and summary_path.exists():
        summary = json.loads(summary_path.read_text())
        run.trades, run.inner_s = summary["trades"], summary["wall_seconds"]
        run.extra = {
            "candles_processed": summary.get("candles_processed"),
            "ticks_run": summary.get("ticks_run"),
            "risk_events": len(summary.get("risk_events", [])),
        }
    return run


def run_freqtrade(case: Case, out: Path, ft_python: Path) -> Run:
    shutil.rmtree(out, ignore_errors=True)
    cmd = [
        str(ft_python),
        str(SHARED / "tools" / "freqtrade-offline" / "run_backtest.py"),
        "--strategy-file",
        str(SHARED / "reference" / "freqtrade-smacross" / "SmaCross.py"),
        "--strategy",
        STRATEGY,
        "--datadir",
        str(case.datadir),
        "--pairs",
        *case.pairs,
        "--timeframe",
        "5m",
        "--stake-amount",
        str(SETTINGS["stake_amount"]),
        "--max-open-trades",
        str(SETTINGS["max_open_trades"]),
        "--wallet",
        str(SETTINGS["dry_run_wallet"]),
        "--fee",
        str(SETTINGS["fee"]),
        "--out",
        str(out),
    ]
    run = run_timed(cmd, out)
    summary_path = out / "summary.json"
    if run.returncode == 0 and summary_path.exists():
        summary = json.loads(summary_path.read_text())
        timing = summary["timing"]
        run.trades, run.inner_s = summary["total_trades"], timing["backtest_phase_s"]
        run.extra = {
            "candles_simulated": summary.get("candles_simulated"),
            "data_load_s": timing.get("data_load_s"),
            "in_process_wall_s": timing.get("process_wall_s"),
            "versions": summary.get("versions"),
        }
    return run


def trade_agreement(kestrel_out: Path, freqtrade_out: Path, python: str) -> dict[str, int] | None:
    """How many trades match on (pair, open_date) and how many are identical, by the shared
    compare_trades.py (run after both timings, so it costs neither system anything)."""
    k_csv, f_csv = kestrel_out / "export" / "trades.csv", freqtrade_out / "trades.csv"
    if not (k_csv.exists() and f_csv.exists()):
        return None
    tool = SHARED / "tools" / "freqtrade-offline" / "compare_trades.py"
    text = subprocess.run(  # noqa: S603
        [python, str(tool), str(f_csv), str(k_csv), "--show", "0"], capture_output=True, text=True, check=False
    ).stdout
    matched = re.search(r"matched on \(pair, open_date\): (\d+); only in ref: (\d+); only in other: (\d+)", text)
    identical = re.search(r"identical trades: (\d+) / (\d+)", text)
    if matched is None or identical is None:
        return None
    return {
        "matched_on_pair_and_open": int(matched[1]),
        "only_freqtrade": int(matched[2]),
        "only_kestrel": int(matched[3]),
        "identical": int(identical[1]),
    }


# ------------------------------------------------------------------------------------------- report
def ratio(num: float | None, den: float | None) -> float | None:
    return None if num is None or not den else num / den


def fmt(value: float | None, digits: int = 1, suffix: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}{suffix}"


HEADER = (
    "case",
    "candles",
    "Kestrel trades",
    "freqtrade trades",
    "Kestrel wall s",
    "freqtrade wall s",
    "speed ratio (ft/K)",
    "Kestrel peak RSS MB",
    "freqtrade peak RSS MB",
    "memory ratio (ft/K)",
    "Kestrel internal s",
    "freqtrade backtest phase s",
    "phase ratio (ft/K)",
)


def table_row(row: dict[str, Any]) -> str:
    k, f = row["kestrel"], row["freqtrade"] or {}
    ok = k["returncode"] == 0
    cells = [
        row["case"],
        fmt(row["candles"]),
        fmt(k["trades"]) if ok else f"failed (rc {k['returncode']})",
        fmt(f.get("trades")) if f.get("returncode", 0) == 0 else f"failed (rc {f['returncode']})",
        fmt(k["wall_s"], 2),
        fmt(f.get("wall_s"), 1),
        fmt(row["speed_ratio"], 1, "x"),
        fmt(k["peak_rss_mb"], 0),
        fmt(f.get("peak_rss_mb"), 0),
        fmt(row["memory_ratio"], 1, "x"),
        fmt(k["inner_s"], 2),
        fmt(f.get("inner_s"), 1),
        fmt(row["phase_ratio"], 1, "x"),
    ]
    return "| " + " | ".join(cells) + " |"


def markdown_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + " --- |" * len(HEADER)]
    return "\n".join(lines + [table_row(r) for r in rows])


def agreement_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| case | Kestrel trades | freqtrade trades | same (pair, open) | only Kestrel | only freqtrade | identical |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        a = row.get("agreement")
        if a is None:
            continue
        k_trades, f_trades = row["kestrel"]["trades"], row["freqtrade"]["trades"]
        cells = [row["case"], k_trades, f_trades, a["matched_on_pair_and_open"], a["only_kestrel"]]
        cells += [a["only_freqtrade"], a["identical"]]
        lines.append("| " + " | ".join(fmt(c) if isinstance(c, int) else c for c in cells) + " |")
    return "\n".join(lines) if len(lines) > 2 else ""


def make_row(case: Case, size: str, kestrel: Run, freqtrade: Run | None) -> dict[str, Any]:
    ft_ok = freqtrade is not None and freqtrade.returncode == 0
    k_ok = kestrel.returncode == 0
    return {
        "size": size,
        "case": case.name,
        "candles": case.candles,
        "pairs": len(case.pairs),
        "kestrel": asdict(kestrel),
        "freqtrade": None if freqtrade is None else asdict(freqtrade),
        "speed_ratio": ratio(freqtrade.wall_s, kestrel.wall_s) if ft_ok and k_ok else None,
        "memory_ratio": ratio(freqtrade.peak_rss_mb, kestrel.peak_rss_mb) if ft_ok and k_ok else None,
        "phase_ratio": ratio(freqtrade.inner_s, kestrel.inner_s) if ft_ok and k_ok else None,
        "agreement": None,
    }


def target_misses(rows: list[dict[str, Any]]) -> list[str]:
    misses = []
    for row in rows:
        k = row["kestrel"]
        if k["returncode"] != 0:
            continue
        if row["size"] == TARGET_CASE:
            if k["wall_s"] > TARGET_WALL_S:
                misses.append(f"{row['case']}: Kestrel wall {k['wall_s']:.2f} s > {TARGET_WALL_S:g} s")
            if k["peak_rss_mb"] > TARGET_RSS_MB:
                misses.append(f"{row['case']}: Kestrel peak RSS {k['peak_rss_mb']:.0f} MB > {TARGET_RSS_MB:g} MB")
        if row["speed_ratio"] is not None and row["speed_ratio"] < TARGET_SPEEDUP:
            misses.append(
                f"{row['case']}: speed ratio {row['speed_ratio']:.1f}x < {TARGET_SPEEDUP:g}x "
                f"(freqtrade {row['freqtrade']['wall_s']:.1f} s / Kestrel {k['wall_s']:.2f} s)"
            )
    return misses


def environment(kestrel_python: str, ft_python: Path | None) -> dict[str, Any]:
    commit = subprocess.run(  # noqa: S603 (read-only git query)
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "kestrel_commit": commit or None,
        "kestrel_python": kestrel_python,
        "freqtrade_python": None if ft_python is None else str(ft_python),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "strategy": STRATEGY,
        "settings": SETTINGS,
        "targets": {
            "case": TARGET_CASE,
            "kestrel_wall_s_max": TARGET_WALL_S,
            "kestrel_peak_rss_mb_max": TARGET_RSS_MB,
            "speed_ratio_min_every_size": TARGET_SPEEDUP,
        },
    }


def save(name: str, rows: list[dict[str, Any]], env: dict[str, Any], misses: list[str]) -> Path:
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    payload = {"environment": env, "rows": rows, "target_misses": misses}
    (results / f"{name}.json").write_text(json.dumps(payload, indent=2) + "\n")
    versions = next((r["freqtrade"]["extra"].get("versions") for r in rows if r["freqtrade"]), None)
    lines = [
        f"# {name}",
        "",
        "Written by `benchmarks/backtest_vs_freqtrade.py`; raw numbers in the .json next to this file.",
        f"Kestrel commit {env['kestrel_commit']}, {env['cpus']} CPUs, {env['platform']}.",
        f"freqtrade versions: {json.dumps(versions) if versions else 'not run'}.",
        f"{STRATEGY}, {json.dumps(SETTINGS)}; wall and peak RSS are whole processes (`/usr/bin/time -v`).",
        "",
        markdown_table(rows),
        "",
        "Trade agreement (`compare_trades.py`, matched on pair and open time):",
        "",
        agreement_table(rows) or "(freqtrade not run)",
        "",
        "Targets missed:" if misses else "All targets met.",
        *[f"- {m}" for m in misses],
    ]
    path = results / f"{name}.md"
    path.write_text("\n".join(lines) + "\n")
    return path


# --------------------------------------------------------------------------------------------- main
def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--sizes", default=DEFAULT_SIZES, help=f"'testdata' or PAIRSxDAYS, comma-separated ({DEFAULT_SIZES})"
    )
    p.add_argument("--skip-freqtrade", action="store_true", help="run Kestrel only")
    p.add_argument("--ft-venv", type=Path, default=Path(os.environ.get("FT_VENV", FT_VENV_DEFAULT)))
    p.add_argument("--kestrel-python", default=sys.executable, help="python with kestrel installed")
    p.add_argument("--src", type=Path, default=DEFAULT_SRC, help="real 5m USDT candles to bootstrap from")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "kestrel-bench", help="scratch: candles and logs"
    )
    p.add_argument("--keep-data", action="store_true", help="keep the synthetic candles after each case")
    p.add_argument("--name", help="results file name (default: from the sizes)")
    return p.parse_args(argv)


def freqtrade_python(args: argparse.Namespace) -> Path | None:
    if args.skip_freqtrade:
        return None
    python = args.ft_venv / "bin" / "python"
    if python.exists():
        return python
    progress(
        f"no freqtrade venv at {args.ft_venv}; create it with\n"
        f"    FT_VENV={args.ft_venv} bash {SHARED / 'tools' / 'freqtrade-offline' / 'setup.sh'}\n"
        "running Kestrel only"
    )
    return None


def results_name(args: argparse.Namespace, ft_python: Path | None) -> str:
    if args.name:
        return str(args.name)
    name = "backtest_vs_freqtrade"
    if args.sizes != DEFAULT_SIZES:
        name += "-" + args.sizes.replace(",", "_")
    return name if ft_python is not None else name + "-kestrel-only"


def run_case(size: str, args: argparse.Namespace, ft_python: Path | None) -> dict[str, Any]:
    case = prepare_case(size, args.workdir, args.src, args.seed)
    out = args.workdir / "runs" / size
    progress(f"[{size}] Kestrel on {len(case.pairs)} pairs, {case.candles:,} candles ...")
    kestrel = run_kestrel(case, out / "kestrel", args.kestrel_python)
    progress(f"[{size}] Kestrel: rc {kestrel.returncode}, {kestrel.wall_s:.2f} s, {kestrel.peak_rss_mb:.0f} MB")
    freqtrade = None
    if ft_python is not None:
        progress(f"[{size}] freqtrade ...")
        freqtrade = run_freqtrade(case, out / "freqtrade", ft_python)
        progress(
            f"[{size}] freqtrade: rc {freqtrade.returncode}, {freqtrade.wall_s:.1f} s, {freqtrade.peak_rss_mb:.0f} MB"
        )
    if case.synthetic and not args.keep_data:
        shutil.rmtree(case.datadir, ignore_errors=True)
    row = make_row(case, size, kestrel, freqtrade)
    if freqtrade is not None:
        row["agreement"] = trade_agreement(out / "kestrel", out / "freqtrade", args.kestrel_python)
    return row


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ft_python = freqtrade_python(args)
    rows = [run_case(size.strip(), args, ft_python) for size in args.sizes.split(",") if size.strip()]
    misses = target_misses(rows)
    path = save(results_name(args, ft_python), rows, environment(args.kestrel_python, ft_python), misses)
    print(markdown_table(rows))
    print(f"\nsaved {path} and {path.with_suffix('.json')}; logs under {args.workdir / 'runs'}")
    failed = [r["case"] for r in rows if r["kestrel"]["returncode"] != 0]
    failed += [r["case"] + " (freqtrade)" for r in rows if r["freqtrade"] and r["freqtrade"]["returncode"] != 0]
    if failed:
        print(f"FAILED runs: {', '.join(failed)} (see console.log under {args.workdir / 'runs'})")
        return 2
    if misses:
        print("Kestrel missed targets:\n" + "\n".join(f"  - {m}" for m in misses))
        return 1
    print("Kestrel met every target.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
