#!/usr/bin/env bash
# ML training on real candles: out-of-sample report, time and peak memory against bare LightGBM.
# Needs ../shared/data/ohlcv (skips without it). Arguments go to ml_training.py (e.g. --cases btc_eth_5m).
# KESTREL_PYTHON: a python with kestrel installed (default .venv/bin/python, else /tmp/kv/bin/python).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="$("$HERE/kestrel_python.sh")"
exec "$PY" "$HERE/ml_training.py" "$@"
