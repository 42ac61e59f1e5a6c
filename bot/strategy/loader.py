"""Finds strategy classes in `strategies/*.py` by name and imports them. Every failure becomes one
StrategyError line naming the file and line, so a typo never shows a traceback."""

from __future__ import annotations

import ast
import importlib.util
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from bot.errors import StrategyError
from bot.strategy.base import Strategy
from bot.timeframes import timeframe_s


@dataclass(frozen=True)
class StrategyInfo:
    name: str
    path: Path
    line: int


@dataclass(frozen=True)
class Unreadable:
    path: Path
    reason: str


def scan(directory: Path) -> tuple[list[StrategyInfo], list[Unreadable]]:
    """Class definitions in each file, found by parsing (no user code runs)."""
    if not directory.is_dir():
        raise StrategyError(f"{directory}: strategy folder not found (config key strategy_path)")
    found: list[StrategyInfo] = []
    broken: list[Unreadable] = []
    for path in sorted(directory.glob("*.py")):
        if path.name.startswith("_"):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        except SyntaxError as e:
            broken.append(Unreadable(path, f"{path}:{e.lineno}: SyntaxError: {e.msg}"))
            continue
        except (OSError, UnicodeDecodeError) as e:
            broken.append(Unreadable(path, f"{path}: cannot read: {e}"))
            continue
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and node.bases:
                found.append(StrategyInfo(node.name, path, node.lineno))
    return found, broken


def load_strategy(directory: Path, name: str, config: dict[str, object] | None = None) -> Strategy:
    """Import the file defining `name` and return an instance, after checking its attributes."""
    found, broken = scan(directory)
    matches = [info for info in found if info.name == name]
    if not matches:
        hint = f"; also {broken[0].reason}" if broken else ""
        known = ", ".join(sorted({i.name for i in found})) or "none"
        raise StrategyError(f"strategy {name!r} not found in {directory} (found: {known}){hint}")
    if len(matches) > 1:
        where = ", ".join(f"{m.path.name}:{m.line}" for m in matches)
        raise StrategyError(f"strategy {name!r} is defined more than once: {where}")
    info = matches[0]
    module = _import(info.path)
    cls = getattr(module, name, None)
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise StrategyError(
            f"{info.path}:{info.line}: class {name} is not a Kestrel strategy (subclass bot.strategy.Strategy)"
        )
    try:
        strategy = cls(dict(config or {}))
    except Exception as e:  # user code: the strategy guard boundary
        raise StrategyError(describe_user_error(e, info.path, f"{name}()")) from None
    check_attributes(strategy, info.path, info.line)
    return strategy


def strategy_file(strategy: Strategy) -> Path:
    return Path(sys.modules[type(strategy).__module__].__file__ or "?")


def check_attributes(strategy: Strategy, path: Path, line: int) -> None:
    """The class attributes a strategy may set, checked once at load so a tick never meets them bad."""
    where = f"{path}:{line}: {type(strategy).__name__}"
    try:
        timeframe_s(strategy.timeframe)
    except ValueError as e:
        raise StrategyError(f"{where}.timeframe: {e}") from None
    if not isinstance(strategy.startup_candle_count, int) or strategy.startup_candle_count < 0:
        raise StrategyError(f"{where}.startup_candle_count: must be a whole number >= 0")
    if not isinstance(strategy.minimal_roi, dict):
        raise StrategyError(f'{where}.minimal_roi: must be a dict of minutes -> ratio, e.g. {{"0": 0.05}}')
    for key, value in strategy.minimal_roi.items():
        if not str(key).isdigit() or not isinstance(value, int | float):
            raise StrategyError(f'{where}.minimal_roi: entry {key!r}: {value!r} must be "minutes": ratio')
    if not isinstance(strategy.stoploss, int | float) or not -1 <= strategy.stoploss < 0:
        raise StrategyError(f"{where}.stoploss: must be a negative ratio such as -0.05, got {strategy.stoploss!r}")
    tsp = strategy.trailing_stop_positive
    if tsp is not None and not (isinstance(tsp, int | float) and 0 < tsp < 1):
        raise StrategyError(f"{where}.trailing_stop_positive: must be a ratio in (0, 1) or None")
    if strategy.can_short:
        raise StrategyError(f"{where}.can_short: Kestrel trades long-only spot for now")


def _import(path: Path) -> ModuleType:
    module_name = f"kestrel_strategies.{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise StrategyError(f"{path}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        del sys.modules[module_name]
        raise StrategyError(f"{path}:{e.lineno}: SyntaxError: {e.msg}") from None
    except Exception as e:  # user code: the strategy guard boundary
        del sys.modules[module_name]
        raise StrategyError(describe_user_error(e, path, "import")) from None
    return module


def describe_user_error(error: BaseException, path: Path, action: str) -> str:
    """`file:line: Type: message (action)`, pointing at the deepest frame inside the user's file."""
    line = None
    for frame in traceback.extract_tb(error.__traceback__):
        if Path(frame.filename) == path:
            line = frame.lineno
    message = str(error).splitlines()[0] if str(error) else ""
    where = f"{path}:{line}" if line else str(path)
    return f"{where}: {type(error).__name__}: {message} (in {action})".replace(":  (", ": (")
