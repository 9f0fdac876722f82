"""Small helpers of the pipeline: atomic files, paths, config conversion.

The atomic writers, :func:`clean_stale_temp` and :func:`sha256_file` live in
:mod:`agents.common.fileio` (the one implementation) and are re-exported here.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from agents.common.fileio import (  # noqa: F401  (re-exported: the pipeline's file helpers)
    atomic_write,
    atomic_write_bytes,
    atomic_write_dir,
    atomic_write_text,
    clean_stale_temp,
    fsync_dir,
    sha256_file,
)

#: The repository root (the directory holding ``configs/``, ``train.py`` and ``evaluate.py``);
#: after a non-editable ``pip install .`` the directory that holds the installed packages.
REPO_ROOT = Path(__file__).resolve().parents[1]
#: The Hydra configs: the copy installed as package data (``pipeline/configs``) when there is
#: one (``pip install .``), else the source checkout's ``configs/`` (also editable installs).
CONFIG_DIR = (
    Path(__file__).resolve().parent / "configs"
    if (Path(__file__).resolve().parent / "configs" / "train.yaml").is_file()
    else REPO_ROOT / "configs"
)


def to_plain(cfg: Any) -> Any:
    """A resolved plain-Python copy of an OmegaConf node (other values pass through)."""
    if isinstance(cfg, DictConfig) or OmegaConf.is_list(cfg):
        return OmegaConf.to_container(cfg, resolve=True)
    return cfg


def resolve_repo_path(path: str | os.PathLike[str] | None) -> Path | None:
    """An absolute path; relative ones are taken relative to the repository root."""
    if path is None:
        return None
    p = Path(path).expanduser()
    return p if p.is_absolute() else (REPO_ROOT / p).resolve()


def _json_default(x: Any) -> Any:
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def _clean(x: Any) -> Any:
    """NaN/inf -> None so the JSON is standard (json.dump would write NaN)."""
    if isinstance(x, float | np.floating):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, Mapping):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    return x


class RunDirBusy(RuntimeError):
    """Another live process holds the run directory's lock."""


class RunLock:
    """One writer per run directory: ``fcntl.flock`` on ``<dir>/.lock``, held until
    :meth:`release` (or the process dies: the kernel drops the lock, so no stale-lock
    clean-up is needed). The holder's PID is written into the file for the message of
    :class:`RunDirBusy`. The file itself stays (deleting it would let two processes lock two
    different inodes)."""

    name = ".lock"

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.path = Path(directory) / self.name
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = self.holder()
            raise RunDirBusy(
                f"{self.path.parent} is in use by another process "
                f"(pid {holder if holder is not None else 'unknown'} holds {self.path}); "
                "wait for it to finish or choose another run_dir/seed"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def holder(self) -> int | None:
        """The PID recorded by the current holder (None if unreadable)."""
        try:
            return int(self.path.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def atomic_write_json(path: str | os.PathLike[str], data: Any) -> Path:
    """``data`` as indented JSON (NaN written as null), atomically."""
    text = json.dumps(_clean(data), indent=2, default=_json_default, allow_nan=False)
    return atomic_write_text(path, text + "\n")


def read_json(path: str | os.PathLike[str]) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)
