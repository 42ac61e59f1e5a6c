"""`kestrel install-service` and systemd/kestrel.service: what systemd will run, checked by systemd's
own `systemd-analyze verify` where it is installed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.service_unit import DEFAULTS, UnitPaths, render_unit
from tests.conftest import REPO


def test_the_shipped_unit_is_the_rendered_default() -> None:
    assert (REPO / "systemd" / "kestrel.service").read_text() == render_unit(DEFAULTS)


def test_the_unit_asks_for_notify_watchdog_credentials_and_a_sandbox() -> None:
    lines = set(render_unit(DEFAULTS).splitlines())
    for wanted in (
        "Type=notify",
        "NotifyAccess=main",
        "WatchdogSec=120",
        "Restart=on-failure",
        "StartLimitBurst=5",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "ReadWritePaths=-/opt/kestrel/user_data",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "SystemCallFilter=@system-service",
        "ExecStart=/opt/kestrel/.venv/bin/kestrel trade --config /opt/kestrel/config.json",
    ):
        assert wanted in lines, wanted
    home = render_unit(
        UnitPaths(
            Path("/home/ann/k/.venv/bin/kestrel"),
            Path("/home/ann/k"),
            Path("/home/ann/k/c.json"),
            Path("/home/ann/k/user_data"),
        )
    )
    assert "ProtectHome=read-only" in home.splitlines()  # a checkout under /home stays readable


def test_install_service_fills_in_this_install(tmp_path: Path, write_config: object) -> None:
    config = tmp_path / "config.json"
    raw = json.loads((REPO / "config.json").read_text())
    raw["db_url"] = f"sqlite:///{tmp_path / 'db' / 'kestrel.sqlite'}"  # the database outside user_data
    config.write_text(json.dumps(raw))
    secrets = tmp_path / "etc"
    secrets.mkdir()
    (secrets / "exchange_key").write_text("k")  # only this one exists: only it is loaded
    target = tmp_path / "kestrel.service"
    args = ["install-service", "--config", str(config), "--user", "trader", "--credentials-dir", str(secrets)]
    done = subprocess.run(
        [sys.executable, "-m", "bot", *args, "--write", str(target)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    unit = target.read_text().splitlines()
    kestrel = Path(sys.executable).parent / "kestrel"
    assert f"ExecStart={kestrel} trade --config {config}" in unit
    assert f"WorkingDirectory={tmp_path}" in unit and "User=trader" in unit
    assert f"ReadWritePaths=-{tmp_path / 'user_data'} -{tmp_path / 'db'}" in unit
    assert [line for line in unit if line.startswith("LoadCredential=")] == [
        f"LoadCredential=exchange_key:{secrets / 'exchange_key'}"
    ]
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed here: the unit was not verified by systemd")
    verified = subprocess.run(["systemd-analyze", "verify", str(target)], capture_output=True, text=True, check=False)
    assert verified.returncode == 0 and verified.stderr.strip() == "", verified.stderr

    security = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", str(target)], capture_output=True, text=True, check=False
    )
    if "--offline" in security.stderr:
        return  # an older systemd: no offline rating
    score = float(security.stdout.split("Overall exposure level for kestrel.service:")[1].split()[0])
    assert score <= 2.0, security.stdout[-3000:]  # systemd calls up to 2.9 "OK"; we ask for better
