#!/usr/bin/env bash
# Prints the python that has Kestrel installed: $KESTREL_PYTHON, else the repo's .venv, else /tmp/kv.
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ -n "${KESTREL_PYTHON:-}" ]; then echo "$KESTREL_PYTHON"
elif [ -x "$HERE/../.venv/bin/python" ]; then echo "$HERE/../.venv/bin/python"
else echo /tmp/kv/bin/python; fi
