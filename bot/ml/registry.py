"""Versioned models on disk: `<root>/<strategy>/<version>/` holds `model.txt` (LightGBM's own text
format) and `metadata.json`; `<root>/<strategy>/PROMOTED` names the version the strategy serves.
Every write goes to a temporary name first and is renamed into place, so a crash leaves either the
old state or the new one, never half of a model."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bot.errors import KestrelError

_VERSION = re.compile(r"v(\d{4,})")
PROMOTED = "PROMOTED"


class RegistryError(KestrelError):
    """No such model or version, or a version folder without its files."""


@dataclass(frozen=True)
class StoredModel:
    strategy: str
    version: str
    path: Path
    metadata: dict[str, Any]

    def model_text(self) -> str:
        return (self.path / "model.txt").read_text(encoding="utf-8")


def data_hash(x: pd.DataFrame, y: pd.Series) -> str:
    """What the model was trained on, as a short fingerprint (columns, values, labels)."""
    digest = hashlib.sha256()
    digest.update(json.dumps(list(map(str, x.columns))).encode())
    digest.update(np.ascontiguousarray(x.to_numpy(dtype="float64")).tobytes())
    digest.update(np.ascontiguousarray(y.to_numpy(dtype="float64")).tobytes())
    return digest.hexdigest()[:16]


def library_versions() -> dict[str, str]:
    found = {}
    for name in ("lightgbm", "numpy", "pandas", "kestrel"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "unknown"
    return found


class Registry:
    def __init__(self, root: Path) -> None:
        self._root = root

    def _folder(self, strategy: str) -> Path:
        return self._root / strategy

    def versions(self, strategy: str) -> list[str]:
        """Stored versions, oldest first."""
        folder = self._folder(strategy)
        if not folder.is_dir():
            return []
        found = [p.name for p in folder.iterdir() if p.is_dir() and _VERSION.fullmatch(p.name)]
        return sorted(found, key=lambda v: int(v[1:]))

    def save(self, strategy: str, model_text: str, metadata: dict[str, Any]) -> StoredModel:
        """A new version, written whole or not at all. Two writers at once (`kestrel train` beside
        the daemon's retraining) get two numbers: the rename fails for the second, which takes the next."""
        folder = self._folder(strategy)
        folder.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=folder))
        try:
            (staging / "model.txt").write_text(model_text, encoding="utf-8")
            for _ in range(20):
                existing = self.versions(strategy)
                name = f"v{int(existing[-1][1:]) + 1 if existing else 1:04d}"
                meta = {**metadata, "strategy": strategy, "version": name, "libraries": library_versions()}
                (staging / "metadata.json").write_text(
                    json.dumps(meta, indent=1, sort_keys=True, default=str), encoding="utf-8"
                )
                _fsync_dir(staging)
                try:
                    os.rename(staging, folder / name)  # atomic; fails when the name appeared meanwhile
                except OSError:
                    if (folder / name).exists():
                        continue
                    raise
                _fsync_dir(folder)
                return self.load(strategy, name)
            raise RegistryError(f"models: could not find a free version number in {folder}")
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)

    def load(self, strategy: str, name: str | None = None) -> StoredModel:
        """A version, or (None) the promoted one."""
        name = name or self.promoted(strategy)
        if name is None:
            raise RegistryError(f"models: no promoted model for {strategy}; `kestrel models promote` one")
        path = self._folder(strategy) / name
        if not (path / "model.txt").is_file() or not (path / "metadata.json").is_file():
            known = ", ".join(self.versions(strategy)) or "none"
            raise RegistryError(f"models: {strategy} has no version {name!r} (stored: {known})")
        meta = json.loads((path / "metadata.json").read_text(encoding="utf-8"))
        return StoredModel(strategy, name, path, meta)

    def promoted(self, strategy: str) -> str | None:
        marker = self._folder(strategy) / PROMOTED
        return marker.read_text(encoding="utf-8").strip() if marker.is_file() else None

    def promote(self, strategy: str, name: str) -> None:
        self.load(strategy, name)  # it must exist
        marker = self._folder(strategy) / PROMOTED
        fd, tmp = tempfile.mkstemp(prefix=f".{PROMOTED}-", dir=marker.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(name + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, marker)
        finally:
            Path(tmp).unlink(missing_ok=True)
        _fsync_dir(marker.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
