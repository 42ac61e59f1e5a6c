#!/usr/bin/env bash
# Kestrel backtest with the risk breakers off and on; arguments go to risk_overhead.py
# KESTREL_PYTHON: a python with kestrel installed (default .venv/bin/python, else /tmp/kv/bin/python).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="$("$HERE/kestrel_python.sh")"
exec "$PY" "$HERE/risk_overhead.py" "$@"
