#!/usr/bin/env bash
# Tick time with Telegram off, on, and in a 429 storm; arguments go to telegram_load.py
# KESTREL_PYTHON: a python with kestrel installed (default .venv/bin/python, else /tmp/kv/bin/python).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="$("$HERE/kestrel_python.sh")"
exec "$PY" "$HERE/telegram_load.py" "$@"
