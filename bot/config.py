"""config.json: pydantic models (unknown keys refused) and load_config(), which turns every
problem into one ConfigError line naming the file and the key."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from bot.clock import parse_iso_ms
from bot.config_section import Section
from bot.errors import ConfigError
from bot.ml_config import MLConfig
from bot.risk_config import ProtectionConfig, RiskConfig
from bot.telegram_config import TelegramConfig
from bot.timeframes import timeframe_s

# freqtrade keys Kestrel accepts and ignores, so a freqtrade config loads with a warning instead of
# failing on the first key we have no use for yet.
FREQTRADE_IGNORED_KEYS = frozenset(
    {
        "$schema",
        "trading_mode",
        "margin_mode",
        "entry_pricing",
        "exit_pricing",
        "pairlists",
        "dataformat_ohlcv",
        "dataformat_trades",
        "internals",
        "cancel_open_orders_on_exit",
        "api_server",
        "initial_state",
        "force_entry_enable",
        "order_time_in_force",
        "edge",
        "position_adjustment_enable",
        "max_entry_position_adjustment",
        "amend_last_stake_amount",
        "last_stake_amount_min_ratio",
        "amount_reserve_percent",
        "ignore_roi_if_entry_signal",
        "ignore_buying_expired_candle_after",
        "exit_profit_only",
        "exit_profit_offset",
        "disable_dataframe_checks",
        "process_only_new_candles",
        "use_exit_signal",
        "trailing_only_offset_is_reached",
    }
)
FREQTRADE_IGNORED_EXCHANGE_KEYS = frozenset(
    {
        "ccxt_async_config",
        "pair_blacklist",
        "password",
        "uid",
        "markets_refresh_interval",
        "skip_pair_validation",
        "log_responses",
        "enable_ws",
    }
)


def _resolve(value: Path | None, info: ValidationInfo) -> Path | None:
    """Relative paths are taken from the config file's folder, so `kestrel status` run from any
    directory finds the same database as the daemon."""
    if value is None or value.is_absolute():
        return value
    base = (info.context or {}).get("base_dir")
    return (Path(base) / value).resolve() if base else value


class ExchangeConfig(Section):
    name: str = "simulated"
    pair_whitelist: list[str] = Field(min_length=1)
    ccxt_config: dict[str, Any] = Field(default_factory=dict)
    key: str = ""
    secret: str = ""
    sandbox: bool = False

    @field_validator("ccxt_config")
    @classmethod
    def _not_verbose(cls, value: dict[str, Any]) -> dict[str, Any]:
        if value.get("verbose"):
            raise ValueError("verbose: ccxt would print every request, keys and signatures included, to stdout")
        return value

    @field_validator("pair_whitelist")
    @classmethod
    def _pairs_look_like_pairs(cls, pairs: list[str]) -> list[str]:
        for i, pair in enumerate(pairs):
            base, sep, quote = pair.partition("/")
            if not sep or not base or not quote or "/" in quote:
                raise ValueError(f"entry {i} {pair!r} is not a BASE/QUOTE pair")
        if len(set(pairs)) != len(pairs):
            raise ValueError("lists a pair twice")
        return pairs


class HealthConfig(Section):
    """An HTTP endpoint for monitors: /health (200 while ticks are fresh, else 503) and /metrics
    (Prometheus text). Off by default; only ever on the loopback interface."""

    enabled: bool = False
    host: Literal["127.0.0.1", "::1"] = "127.0.0.1"
    port: int = Field(default=8787, ge=1, le=65535)
    stale_after_s: float | None = Field(default=None, gt=0)  # default: two timeframes (wall time) + 60 s


class OrderTypesConfig(Section):
    """How entries and exits are sent. A limit order is priced at the last price: on Kestrel's own
    venues (simulated, paper, backtest) it trades at once, as a market order would; on a real
    exchange it may rest, and `unfilledtimeout` decides how long. Stops always sell at market."""

    entry: Literal["market", "limit"] = "market"
    exit: Literal["market", "limit"] = "market"
    stoploss: Literal["market", "limit"] = "market"  # read as market: a stop-limit may never fill in a fall
    stoploss_on_exchange: bool = True  # False: the bot alone watches the stop, at each tick
    # freqtrade's other order-type keys, accepted so its configs load; emergency exits are market
    emergency_exit: Literal["market", "limit"] = "market"
    force_exit: Literal["market", "limit"] = "market"
    force_entry: Literal["market", "limit"] = "market"
    stoploss_on_exchange_interval: int = 60
    stoploss_on_exchange_limit_ratio: float = 0.99


class UnfilledTimeoutConfig(Section):
    """How long an entry or exit order may stay unfilled before it is cancelled. A cancelled entry
    keeps what filled; a cancelled exit leaves the position open for the rules to exit again, and
    after `exit_timeout_count` cancelled exits (0: never) the position is sold at market."""

    entry: float = Field(default=10, gt=0)
    exit: float = Field(default=10, gt=0)
    unit: Literal["minutes", "seconds"] = "minutes"
    exit_timeout_count: int = Field(default=0, ge=0)

    def ms(self, which: Literal["entry", "exit"]) -> int:
        value = self.entry if which == "entry" else self.exit
        return int(value * (60_000 if self.unit == "minutes" else 1000))


class PaperFillsConfig(Section):
    """How paper orders fill on Kestrel's own venues (simulated market, dry-run, backtest); a live
    exchange fills as it fills. The defaults fill every touched order whole at its price, as
    freqtrade's backtests do."""

    slippage: Decimal = Field(default=Decimal(0), ge=0, lt=Decimal("0.05"))  # against market orders
    volume_share: Decimal | None = Field(default=None, gt=0, le=1)  # of a candle's volume a resting limit takes


class SimulatedConfig(Section):
    seed: int = 42
    speed: float = Field(default=120.0, gt=0, le=10_000_000)
    start: str | None = None  # market time of the first tick; default 2025-01-01, or the replay's start
    history_candles: int = Field(default=500, ge=0, le=100_000)
    candles_dir: Path | None = None
    state_path: Path | None = None  # default: next to the database, named after it
    start_prices: dict[str, float] = Field(default_factory=dict)
    min_notional: Decimal = Field(default=Decimal("5"), ge=0)
    annual_volatility: float = Field(default=0.7, gt=0, le=10)
    price_tick: Decimal | None = Field(default=None, gt=0)
    amount_step: Decimal | None = Field(default=None, gt=0)

    _paths = field_validator("candles_dir", "state_path")(_resolve)

    @field_validator("start")
    @classmethod
    def _start_is_iso(cls, text: str | None) -> str | None:
        if text is None:
            return None
        try:
            parse_iso_ms(text)
        except ValueError:
            raise ValueError(f"{text!r} is not an ISO-8601 date such as 2025-01-01T00:00:00Z") from None
        return text


class Config(Section):
    strategy: str | None = None  # required by `kestrel trade`; `kestrel backtest --strategy` may give it
    strategy_path: Path = Path("strategies")
    dry_run: bool = True
    dry_run_wallet: Decimal = Field(default=Decimal("1000"), gt=0)
    stake_currency: str = "USDT"
    stake_amount: Decimal | Literal["unlimited"]
    tradable_balance_ratio: Decimal = Field(default=Decimal(1), gt=0, le=1)
    max_open_trades: int = Field(default=3, ge=-1)
    timeframe: str | None = None
    fee: Decimal | None = Field(default=None, ge=0, lt=Decimal("0.1"))
    db_url: str = "sqlite:///user_data/kestrel.sqlite"
    user_data_dir: Path = Path("user_data")
    bot_name: str = Field(default="kestrel", pattern=r"^[A-Za-z0-9_-]{1,32}$")
    candle_window: int = Field(default=1000, ge=50, le=1_000_000)
    minimal_roi: dict[str, float] | None = None
    stoploss: float | None = Field(default=None, lt=0, ge=-1)
    trailing_stop: bool | None = None
    trailing_stop_positive: float | None = Field(default=None, gt=0, lt=1)
    trailing_stop_positive_offset: float | None = Field(default=None, ge=0)
    trailing_only_offset_is_reached: bool | None = None
    exchange: ExchangeConfig
    order_types: OrderTypesConfig = Field(default_factory=OrderTypesConfig)
    unfilledtimeout: UnfilledTimeoutConfig = Field(default_factory=UnfilledTimeoutConfig)
    paper_fills: PaperFillsConfig = Field(default_factory=PaperFillsConfig)
    risk: RiskConfig = Field(default_factory=RiskConfig)
    protections: list[ProtectionConfig] = Field(default_factory=list)
    telegram: TelegramConfig = Field(default_factory=TelegramConfig)
    health: HealthConfig = Field(default_factory=HealthConfig)
    simulated: SimulatedConfig = Field(default_factory=SimulatedConfig)
    ml: MLConfig = Field(default_factory=MLConfig)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"  # json: one JSON object per line, on stderr and in the file
    log_heartbeat_min: float = Field(default=60, ge=0, le=1440)  # an "alive" line this often; 0: none

    _paths = field_validator("strategy_path", "user_data_dir")(_resolve)

    @model_validator(mode="before")
    @classmethod
    def _sections_see_the_context(cls, data: Any) -> Any:
        """An absent section is validated as `{}` (not built from a default factory) so that its
        default paths are resolved against the config's folder like written ones."""
        if isinstance(data, dict):
            for section in ("telegram", "simulated"):
                data.setdefault(section, {})
        return data

    @field_validator("stake_amount", mode="before")
    @classmethod
    def _stake(cls, value: Any) -> Any:
        if value == "unlimited":
            return value
        try:
            stake = Decimal(str(value))
        except (ArithmeticError, ValueError):
            raise ValueError(f'{value!r} is neither a positive amount nor "unlimited"') from None
        if not stake.is_finite() or stake <= 0:
            raise ValueError(f'{value!r} is neither a positive amount nor "unlimited"')
        return stake

    @field_validator("max_open_trades")
    @classmethod
    def _slots(cls, value: int, info: ValidationInfo) -> int:
        if value == 0:
            raise ValueError("must be at least 1, or -1 for no limit")
        if value == -1 and info.data.get("stake_amount") == "unlimited":
            raise ValueError('-1 (no limit) cannot go with stake_amount "unlimited", which splits the balance over it')
        return value

    @field_validator("timeframe")
    @classmethod
    def _timeframe(cls, value: str | None) -> str | None:
        if value is not None:
            timeframe_s(value)
        return value

    @field_validator("minimal_roi")
    @classmethod
    def _roi_keys_are_minutes(cls, roi: dict[str, float] | None) -> dict[str, float] | None:
        for key in roi or {}:
            if not key.isdigit():
                raise ValueError(f'key {key!r} must be a whole number of minutes such as "0" or "30"')
        return roi

    @field_validator("db_url")
    @classmethod
    def _sqlite_only(cls, url: str, info: ValidationInfo) -> str:
        for prefix in ("sqlite+aiosqlite:///", "sqlite:///"):
            if url.startswith(prefix):
                path = _resolve(Path(url[len(prefix) :]), info)
                return f"sqlite+aiosqlite:///{path}"
        raise ValueError("only SQLite is supported: use sqlite:///path/to/file.sqlite")

    @property
    def db_path(self) -> Path:
        return Path(self.db_url.removeprefix("sqlite+aiosqlite:///"))

    @property
    def sim_state_path(self) -> Path:
        """The simulated market's books; by default beside the database, so two bots with two
        databases never share one market by accident."""
        if self.simulated.state_path is not None:
            return self.simulated.state_path
        return self.db_path.with_name(f"{self.db_path.stem}-simulated-exchange.sqlite")

    @property
    def paper_state_path(self) -> Path:
        """The dry-run paper wallet and its orders, beside the database and named after the exchange
        (a paper wallet on one exchange is not a wallet on another)."""
        return self.db_path.with_name(f"{self.db_path.stem}-paper-{self.exchange.name}.sqlite")

    @property
    def venue_state_path(self) -> Path | None:
        """The file holding the venue's own books, when the venue is ours (simulated or paper)."""
        if self.is_simulated:
            return self.sim_state_path
        return self.paper_state_path if self.dry_run else None

    @property
    def max_slots(self) -> int | None:
        return None if self.max_open_trades == -1 else self.max_open_trades

    @property
    def is_simulated(self) -> bool:
        return self.exchange.name == "simulated"


def load_config(path: Path) -> tuple[Config, list[str]]:
    """Parse and validate config.json. Returns the config and warnings about ignored keys; every
    failure becomes one ConfigError line. Reads only: nothing is created or changed."""
    try:
        raw = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise ConfigError(f"{path}: not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, expected a JSON file") from None
    except PermissionError:
        raise ConfigError(f"{path}: not readable (permission denied)") from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}: invalid JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: (top level): expected a JSON object")
    warnings = _strip_ignored(raw)
    try:
        config = Config.model_validate(raw, context={"base_dir": path.parent.resolve()})
    except ValidationError as e:
        raise ConfigError(_one_line(path, e)) from None
    _check_pairs_quote(config, path)
    return config, warnings


def _strip_ignored(raw: dict[str, Any]) -> list[str]:
    warnings = []
    for key in sorted(FREQTRADE_IGNORED_KEYS & raw.keys()):
        del raw[key]
        warnings.append(f"ignored freqtrade key {key!r} (no meaning in Kestrel yet)")
    exchange = raw.get("exchange")
    if isinstance(exchange, dict):
        for key in sorted(FREQTRADE_IGNORED_EXCHANGE_KEYS & exchange.keys()):
            del exchange[key]
            warnings.append(f"ignored freqtrade key 'exchange.{key}' (no meaning in Kestrel yet)")
    return warnings


def _one_line(path: Path, error: ValidationError) -> str:
    err = error.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "(top level)"
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown key (check the spelling)"
    elif err["type"] == "missing":
        msg = "required key is missing"
    extra = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{path}: {where}: {msg}{extra}"


def _check_pairs_quote(config: Config, path: Path) -> None:
    for i, pair in enumerate(config.exchange.pair_whitelist):
        if pair.split("/")[1] != config.stake_currency:
            raise ConfigError(
                f"{path}: exchange.pair_whitelist.{i}: {pair!r} is not quoted in "
                f"stake_currency {config.stake_currency!r}"
            )


def require_strategy(config: Config, path: Path, override: str | None = None) -> str:
    """The strategy name to use: the command line's, else the config's, else one ConfigError line."""
    name = override or config.strategy
    if not name:
        raise ConfigError(f"{path}: strategy: required key is missing")
    return name
