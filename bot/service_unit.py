"""The systemd unit Kestrel runs under, with one install's paths filled in (`kestrel install-service`;
`systemd/kestrel.service` is it rendered with the defaults). Type=notify: systemd waits for READY,
which comes once the config, database, strategy and the reconciliation with the exchange are done."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class UnitPaths:
    executable: Path  # the kestrel console script in the venv
    workdir: Path  # the checkout: strategies/, config.json
    config: Path
    data_dir: Path  # user_data: database, candles, models, logs (written)
    user: str = "kestrel"
    also_written: tuple[Path, ...] = ()  # the database's or a venue state file's folder, if elsewhere
    credentials: tuple[tuple[str, Path], ...] = ()  # (name, file) for LoadCredential=; only files that exist


DEFAULTS = UnitPaths(
    executable=Path("/opt/kestrel/.venv/bin/kestrel"),
    workdir=Path("/opt/kestrel"),
    config=Path("/opt/kestrel/config.json"),
    data_dir=Path("/opt/kestrel/user_data"),
)

TEMPLATE = """\
# Kestrel as a systemd service. Written by `kestrel install-service`; see README "Run on a VPS".
[Unit]
Description=Kestrel crypto trading daemon
Documentation=file://{workdir}/README.md
Wants=network-online.target
After=network-online.target
# a crash loop must not hammer an exchange: at most 5 starts an hour, then systemd gives up
StartLimitIntervalSec=3600
StartLimitBurst=5

[Service]
Type=notify
NotifyAccess=main
User={user}
Group={user}
WorkingDirectory={workdir}
ExecStart={executable} trade --config {config}
Restart=on-failure
RestartSec=30
# READY waits for the reconciliation; while the exchange is down at start Kestrel keeps asking
# systemd for more time (EXTEND_TIMEOUT_USEC), so a maintenance window does not fail the start
TimeoutStartSec=180
# the running tick finishes (8 s at most), notices get 3 s, then the database closes
TimeoutStopSec=30
# pinged every 60 s while the tick job is alive; a job stuck 5 minutes stops the pings
WatchdogSec=120
Environment=PYTHONUNBUFFERED=1
# secrets as credentials (readable by this service only), from files you create (mode 600, owner
# root); a file listed here that does not exist stops the start, so only those that exist are listed:
# LoadCredential=exchange_key:/etc/kestrel/exchange_key
# LoadCredential=exchange_secret:/etc/kestrel/exchange_secret
# LoadCredential=telegram_token:/etc/kestrel/telegram_token
{credentials}StateDirectory=kestrel
LogsDirectory=kestrel
UMask=0077

# sandbox: the checkout is read-only, the data folder writable (SQLite needs its -wal and -shm
# files beside the database), outbound HTTPS and the notify and journal sockets only
NoNewPrivileges=yes
ProtectSystem=strict
ReadWritePaths={writable}
ProtectHome={protect_home}
PrivateTmp=yes
PrivateDevices=yes
PrivateMounts=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RemoveIPC=yes
CapabilityBoundingSet=
AmbientCapabilities=
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources
# MemoryDenyWriteExecute is left off: libffi callbacks (ctypes, cffi) need writable code pages;
# ProcSubset=pid too: OpenMP (LightGBM) reads /proc/cpuinfo. `systemd-analyze security` rates this 1.3

[Install]
WantedBy=multi-user.target
"""


def render_unit(paths: UnitPaths) -> str:
    """The unit text; a checkout under /home keeps ProtectHome read-only instead of hidden."""
    under_home = any(str(p).startswith("/home/") for p in (paths.workdir, paths.executable, paths.data_dir))
    writable = [paths.data_dir, *(p for p in paths.also_written if p != paths.data_dir)]
    return TEMPLATE.format(
        executable=paths.executable,
        workdir=paths.workdir,
        config=paths.config,
        writable=" ".join(f"-{p}" for p in dict.fromkeys(writable)),  # "-": not yet there is no error
        user=paths.user,
        protect_home="read-only" if under_home else "yes",
        credentials="".join(f"LoadCredential={name}:{path}\n" for name, path in paths.credentials),
    )


CREDENTIAL_NAMES = ("exchange_key", "exchange_secret", "telegram_token")


def credentials_in(directory: Path) -> tuple[tuple[str, Path], ...]:
    """The credential files present in `directory` (e.g. /etc/kestrel)."""
    return tuple((name, directory / name) for name in CREDENTIAL_NAMES if (directory / name).is_file())
