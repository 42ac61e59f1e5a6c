#!/usr/bin/env bash
# Kestrel backtest vs freqtrade backtesting; arguments go to backtest_vs_freqtrade.py, e.g.
#   bash benchmarks/run.sh --sizes 10x30,20x365 --skip-freqtrade
# KESTREL_PYTHON: a python with kestrel installed (default .venv/bin/python, else /tmp/kv/bin/python).
# FT_VENV: freqtrade's venv (default /tmp/ftvenv; make it with ../shared/tools/freqtrade-offline/setup.sh).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="$("$HERE/kestrel_python.sh")"
exec "$PY" "$HERE/backtest_vs_freqtrade.py" "$@"
