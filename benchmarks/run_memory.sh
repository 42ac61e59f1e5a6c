#!/usr/bin/env bash
# Resident memory of kestrel trade with 10 and 100 pairs; arguments go to memory.py
# KESTREL_PYTHON: a python with kestrel installed (default .venv/bin/python, else /tmp/kv/bin/python).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="$("$HERE/kestrel_python.sh")"
exec "$PY" "$HERE/memory.py" "$@"
