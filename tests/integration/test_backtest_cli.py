"""`kestrel download-data` then `kestrel backtest`, as a user runs them: subprocesses, the real ccxt
binance class against a fake Binance on 127.0.0.1, files on disk."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import REPO
from tests.fakes.binance_http import FakeBinance, ccxt_config_for, generate_klines

T0 = 1_704_067_200_000  # 2024-01-01


@pytest.fixture
async def fake() -> AsyncIterator[FakeBinance]:
    async with FakeBinance() as server:
        yield server


async def kestrel(*args: str, cwd: Path) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def write_config(tmp: Path, base_url: str) -> Path:
    config = {
        "strategy": "SmaCross",
        "strategy_path": str(REPO / "strategies"),
        "stake_currency": "USDT",
        "stake_amount": 100,
        "max_open_trades": 2,
        "dry_run_wallet": 1000,
        "fee": 0.001,
        "exchange": {
            "name": "binance",
            "pair_whitelist": ["BTC/USDT", "ETH/USDT"],
            "ccxt_config": ccxt_config_for(base_url),
        },
    }
    path = tmp / "config.json"
    path.write_text(json.dumps(config))
    return path


async def test_download_then_backtest_end_to_end(fake: FakeBinance, tmp_path: Path) -> None:
    fake.set_klines("BTCUSDT", "5m", generate_klines(T0, "5m", 3 * 288, seed=3, start_price=42_000))
    fake.set_klines("ETHUSDT", "5m", generate_klines(T0, "5m", 3 * 288, seed=4, start_price=2_300))
    write_config(tmp_path, fake.base_url)
    code, out, err = await kestrel(
        "download-data", "--timerange", "20240101-20240104", "--datadir", "data", cwd=tmp_path
    )
    assert code == 0, err
    assert "BTC/USDT 5m: +864 candles" in out
    stored = pd.read_feather(tmp_path / "data" / "binance" / "BTC_USDT-5m.feather")
    assert len(stored) == 864 and stored["date"].is_monotonic_increasing
    assert len(fake.requests_to("klines")) >= 2  # ccxt paged (1000 per page)

    code, out, err = await kestrel("backtest", "--datadir", "data", "--export-dir", "out", cwd=tmp_path)
    assert code == 0, err
    assert "Trades" in out and "Per exit reason" in out
    trades = pd.read_csv(tmp_path / "out" / "trades.csv")
    assert list(trades.columns) == [
        "pair",
        "open_date",
        "close_date",
        "open_rate",
        "close_rate",
        "amount",
        "profit_ratio",
        "profit_abs",
        "exit_reason",
    ]
    assert len(trades) >= 5, "the fixture must trade or this proves nothing"
    assert set(trades["exit_reason"]) <= {"roi", "stop_loss", "trailing_stop_loss", "exit_signal", "force_exit"}
    assert trades["open_date"].str.endswith("+00:00").all()
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    for key in (
        "trades",
        "profit_total_abs",
        "cagr",
        "sharpe",
        "sortino",
        "calmar",
        "max_drawdown_ratio",
        "win_rate",
        "profit_factor",
        "expectancy_abs",
        "avg_duration_minutes",
        "per_pair",
        "per_exit_reason",
        "wall_seconds",
        "candles_processed",
    ):
        assert key in summary, key
    assert summary["trades"] == len(trades)
    assert summary["candles_processed"] == 2 * 864
    html = (tmp_path / "out" / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and html.count("<svg") >= 3
    assert "http://" not in html and "https://" not in html


async def test_backtest_bad_input_is_one_line(fake: FakeBinance, tmp_path: Path) -> None:
    write_config(tmp_path, fake.base_url)
    (tmp_path / "data").mkdir()
    code, _, err = await kestrel("backtest", "--datadir", "data", cwd=tmp_path)
    assert code == 2
    assert err.strip().splitlines() == ["kestrel: data: no candle file BTC_USDT-5m.feather for BTC/USDT 5m"]
    code, _, err = await kestrel("backtest", "--datadir", "data", "--timerange", "2024-01-01", cwd=tmp_path)
    assert code == 2
    assert err.startswith("kestrel: --timerange: ") and err.count("\n") == 1


async def test_backtest_warns_about_a_strategy_that_looks_ahead(fake: FakeBinance, tmp_path: Path) -> None:
    fake.set_klines("BTCUSDT", "5m", generate_klines(T0, "5m", 400, seed=5, start_price=42_000))
    path = write_config(tmp_path, fake.base_url)
    config = json.loads(path.read_text())
    (tmp_path / "strats").mkdir()
    (tmp_path / "strats" / "peek.py").write_text(
        "from bot.strategy import Strategy\n\n\nclass Peeker(Strategy):\n    stoploss = -0.05\n\n"
        "    def populate_entry_trend(self, df, metadata):\n"
        "        df.loc[df['close'].shift(-1) > df['close'], 'enter_long'] = 1\n        return df\n"
    )
    config.update(strategy="Peeker", strategy_path="strats")
    config["exchange"]["pair_whitelist"] = ["BTC/USDT"]
    path.write_text(json.dumps(config))
    code, _, err = await kestrel("download-data", "--timerange", "20240101-20240103", "--datadir", "data", cwd=tmp_path)
    assert code == 0, err
    code, out, err = await kestrel("backtest", "--datadir", "data", cwd=tmp_path)
    assert code == 0, err
    assert "warning: BTC/USDT: enter_long on the candle of " in out
    assert "the strategy looks ahead" in out
