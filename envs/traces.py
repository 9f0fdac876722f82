"""Readers for real network traces (docs/model.md §1 units: Mbps for bandwidth, ms for latency).

Three formats, all found under ``../shared/data/traces/`` (see its ``README.md``):

* **Lumos5G** (Narayanan et al., SIGCOMM 2021) — :func:`read_lumos5g`. One line per
  sample, ``<t_seconds> <downlink_Mbps>``, whitespace separated. The 4G files use the same
  layout.
* **mmWave uplink** ``.list`` files (Ghoshal et al., 5G-MeMU 2022) — :func:`read_mmwave_list`,
  :func:`list_runs`. Blocks separated by ``#####`` lines, each starting ``Run N``, followed by
  either one line of comma-separated values sampled every 0.1 s (uplink throughput in Mbps or
  ping RTT in ms), or pairs of lines (timestamps, then values). Trailing commas occur.
* **Plain CSV** — :func:`read_csv_trace`. Header ``time_s,uplink_mbps,downlink_mbps,rtt_ms``.

Every reader returns :class:`Trace` objects with strictly increasing times and finite,
non-negative values. Malformed content raises :class:`TraceFormatError` (a ``ValueError``)
whose message contains the file path and the 1-based line number. A UTF-8 byte-order mark is
accepted. Sizes are bounded (:mod:`envs.limits`): times within ``±MAX_TRACE_TIME_S`` (1e7 s),
bandwidths up to ``MAX_BANDWIDTH_MBPS``, latencies up to ``MAX_LATENCY_MS``, files whose
parsing would take more than ``MAX_ALLOC_BYTES``; beyond them the reader refuses the line (or
file) and names the bound, so replay can never be asked for an absurd frame grid or produce
``inf``. Units are never guessed from a path: :func:`read_mmwave_list` takes ``unit``.

Known quirks of the real data, and how they are handled:

* 31 Lumos5G 4G files repeat a timestamp once (``44.0`` twice). Repeated timestamps are
  merged into one sample holding the mean of the repeated values (``duplicate_times="mean"``,
  the default); ``duplicate_times="error"`` rejects them instead. Decreasing timestamps are
  always an error.
* Zero throughput samples (outages) are valid data and are kept; :class:`envs.dynamics.TraceReplay`
  floors bandwidth at a configurable minimum so transfer times stay finite.
* In the 5G driving/walking ``.list`` throughput files a run holds two (times, values) pairs.
  ``series=0`` (default) selects the first pair, whose clock is monotone in every shipped file.
  The second pair's clock jumps backwards in every shipped file, so ``series=1`` raises
  :class:`TraceFormatError` on them (it works for well-formed files).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from envs.limits import (
    MAX_BANDWIDTH_MBPS,
    MAX_LATENCY_MS,
    MAX_TRACE_TIME_S,
    check_alloc,
)

UNITS: tuple[str, ...] = ("Mbps", "ms")
CSV_COLUMNS: tuple[str, ...] = ("time_s", "uplink_mbps", "downlink_mbps", "rtt_ms")
MMWAVE_PERIOD_S = 0.1
# Largest value per unit (see envs.limits): beyond it transfer times and observations break.
MAX_VALUE: dict[str, float] = {"Mbps": MAX_BANDWIDTH_MBPS, "ms": MAX_LATENCY_MS}
# Parsed token lists take roughly this many times the file's size in memory.
_PARSE_BYTES_PER_FILE_BYTE = 40
DuplicatePolicy = Literal["mean", "error"]

__all__ = [
    "CSV_COLUMNS",
    "MAX_VALUE",
    "MMWAVE_PERIOD_S",
    "UNITS",
    "Trace",
    "TraceFormatError",
    "list_runs",
    "read_csv_trace",
    "read_lumos5g",
    "read_mmwave_list",
]


class TraceFormatError(ValueError):
    """A trace file is malformed. The message names the file and the 1-based line."""

    def __init__(self, path: str | Path, line: int | None, problem: str) -> None:
        self.path = str(path)
        self.line = line
        where = f"{self.path}, line {line}" if line is not None else self.path
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True, eq=False)
class Trace:
    """One time series of a network quantity.

    Attributes:
        times_s: Sample times in seconds, strictly increasing, shape ``(n,)``.
        values: Samples, shape ``(n,)``, finite and non-negative, in ``unit``.
        source: Where the samples come from (path, run, column), for messages and reports.
        unit: ``"Mbps"`` (bandwidth) or ``"ms"`` (latency / RTT).
        period_s: Nominal sample period; the last sample is held for one period. Defaults to
            the median time step (1.0 s for a single sample).
    """

    times_s: np.ndarray
    values: np.ndarray
    source: str
    unit: str
    period_s: float = field(default=float("nan"))

    def __post_init__(self) -> None:
        # Copies: the arrays are made read-only below and must not alias the caller's.
        times = np.array(self.times_s, dtype=np.float64)
        values = np.array(self.values, dtype=np.float64)
        if not isinstance(self.unit, str) or self.unit not in UNITS:
            raise ValueError(f"Trace {self.source}: unit must be one of {UNITS}, got {self.unit!r}")
        if times.ndim != 1 or values.shape != times.shape or times.size == 0:
            raise ValueError(
                f"Trace {self.source}: times_s and values must be non-empty 1-D arrays of equal "
                f"length, got shapes {times.shape} and {values.shape}"
            )
        if not (np.all(np.abs(times) <= MAX_TRACE_TIME_S) and np.all(np.diff(times) > 0)):
            raise ValueError(
                f"Trace {self.source}: times_s must be finite, strictly increasing and within "
                f"±{MAX_TRACE_TIME_S:.0e} s (envs.limits.MAX_TRACE_TIME_S)"
            )
        top = MAX_VALUE[self.unit]
        if not (np.all(values >= 0) and np.all(values <= top)):  # NaN fails both
            raise ValueError(
                f"Trace {self.source}: values must be finite, non-negative and at most "
                f"{top:.0e} {self.unit}"
            )
        period = self.period_s
        if isinstance(period, bool) or not isinstance(
            period, int | float | np.integer | np.floating
        ):
            raise ValueError(f"Trace {self.source}: period_s must be a number, got {period!r}")
        if np.isnan(period):
            period = float(np.median(np.diff(times))) if times.size > 1 else 1.0
        if not 0 < period <= MAX_TRACE_TIME_S:
            raise ValueError(
                f"Trace {self.source}: period_s must be in (0, {MAX_TRACE_TIME_S:.0e}] s, "
                f"got {period}"
            )
        times.setflags(write=False)
        values.setflags(write=False)
        object.__setattr__(self, "times_s", times)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "period_s", float(period))

    def __len__(self) -> int:
        return int(self.times_s.size)

    @property
    def duration_s(self) -> float:
        """Length covered by the trace, the last sample held for one period."""
        return float(self.times_s[-1] - self.times_s[0] + self.period_s)


# --------------------------------------------------------------------------------------------
# helpers


def _parse_floats(tokens: Sequence[str], path: Path, line: int) -> np.ndarray:
    """Parse tokens to float64; on failure name the offending token (fast path: one numpy call)."""
    try:
        arr = np.asarray(tokens, dtype=np.float64)
    except ValueError:
        for i, tok in enumerate(tokens, 1):
            try:
                float(tok)
            except ValueError:
                raise TraceFormatError(
                    path, line, f"value {i} is not a number: {tok.strip()!r}"
                ) from None
        raise  # unreachable: numpy and float() agree on what parses
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise TraceFormatError(path, line, f"value {bad[0] + 1} is not finite: {tokens[bad[0]]!r}")
    return arr


def _parse_table(rows: list[list[str]], line_nos: list[int], path: Path) -> np.ndarray:
    """Parse equal-length token rows in one numpy call; on failure find the bad line."""
    try:
        arr = np.asarray(rows, dtype=np.float64)
    except ValueError:
        arr = None
    if arr is None or not np.all(np.isfinite(arr)):
        for toks, no in zip(rows, line_nos, strict=True):
            _parse_floats(toks, path, no)
    if arr is None:  # pragma: no cover - numpy and float() agree on what parses
        raise TraceFormatError(path, None, "unparseable content")
    return arr


def _reject_first(
    bad: np.ndarray, lines: np.ndarray, path: Path, message: Callable[[int], str]
) -> None:
    """Raise :class:`TraceFormatError` at the line of the first True row ``i`` of ``bad``,
    with ``message(i)``."""
    rows = np.flatnonzero(bad)
    if rows.size:
        i = rows[0]
        raise TraceFormatError(path, int(lines[i]), message(i))


def _check_values(values: np.ndarray, lines: np.ndarray, path: Path, what: str, unit: str) -> None:
    _reject_first(values < 0, lines, path, lambda i: f"negative {what}: {values[i]}")
    top = MAX_VALUE[unit]
    _reject_first(
        values > top,
        lines,
        path,
        lambda i: (
            f"{what} {values[i]:g} {unit} is above the {top:.0e} {unit} bound "
            f"(envs.limits.MAX_{'BANDWIDTH_MBPS' if unit == 'Mbps' else 'LATENCY_MS'})"
        ),
    )


def _check_times(times: np.ndarray, lines: np.ndarray, path: Path) -> None:
    _reject_first(
        np.abs(times) > MAX_TRACE_TIME_S,
        lines,
        path,
        lambda i: (
            f"time {times[i]:g} s is outside ±{MAX_TRACE_TIME_S:.0e} s "
            "(envs.limits.MAX_TRACE_TIME_S; replay would need an unbounded frame grid)"
        ),
    )


def _check_unit(unit: object) -> str:
    if not isinstance(unit, str) or unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS}, got {unit!r}")
    return unit


def _check_duplicates(duplicate_times: object) -> None:
    if not isinstance(duplicate_times, str) or duplicate_times not in ("mean", "error"):
        raise ValueError(f"duplicate_times must be 'mean' or 'error', got {duplicate_times!r}")


def _clean_times(
    times: np.ndarray,
    values: np.ndarray,
    lines: np.ndarray,
    path: Path,
    duplicate_times: DuplicatePolicy,
) -> tuple[np.ndarray, np.ndarray]:
    """Reject decreasing times; merge (mean) or reject repeated ones. ``lines`` for messages."""
    _check_duplicates(duplicate_times)
    steps = np.diff(times)
    back = np.flatnonzero(steps < 0)
    if back.size:
        i = back[0] + 1
        raise TraceFormatError(
            path, int(lines[i]), f"time goes backwards ({times[i - 1]} -> {times[i]})"
        )
    dup = np.flatnonzero(steps == 0)
    if dup.size == 0:
        return times, values
    if duplicate_times == "error":
        i = dup[0] + 1
        raise TraceFormatError(path, int(lines[i]), f"repeated time {times[i]}")
    uniq, start = np.unique(times, return_index=True)
    counts = np.diff(np.append(start, times.size))
    return uniq, np.add.reduceat(values, start) / counts


def _read_lines(path: Path) -> list[str]:
    try:
        size = path.stat().st_size
        check_alloc(
            f"trace file {path}",
            _PARSE_BYTES_PER_FILE_BYTE * size,
            f"parsing keeps ~{_PARSE_BYTES_PER_FILE_BYTE}x the file size in memory",
        )
        data = path.read_bytes()
    except OSError as exc:  # missing file, a directory, permissions
        raise TraceFormatError(
            path, None, f"cannot read the file ({exc.strerror or exc})"
        ) from None
    try:
        text = data.decode("utf-8-sig")  # tolerate a byte-order mark (spreadsheet exports)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise TraceFormatError(path, line, f"not a UTF-8 text file ({exc.reason})") from None
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise TraceFormatError(path, 1, "file is empty")
    return lines


def _data_lines(path: Path) -> list[tuple[int, str]]:
    """The data lines of a text trace: ``(line number from 1, stripped text)`` of every line
    that is neither blank nor a ``#`` comment."""
    out = []
    for no, raw in enumerate(_read_lines(path), 1):
        s = raw.strip()
        if s and not s.startswith("#"):
            out.append((no, s))
    return out


# --------------------------------------------------------------------------------------------
# Lumos5G


def read_lumos5g(
    path: str | Path, *, unit: str = "Mbps", duplicate_times: DuplicatePolicy = "mean"
) -> Trace:
    """Read a Lumos5G throughput trace: lines ``<t_seconds> <downlink_Mbps>``.

    Blank lines and lines starting with ``#`` are skipped.

    Args:
        path: The trace file (e.g. ``lumos5g/5G/5g_trace_100_walking``).
        unit: Unit of the value column (``"Mbps"`` for the shipped files).
        duplicate_times: ``"mean"`` merges samples with a repeated timestamp (a quirk of 31
            shipped 4G files), ``"error"`` rejects them.

    Returns:
        A :class:`Trace` with the file's timestamps and values.

    Raises:
        TraceFormatError: Empty file, a line without exactly two columns, a non-numeric or
            non-finite token, a negative value, or decreasing time (file and line named).
    """
    path = Path(path)
    unit = _check_unit(unit)
    _check_duplicates(duplicate_times)
    tokens: list[list[str]] = []
    line_nos: list[int] = []
    for no, s in _data_lines(path):
        toks = s.split()
        if len(toks) != 2:
            raise TraceFormatError(path, no, f"expected 2 columns (time, Mbps), got {len(toks)}")
        tokens.append(toks)
        line_nos.append(no)
    if not tokens:
        raise TraceFormatError(path, 1, "no data lines")
    arr = _parse_table(tokens, line_nos, path)
    lines = np.asarray(line_nos)
    _check_times(arr[:, 0], lines, path)
    _check_values(arr[:, 1], lines, path, "value", unit)
    times, values = _clean_times(arr[:, 0], arr[:, 1], lines, path, duplicate_times)
    return Trace(times, values, source=str(path), unit=unit)


# --------------------------------------------------------------------------------------------
# mmWave uplink .list files


@dataclass
class _Run:
    number: int
    header_line: int
    data: list[tuple[int, list[str]]]  # (line number, tokens)


def _split_runs(path: Path) -> list[_Run]:
    runs: list[_Run] = []
    for no, raw in enumerate(_read_lines(path), 1):
        s = raw.strip()
        if not s or set(s) == {"#"}:
            continue
        if s.startswith("Run"):
            num = s[3:].strip()
            if not num.isdigit():
                raise TraceFormatError(path, no, f"bad run header {s!r} (expected 'Run N')")
            if any(r.number == int(num) for r in runs):
                raise TraceFormatError(path, no, f"run {num} appears twice")
            runs.append(_Run(int(num), no, []))
            continue
        if not runs:
            raise TraceFormatError(path, no, "data before the first 'Run N' header")
        toks = s.split(",")
        if toks[-1].strip() == "":  # trailing comma
            toks = toks[:-1]
        runs[-1].data.append((no, toks))
    if not runs:
        raise TraceFormatError(path, 1, "no 'Run N' block found")
    for r in runs:
        if len(r.data) == 0:
            raise TraceFormatError(path, r.header_line, f"run {r.number} has no data line")
        if len(r.data) > 1 and len(r.data) % 2:
            raise TraceFormatError(
                path,
                r.data[-1][0],
                f"run {r.number} has {len(r.data)} data lines; expected 1 (values) or "
                "pairs of lines (times, then values)",
            )
    return runs


def list_runs(path: str | Path) -> list[int]:
    """Run numbers of an mmWave ``.list`` file, in file order.

    Raises:
        TraceFormatError: The block structure is malformed (file and line named).
    """
    return [r.number for r in _split_runs(Path(path))]


def _run_series(
    path: Path,
    run: _Run,
    series: int,
    period_s: float,
    duplicate_times: DuplicatePolicy,
    unit: str,
) -> tuple[np.ndarray, np.ndarray, float]:
    if len(run.data) == 1:
        if series != 0:
            raise ValueError(
                f"{path}: run {run.number} holds one series; series must be 0, got {series}"
            )
        no, toks = run.data[0]
        values = _parse_floats(toks, path, no)
        _check_values(values, np.full(values.size, no), path, "value", unit)
        times = np.arange(values.size) * period_s
        _check_times(times[-1:], np.array([no]), path)
        return times, values, period_s
    n_series = len(run.data) // 2
    if not 0 <= series < n_series:
        raise ValueError(
            f"{path}: run {run.number} holds {n_series} (times, values) series; "
            f"series must be in 0..{n_series - 1}, got {series}"
        )
    (t_no, t_toks), (v_no, v_toks) = run.data[2 * series], run.data[2 * series + 1]
    times = _parse_floats(t_toks, path, t_no)
    values = _parse_floats(v_toks, path, v_no)
    if times.size != values.size:
        raise TraceFormatError(
            path,
            v_no,
            f"run {run.number}: {values.size} values for {times.size} times (line {t_no})",
        )
    _check_times(times, np.full(times.size, t_no), path)
    _check_values(values, np.full(values.size, v_no), path, "value", unit)
    times, values = _clean_times(times, values, np.full(times.size, t_no), path, duplicate_times)
    period = float(np.median(np.diff(times))) if times.size > 1 else period_s
    return times, values, period


def read_mmwave_list(
    path: str | Path,
    run: int | None = None,
    *,
    unit: str,
    series: int = 0,
    period_s: float = MMWAVE_PERIOD_S,
    duplicate_times: DuplicatePolicy = "mean",
) -> Trace:
    """Read one run (or all runs) of an mmWave uplink/ping ``.list`` file.

    Args:
        path: The ``.list`` file.
        run: Run number as written in the ``Run N`` header. ``None`` concatenates all runs in
            file order into one trace: each run's clock is shifted so that it starts one sample
            period after the previous run's last sample (a long trace for random-offset replay).
        series: For runs written as pairs of lines (times, then values), which pair to read.
            Runs written as a single line of values have only ``series=0``.
        unit: ``"Mbps"`` (throughput files) or ``"ms"`` (ping RTT files); required, since
            the file itself does not say which (it is never guessed from the path).
        period_s: Sample period of single-line runs (0.1 s in the shipped files).
        duplicate_times: ``"mean"`` merges repeated timestamps of two-line runs, ``"error"``
            rejects them. Decreasing timestamps always raise.

    Returns:
        A :class:`Trace`; ``source`` reads ``"<path>#run=<N>"`` (``"#run=all"`` for ``None``).

    Raises:
        TraceFormatError: Malformed blocks, non-numeric/non-finite/negative values, times and
            values of different lengths, decreasing time (file and line named).
        ValueError: ``run`` not in the file, ``series`` out of range, bad ``unit``/``period_s``.
    """
    path = Path(path)
    unit = _check_unit(unit)
    _check_duplicates(duplicate_times)
    is_num = isinstance(period_s, int | float | np.integer | np.floating)
    if not is_num or isinstance(period_s, bool) or not 0 < period_s <= MAX_TRACE_TIME_S:
        raise ValueError(
            f"period_s must be a number in (0, {MAX_TRACE_TIME_S:.0e}] s, got {period_s!r}"
        )
    if isinstance(series, bool) or not isinstance(series, int | np.integer):
        raise ValueError(f"series must be a non-negative integer, got {series!r}")
    if run is not None and (isinstance(run, bool) or not isinstance(run, int | np.integer)):
        raise ValueError(f"run must be None or an integer run number, got {run!r}")
    runs = _split_runs(path)
    if run is not None:
        chosen = [r for r in runs if r.number == run]
        if not chosen:
            raise ValueError(f"{path}: run must be one of {[r.number for r in runs]}, got {run}")
        t, v, p = _run_series(path, chosen[0], series, period_s, duplicate_times, unit)
        return Trace(t, v, source=f"{path}#run={run}", unit=unit, period_s=p)
    all_t, all_v, periods = [], [], []
    start = 0.0
    for r in runs:
        t, v, p = _run_series(path, r, series, period_s, duplicate_times, unit)
        t = t - t[0] + start
        if not t[-1] <= MAX_TRACE_TIME_S:
            raise TraceFormatError(
                path,
                r.header_line,
                f"run {r.number}: the runs laid end to end last {t[-1]:g} s, more than "
                f"{MAX_TRACE_TIME_S:.0e} s (envs.limits.MAX_TRACE_TIME_S); read one run",
            )
        all_t.append(t)
        all_v.append(v)
        periods.append(p)
        start = float(t[-1]) + p
    return Trace(
        np.concatenate(all_t),
        np.concatenate(all_v),
        source=f"{path}#run=all",
        unit=unit,
        period_s=float(np.median(periods)),
    )


# --------------------------------------------------------------------------------------------
# plain CSV


def read_csv_trace(
    path: str | Path,
    *,
    duplicate_times: DuplicatePolicy = "mean",
    columns: Mapping[str, str] | None = None,
) -> dict[str, Trace]:
    """Read a plain CSV trace with header ``time_s,uplink_mbps,downlink_mbps,rtt_ms``.

    The four columns may come in any order; blank lines and lines starting with ``#`` are
    skipped (also before the header).

    Args:
        path: The CSV file.
        duplicate_times: ``"mean"`` merges rows with a repeated ``time_s``, ``"error"``
            rejects them. Decreasing time always raises.
        columns: Which header names hold the four columns, e.g. ``{"uplink_mbps": "ul",
            "rtt_ms": "ping"}`` (unnamed ones keep their standard name). With a mapping the
            file may have other columns too, which are ignored (not parsed).

    Returns:
        ``{"uplink_mbps": Trace, "downlink_mbps": Trace, "rtt_ms": Trace}`` on the same clock.

    Raises:
        TraceFormatError: Empty file, missing/incomplete header, wrong column count,
            non-numeric/non-finite/negative value, decreasing time (file and line named).
    """
    path = Path(path)
    _check_duplicates(duplicate_times)
    mapping: dict[str, str] | None = None
    if columns is not None:
        bad = sorted(set(columns) - set(CSV_COLUMNS))
        if bad or not all(isinstance(v, str) and v.strip() for v in columns.values()):
            raise ValueError(
                f"columns: keys must be among {list(CSV_COLUMNS)} and values column names, "
                f"got {dict(columns)!r}"
            )
        mapping = {name: str(columns.get(name, name)).strip().lower() for name in CSV_COLUMNS}
    header: list[str] | None = None
    rows: list[list[str]] = []
    line_nos: list[int] = []
    for no, s in _data_lines(path):
        toks = [t.strip() for t in s.split(",")]
        if header is None:
            names = [t.lower() for t in toks]
            if mapping is None and sorted(names) != sorted(CSV_COLUMNS):
                raise TraceFormatError(
                    path, no, f"missing or bad header: expected columns {list(CSV_COLUMNS)}"
                )
            if mapping is not None:
                missing = [v if k == v else f"{v} ({k})" for k, v in mapping.items()
                           if v not in names]  # fmt: skip
                if missing or len(set(names)) != len(names):
                    raise TraceFormatError(
                        path, no, f"header {toks} has no column(s) {', '.join(missing)} "
                        "(columns=, or network.columns.<name>=<header> in train.py, maps other names)"
                        if missing else
                        f"header {toks} repeats a column name",
                    )  # fmt: skip
            header = names
            continue
        if len(toks) != len(header):
            raise TraceFormatError(path, no, f"expected {len(header)} columns, got {len(toks)}")
        rows.append(toks)
        line_nos.append(no)
    if header is None:
        raise TraceFormatError(path, 1, "file is empty")
    if not rows:
        raise TraceFormatError(path, no, "no data rows after the header")
    names = mapping or {name: name for name in CSV_COLUMNS}
    index = [header.index(names[name]) for name in CSV_COLUMNS]
    table = _parse_table([[r[i] for i in index] for r in rows], line_nos, path)
    lines = np.asarray(line_nos)
    col = {name: table[:, k] for k, name in enumerate(CSV_COLUMNS)}
    _check_times(col["time_s"], lines, path)
    for name in CSV_COLUMNS[1:]:
        _check_values(col[name], lines, path, name, "ms" if name == "rtt_ms" else "Mbps")
    times = col["time_s"]
    out: dict[str, Trace] = {}
    for name, unit in (("uplink_mbps", "Mbps"), ("downlink_mbps", "Mbps"), ("rtt_ms", "ms")):
        t, v = _clean_times(times, col[name], lines, path, duplicate_times)
        out[name] = Trace(t, v, source=f"{path}#{name}", unit=unit)
    return out
