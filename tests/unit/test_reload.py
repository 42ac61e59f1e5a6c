"""/reload's check: the new config and strategy are read and validated, the keys that changed are
named, and what needs a restart is refused with the key that says so."""

import json
from pathlib import Path
from typing import Any

import pytest

from bot.config import load_config
from bot.errors import ConfigError, StrategyError
from bot.reload import check_reload


def edit(path: Path, **changes: Any) -> None:
    raw = json.loads(path.read_text())
    for key, value in changes.items():
        if isinstance(value, dict):
            raw[key] = {**raw.get(key, {}), **value}
        else:
            raw[key] = value
    path.write_text(json.dumps(raw))


def test_unchanged_and_changed_keys_are_named(write_config: Any) -> None:
    path = write_config()
    running, _ = load_config(path)
    assert check_reload(path, running).changed == []
    edit(path, stake_amount=50, exchange={"pair_whitelist": ["BTC/USDT"]}, minimal_roi={"0": 0.02})
    reloaded = check_reload(path, running)
    assert reloaded.changed == ["exchange.pair_whitelist", "minimal_roi.0", "stake_amount"]
    assert reloaded.config.stake_amount == 50
    assert "changed keys: exchange.pair_whitelist, minimal_roi.0, stake_amount" in reloaded.describe()


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"dry_run": False}, "dry_run"),
        ({"exchange": {"name": "binance"}}, "exchange.name"),
        ({"bot_name": "other"}, "bot_name"),
        ({"simulated": {"seed": 8}}, "simulated"),
    ],
)
def test_what_needs_a_restart_is_refused(write_config: Any, change: dict[str, Any], key: str) -> None:
    path = write_config()
    running, _ = load_config(path)
    edit(path, **change)
    with pytest.raises(ConfigError, match=f"{key}: cannot change on /reload; restart the service"):
        check_reload(path, running)


def test_a_bad_config_or_strategy_is_one_line(write_config: Any, tmp_path: Path) -> None:
    path = write_config()
    running, _ = load_config(path)
    edit(path, max_open_trades="many")
    with pytest.raises(ConfigError, match="max_open_trades"):
        check_reload(path, running)
    edit(path, max_open_trades=3, strategy="Missing")
    with pytest.raises(StrategyError, match="strategy 'Missing' not found"):
        check_reload(path, running)
