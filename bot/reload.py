"""/reload: read config.json and the strategy file again and check them, while the daemon keeps
trading on what it has; only a valid pair replaces it (the daemon then stops its loop and starts
again on them, reconciling first, as after any restart). What a reload cannot change safely (the
venue, live or dry-run, the database) is refused: that is a restart, done on purpose."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.config import Config, load_config, require_strategy
from bot.errors import ConfigError
from bot.ml_config import check_ml
from bot.secrets_source import check_config_file, secret_values
from bot.strategy.base import Strategy
from bot.strategy.guard import check_informative
from bot.strategy.loader import load_strategy

FIXED = ("exchange.name", "dry_run", "db_url", "user_data_dir", "bot_name", "stake_currency", "simulated")


@dataclass(frozen=True)
class Reloaded:
    config: Config
    strategy: Strategy
    changed: list[str]  # the config keys (dotted) whose values differ

    def describe(self) -> str:
        what = ", ".join(self.changed[:12]) + (" ..." if len(self.changed) > 12 else "") if self.changed else "none"
        return f"config and strategy {type(self.strategy).__name__} are valid; changed keys: {what}"


def check_reload(path: Path, running: Config) -> Reloaded:
    """The new config and strategy, or ConfigError/StrategyError with the one line that says why."""
    config, _warnings = load_config(path)
    check_config_file(path, bool(secret_values(config.model_dump(mode="json"))))
    strategy = load_strategy(config.strategy_path, require_strategy(config, path), config.model_dump(mode="json"))
    before, after = _flat(running.model_dump(mode="json")), _flat(config.model_dump(mode="json"))
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    for key in FIXED:
        if any(k == key or k.startswith(key + ".") for k in changed):
            raise ConfigError(f"{path}: {key}: cannot change on /reload; restart the service to change it")
    check_informative(strategy, config.exchange.pair_whitelist)  # what the new loop's start would refuse
    check_ml(config.ml, strategy)
    return Reloaded(config, strategy, changed)


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    return {prefix.rstrip("."): value}
