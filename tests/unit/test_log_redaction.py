"""No key, secret, bot token or request signature in any log sink, whatever an error's text carries;
and the secret sources (variable, *_FILE, systemd credentials, config) with their permission check."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from loguru import logger

from bot.errors import ConfigError
from bot.logs import scrub, setup_logging
from bot.secrets_source import SecretFileError, check_config_file, secret

KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
TOKEN = "7000000123:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SIGNATURE = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"


@pytest.fixture
def sinks(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "logs"
    logger.remove()
    logger.add(sys.stderr, level=os.environ.get("KESTREL_TEST_LOG", "WARNING"))


def leaky_error() -> ValueError:
    return ValueError(
        f"binance POST https://api.binance.com/api/v3/order?symbol=BTCUSDT&signature={SIGNATURE} "
        f'{{"X-MBX-APIKEY": "{KEY}"}} secret={SECRET}; then https://api.telegram.org/bot{TOKEN}/getMe'
    )


@pytest.mark.parametrize("json", [False, True])
def test_errors_quoting_secrets_reach_no_sink(sinks: Path, capsys: pytest.CaptureFixture[str], json: bool) -> None:
    secret("KESTREL_EXCHANGE_KEY", "exchange_key", {"KESTREL_EXCHANGE_KEY": KEY})  # what the daemon reads
    setup_logging("INFO", sinks, json=json, environ={})
    try:
        raise leaky_error()
    except ValueError as e:
        logger.opt(exception=e).error("order failed: {}", e)
    logger.warning("plain {}", KEY[:10])  # a piece of a key is not a key: left alone
    written = "".join(p.read_text() for p in sinks.iterdir())
    printed = capsys.readouterr().err
    for text in (written, printed):
        assert "order failed" in text and "***" in text
        for value in (KEY, SECRET, TOKEN, SIGNATURE):
            assert value not in text
    assert "Traceback" in written or '"exception"' in written  # the file keeps the full story
    assert "Traceback" not in printed or json


def test_under_journald_stderr_lines_carry_no_timestamp(sinks: Path, capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", None, environ={"JOURNAL_STREAM": "8:12345"})
    logger.info("hello")
    assert capsys.readouterr().err == "INFO    | hello\n"


def test_scrub_leaves_ordinary_text_alone() -> None:
    text = "exchange.secret: live trading needs an API key; token bucket full; signature=abc"
    assert scrub(text) == text


def test_secret_sources_in_order(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("from-file\n")
    key_file.chmod(0o600)
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "exchange_key").write_text("from-credentials")
    env = "KESTREL_EXCHANGE_KEY"
    assert secret(env, "exchange_key", {env: "from-env", f"{env}_FILE": str(key_file)}, "cfg") == "from-env"
    assert secret(env, "exchange_key", {f"{env}_FILE": str(key_file)}, "cfg") == "from-file"
    assert secret(env, "exchange_key", {"CREDENTIALS_DIRECTORY": str(creds)}, "cfg") == "from-credentials"
    assert secret(env, "exchange_key", {}, "cfg") == "cfg"
    assert secret(env, "exchange_key", {}) == ""


def test_a_secret_file_open_to_others_is_refused_in_one_line(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("k")
    key_file.chmod(0o644)
    with pytest.raises(SecretFileError) as refused:
        secret("KESTREL_EXCHANGE_KEY", "exchange_key", {"KESTREL_EXCHANGE_KEY_FILE": str(key_file)})
    assert str(refused.value) == (
        f"KESTREL_EXCHANGE_KEY_FILE: {key_file} is open to group or others (mode 0644); run: chmod 600 {key_file}"
    )
    with pytest.raises(SecretFileError, match="No such file"):
        secret("KESTREL_EXCHANGE_KEY", "exchange_key", {"KESTREL_EXCHANGE_KEY_FILE": str(tmp_path / "gone")})
    config = tmp_path / "config.json"
    config.write_text("{}")
    config.chmod(0o640)
    check_config_file(config, holds_secret=False)  # no secret in it: its mode is the user's business
    with pytest.raises(SecretFileError, match=r"config holding a secret .* \(mode 0640\); run: chmod 600"):
        check_config_file(config, holds_secret=True)


@pytest.mark.parametrize(
    "leak",
    [
        '{\\"X-MBX-APIKEY\\": \\"vmPUZE6mv9SD5VNHk4Hl\\"}',  # a header dict inside a JSON log line
        "API-Key: abcdefgh12345678",  # Kraken
        "OK-ACCESS-PASSPHRASE: hunter2hunter2",  # OKX
        "X-BAPI-API-KEY=abcdefgh12345",  # Bybit
        "'apiKey': 'abcdefgh12345'",
        "password=correcthorsebattery",
    ],
)
def test_scrub_catches_the_usual_header_and_field_forms(leak: str) -> None:
    value = leak.replace("\\", "").split(":" if ":" in leak else "=", 1)[1].strip(" \"'}")
    assert value not in scrub(leak) and "***" in scrub(leak)


def test_secrets_in_ccxt_config_are_refused_open_and_scrubbed(tmp_path: Path, write_config: Any) -> None:
    from bot.config import load_config
    from bot.secrets_source import register, secret_values

    exchange = {"name": "simulated", "pair_whitelist": ["BTC/USDT"], "ccxt_config": {"password": "pw-0123456789"}}
    path = write_config(exchange=exchange)
    config, _ = load_config(path)
    held = secret_values(config.model_dump(mode="json"))
    assert held == {"pw-0123456789"}
    register(held)
    assert scrub("login with pw-0123456789 failed") == "login with *** failed"
    path = write_config(exchange={**exchange, "ccxt_config": {"verbose": True}})
    with pytest.raises(ConfigError, match=r"exchange.ccxt_config: .*verbose: ccxt would print every request"):
        load_config(path)
