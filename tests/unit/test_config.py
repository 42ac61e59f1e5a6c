"""Config validation: every bad value is one line naming the file and the key."""

import json
from pathlib import Path
from typing import Any

import pytest

from bot.config import load_config
from bot.errors import ConfigError
from tests.conftest import REPO, base_config


def test_the_shipped_config_loads_without_secrets() -> None:
    config, warnings = load_config(REPO / "config.json")
    assert config.exchange.name == "simulated"
    assert config.dry_run is True
    assert config.telegram.token == ""
    assert warnings == []


def test_relative_paths_are_taken_from_the_config_folder(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    cfg = base_config(tmp_path, db_url="sqlite:///data/k.sqlite", strategy_path="strats")
    path.write_text(json.dumps(cfg))
    config, _ = load_config(path)
    assert config.db_path == tmp_path.resolve() / "data" / "k.sqlite"
    assert config.strategy_path == tmp_path.resolve() / "strats"


def _bad(tmp_path: Path, mutate: Any) -> str:
    cfg = base_config(tmp_path)
    mutate(cfg)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(cfg))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message.removeprefix(f"{path}: ")


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda c: c.update(stake_amount=-5), 'stake_amount: -5 is neither a positive amount nor "unlimited"'),
        (lambda c: c.update(stake_amount="all"), "stake_amount: 'all' is neither a positive amount nor \"unlimited\""),
        (
            lambda c: c.update(stake_amount="unlimited", max_open_trades=-1),
            'max_open_trades: -1 (no limit) cannot go with stake_amount "unlimited", which splits the balance over it',
        ),
        (
            lambda c: c.update(tradable_balance_ratio=1.5),
            "tradable_balance_ratio: Input should be less than or equal to 1",
        ),
        (
            lambda c: c.update(risk={"risk_per_trade_frac": 0}),
            "risk.risk_per_trade_frac: Input should be greater than 0",
        ),
        (
            lambda c: c.update(protections=[{"method": "CooldownPeriod"}]),
            "protections.0: CooldownPeriod: give stop_duration_candles or stop_duration (minutes), one of them",
        ),
        (
            lambda c: c.update(protections=[{"method": "Cooldown", "stop_duration": 5}]),
            "protections.0.method: Input should be "
            "'CooldownPeriod', 'StoplossGuard', 'LowProfitPairs' or 'MaxDrawdown'",
        ),
        (
            lambda c: c.update(stake_amount="lots"),
            "stake_amount: 'lots' is neither a positive amount nor \"unlimited\"",
        ),
        (lambda c: c.update(stake_amout=10), "stake_amout: unknown key (check the spelling)"),
        (lambda c: c.update(max_open_trades=0), "max_open_trades: must be at least 1, or -1 for no limit"),
        (
            lambda c: c.update(timeframe="7x"),
            "timeframe: bad timeframe '7x', expected e.g. 1s, 1m, 5m, 15m, 1h, 4h, 1d",
        ),
        (
            lambda c: c.update(db_url="postgresql://x"),
            "db_url: only SQLite is supported: use sqlite:///path/to/file.sqlite",
        ),
        (
            lambda c: c["exchange"].update(pair_whitelist=["BTCUSDT"]),
            "exchange.pair_whitelist: entry 0 'BTCUSDT' is not a BASE/QUOTE pair",
        ),
        (
            lambda c: c["exchange"].update(pair_whitelist=["BTC/USDT", "ETH/BTC"]),
            "exchange.pair_whitelist.1: 'ETH/BTC' is not quoted in stake_currency 'USDT'",
        ),
        (
            lambda c: c["exchange"].update(pair_whitelist=[]),
            "exchange.pair_whitelist: List should have at least 1 item after validation, not 0",
        ),
        (lambda c: c["simulated"].update(speed=0), "simulated.speed: Input should be greater than 0"),
        (
            lambda c: c["simulated"].update(start="yesterday"),
            "simulated.start: 'yesterday' is not an ISO-8601 date such as 2025-01-01T00:00:00Z",
        ),
        (
            lambda c: c.update(minimal_roi={"ten": 0.1}),
            'minimal_roi: key \'ten\' must be a whole number of minutes such as "0" or "30"',
        ),
        (lambda c: c.update(stoploss=0.1), "stoploss: Input should be less than 0"),
        (
            lambda c: c.update(order_types={"entry": "limt"}),
            "order_types.entry: Input should be 'market' or 'limit'",
        ),
        (
            lambda c: c.update(unfilledtimeout={"entry": 0}),
            "unfilledtimeout.entry: Input should be greater than 0",
        ),
        (
            lambda c: c.update(unfilledtimeout={"unit": "hours"}),
            "unfilledtimeout.unit: Input should be 'minutes' or 'seconds'",
        ),
        (
            lambda c: c.update(paper_fills={"volume_share": 1.5}),
            "paper_fills.volume_share: Input should be less than or equal to 1",
        ),
        (
            lambda c: c.update(paper_fills={"slippage": -0.01}),
            "paper_fills.slippage: Input should be greater than or equal to 0",
        ),
        (
            lambda c: c["telegram"].update(tokn="x") if "telegram" in c else c.update(telegram={"tokn": "x"}),
            "telegram.tokn: unknown key (check the spelling)",
        ),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, mutate: Any, expected: str) -> None:
    assert _bad(tmp_path, mutate) == expected


def test_missing_file_invalid_json_and_wrong_shape(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.json: not found$"):
        load_config(tmp_path / "nope.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"strategy": "X",\n "stake_amount": }')
    with pytest.raises(ConfigError, match=r"broken\.json: invalid JSON at line 2 column 18: Expecting value$"):
        load_config(broken)
    listy = tmp_path / "list.json"
    listy.write_text("[]")
    with pytest.raises(ConfigError, match=r"list\.json: \(top level\): expected a JSON object$"):
        load_config(listy)


def test_freqtrade_keys_without_meaning_here_are_ignored_with_a_warning(tmp_path: Path) -> None:
    cfg = base_config(tmp_path, pairlists=[], entry_pricing={"price_side": "same"})
    cfg["exchange"]["pair_blacklist"] = []
    path = tmp_path / "ft.json"
    path.write_text(json.dumps(cfg))
    _, warnings = load_config(path)
    assert warnings == [
        "ignored freqtrade key 'entry_pricing' (no meaning in Kestrel yet)",
        "ignored freqtrade key 'pairlists' (no meaning in Kestrel yet)",
        "ignored freqtrade key 'exchange.pair_blacklist' (no meaning in Kestrel yet)",
    ]


def test_default_paths_are_taken_from_the_config_folder_too(tmp_path: Path) -> None:
    path = tmp_path / "minimal.json"
    path.write_text(
        json.dumps({"strategy": "SmaCross", "stake_amount": 10, "exchange": {"pair_whitelist": ["BTC/USDT"]}})
    )
    config, _ = load_config(path)
    root = tmp_path.resolve()
    assert config.db_path == root / "user_data" / "kestrel.sqlite"
    assert config.sim_state_path == root / "user_data" / "kestrel-simulated-exchange.sqlite"
    assert config.strategy_path == root / "strategies"
    assert config.user_data_dir == root / "user_data"


def test_strategy_is_required_only_where_it_is_used(tmp_path: Path) -> None:
    from bot.config import require_strategy

    cfg = base_config(tmp_path)
    del cfg["strategy"]
    path = tmp_path / "nostrat.json"
    path.write_text(json.dumps(cfg))
    config, _ = load_config(path)  # a freqtrade config names no strategy: loading is fine
    with pytest.raises(ConfigError, match=r"nostrat\.json: strategy: required key is missing$"):
        require_strategy(config, path)
    assert require_strategy(config, path, "SmaCross") == "SmaCross"


def test_order_types_and_unfilled_timeouts_are_read_as_freqtrade_writes_them(tmp_path: Path) -> None:
    cfg = base_config(
        tmp_path,
        order_types={"entry": "limit", "exit": "limit", "stoploss": "market", "stoploss_on_exchange": False},
        unfilledtimeout={"entry": 10, "exit": 30, "exit_timeout_count": 2, "unit": "seconds"},
    )
    path = tmp_path / "c.json"
    path.write_text(json.dumps(cfg))
    config, warnings = load_config(path)
    assert warnings == []
    assert (config.order_types.entry, config.order_types.exit) == ("limit", "limit")
    assert config.order_types.stoploss_on_exchange is False
    assert config.unfilledtimeout.ms("entry") == 10_000 and config.unfilledtimeout.ms("exit") == 30_000

    defaults, _ = load_config(REPO / "config.json")
    assert (defaults.order_types.entry, defaults.order_types.exit) == ("market", "market")
    assert defaults.unfilledtimeout.ms("entry") == 600_000  # 10 minutes, freqtrade's usual value
