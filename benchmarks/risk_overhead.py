"""What the equity breakers and the volatility brake cost a backtest: `kestrel backtest` with them
off and on, on the same candles, in the same run (the peer is Kestrel without them).

With breakers on, the backtester must also run the ticks at which a mark could cross a limit, and
mark the open positions over every skipped stretch; this measures that. Run by hand:

    bash benchmarks/run_risk.sh [--sizes 20x365,100x365]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from backtest_vs_freqtrade import HERE, Run, prepare_case, progress, run_kestrel
from make_candles import DEFAULT_SRC

# All four tracked. SmaCross loses most of the wallet over a year of these candles, and a drawdown
# or streak pause never lifts in a backtest (no person resumes it), so those two are set where they
# are watched on every tick but do not end the trading on day two; the daily limit trips and lifts.
RISK = {
    "daily_loss_limit_frac": 0.01,
    "max_drawdown_frac": 0.95,
    "max_losing_streak": 40,
    "volatility_brake_k": 6,
    "volatility_lookback": 24,
}


def row(size: str, off: Run, on: Run) -> dict[str, Any]:
    return {
        "case": size,
        "off": {"wall_s": off.wall_s, "rss_mb": off.peak_rss_mb, "trades": off.trades, **off.extra},
        "on": {"wall_s": on.wall_s, "rss_mb": on.peak_rss_mb, "trades": on.trades, **on.extra},
        "wall_ratio": on.wall_s / off.wall_s,
        "inner_ratio": (on.inner_s or 0) / (off.inner_s or 1),
        "rss_ratio": on.peak_rss_mb / off.peak_rss_mb,
    }


def table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| case | trades off / on | risk events | ticks run off / on | wall off / on (s) | on/off wall "
        "| on/off backtest() | RSS off / on (MB) |\n|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for r in rows:
        off, on = r["off"], r["on"]
        lines.append(
            f"| {r['case']} | {off['trades']:,} / {on['trades']:,} | {on['risk_events']:,} "
            f"| {off['ticks_run']:,} / {on['ticks_run']:,} | {off['wall_s']:.2f} / {on['wall_s']:.2f} "
            f"| {r['wall_ratio']:.2f}x | {r['inner_ratio']:.2f}x | {off['rss_mb']:.0f} / {on['rss_mb']:.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="20x365,100x365")
    p.add_argument("--kestrel-python", default=sys.executable)
    p.add_argument("--src", type=Path, default=DEFAULT_SRC)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "kestrel-bench-risk")
    args = p.parse_args(argv)
    rows = []
    for size in filter(None, (s.strip() for s in args.sizes.split(","))):
        case = prepare_case(size, args.workdir, args.src, args.seed)
        out = args.workdir / "runs" / size
        off = run_kestrel(case, out / "off", args.kestrel_python)
        on = run_kestrel(case, out / "on", args.kestrel_python, {"risk": RISK})
        if off.returncode or on.returncode:
            print(f"FAILED: {size} (see console.log under {out})")
            return 2
        progress(f"[{size}] off {off.wall_s:.2f} s, on {on.wall_s:.2f} s")
        rows.append(row(size, off, on))
        if case.synthetic:
            shutil.rmtree(case.datadir, ignore_errors=True)
    text = table(rows)
    results = HERE / "results"
    (results / "risk_overhead.md").write_text(f"Risk settings: `{json.dumps(RISK)}`\n\n{text}\n")
    (results / "risk_overhead.json").write_text(json.dumps({"risk": RISK, "rows": rows}, indent=2) + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
