"""Small helpers of the pipeline: atomic files, paths, config conversion."""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

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


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Flush a directory entry (a rename is durable only once its directory is synced)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # e.g. a platform without directory fds: nothing more to do
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _with_path(exc: OSError, path: Path) -> OSError:
    """``exc`` naming ``path`` (torch and numpy writers raise OSErrors without a filename)."""
    if exc.filename is None and exc.errno is not None:
        return OSError(exc.errno, exc.strerror or os.strerror(exc.errno), str(path))
    return exc


def atomic_write(
    path: str | os.PathLike[str], write: Callable[[str], None], mode: int = 0o644
) -> Path:
    """``write(tmp)`` fills a temp file in ``path``'s directory; it is flushed to disk, given
    ``mode`` (``mkstemp`` creates 0600) and moved over ``path`` with ``os.replace`` (then the
    directory is synced), so a reader never sees a half-written file. The temp file
    (``.<name>.*.tmp``, removed by :func:`clean_stale_temp` if a kill leaves it) is removed
    on failure; an OSError names ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        named = _with_path(exc, path)
        if named is exc:
            raise
        raise named from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return path


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (:func:`atomic_write`)."""

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(data)

    return atomic_write(path, write)


def atomic_write_dir(path: str | os.PathLike[str], fill: Callable[[Path], None]) -> Path:
    """A directory written as one unit: ``fill(tmp)`` writes into a fresh temp directory
    (``.<name>.*.tmp``) beside ``path``; every file in it and the directory are fsynced, then
    it replaces ``path``. Linux cannot rename a directory over a non-empty one, so the old
    one is first renamed to ``.<name>.old`` and removed after the swap; a kill between the
    two renames leaves ``.<name>.old``, which :func:`clean_stale_temp` moves back."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    old = path.with_name(f".{path.name}.old")
    try:
        fill(tmp)
        for f in sorted(tmp.rglob("*")):
            if f.is_file():
                with open(f, "rb+") as fh:
                    os.fsync(fh.fileno())
        for d in sorted((p for p in tmp.rglob("*") if p.is_dir()), reverse=True):
            fsync_dir(d)
        os.chmod(tmp, 0o755)
        fsync_dir(tmp)
        if old.exists():
            shutil.rmtree(old)
        if path.exists():
            os.replace(path, old)
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        named = _with_path(exc, path)
        if named is exc:
            raise
        raise named from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return path


def clean_stale_temp(directory: str | os.PathLike[str]) -> list[Path]:
    """Remove what killed atomic writes left in ``directory``: ``.<name>.*.tmp`` files and
    directories; a ``.<name>.old`` directory is moved back to ``<name>`` when a kill came
    between the two renames of :func:`atomic_write_dir`, else removed. Returns what was
    removed or restored. Call it only while holding the directory's :class:`RunLock`."""
    directory = Path(directory)
    done: list[Path] = []
    if not directory.is_dir():
        return done
    for p in sorted(directory.iterdir()):
        if not p.name.startswith("."):
            continue
        if p.name.endswith(".tmp"):
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
            done.append(p)
        elif p.name.endswith(".old") and p.is_dir():
            target = directory / p.name[1 : -len(".old")]
            if target.exists():
                shutil.rmtree(p, ignore_errors=True)
            else:
                os.replace(p, target)
            done.append(p)
    return done


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


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


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (:func:`atomic_write`)."""

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)

    return atomic_write(path, write)


def atomic_write_json(path: str | os.PathLike[str], data: Any) -> Path:
    """``data`` as indented JSON (NaN written as null), atomically."""
    text = json.dumps(_clean(data), indent=2, default=_json_default, allow_nan=False)
    return atomic_write_text(path, text + "\n")


def read_json(path: str | os.PathLike[str]) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)
