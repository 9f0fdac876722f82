"""Atomic file and directory writes, their stale-temp clean-up, and file digests.

The one implementation of EdgeRL's atomic writes (a leaf module: standard library only), so
that agents (:mod:`agents.common.checkpoint`, :mod:`agents.common.fast_actor`), the pipeline
(:mod:`pipeline.utils` re-exports these names with its JSON writer) and the benchmark
scripts (``benchmarks/atomic_io.py``) write files the same way: temp file beside the
target, fsync, mode 0644, ``os.replace``, directory fsync; an OSError names the target.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_dir",
    "atomic_write_text",
    "clean_stale_temp",
    "fsync_dir",
    "sha256_file",
]


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


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (:func:`atomic_write`)."""

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)

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
    removed or restored. Call it only while holding the directory's :class:`pipeline.utils.RunLock`."""
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
