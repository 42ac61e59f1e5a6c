"""`kestrel` as a user runs it: a subprocess, the shipped config, signals, a second shell for status."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal as D
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.integration.harness import assert_books_balance, assert_no_duplicate_orders, read_back


def kestrel(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A folder laid out like a fresh clone: the shipped config.json and strategies/, no user_data yet."""
    config = json.loads((REPO / "config.json").read_text())
    config["simulated"]["speed"] = 3000  # a 5m candle every 0.1 s, so the test is quick
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "strategies").symlink_to(REPO / "strategies")
    return tmp_path


def start(cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "trade"],
        cwd=cwd,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_for_trades(cwd: Path, proc: subprocess.Popen[str], minimum: int, timeout_s: float = 60) -> str:
    deadline = time.monotonic() + timeout_s
    status = ""
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"daemon exited early: {proc.communicate()[1][-2000:]}"
        result = kestrel("status", cwd=cwd)
        status = result.stdout
        if result.returncode == 0:
            count = next((int(line.split()[2]) for line in status.splitlines() if line.startswith("open trades:")), 0)
            closed = next(
                (int(line.split()[2]) for line in status.splitlines() if line.startswith("closed trades:")), 0
            )
            if count + closed >= minimum:
                return status
        time.sleep(0.5)
    raise AssertionError(f"no {minimum} trades within {timeout_s} s; last status:\n{status}")


def stop(proc: subprocess.Popen[str]) -> tuple[int, float, str]:
    began = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=15)
    return proc.returncode, time.monotonic() - began, err


def test_fresh_checkout_trades_stops_cleanly_and_resumes(checkout: Path) -> None:
    proc = start(checkout)
    status = wait_for_trades(checkout, proc, minimum=1)
    assert "Kestrel: simulated market, dry-run, strategy QuickMomentum 5m" in status
    code, took_s, err = stop(proc)
    assert code == 0, err[-2000:]
    assert took_s < 10
    assert "Traceback" not in err
    first = asyncio_run_read(checkout)
    assert first.trades

    proc = start(checkout)
    wait_for_trades(checkout, proc, minimum=len(first.trades) + 1)
    code, _, err = stop(proc)
    assert code == 0, err[-2000:]
    second = asyncio_run_read(checkout)
    assert {t.id for t in first.trades} <= {t.id for t in second.trades}
    for old in first.closed():
        assert next(t for t in second.trades if t.id == old.id) == old
    assert_no_duplicate_orders(second)
    assert_books_balance(second, D(1000), "USDT")
    trades_out = kestrel("trades", "--limit", "3", cwd=checkout)
    assert trades_out.returncode == 0
    assert len(trades_out.stdout.strip().splitlines()) == 1 + min(3, len(second.trades))


def asyncio_run_read(cwd: Path):  # type: ignore[no-untyped-def]
    import asyncio

    return asyncio.run(read_back(cwd / "config.json"))


def test_bad_config_is_one_line_exit_2_and_touches_nothing(checkout: Path) -> None:
    config = json.loads((checkout / "config.json").read_text())
    config["max_open_trades"] = "three"
    (checkout / "config.json").write_text(json.dumps(config))
    for command in ("trade", "check-config", "status"):
        result = kestrel(command, cwd=checkout)
        assert result.returncode == 2
        assert result.stderr == (
            "kestrel: config.json: max_open_trades: Input should be a valid integer, "
            "unable to parse string as an integer\n"
        )
    assert not (checkout / "user_data").exists()


def test_broken_strategy_file_is_one_line_with_file_and_line(checkout: Path) -> None:
    (checkout / "strategies").unlink()
    (checkout / "strategies").mkdir()
    (checkout / "strategies" / "quick_momentum.py").write_text(
        "from bot.strategy import Strategy\n\nclass QuickMomentum(Strategy):\n    timeframe = '5m'\n"
        "    def populate_indicators(self, df, md):\n        return df.rolling(\n"
    )
    result = kestrel("trade", cwd=checkout)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "quick_momentum.py:6: SyntaxError" in result.stderr
    assert not (checkout / "user_data").exists()


def test_status_before_the_first_run_says_so(checkout: Path) -> None:
    result = kestrel("status", cwd=checkout)
    assert result.returncode == 2
    assert result.stderr.endswith("no database yet (start the daemon with `kestrel trade` first)\n")
    assert not (checkout / "user_data").exists()


@pytest.mark.parametrize("command", ["trade", "status", "trades", "check-config", "list-strategies"])
def test_every_command_has_help(command: str, checkout: Path) -> None:
    result = kestrel(command, "--help", cwd=checkout)
    assert result.returncode == 0
    assert "--config PATH" in result.stdout


def test_kill_9_at_any_moment_loses_nothing_and_duplicates_nothing(checkout: Path) -> None:
    """Three hard kills mid-run (no chance to clean up), then a clean stop: the journal and the
    simulated market's books still agree, every trade has one entry order, no client id repeats."""
    seen = 0
    for _ in range(3):
        proc = start(checkout)
        wait_for_trades(checkout, proc, minimum=seen + 1)
        time.sleep(0.37)  # land somewhere inside a tick, not at a boundary
        proc.kill()
        proc.wait(timeout=10)
        seen = len(asyncio_run_read(checkout).trades)
    proc = start(checkout)
    wait_for_trades(checkout, proc, minimum=seen + 1)
    code, _, err = stop(proc)
    assert code == 0, err[-2000:]
    stored = asyncio_run_read(checkout)
    assert [e.kind for e in stored.events].count("reconciled") == 4
    assert not [o for o in stored.orders if o.status == "intent"], "every journaled order was resolved"
    assert_no_duplicate_orders(stored)
    assert_books_balance(stored, D(1000), "USDT")


def test_a_second_daemon_on_the_same_database_is_refused(checkout: Path) -> None:
    proc = start(checkout)
    try:
        wait_for_trades(checkout, proc, minimum=1)
        second = kestrel("trade", cwd=checkout, timeout=30)
        assert second.returncode == 2
        assert second.stderr == (
            f"kestrel: {checkout / 'user_data' / 'kestrel.sqlite.lock'}: another Kestrel "
            f"daemon (pid {proc.pid}) is using this file\n"
        )
        # another database, but pointed at the same simulated market: refused too
        other = json.loads((checkout / "config.json").read_text())
        other["db_url"] = "sqlite:///user_data/other.sqlite"
        other["simulated"]["state_path"] = "user_data/kestrel-simulated-exchange.sqlite"
        (checkout / "other.json").write_text(json.dumps(other))
        third = kestrel("trade", "--config", "other.json", cwd=checkout, timeout=30)
        assert third.returncode == 2
        assert "kestrel-simulated-exchange.sqlite.lock: another Kestrel daemon" in third.stderr
    finally:
        code, _, err = stop(proc)
    assert code == 0, err[-2000:]


def test_an_unusable_data_folder_is_one_line_not_a_traceback(checkout: Path) -> None:
    (checkout / "blocker").write_text("a file where a folder should be")
    config = json.loads((checkout / "config.json").read_text())
    config["db_url"] = "sqlite:///blocker/kestrel.sqlite"
    (checkout / "config.json").write_text(json.dumps(config))
    result = kestrel("trade", cwd=checkout)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    assert "blocker" in result.stderr


def test_a_config_holding_a_key_that_others_can_read_is_refused_before_anything(checkout: Path) -> None:
    config = json.loads((checkout / "config.json").read_text())
    config["exchange"]["key"] = "a-real-looking-api-key-123456"
    (checkout / "config.json").write_text(json.dumps(config))
    (checkout / "config.json").chmod(0o644)
    done = kestrel("trade", cwd=checkout)
    path = "config.json"  # as the user named it (the default)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "kestrel: config holding a secret (a key, secret, password or token): "
        f"{path} is open to group or others (mode 0644); run: chmod 600 {path}"
    )
    assert not (checkout / "user_data" / "kestrel.sqlite").exists()  # nothing created
    assert "a-real-looking-api-key-123456" not in done.stderr + done.stdout
