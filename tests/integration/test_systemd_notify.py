"""sd_notify as systemd sees it: a real NOTIFY_SOCKET datagram listener (what systemd binds for a
Type=notify service) around a real `kestrel trade` subprocess on the simulated market."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.harness import read_back

SLEEPY = """
import time
from pathlib import Path

from bot.strategy import Strategy

BLOCK = Path(__file__).with_name("block")


class Sleepy(Strategy):
    timeframe = "5m"
    minimal_roi = {"0": 1.0}
    stoploss = -0.5

    def populate_entry_trend(self, df, metadata):
        if BLOCK.exists():  # a strategy wedged in a computation: the event loop stops with it
            time.sleep(2.5)
        df["enter_long"] = 1
        return df
"""
WATCHDOG_USEC = 600_000  # systemd would want a ping every 0.3 s


@dataclass
class Datagram:
    at: float  # time.monotonic() on arrival
    wall: float  # time.time() on arrival
    fields: dict[str, str]


class NotifyListener:
    """Binds the socket, collects every datagram in a thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.received: list[Datagram] = []
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(path))
        self._sock.settimeout(0.1)
        self._running = True
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while self._running:
            try:
                data = self._sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            self.received.append(Datagram(time.monotonic(), time.time(), fields))

    def close(self) -> None:
        self._running = False
        self._thread.join(2)
        self._sock.close()

    def with_field(self, name: str) -> list[Datagram]:
        return [d for d in self.received if name in d.fields]

    def wait_for(self, name: str, timeout_s: float = 30) -> Datagram:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = self.with_field(name)
            if found:
                return found[0]
            time.sleep(0.05)
        raise AssertionError(f"no {name} within {timeout_s} s; got {[d.fields for d in self.received]}")


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[NotifyListener]:
    sock = NotifyListener(tmp_path / "notify.sock")
    yield sock
    sock.close()


@pytest.fixture
def config_path(tmp_path: Path, write_config: Any) -> Path:
    (tmp_path / "strats").mkdir()
    (tmp_path / "strats" / "sleepy.py").write_text(SLEEPY)
    path: Path = write_config(
        strategy="Sleepy",
        strategy_path=str(tmp_path / "strats"),
        exchange={"name": "simulated", "pair_whitelist": ["BTC/USDT"]},
        simulated={"speed": 6000, "history_candles": 50},
    )
    return path


def kestrel_trade(config: Path, notify: Path, **env: str) -> subprocess.Popen[str]:
    environ = {**os.environ, "PYTHONUNBUFFERED": "1", "NOTIFY_SOCKET": str(notify), **env}
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "trade", "--config", str(config)],
        env=environ,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def gaps(datagrams: list[Datagram]) -> list[float]:
    return [b.at - a.at for a, b in itertools.pairwise(datagrams)]


def test_ready_after_reconciling_status_per_tick_watchdog_while_alive_stopping_on_sigterm(
    config_path: Path, listener: NotifyListener, tmp_path: Path
) -> None:
    proc = kestrel_trade(config_path, listener.path, WATCHDOG_USEC=str(WATCHDOG_USEC))
    try:
        ready = listener.wait_for("READY")
        assert listener.received[0] is ready  # nothing before READY
        assert ready.fields["STATUS"].startswith("dry-run simulated, running, 0 open trades")
        time.sleep(2.5)  # healthy: ticks and pings
        healthy = [d for d in listener.with_field("WATCHDOG") if d.at > ready.at]
        assert len(healthy) >= 5
        assert max(gaps(healthy)) < 0.3 + 0.35  # every half interval, give or take the scheduler

        statuses = [d.fields["STATUS"] for d in listener.received if "STATUS" in d.fields and "READY" not in d.fields]
        assert len(statuses) >= 10 and "open trades, last tick 2025-" in statuses[-1]
        assert any(", 1 open trades," in s for s in statuses)

        (tmp_path / "strats" / "block").touch()  # the strategy now blocks the loop for 2.5 s a tick
        blocked_from = time.monotonic()
        time.sleep(3)
        (tmp_path / "strats" / "block").unlink()
        during = [d for d in listener.with_field("WATCHDOG") if d.at > blocked_from + 0.5]
        assert gaps([Datagram(blocked_from + 0.5, 0, {}), *during])[0] > 1.8  # the watchdog starved
        time.sleep(4)  # the last blocked tick ends, then healthy again
        recovered = [d for d in listener.with_field("WATCHDOG") if d.at > time.monotonic() - 1.5]
        assert len(recovered) >= 3
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err[-2000:]
    stopping = listener.wait_for("STOPPING", timeout_s=1)
    assert stopping.at > ready.at
    stored = asyncio.run(read_back(config_path))
    reconciled = [e for e in stored.events if e.kind == "reconciled"]
    assert reconciled and reconciled[0].wall_ms <= ready.wall * 1000  # READY only once reconciled


def test_without_notify_socket_nothing_is_sent_and_nothing_breaks(config_path: Path, listener: NotifyListener) -> None:
    environ = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "trade", "--config", str(config_path)],
        env={**environ, "WATCHDOG_USEC": str(WATCHDOG_USEC)},
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    time.sleep(3)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err[-2000:]
    assert listener.received == []
