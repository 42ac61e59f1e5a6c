"""The house rules CI can check: lint, format, types, and imports that point inward."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

PURE = [
    "bot/risk",
    "bot/strategy",
    "bot/exchange/fills.py",
    "bot/engine.py",
    "bot/ledger.py",
    "bot/book.py",
    "bot/candles.py",
    "bot/timeframes.py",
    "bot/orders/ids.py",
    "bot/decisions.py",
    "bot/metrics.py",
    "bot/ml/features.py",
    "bot/ml/labels.py",
    "bot/ml/splits.py",
    "bot/ml/dataset.py",
]
EDGE_LIBRARIES = {"ccxt", "sqlmodel", "sqlalchemy", "telegram", "loguru", "aiosqlite", "apscheduler", "sdnotify"}


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip(f"{name} is not installed next to {sys.executable}")
    return found


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300, check=False)


def test_ruff_lint_is_clean() -> None:
    result = _run(_tool("ruff"), "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean() -> None:
    result = _run(_tool("ruff"), "format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean() -> None:
    result = _run(_tool("mypy"))
    assert result.returncode == 0, result.stdout + result.stderr


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0] if not node.module.startswith("bot") else node.module)
    return names


def test_pure_modules_import_no_io_library() -> None:
    offenders = {}
    for entry in PURE:
        paths = [REPO / entry] if entry.endswith(".py") else sorted((REPO / entry).glob("*.py"))
        for path in paths:
            bad = _imports(path) & EDGE_LIBRARIES
            if bad:
                offenders[str(path.relative_to(REPO))] = sorted(bad)
    assert offenders == {}


def test_engine_and_pure_modules_do_not_import_the_store_or_telegram() -> None:
    for entry in PURE:
        paths = [REPO / entry] if entry.endswith(".py") else sorted((REPO / entry).glob("*.py"))
        for path in paths:
            inner = {m for m in _imports(path) if m.startswith("bot.")}
            assert not {m for m in inner if m.startswith(("bot.store", "bot.telegram", "bot.service"))}, path


def test_only_the_clock_reads_the_wall_clock() -> None:
    for path in sorted((REPO / "bot").rglob("*.py")):
        if path.name == "clock.py":
            continue
        text = path.read_text()
        for needle in ("datetime.now(", "datetime.utcnow(", "time.time(", "time.monotonic("):
            assert needle not in text, f"{path.relative_to(REPO)} reads the wall clock ({needle})"


def test_modules_stay_small() -> None:
    big = {
        str(p.relative_to(REPO)): n
        for p in (REPO / "bot").rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 400
    }
    assert big == {}
