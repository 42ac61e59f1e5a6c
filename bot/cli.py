"""`kestrel` commands. Every user error ends in one line on stderr and exit code 2; nothing is
created or changed before the config and the strategy have been checked."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from loguru import logger

from bot.config import Config, load_config, require_strategy
from bot.errors import ConfigError, KestrelError
from bot.logs import scrub, setup_logging
from bot.secrets_source import check_config_file, secret_values
from bot.strategy.base import Strategy
from bot.strategy.loader import load_strategy, scan
from bot.timeframes import days_range, parse_timerange, timeframe_s

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def _version() -> str:
    try:
        return version("kestrel")
    except PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kestrel", description="A small, headless crypto trading daemon.")
    parser.add_argument("--version", action="version", version=f"kestrel {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument(
            "--config",
            type=Path,
            default=Path("config.json"),
            metavar="PATH",
            help="config file (default: ./config.json)",
        )
        return p

    command("trade", "run the trading daemon until SIGTERM or Ctrl-C")
    command("status", "open trades, wallet and last tick, read from the database (works while the daemon runs)")
    trades = command("trades", "recent trades, newest first")
    trades.add_argument("--limit", type=int, default=20, metavar="N", help="how many (default 20)")
    for name, text in (
        ("pause", "no new entries (exits and stops still managed); a running daemon applies it at its next tick"),
        ("kill", "kill switch: cancel every order, sell every position at market, then no orders until resume"),
    ):
        control = command(name, text)
        control.add_argument("--reason", default="", metavar="TEXT", help="why (shown in status and events)")
    command("resume", "trade again after a pause or a kill")
    command("check-config", "validate the config and load the strategy, then exit")
    tr = command("train", "train the ML strategy's model walk-forward on candle files; stores a new version")
    tr.add_argument("--strategy", metavar="NAME", help="an ML strategy (default: the config's)")
    tr.add_argument("--datadir", type=Path, required=True, metavar="DIR", help="feather candle files")
    tr.add_argument("--seed", type=int, default=42, help="LightGBM's seed (default 42)")
    tr.add_argument("--timerange", metavar="YYYYMMDD-YYYYMMDD", help="train only on candles in this range (UTC)")
    md = command("models", "list, show or promote the stored models of an ML strategy")
    md.add_argument("action", choices=["list", "show", "promote"])
    md.add_argument("version", nargs="?", metavar="VERSION", help="e.g. v0002 (show: default the promoted one)")
    md.add_argument("--strategy", metavar="NAME", help="default: the config's strategy")
    unit = command("install-service", "print the systemd unit with this install's paths (or --write it)")
    unit.add_argument("--user", default="kestrel", help="the account the service runs as (default kestrel)")
    unit.add_argument(
        "--credentials-dir",
        type=Path,
        default=Path("/etc/kestrel"),
        metavar="DIR",
        help="where exchange_key, exchange_secret, telegram_token live (default /etc/kestrel)",
    )
    unit.add_argument(
        "--write", type=Path, metavar="PATH", help="write it there, e.g. /etc/systemd/system/kestrel.service"
    )
    command("list-strategies", "list the strategy classes found in strategy_path")
    dl = command("download-data", "download candles through ccxt into feather files (resumes what is stored)")
    dl.add_argument("--exchange", metavar="NAME", help="ccxt exchange id (default: the config's exchange.name)")
    dl.add_argument("--pairs", nargs="+", metavar="PAIR", help="pairs (default: exchange.pair_whitelist)")
    dl.add_argument("--timeframes", nargs="+", default=["5m"], metavar="TF", help="e.g. 5m 1h (default 5m)")
    span = dl.add_mutually_exclusive_group()
    span.add_argument("--days", type=int, default=30, metavar="N", help="the last N days (default 30)")
    span.add_argument("--timerange", metavar="YYYYMMDD-YYYYMMDD", help="a UTC date range, the end exclusive")
    dl.add_argument(
        "--datadir",
        type=Path,
        metavar="DIR",
        help="where to write <exchange>/BTC_USDT-5m.feather (default: <user_data_dir>/data)",
    )
    bt = command("backtest", "replay history through the daemon's engine and report")
    bt.add_argument("--strategy", metavar="NAME", help="strategy class (default: the config's)")
    bt.add_argument(
        "--datadir",
        type=Path,
        required=True,
        metavar="DIR",
        help="folder with BTC_USDT-5m.feather files (directly or one folder down)",
    )
    bt.add_argument("--timeframe", metavar="TF", help="e.g. 5m (default: config, else the strategy's)")
    bt.add_argument("--timerange", metavar="YYYYMMDD-YYYYMMDD", help="trade only inside this range (UTC)")
    bt.add_argument("--pairs", nargs="+", metavar="PAIR", help="pairs (default: exchange.pair_whitelist)")
    bt.add_argument("--export-dir", type=Path, metavar="OUT", help="write trades.csv, summary.json, report.html")
    bt.add_argument(
        "--walk-forward",
        action="store_true",
        help="ML strategies: each period predicted by a model trained only before it (out of sample throughout)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except KestrelError as e:  # the one line; scrubbed like the logs (an exchange's text may quote a key)
        print(scrub(f"kestrel: {e}"), file=sys.stderr)
        return EXIT_USAGE
    except OSError as e:  # a folder that cannot be created, a file that cannot be opened
        where = f"{e.filename}: " if e.filename else ""
        print(scrub(f"kestrel: {where}{e.strerror or e}"), file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_FAILURE


def _dispatch(args: argparse.Namespace) -> int:
    config, warnings = load_config(args.config)
    if args.command == "list-strategies":
        return _list_strategies(config)
    if args.command == "backtest":
        return _backtest(args, config, warnings)
    if args.command == "download-data":
        return _download(args, config)
    if args.command == "install-service":
        return _install_service(args, config)
    if args.command == "models":
        from bot.ml.command import models

        print(models(config, args.action, require_strategy(config, args.config, args.strategy), args.version))
        return EXIT_OK
    if args.command == "train":
        return _train(args, config)
    if args.command == "status":
        from bot.report import print_status

        return asyncio.run(print_status(config))
    if args.command in ("pause", "resume", "kill"):
        return asyncio.run(_control(config, args.command, getattr(args, "reason", "")))
    if args.command == "trades":
        if args.limit < 1:
            print("kestrel: --limit: must be at least 1", file=sys.stderr)
            return EXIT_USAGE
        from bot.report import print_trades

        return asyncio.run(print_trades(config, args.limit))
    strategy = load_strategy(
        config.strategy_path, require_strategy(config, args.config), config.model_dump(mode="json")
    )
    for warning in warnings:
        print(f"kestrel: warning: {warning}", file=sys.stderr)
    if args.command == "check-config":
        print(
            f"{args.config}: OK (strategy {config.strategy}, {config.exchange.name} market, "
            f"{len(config.exchange.pair_whitelist)} pairs, {'dry-run' if config.dry_run else 'live'})"
        )
        return EXIT_OK
    check_config_file(args.config, bool(secret_values(config.model_dump(mode="json"))))
    return _trade(args.config, config, strategy)


async def _control(config: Config, action: str, reason: str) -> int:
    """pause, resume, kill: written to the database, where the daemon reads it at its next tick (or
    at its start, before any order, when it is not running)."""
    from bot.clock import SystemClock
    from bot.controls import Controls
    from bot.store.audit import AuditLog
    from bot.store.db import open_engine
    from bot.store.repo import Repo

    wall = SystemClock()
    engine = await open_engine(config.db_path, create=True)
    try:
        controls = Controls(Repo(engine, wall), wall)
        if action == "pause":
            outcome = await controls.pause(by="cli", reason=reason)
        elif action == "kill":
            outcome = await controls.kill(by="cli", reason=reason)
        else:
            outcome = await controls.resume(by="cli")
        await AuditLog(engine, wall).record(channel="cli", command=action, args=reason, result=outcome.describe())
    finally:
        await engine.dispose()
    note = "; a running daemon applies it at its next tick" if outcome.changed else ""
    print(f"{outcome.describe()}{note}")
    return EXIT_OK


def _list_strategies(config: Config) -> int:
    found, broken = scan(config.strategy_path)
    for info in found:
        print(f"{info.name:<24} {info.path}:{info.line}")
    for bad in broken:
        print(f"(unreadable) {bad.reason}")
    return EXIT_OK


def _train(args: argparse.Namespace, config: Config) -> int:
    from bot.ml.command import train
    from bot.ml.strategy import MLStrategy

    name = require_strategy(config, args.config, args.strategy)
    strategy = load_strategy(config.strategy_path, name, config.model_dump(mode="json"))
    if not isinstance(strategy, MLStrategy):
        raise ConfigError(f"train: {name} is not an ML strategy (subclass bot.ml.strategy.MLStrategy)")
    from_ms, until_ms = _timerange(args.timerange)
    from bot.clock import SystemClock

    report = train(
        config,
        strategy,
        args.datadir,
        seed=args.seed,
        now_ms=SystemClock().now_ms(),
        from_ms=from_ms,
        until_ms=until_ms,
        progress=sys.stderr,
    )
    print(report)
    return EXIT_OK


def _timerange(text: str | None) -> tuple[int | None, int | None]:
    """`--timerange` as (from_ms, until_ms); None for an open end (or no range at all)."""
    if not text:
        return None, None
    try:
        from_ms, until_ms = parse_timerange(text, now_ms=2**62)
    except ValueError as e:
        raise ConfigError(f"--timerange: {e}") from None
    return from_ms or None, None if until_ms == 2**62 else until_ms


def _install_service(args: argparse.Namespace, config: Config) -> int:
    from bot.service_unit import UnitPaths, credentials_in, render_unit

    script = Path(sys.argv[0]).resolve()
    executable = script if script.name == "kestrel" else Path(sys.executable).parent / "kestrel"
    written = [config.db_path.parent, *([config.venue_state_path.parent] if config.venue_state_path else [])]
    paths = UnitPaths(
        executable=executable,
        workdir=Path.cwd().resolve(),
        config=args.config.resolve(),
        data_dir=config.user_data_dir.resolve(),
        user=args.user,
        also_written=tuple(p.resolve() for p in written),
        credentials=credentials_in(args.credentials_dir),
    )
    text = render_unit(paths)
    if args.write is None:
        print(text, end="")
        return EXIT_OK
    args.write.write_text(text)
    print(f"wrote {args.write}; then: systemctl daemon-reload && systemctl enable --now kestrel")
    return EXIT_OK


def _trade(config_path: Path, config: Config, strategy: Strategy) -> int:
    from bot.instance_lock import InstanceLock
    from bot.service import serve

    lock = InstanceLock(config.db_path, *([config.venue_state_path] if config.venue_state_path else []))

    async def run() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        return await serve(config_path, config, strategy, stop=stop)

    try:
        lock.acquire()
        setup_logging(config.log_level, config.user_data_dir / "logs", json=config.log_format == "json")
        return asyncio.run(run())
    except (KestrelError, OSError):
        raise  # main() turns these into one line
    except Exception as e:  # last resort: one line for the user, the traceback in the log file
        logger.opt(exception=e).error("daemon failed: {}: {}", type(e).__name__, e)
        return EXIT_FAILURE
    finally:
        lock.release()


def _backtest(args: argparse.Namespace, config: Config, warnings: list[str]) -> int:
    from bot.backtest.command import BacktestRequest, backtest

    name = require_strategy(config, args.config, args.strategy)
    strategy = load_strategy(config.strategy_path, name, config.model_dump(mode="json"))
    from_ms, until_ms = _timerange(args.timerange)
    if args.timeframe is not None:
        try:
            timeframe_s(args.timeframe)
        except ValueError as e:
            raise ConfigError(f"--timeframe: {e}") from None
    for warning in warnings:
        print(f"kestrel: warning: {warning}", file=sys.stderr)
    request = BacktestRequest(
        datadir=args.datadir,
        timeframe=args.timeframe,
        from_ms=from_ms,
        until_ms=until_ms,
        pairs=args.pairs,
        export_dir=args.export_dir,
    )
    if args.walk_forward:
        from bot.ml.command import walk_forward_models
        from bot.ml.strategy import MLStrategy

        if not isinstance(strategy, MLStrategy):
            raise ConfigError(f"--walk-forward: {name} is not an ML strategy")
        strategy.walk_forward = walk_forward_models(config, strategy, args.datadir)
        print(f"walk-forward: {len(strategy.walk_forward)} models, each trained before the period it predicts")
    backtest(config, strategy, request, out=sys.stdout)
    if args.export_dir is not None:
        print(f"exported trades.csv, summary.json and report.html to {args.export_dir}")
    return EXIT_OK


def _download(args: argparse.Namespace, config: Config) -> int:
    from bot.clock import SystemClock
    from bot.data.download import download

    exchange = args.exchange or config.exchange.name
    if exchange == "simulated":
        raise ConfigError("--exchange: needed, the config's exchange is the offline simulated market")
    now_ms = SystemClock().now_ms()
    try:
        since_ms, until_ms = (
            parse_timerange(args.timerange, now_ms=now_ms) if args.timerange else days_range(args.days, now_ms)
        )
    except ValueError as e:
        raise ConfigError(f"--{'timerange' if args.timerange else 'days'}: {e}") from None
    datadir = args.datadir or config.user_data_dir / "data"
    results = asyncio.run(
        download(
            exchange_name=exchange,
            pairs=args.pairs or config.exchange.pair_whitelist,
            timeframes=args.timeframes,
            datadir=datadir,
            since_ms=since_ms,
            until_ms=until_ms,
            now_ms=now_ms,
            ccxt_config=config.exchange.ccxt_config,
            progress=sys.stderr,
        )
    )
    for r in results:
        print(f"{r.pair} {r.timeframe}: +{r.candles_added} candles -> {r.path}")
    return EXIT_OK
