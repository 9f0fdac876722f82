"""Atomic output files of the benchmark scripts (CSV, text, PNG).

Each writer fills a temp file next to the target, makes it mode 0644 (``mkstemp`` creates
0600; the results are meant to be shared) and moves it over the target with ``os.replace``,
so a reader never sees a half-written file; the temp file is removed on failure. The scripts
import this module as a sibling (``benchmarks/`` is on ``sys.path`` when they run as
``python benchmarks/<script>.py``).
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal


def atomic_write(path: Path, write: Callable[[str], None]) -> None:
    """``write(tmp)`` fills a temp file in ``path``'s folder, which then replaces ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_text(path: Path, text: str) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "w") as f:
            f.write(text)

    atomic_write(path, write)


def write_csv(
    path: Path,
    rows: Sequence[Mapping[str, Any]],
    fieldnames: Sequence[str] | None = None,
    extrasaction: Literal["raise", "ignore"] = "raise",
) -> None:
    """``rows`` as a CSV with a header; columns ``fieldnames`` (default: the first row's keys)."""
    keys = list(rows[0]) if fieldnames is None else list(fieldnames)

    def write(tmp: str) -> None:
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys, extrasaction=extrasaction)
            w.writeheader()
            w.writerows(rows)

    atomic_write(path, write)


def save_png(fig: Any, path: Path, dpi: int = 110) -> None:
    """Save a matplotlib figure as a PNG atomically, then close it."""
    import matplotlib.pyplot as plt

    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=dpi))
    finally:
        plt.close(fig)
