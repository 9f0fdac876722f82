"""Atomic output files of the benchmark scripts (CSV, text, PNG).

The writers are :func:`agents.common.fileio.atomic_write` (temp file next to the target, mode
0644, ``os.replace``; a reader never sees a half-written file) applied to CSV rows and
matplotlib figures. The scripts import this module as a sibling (``benchmarks/`` is on
``sys.path`` when they run as ``python benchmarks/<script>.py``).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from agents.common.fileio import atomic_write, atomic_write_text

__all__ = ["atomic_write", "atomic_write_text", "display_path", "save_png", "write_csv"]

ROOT = Path(__file__).resolve().parents[1]


def display_path(path: str | Path) -> str:
    """``path`` relative to the repository root where it lies inside it (for reports)."""
    p = Path(path).resolve()
    return str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p)


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
