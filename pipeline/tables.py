"""Markdown and CSV tables and number formatting shared by :mod:`pipeline.report` and the
benchmark report (``benchmarks/make_report.py``, ``benchmarks/report/``).

Standard library only (the file writer is imported when a CSV is written), so both the
pipeline and the benchmark scripts import it without pulling in torch or matplotlib.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["csv_text", "fnum", "fsig", "md_table", "write_csv"]


def fnum(x: Any, nd: int = 2, pct: bool = False, signed: bool = False) -> str:
    """A number for a table cell with ``nd`` decimals ('–' for missing/NaN, a string as is)."""
    if x is None or isinstance(x, str):
        return "–" if x in (None, "") else str(x)
    x = float(x)
    if not math.isfinite(x):
        return "–"
    if abs(x) < 0.5 * 10**-nd:
        x = 0.0
    s = f"{x:+.{nd}f}" if signed else f"{x:.{nd}f}"
    return s + ("%" if pct else "")


def fsig(x: Any, sig: int = 3) -> str:
    """A number with ``sig`` significant digits (thousands separators from 10**sig on)."""
    if x is None:
        return "–"
    x = float(x)
    if not math.isfinite(x):
        return "–"
    if x == 0:
        return "0"
    if abs(x) >= 10**sig:
        return f"{x:,.0f}"
    return f"{x:.{sig}g}"


def md_table(header: Sequence[Any], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (cells converted with ``str``), no trailing newline."""
    lines = ["| " + " | ".join(str(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def csv_text(rows: Sequence[Mapping[str, Any]], flat_only: bool = False) -> str:
    """``rows`` as CSV text: the columns are every key of every row in order of first
    appearance (``flat_only``: without keys whose value is a list or a dict); missing cells
    are empty."""
    keys = list(
        dict.fromkeys(
            k for r in rows for k in r if not (flat_only and isinstance(r[k], list | dict))
        )
    )
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys, extrasaction="ignore")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def write_csv(path: Path, rows: Sequence[Mapping[str, Any]], flat_only: bool = False) -> Path:
    """:func:`csv_text` of ``rows`` written atomically to ``path`` (temp file + rename)."""
    from agents.common.fileio import atomic_write_text

    return atomic_write_text(path, csv_text(rows, flat_only))
