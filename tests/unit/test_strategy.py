"""Strategy loading and the user-code guard: one line with file and line for every failure."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.errors import StrategyError
from bot.strategy.guard import analyze, last_signal
from bot.strategy.loader import load_strategy, scan
from tests.conftest import REPO

HEADER = "from bot.strategy import Strategy\n\n"


def write(directory: Path, name: str, body: str) -> Path:
    directory.mkdir(exist_ok=True)
    path = directory / name
    path.write_text(body)
    return path


def candles(n: int = 50) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    close = 100 + np.cumsum(rng.normal(0, 1, n))
    return pd.DataFrame(
        {
            "date": pd.date_range("2024-01-01", periods=n, freq="5min", tz="UTC"),
            "open": close,
            "high": close + 1,
            "low": close - 1,
            "close": close,
            "volume": 1.0,
        }
    )


def test_shipped_strategies_load_and_are_listed() -> None:
    found, broken = scan(REPO / "strategies")
    assert {"SmaCross", "Breakout", "QuickMomentum"} <= {i.name for i in found}
    assert broken == []
    for name in ("SmaCross", "Breakout", "QuickMomentum"):
        assert type(load_strategy(REPO / "strategies", name)).__name__ == name


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.py", HEADER + "class Bad(Strategy):\n    timeframe = '5m'\n    def x(self:\n")
    with pytest.raises(StrategyError) as info:
        load_strategy(tmp_path, "Bad")
    assert str(info.value).startswith(
        f"strategy 'Bad' not found in {tmp_path} (found: none); also {path}:5: SyntaxError"
    )


def test_import_time_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "boom.py", HEADER + "import math\nX = 1 / 0\n\nclass Boom(Strategy):\n    pass\n")
    with pytest.raises(StrategyError, match=rf"^{path}:4: ZeroDivisionError: division by zero \(in import\)$"):
        load_strategy(tmp_path, "Boom")


def test_missing_import_names_the_module(tmp_path: Path) -> None:
    path = write(tmp_path, "ta.py", HEADER + "import talib_not_installed\n\nclass Ta(Strategy):\n    pass\n")
    with pytest.raises(StrategyError, match=rf"^{path}:3: ModuleNotFoundError: No module named 'talib_not_installed'"):
        load_strategy(tmp_path, "Ta")


def test_class_that_is_not_a_strategy_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "other.py", "class Other(dict):\n    pass\n")
    with pytest.raises(StrategyError, match=rf"^{path}:1: class Other is not a Kestrel strategy"):
        load_strategy(tmp_path, "Other")


def test_bad_attribute_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "attr.py", HEADER + "class Attr(Strategy):\n    stoploss = 0.05\n")
    with pytest.raises(StrategyError, match=rf"^{path}:3: Attr.stoploss: must be a negative ratio"):
        load_strategy(tmp_path, "Attr")
    write(tmp_path, "attr.py", HEADER + "class Attr(Strategy):\n    timeframe = '5 minutes'\n")
    with pytest.raises(StrategyError, match=r"Attr.timeframe: bad timeframe '5 minutes'"):
        load_strategy(tmp_path, "Attr")


def test_unknown_name_lists_what_exists(tmp_path: Path) -> None:
    write(tmp_path, "a.py", HEADER + "class Alpha(Strategy):\n    pass\n")
    with pytest.raises(StrategyError, match=r"strategy 'Beta' not found in .* \(found: Alpha\)$"):
        load_strategy(tmp_path, "Beta")


def test_error_inside_populate_names_the_strategy_line_and_the_pair(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "raiser.py",
        HEADER
        + (
            "class Raiser(Strategy):\n"
            "    def populate_indicators(self, df, metadata):\n"
            "        df['x'] = df['close'] / 0\n"
            "        return df['missing_column']\n"
        ),
    )
    strategy = load_strategy(tmp_path, "Raiser")
    with pytest.raises(StrategyError) as info:
        analyze(strategy, candles(), "AAA/USDT")
    assert str(info.value) == f"{path}:6: KeyError: 'missing_column' (in populate_indicators for AAA/USDT)"


def test_returning_none_or_wrong_length_is_an_error(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "nonret.py",
        HEADER
        + (
            "class NoReturn(Strategy):\n"
            "    def populate_entry_trend(self, df, metadata):\n"
            "        df['enter_long'] = 1\n"
            "class Short(Strategy):\n"
            "    def populate_exit_trend(self, df, metadata):\n"
            "        return df.iloc[:-1]\n"
        ),
    )
    with pytest.raises(StrategyError, match=rf"^{path}: populate_entry_trend for P returned NoneType"):
        analyze(load_strategy(tmp_path, "NoReturn"), candles(), "P")
    with pytest.raises(StrategyError, match=r"populate_exit_trend for P returned 49 rows, expected 50$"):
        analyze(load_strategy(tmp_path, "Short"), candles(), "P")


def test_nan_and_junk_signals_mean_no_signal(tmp_path: Path) -> None:
    write(
        tmp_path,
        "nan.py",
        HEADER
        + (
            "import numpy as np\n"
            "class Nanny(Strategy):\n"
            "    def populate_entry_trend(self, df, metadata):\n"
            "        df['enter_long'] = [np.nan] * (len(df) - 3) + [1, 'yes', None]\n"
            "        return df\n"
        ),
    )
    strategy = load_strategy(tmp_path, "Nanny")
    frame = analyze(strategy, candles(), "P")
    assert frame["enter_long"].tolist()[-3:] == [True, False, False]
    assert frame["exit_long"].sum() == 0
    signal = last_signal(strategy, candles(), "P", 0)
    assert (signal.enter, signal.exit) == (False, False)


def test_breakout_level_uses_only_completed_days() -> None:
    strategy = load_strategy(REPO / "strategies", "Breakout")
    n = 24 * 25
    dates = pd.date_range("2024-01-01", periods=n, freq="1h", tz="UTC")
    high = np.full(n, 100.0)
    high[24 * 21 + 5] = 150.0  # a spike on day 21 must not raise day 21's own level
    df = pd.DataFrame({"date": dates, "open": 99.0, "high": high, "low": 98.0, "close": 99.0, "volume": 1.0})
    out = analyze(strategy, df, "BTC/USDT")
    level = out.set_index("date")["breakout_level"]
    assert np.isnan(level.iloc[24 * 20 - 1])  # day 19: fewer than 20 completed days
    assert level.iloc[24 * 20] == 100.0  # day 20: days 0..19 complete
    assert level.iloc[24 * 21 + 23] == 100.0  # rest of day 21 still 100
    assert level.iloc[24 * 22] == 150.0  # the next day sees the spike


def test_signal_columns_of_the_wrong_shape_are_a_strategy_error(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "dup.py",
        HEADER
        + (
            "import pandas as pd\n"
            "class Dup(Strategy):\n"
            "    def populate_exit_trend(self, df, metadata):\n"
            "        return pd.concat([df, df[['close']].rename(columns={'close': 'exit_long'})] * 1 +"
            " [df[['open']].rename(columns={'open': 'exit_long'})], axis=1)\n"
        ),
    )
    with pytest.raises(StrategyError, match=rf"^{path}: unusable signal columns for P: "):
        analyze(load_strategy(tmp_path, "Dup"), candles(), "P")
