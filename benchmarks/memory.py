"""Resident memory of `kestrel trade` on the simulated market with 10 and 100 pairs of 5m candles
(target: under 200 MB with 100), against a peer measured in the same run: a Python process that
imports what the daemon imports and does nothing (the floor no number of pairs can go under).
Each daemon runs `--seconds` of wall time; RSS is sampled from /proc every 0.25 s and the kernel's
peak (VmHWM) read before SIGTERM.

    bash benchmarks/run_memory.sh [--pairs 10 100] [--seconds 40]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
IMPORTS = (  # what `kestrel trade` on the simulated market imports before its first tick
    "import bot.cli, bot.service, bot.runtime, bot.trader, bot.exchange.simulated, bot.strategy.loader; "
    "import time; time.sleep(600)"
)


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def watch(proc: subprocess.Popen[str], seconds: float) -> dict[str, float]:
    samples = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited early ({proc.returncode}): {proc.stderr.read() if proc.stderr else ''}")
        samples.append(status_kb(proc.pid, "VmRSS"))
        time.sleep(0.25)
    peak = status_kb(proc.pid, "VmHWM")
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    tail = samples[len(samples) // 2 :]  # after start-up
    return {"rss_end_mb": samples[-1] / 1024, "rss_mean_late_mb": sum(tail) / len(tail) / 1024, "peak_mb": peak / 1024}


def run_daemon(pairs: int, seconds: float, work: Path) -> dict[str, Any]:
    names = [f"P{i:03d}/USDT" for i in range(pairs)]
    config = {
        "strategy": "QuickMomentum",
        "strategy_path": str(ROOT / "strategies"),
        "dry_run": True,
        "dry_run_wallet": 100_000,
        "stake_currency": "USDT",
        "stake_amount": 100,
        "max_open_trades": 20,
        "db_url": f"sqlite:///{work / 'kestrel.sqlite'}",
        "user_data_dir": str(work),
        "log_level": "WARNING",
        "exchange": {"name": "simulated", "pair_whitelist": names},
        "simulated": {"seed": 3, "speed": 600, "history_candles": 500, "state_path": str(work / "sim.sqlite")},
    }
    path = work / "config.json"
    path.write_text(json.dumps(config))
    proc = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
        [sys.executable, "-m", "bot", "trade", "--config", str(path)],
        cwd=ROOT,
        text=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    result = watch(proc, seconds)
    ticks = subprocess.run(  # noqa: S603
        [
            sys.executable,
            "-c",
            f"import sqlite3; print(sqlite3.connect('{work / 'kestrel.sqlite'}').execute("
            '"select count(*) from equity").fetchone()[0])',
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return {"name": f"kestrel, {pairs} pairs", "pairs": pairs, "ticks": int(ticks), **result}


def run_peer(seconds: float) -> dict[str, Any]:
    proc = subprocess.Popen([sys.executable, "-c", IMPORTS], cwd=ROOT, text=True, stderr=subprocess.PIPE)  # noqa: S603
    return {"name": "peer: the imports alone", "pairs": 0, "ticks": 0, **watch(proc, min(seconds, 8))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--seconds", type=float, default=40)
    args = parser.parse_args()
    rows = [run_peer(args.seconds)]
    for n in args.pairs:
        with tempfile.TemporaryDirectory(prefix=f"kestrel-mem-{n}-") as tmp:
            rows.append(run_daemon(n, args.seconds, Path(tmp)))
    peer = rows[0]["peak_mb"]
    lines = [
        "| process | ticks | RSS at the end MB | mean RSS, second half MB | peak MB | peak vs peer | under 200 MB |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['name']} | {r['ticks']} | {r['rss_end_mb']:.0f} | {r['rss_mean_late_mb']:.0f} | "
            f"{r['peak_mb']:.0f} | {r['peak_mb'] / peer:.2f}x | {'yes' if r['peak_mb'] < 200 else 'NO'} |"
        )
    table = "\n".join(lines)
    print(table)
    results = ROOT / "benchmarks" / "results"
    (results / "memory.json").write_text(json.dumps(rows, indent=1))
    (results / "memory.md").write_text(f"# Memory, simulated market, 5m candles ({args.seconds:g} s each)\n\n{table}\n")


if __name__ == "__main__":
    main()
