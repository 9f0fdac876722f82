"""Arrival processes: where task sets come from (docs/model.md §8; Huang et al. Sec. 3.3.1 and 4.5).

Load level ρ (the paper's "request frequency from 10 to 130 percent") is defined as

    λ · E[service slots] = ρ · Σ_i c_i,

with λ the expected number of arrivals per slot, i.e. at ρ = 1 the arrivals exactly fill the
total capacity of all servers in steady state. Every sampler below computes λ from ρ with its
own expected service time, so the identity holds exactly for the distribution it uses.

Sources:
- ``BernoulliArrivals``: ``num_users`` users split over the servers' regions in proportion to
  the home-server weights; each user sends a request in a slot with probability q = λ / U
  (the paper's Bernoulli task requestor). Arrivals in the window ``[0, window_slots)``.
- ``AzureTraceArrivals``: replay of the Azure LLM inference trace 2023 (Patel et al.,
  Splitwise), ``TIMESTAMP,ContextTokens,GeneratedTokens``. The trace gives the shape —
  burstiness and each request's relative cost — while ρ and the mean service time give the
  scale: trace time is compressed so that the trace's mean rate becomes λ, and a request's
  service time is ``prefill_ms_per_token·ctx + decode_ms_per_token·gen`` rescaled so its mean
  over the trace is ``mean_service_slots``. A task set is the window of ``window_slots`` slots
  starting at a random point of the trace (cyclic); homes are drawn from the home weights.
- ``PlainTraceArrivals``: exact replay of a ``time_s,home,service`` CSV (seconds, server index,
  service slots); the whole file is the task set, slot = floor((time_s - first time_s) /
  slot_ms), and ``load`` / ``window_slots`` do not apply.

Trace files are UTF-8 (a byte-order mark is accepted). Every error in one names the file and
the 1-based line. Values are bounded (:mod:`envs.limits`): ``time_s`` within ±1e7 s (an Azure
trace spans at most 2e7 s, its TIMESTAMPs are dates in the years 1678-2261), counts (home,
service slots, tokens) within [0, 1e12]; files whose parsing would take more than
``MAX_ALLOC_BYTES`` are refused. Parsed traces are cached per file content.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np

from envs.limits import MAX_COUNT, MAX_DURATION_MS, MAX_TRACE_TIME_S, check_alloc
from envs.scheduling.tasks import TaskSet, expected_service, sample_service, validate_service

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
AZURE_HEADER: tuple[str, ...] = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")
PLAIN_HEADER: tuple[str, ...] = ("time_s", "home", "service")
TRACE_FORMATS: tuple[str, ...] = ("auto", "azure", "plain", "csv")
# Arrival CSVs with scaling (``CsvTraceArrivals``): the roles a column can play, and the
# choices of the options (see ``make_arrivals``).
CSV_ROLES: tuple[str, ...] = ("time_s", "home", "service", "group")
TIME_UNITS: tuple[str, ...] = ("s", "ms", "datetime")
TIME_SCALES: tuple[str, ...] = ("exact", "load")
SERVICE_UNITS: tuple[str, ...] = ("slots", "ms", "s")
HOME_RULES: tuple[str, ...] = ("column", "hash", "skew")
CSV_OPTIONS: tuple[str, ...] = (
    "columns", "time_unit", "time_scale", "service_unit", "service_scale", "homes",
)  # fmt: skip
# Relative per-token costs of an LLM request: prefill runs the prompt in parallel, decode one
# token at a time, roughly 100x dearer per token (order of magnitude in Patel et al.). Only the
# ratio matters, because the service times are rescaled to ``mean_service_slots``.
DEFAULT_PREFILL_MS_PER_TOKEN = 0.25
DEFAULT_DECODE_MS_PER_TOKEN = 25.0


class ArrivalProcess(Protocol):
    """Draws one task set per episode."""

    @property
    def rate_per_slot(self) -> float:
        """Expected arrivals per slot (λ)."""
        ...

    @property
    def mean_service_slots(self) -> float:
        """Expected service time of a task, in slots."""
        ...

    @property
    def expected_tasks(self) -> float:
        """Expected number of tasks of a task set."""
        ...

    def sample(self, rng: np.random.Generator) -> TaskSet: ...


def home_probabilities(home_skew: float | Sequence[float], num_servers: int) -> np.ndarray:
    """Share of requests homed at each server.

    A number s >= 0 gives Zipf weights p_i ∝ (i+1)^-s (0 = uniform; the default 1.0 gives
    0.545 / 0.273 / 0.182 for three servers, so proximity scheduling overloads server 0 at
    ρ = 0.8). A sequence of ``num_servers`` non-negative weights is normalised.
    """
    if isinstance(home_skew, bool):
        raise ValueError(f"home_skew must be a number >= 0 or {num_servers} weights, got a bool")
    if isinstance(home_skew, int | float | np.integer | np.floating):
        s = float(home_skew)
        if not math.isfinite(s) or s < 0:
            raise ValueError(f"home_skew must be a finite number >= 0, got {home_skew}")
        w = (np.arange(num_servers, dtype=np.float64) + 1.0) ** -s
    else:
        try:
            w = np.asarray(home_skew, dtype=np.float64)
        except (TypeError, ValueError, OverflowError):  # strings, complex, ragged, None
            w = np.full(1, np.nan)
        # The sum must stay finite: [1e308] * 3 would otherwise normalise to all zeros.
        with np.errstate(over="ignore"):
            total = w.sum()
        if (
            w.shape != (num_servers,)
            or not np.all(np.isfinite(w))
            or np.any(w < 0)
            or not (0 < total < math.inf)
        ):
            raise ValueError(
                f"home_skew as weights must be {num_servers} finite non-negative numbers "
                f"with a positive, finite sum, got {home_skew!r}"
            )
    return w / w.sum()


def _largest_remainder(total: int, probs: np.ndarray) -> np.ndarray:
    """Integer split of ``total`` proportional to ``probs`` that sums exactly to ``total``."""
    raw = total * probs
    out = np.floor(raw).astype(np.int64)
    short = total - int(out.sum())
    out[np.argsort(-(raw - out), kind="stable")[:short]] += 1
    return out


class _LoadRate:
    """λ and the expected task count of a process with a load level: λ = load · Σc / E[service
    slots] arrivals per slot keeps the servers at utilisation ``load``; windows of
    ``window_slots`` slots. For dataclasses with the fields ``load``, ``total_capacity`` and
    ``window_slots`` and a ``mean_service_slots`` property."""

    load: float  # annotations only: the fields are the dataclass's
    total_capacity: int
    window_slots: int
    mean_service_slots: float

    @property
    def rate_per_slot(self) -> float:
        return self.load * self.total_capacity / self.mean_service_slots

    @property
    def expected_tasks(self) -> float:
        """Expected tasks per task set (λ · window_slots)."""
        return self.rate_per_slot * self.window_slots


@dataclass(frozen=True)
class BernoulliArrivals(_LoadRate):
    """Per-user Bernoulli requests per slot over a window, homed by region."""

    num_servers: int
    load: float
    total_capacity: int
    home_probs: np.ndarray
    num_users: int
    window_slots: int
    service_time: str = "geometric"
    service_mean: float = 10.0  # nominal mean passed to ``sample_service``

    def __post_init__(self) -> None:
        lam = self.rate_per_slot  # also validates the service distribution
        if lam > self.num_users:
            raise ValueError(
                f"num_users={self.num_users} is too small for load={self.load}: it needs "
                f"λ={lam:.1f} requests per slot, at most one per user; use num_users >= "
                f"{math.ceil(lam)}"
            )

    @property
    def mean_service_slots(self) -> float:
        return expected_service(self.service_time, self.service_mean)

    @property
    def users_per_region(self) -> np.ndarray:
        return _largest_remainder(self.num_users, self.home_probs)

    def sample(self, rng: np.random.Generator) -> TaskSet:
        m, w = self.num_servers, self.window_slots
        q = self.rate_per_slot / self.num_users
        counts = rng.binomial(self.users_per_region, q, size=(w, m)).ravel()
        return self._task_set(rng, counts)

    def _task_set(self, rng: np.random.Generator, counts: np.ndarray) -> TaskSet:
        """The task set of ``counts[t * m + i]`` requests from region i in slot t (flat
        ``(w, m)``), with their service times drawn from ``rng``."""
        m, w = self.num_servers, self.window_slots
        arrival = np.repeat(np.repeat(np.arange(w), m), counts)
        home = np.repeat(np.tile(np.arange(m), w), counts)
        # Requests of one slot reach the queue in random order, not grouped by region.
        perm = rng.permutation(arrival.size)
        order = perm[np.argsort(arrival[perm], kind="stable")]
        service = sample_service(rng, arrival.size, self.service_time, self.service_mean)
        return TaskSet(arrival[order], home[order], service)


BURSTY_KEYS: tuple[str, ...] = ("burst_ratio", "on_fraction", "mean_on_slots")
DEFAULT_BURSTS: dict[str, float] = {"burst_ratio": 4.0, "on_fraction": 0.25, "mean_on_slots": 8.0}


@dataclass(frozen=True)
class BurstyArrivals(BernoulliArrivals):
    """Markov-modulated on/off Bernoulli requests (``EdgeRL/EdgeScheduling-v1``'s default).

    Each region (home server) has its own two-state Markov chain over the slots of the window,
    on a stationary fraction ``on_fraction`` of the time, in on-spells of mean
    ``mean_on_slots`` slots (geometric). While on, its users request ``burst_ratio`` times
    as often as while off; the rates are scaled so that the expected rate is the Bernoulli
    process's λ·p_i, so the load level ρ keeps its meaning. Chains start from the stationary
    law; every draw comes from the task set's generator (``sample(rng)``).
    """

    burst_ratio: float = 4.0
    on_fraction: float = 0.25
    mean_on_slots: float = 8.0

    def __post_init__(self) -> None:
        _check_real("arrivals['burst_ratio']", self.burst_ratio, 1.0, 1e3)
        _check_real("arrivals['on_fraction']", self.on_fraction, 0.0, 1.0, open_ends=True)
        _check_real("arrivals['mean_on_slots']", self.mean_on_slots, 1.0, 1e6)
        if self.switch_on > 1.0:
            raise ValueError(
                f"arrivals: on_fraction={self.on_fraction} with mean_on_slots="
                f"{self.mean_on_slots} needs off-spells shorter than one slot; lower "
                "on_fraction or raise mean_on_slots"
            )
        lam_on = self.rate_per_slot * self.on_scale
        if lam_on > self.num_users:
            raise ValueError(
                f"num_users={self.num_users} is too small for load={self.load} with bursts: "
                f"it needs λ_on={lam_on:.1f} requests per slot, at most one per user; use "
                f"num_users >= {math.ceil(lam_on)}"
            )

    @property
    def on_scale(self) -> float:
        """Rate while on / mean rate: k / (π k + 1 − π)."""
        k, pi = self.burst_ratio, self.on_fraction
        return k / (pi * k + 1.0 - pi)

    @property
    def switch_off(self) -> float:
        """P(on → off) per slot."""
        return 1.0 / self.mean_on_slots

    @property
    def switch_on(self) -> float:
        """P(off → on) per slot, so that the stationary on fraction is ``on_fraction``."""
        return self.switch_off * self.on_fraction / (1.0 - self.on_fraction)

    def sample(self, rng: np.random.Generator) -> TaskSet:
        m, w = self.num_servers, self.window_slots
        u = rng.random((w, m))
        on = np.empty((w, m), dtype=bool)
        on[0] = u[0] < self.on_fraction
        for t in range(1, w):  # w x m uniforms drive the m chains
            on[t] = np.where(on[t - 1], u[t] >= self.switch_off, u[t] < self.switch_on)
        q = self.rate_per_slot / self.num_users
        q_slot = np.where(on, q * self.on_scale, q * self.on_scale / self.burst_ratio)
        counts = rng.binomial(self.users_per_region, q_slot).ravel()
        return self._task_set(rng, counts)


def _check_real(name: str, value: Any, low: float, high: float, *, open_ends: bool = False) -> None:
    ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    inside = ok and (low < value < high if open_ends else low <= value <= high)
    if not inside:
        lo, hi = ("(", ")") if open_ends else ("[", "]")
        raise ValueError(f"{name} must be a finite number in {lo}{low}, {high}{hi}, got {value!r}")


# --------------------------------------------------------------------------- trace files


@dataclass(frozen=True)
class AzureTrace:
    """Rows of an Azure LLM inference CSV; times in seconds from the first request."""

    path: str
    time_s: np.ndarray
    context_tokens: np.ndarray
    generated_tokens: np.ndarray


@dataclass(frozen=True)
class PlainTrace:
    """Rows of a ``time_s,home,service`` CSV; times in seconds from the first request."""

    path: str
    time_s: np.ndarray
    home: np.ndarray
    service: np.ndarray


_Trace = TypeVar("_Trace", AzureTrace, PlainTrace)


def _frozen(trace: _Trace) -> _Trace:
    for v in vars(trace).values():
        if isinstance(v, np.ndarray):
            v.setflags(write=False)
    return trace


def _bad(path: str, line: int, msg: str) -> ValueError:
    return ValueError(f"malformed arrival trace {path}, line {line}: {msg}")


# Parsed rows (Python lists of str) take roughly this many times the file's size in memory.
_ROWS_PER_FILE_BYTE = 40


def _read_text(path: str) -> str:
    """The file as text; a UTF-8 byte-order mark (spreadsheet exports) is dropped.

    ``path`` has passed :func:`_file_key` (exists, size within bounds)."""
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise _bad(path, line, f"not a UTF-8 text file ({exc.reason})") from None


def _csv_rows(path: str, text: str) -> list[list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        return list(reader)
    except csv.Error as exc:  # e.g. a NUL byte or an over-long field
        raise _bad(path, reader.line_num, f"not a CSV file ({exc})") from None


def _read_rows(path: str, header: tuple[str, ...]) -> list[list[str]]:
    rows = _csv_rows(path, _read_text(path))
    if not rows or tuple(c.strip() for c in rows[0]) != header:
        got = ",".join(rows[0]) if rows else "<empty file>"
        raise _bad(path, 1, f"expected header {','.join(header)!r}, got {got!r}")
    body = rows[1:]
    # A trailing blank line is harmless; blank lines inside the data are not.
    while body and not any(c.strip() for c in body[-1]):
        body.pop()
    if not body:
        raise _bad(path, 2, "no data rows")
    for i, row in enumerate(body):
        if len(row) != len(header):
            raise _bad(path, i + 2, f"expected {len(header)} fields, got {len(row)}: {row!r}")
    return body


_TIME_BOUNDS = (-MAX_TRACE_TIME_S, MAX_TRACE_TIME_S)  # seconds; |t| beyond: rejected


def _column(
    path: str,
    body: list[list[str]],
    col: int,
    name: str,
    parse: Callable[[str], Any],
    bounds: tuple[float, float],
    out_of_range: Callable[[Any, str], str],
) -> np.ndarray:
    """Column ``col`` of ``body`` read with ``parse`` (``int``: an int64 array, else float64),
    every value in ``bounds`` (NaN is not). ValueError naming the line: "<name> must be an
    integer / a number" when ``parse`` fails, "<name> " + ``out_of_range(value, text)`` when
    the value is out of bounds."""
    lo, hi = bounds
    what = "an integer" if parse is int else "a number"
    out = np.empty(len(body), dtype=np.int64 if parse is int else np.float64)
    for i, row in enumerate(body):
        try:
            v = parse(row[col].strip())
        except ValueError:
            raise _bad(path, i + 2, f"{name} must be {what}, got {row[col]!r}") from None
        if not lo <= v <= hi:  # also rejects NaN (and inf, for finite bounds)
            raise _bad(path, i + 2, f"{name} {out_of_range(v, row[col])}")
        out[i] = v
    return out


def _int_column(
    path: str, body: list[list[str]], col: int, name: str, minimum: int, maximum: int = MAX_COUNT
) -> np.ndarray:
    def bad(v: int, _: str) -> str:
        return f"must be in [{minimum}, {maximum}], got {v}"

    return _column(path, body, col, name, int, (minimum, maximum), bad)


def _file_key(path: str | os.PathLike[str]) -> tuple[str, int, str]:
    """(resolved path, size, content digest): the cache key of a parsed trace.

    The digest, not the mtime, tells versions apart: a file rewritten within the filesystem's
    timestamp granularity (milliseconds) with the same size would otherwise hit a stale entry.
    """
    if not isinstance(path, str | os.PathLike):
        raise ValueError(f"arrivals: a trace path must be a str or os.PathLike, got {path!r}")
    try:
        p = Path(path).expanduser().resolve()
        if not p.is_file():
            raise ValueError(f"arrivals: trace file {p} does not exist (or is not a file)")
        size = p.stat().st_size
    except (OSError, RuntimeError, TypeError, ValueError) as exc:  # NUL bytes, loops, perms
        raise ValueError(f"arrivals: cannot read trace file {path!r}: {exc}") from None
    check_alloc(
        f"arrival trace {p}",
        _ROWS_PER_FILE_BYTE * size,
        f"parsing keeps ~{_ROWS_PER_FILE_BYTE}x the file size in memory; split the file",
    )
    try:
        digest = hashlib.blake2b(p.read_bytes(), digest_size=16).hexdigest()
    except OSError as exc:
        raise ValueError(f"arrivals: cannot read trace file {p}: {exc}") from None
    return str(p), size, digest


def _datetimes_ns(path: str, values: list[str], name: str) -> np.ndarray:
    """int64 nanoseconds of date-time strings (file rows from line 2); errors name the line."""
    stamps = [v.strip().replace(" ", "T") for v in values]
    for i, st in enumerate(stamps):
        # numpy parses "293" as the year 293 and wraps it around in datetime64[ns]; only
        # dates inside the ns range (years 1678-2261) are taken.
        if not (_DATE.match(st) and 1678 <= int(st[:4]) <= 2261):
            raise _bad(
                path,
                i + 2,
                f"{name} must be a date-time YYYY-MM-DD[ HH:MM:SS[.fraction]] in the years "
                f"1678-2261, got {values[i]!r}",
            )
    try:
        return np.array(stamps, dtype="datetime64[ns]").astype(np.int64)
    except ValueError:
        for i, s in enumerate(stamps):  # find the offending line for the message
            try:
                np.datetime64(s, "ns")
            except ValueError:
                raise _bad(path, i + 2, f"{name} is not a date-time: {values[i]!r}") from None
        raise


@functools.lru_cache(maxsize=8)
def _read_azure_cached(path: str, size: int, digest: str) -> AzureTrace:
    body = _read_rows(path, AZURE_HEADER)
    t_ns = _datetimes_ns(path, [r[0] for r in body], "TIMESTAMP")
    ctx = _int_column(path, body, 1, "ContextTokens", 0)
    gen = _int_column(path, body, 2, "GeneratedTokens", 0)
    order = np.argsort(t_ns, kind="stable")
    time_s = (t_ns[order] - t_ns[order[0]]) / 1e9
    if time_s[-1] > 2 * MAX_TRACE_TIME_S:  # the span, as for the plain format's ±bound
        last = int(order[-1])
        raise _bad(
            path,
            last + 2,
            f"TIMESTAMP is {time_s[-1]:.3g} s after the first request; the span must be at "
            f"most {2 * MAX_TRACE_TIME_S:.3g} s (envs.limits.MAX_TRACE_TIME_S)",
        )
    return _frozen(AzureTrace(path, time_s, ctx[order], gen[order]))


@functools.lru_cache(maxsize=8)
def _read_plain_cached(path: str, size: int, digest: str) -> PlainTrace:
    body = _read_rows(path, PLAIN_HEADER)

    def bad_time(_: float, text: str) -> str:
        return (
            f"must be a finite number in [-{MAX_TRACE_TIME_S:.0e}, {MAX_TRACE_TIME_S:.0e}] "
            f"(envs.limits.MAX_TRACE_TIME_S), got {text!r}"
        )

    t = _column(path, body, 0, "time_s", float, _TIME_BOUNDS, bad_time)
    home = _int_column(path, body, 1, "home", 0)
    service = _int_column(path, body, 2, "service", 1)
    order = np.argsort(t, kind="stable")
    return _frozen(PlainTrace(path, t[order] - t[order[0]], home[order], service[order]))


def detect_trace_format(path: str | os.PathLike[str]) -> str:
    """``"azure"`` or ``"plain"`` from the header line; ValueError otherwise."""
    key = _file_key(path)
    text = _read_text(key[0])
    first_line = text.split("\n", 1)[0]
    first = _csv_rows(key[0], first_line)[:1] or [[]]
    header = tuple(c.strip() for c in first[0])
    if header == AZURE_HEADER:
        return "azure"
    if header == PLAIN_HEADER:
        return "plain"
    raise _bad(
        key[0],
        1,
        f"header {','.join(header)!r} is neither {','.join(AZURE_HEADER)!r} (Azure LLM "
        f"inference) nor {','.join(PLAIN_HEADER)!r} (plain)",
    )


def _sniff_format(path: str | os.PathLike[str]) -> str:
    """``detect_trace_format``, with ``"csv"`` for any other header."""
    try:
        return detect_trace_format(path)
    except ValueError as exc:
        if "is neither" in str(exc):
            return "csv"
        raise


def read_azure_trace(path: str | os.PathLike[str]) -> AzureTrace:
    """Parse an Azure LLM inference CSV (cached per file version). ValueError names file + line."""
    return _read_azure_cached(*_file_key(path))


def read_plain_trace(path: str | os.PathLike[str]) -> PlainTrace:
    """Parse a ``time_s,home,service`` CSV (cached per file version). ValueError names file + line."""
    return _read_plain_cached(*_file_key(path))


@dataclass(frozen=True)
class AzureTraceArrivals(_LoadRate):
    """Load-scaled, cyclic window replay of an Azure LLM inference trace (see module doc)."""

    trace: AzureTrace
    num_servers: int
    load: float
    total_capacity: int
    home_probs: np.ndarray
    window_slots: int
    service_mean: float = 10.0  # target mean service (slots) of the token-cost rescaling
    prefill_ms_per_token: float = DEFAULT_PREFILL_MS_PER_TOKEN
    decode_ms_per_token: float = DEFAULT_DECODE_MS_PER_TOKEN
    service_slots: np.ndarray = field(init=False, repr=False)  # service slots of every trace row

    def __post_init__(self) -> None:
        validate_service("geometric", self.service_mean)
        for name in ("prefill_ms_per_token", "decode_ms_per_token"):
            v = getattr(self, name)
            is_num = isinstance(v, int | float | np.integer | np.floating) and not isinstance(
                v, bool
            )
            if not is_num or not 0 <= v <= MAX_DURATION_MS:  # also rejects NaN
                raise ValueError(
                    f"arrivals[{name!r}] must be a finite number in [0, {MAX_DURATION_MS:.0e}], "
                    f"got {v!r}"
                )
        if self.trace.time_s.size < 2 or self.trace.time_s[-1] <= 0:
            raise ValueError(f"arrival trace {self.trace.path} needs two distinct timestamps")
        with np.errstate(over="ignore"):  # overflow is reported below, by name
            cost = (
                self.prefill_ms_per_token * self.trace.context_tokens
                + self.decode_ms_per_token * self.trace.generated_tokens
            )
            total = cost.sum()
        if not math.isfinite(total):
            raise ValueError(
                f"arrival trace {self.trace.path}: the summed request cost overflows with "
                f"prefill_ms_per_token={self.prefill_ms_per_token}, "
                f"decode_ms_per_token={self.decode_ms_per_token}; use smaller per-token costs"
            )
        if cost.sum() <= 0:
            raise ValueError(
                f"arrival trace {self.trace.path}: every request costs 0 with "
                f"prefill_ms_per_token={self.prefill_ms_per_token}, "
                f"decode_ms_per_token={self.decode_ms_per_token}"
            )
        service = np.maximum(1, np.rint(cost / cost.mean() * self.service_mean)).astype(np.int64)
        service.setflags(write=False)
        object.__setattr__(self, "service_slots", service)

    @property
    def mean_service_slots(self) -> float:
        # The realised mean after rounding defines λ, so ρ stays exact.
        return float(self.service_slots.mean())

    def sample(self, rng: np.random.Generator) -> TaskSet:
        t = self.trace.time_s
        period = _period(t)
        slot_s = self.rate_per_slot * period / t.size  # trace seconds per slot: λ / trace rate
        rows, arrival = _cyclic_window(t, period, slot_s, self.window_slots, rng)
        home = rng.choice(self.num_servers, size=rows.size, p=self.home_probs)
        return TaskSet(arrival, home, self.service_slots[rows])


def _period(t: np.ndarray) -> float:
    """Cycle length of a replayed trace: its span plus one mean gap after the last request."""
    return float(t[-1] * t.size / (t.size - 1))


def _cyclic_window(
    t: np.ndarray, period: float, slot_s: float, window_slots: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Rows and arrival slots of the requests in ``window_slots`` slots of ``slot_s`` trace
    seconds each, from a uniformly random start (one ``rng.uniform`` draw) of the trace
    repeated with period ``period``."""
    n = t.size
    start = rng.uniform(0.0, period)
    span = window_slots * slot_s
    cycles = int((start + span) // period) + 1
    times = (t[None, :] + period * np.arange(cycles)[:, None]).ravel()
    lo, hi = np.searchsorted(times, [start, start + span], side="left")
    rows = np.arange(lo, hi) % n
    arrival = np.minimum(((times[lo:hi] - start) / slot_s).astype(np.int64), window_slots - 1)
    return rows, arrival


@dataclass(frozen=True)
class PlainTraceArrivals:
    """Exact replay of a ``time_s,home,service`` file (the whole file is the task set)."""

    trace: PlainTrace
    num_servers: int
    slot_ms: float
    _tasks: TaskSet = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # The epsilon keeps e.g. 0.05 s / 10 ms on slot 5 despite float rounding.
        slots = np.floor(self.trace.time_s * 1000.0 / self.slot_ms + 1e-9)
        # Checked before the int64 cast (a tiny slot_ms would wrap around): the departure
        # calendar spans the last arrival slot plus the longest service (see the env's reset).
        service = self.trace.service
        horizon = float(slots[-1]) + max(32.0 * float(service.mean()), float(service.max())) + 1
        check_alloc(
            f"arrivals (trace {self.trace.path}) with slot_ms={self.slot_ms}",
            2 * 8.0 * (self.num_servers + 1) * horizon,
            f"the trace spans {self.trace.time_s[-1]:.6g} s = {slots[-1]:.3g} slots of "
            f"slot_ms, and the departure calendar holds m + 1 8-byte entries per slot up to "
            f"the last departure (about {horizon:.3g} slots); use a larger slot_ms",
        )
        arrival = slots.astype(np.int64)
        if self.trace.home.max() >= self.num_servers:
            raise ValueError(
                f"arrival trace {self.trace.path}: home must be in [0, {self.num_servers}) for "
                f"num_servers={self.num_servers}, got {int(self.trace.home.max())}"
            )
        object.__setattr__(self, "_tasks", TaskSet(arrival, self.trace.home, self.trace.service))

    @property
    def mean_service_slots(self) -> float:
        return float(self.trace.service.mean())

    @property
    def rate_per_slot(self) -> float:
        return self._tasks.size / (int(self._tasks.arrival[-1]) + 1)

    @property
    def expected_tasks(self) -> float:
        """Tasks per task set (the whole file)."""
        return float(self._tasks.size)

    def sample(self, rng: np.random.Generator) -> TaskSet:
        return self._tasks


# --------------------------------------------------------------------------- scaled CSV logs


@dataclass(frozen=True)
class CsvTrace:
    """Rows of an arrival CSV read by column name; times in seconds from the first request.

    ``home`` (int64), ``service`` (float64, in the file's unit) and ``group_hash`` (uint64,
    a stable hash of the group column's text) are ``None`` where the file has no such column.
    """

    path: str
    time_s: np.ndarray
    home: np.ndarray | None
    service: np.ndarray | None
    group_hash: np.ndarray | None
    columns: tuple[tuple[str, str], ...]  # (role, header name) of the columns read


def _float_column(path: str, body: list[list[str]], col: int, name: str) -> np.ndarray:
    def bad(v: float, _: str) -> str:
        return f"must be a finite number in [0, {MAX_COUNT}], got {v}"

    return _column(path, body, col, name, float, (0, MAX_COUNT), bad)


def _group_hashes(values: list[str]) -> np.ndarray:
    """Stable 64-bit hashes (BLAKE2b of the UTF-8 text, not Python's salted ``hash``)."""
    seen: dict[str, int] = {}
    out = np.empty(len(values), dtype=np.uint64)
    for i, v in enumerate(values):
        h = seen.get(v)
        if h is None:
            h = seen[v] = int.from_bytes(hashlib.blake2b(v.encode(), digest_size=8).digest())
        out[i] = h
    return out


@functools.lru_cache(maxsize=8)
def _read_csv_cached(
    path: str, size: int, digest: str, columns: tuple[tuple[str, str], ...], time_unit: str,
    explicit: frozenset[str],
) -> CsvTrace:  # fmt: skip
    rows = _csv_rows(path, _read_text(path))
    if not rows or not any(c.strip() for c in rows[0]):
        raise _bad(path, 1, "expected a header line naming the columns, got an empty line")
    header = [c.strip().lower() for c in rows[0]]
    where: dict[str, int] = {}
    for role, name in columns:
        if name.lower() in header:
            where[role] = header.index(name.lower())
        elif role == "time_s" or role in explicit:
            raise _bad(
                path,
                1,
                f"no column {name!r} for {role} (arrivals['columns'][{role!r}]); the header "
                f"has {rows[0]!r}",
            )
    body = rows[1:]
    while body and not any(c.strip() for c in body[-1]):
        body.pop()
    if len(body) < 2:
        raise _bad(path, len(body) + 2, "an arrival CSV needs at least two data rows")
    for i, row in enumerate(body):
        if len(row) != len(header):
            raise _bad(path, i + 2, f"expected {len(header)} fields, got {len(row)}: {row!r}")
    col = where["time_s"]
    name = f"time column {header[col]!r}"
    if time_unit == "datetime":
        t_ns = _datetimes_ns(path, [r[col] for r in body], name)
        t = (t_ns - t_ns.min()) / 1e9
    else:
        scale = 1000.0 if time_unit == "ms" else 1.0

        def bad_time(_: float, text: str) -> str:
            return (
                f"must be a finite time within {MAX_TRACE_TIME_S:.0e} s "
                f"(envs.limits.MAX_TRACE_TIME_S; time_unit={time_unit!r}), got {text!r}"
            )

        t = _column(path, body, col, name, lambda x: float(x) / scale, _TIME_BOUNDS, bad_time)
    order = np.argsort(t, kind="stable")
    time_s = t[order] - t[order[0]]
    if time_s[-1] > 2 * MAX_TRACE_TIME_S:
        raise _bad(path, int(order[-1]) + 2, f"{name}: the file spans more than 2e7 s")
    home = service = group = None
    if "home" in where:
        home = _int_column(path, body, where["home"], f"home column {header[where['home']]!r}", 0)
        home = home[order]
    if "service" in where:
        label = f"service column {header[where['service']]!r}"
        service = _float_column(path, body, where["service"], label)[order]
    if "group" in where:
        group = _group_hashes([r[where["group"]].strip() for r in body])[order]
    used = tuple((role, header[i]) for role, i in where.items())
    return _frozen(CsvTrace(path, time_s, home, service, group, used))


def read_csv_trace(
    path: str | os.PathLike[str],
    columns: Mapping[str, str] | None = None,
    time_unit: str = "s",
) -> CsvTrace:
    """Parse an arrival CSV by column name (cached per file version and options).

    ``columns`` maps the roles ``time_s`` (required), ``home``, ``service`` and ``group`` to
    header names (case-insensitive; default: the role's own name, and no group column).
    Columns named explicitly must exist; other columns of the file are ignored. ``time_unit``:
    ``"s"``, ``"ms"`` (numbers) or ``"datetime"`` (``YYYY-MM-DD[ HH:MM:SS[.fraction]]``).
    ValueError names the file, the line and the column.
    """
    if columns is None:
        columns = {}
    if not isinstance(columns, Mapping):
        raise ValueError(
            f"arrivals['columns'] must be a mapping from roles {list(CSV_ROLES)} to header "
            f"names, got {columns!r}"
        )
    bad = sorted(set(columns) - set(CSV_ROLES), key=repr)
    named = {k: v for k, v in columns.items() if v is not None}
    if bad or not all(isinstance(v, str) and v.strip() for v in named.values()):
        raise ValueError(
            f"arrivals['columns']: keys must be among {list(CSV_ROLES)} and values header "
            f"names (or null), got {dict(columns)!r}"
        )
    if not isinstance(time_unit, str) or time_unit not in TIME_UNITS:
        raise ValueError(f"arrivals['time_unit'] must be one of {TIME_UNITS}, got {time_unit!r}")
    mapping = tuple(
        (role, str(named.get(role, role)).strip())
        for role in CSV_ROLES
        if role in named or (role != "group" and role not in columns)
    )
    return _read_csv_cached(*_file_key(path), mapping, time_unit, frozenset(named))


@dataclass(frozen=True)
class CsvTraceArrivals:
    """A request log (CSV) replayed exactly, or scaled to a load level as the Azure reader.

    Time (``time_scale``): ``"exact"`` replays the whole file as one task set, slot =
    floor((time - first time) / slot_ms); ``"load"`` compresses trace time so that the mean
    arrival rate is λ = load · Σc / E[service slots] and takes windows of ``window_slots``
    slots from a random start of the cyclically repeated file (as
    :class:`AzureTraceArrivals`); a number c > 0 compresses time by c (c trace seconds per
    simulated second; one slot spans c · slot_ms / 1000 trace seconds), with windows as for
    ``"load"`` (the load then follows from the file).

    Service: the service column in ``service_unit`` (``"slots"``, or ``"ms"`` / ``"s"``
    converted at ``slot_ms``), times ``service_scale`` (a number), or rescaled so that its
    mean over the file is ``service_mean`` (``service_scale="mean"``); rounded, at least one
    slot. Without a service column, service times are drawn per task set from
    ``service_time`` with mean ``service_mean``.

    Home server (``homes``): ``"column"`` (the home column's server index), ``"hash"`` (a
    stable hash of the group column — a user, tenant or region id — mapped onto the
    servers in proportion to the home weights ``home_probs``, so one group always has one
    home) or ``"skew"`` (drawn per request from ``home_probs``, as for the Azure trace).
    """

    trace: CsvTrace
    num_servers: int
    load: float
    total_capacity: int
    home_probs: np.ndarray
    window_slots: int
    slot_ms: float
    service_time: str = "geometric"
    service_mean: float = 10.0
    time_scale: str | float = "exact"
    service_unit: str = "slots"
    service_scale: str | float = 1.0
    homes: str = "column"
    service_slots: np.ndarray | None = field(init=False, repr=False)
    _fixed_home: np.ndarray | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        path, trace = self.trace.path, self.trace
        ts = self.time_scale
        if not (
            (isinstance(ts, str) and ts in TIME_SCALES)
            or (_is_number(ts) and 0 < ts <= MAX_TRACE_TIME_S)
        ):
            raise ValueError(
                f"arrivals['time_scale'] must be one of {TIME_SCALES} or a number in (0, "
                f"{MAX_TRACE_TIME_S:.0e}] (trace seconds per simulated second), got {ts!r}"
            )
        if not isinstance(self.service_unit, str) or self.service_unit not in SERVICE_UNITS:
            raise ValueError(
                f"arrivals['service_unit'] must be one of {SERVICE_UNITS}, got "
                f"{self.service_unit!r}"
            )
        sc = self.service_scale
        if not ((isinstance(sc, str) and sc == "mean") or (_is_number(sc) and 0 < sc <= 1e9)):
            raise ValueError(
                f"arrivals['service_scale'] must be a number in (0, 1e9] or 'mean' (rescale "
                f"to mean_service_slots), got {sc!r}"
            )
        if not isinstance(self.homes, str) or self.homes not in HOME_RULES:
            raise ValueError(f"arrivals['homes'] must be one of {HOME_RULES}, got {self.homes!r}")
        validate_service(self.service_time, self.service_mean)
        if self.homes == "column":
            if trace.home is None:
                raise ValueError(
                    f"arrival trace {path}: homes='column' needs a home column (name it in "
                    "arrivals['columns']['home']), or set arrivals['homes'] to 'hash' (with a "
                    "group column) or 'skew'"
                )
            if trace.home.max() >= self.num_servers:
                raise ValueError(
                    f"arrival trace {path}: home must be in [0, {self.num_servers}) for "
                    f"num_servers={self.num_servers}, got {int(trace.home.max())}"
                )
        fixed = trace.home if self.homes == "column" else None
        if self.homes == "hash":
            if trace.group_hash is None:
                raise ValueError(
                    f"arrival trace {path}: homes='hash' needs a group column (a user, tenant "
                    "or region id): name it in arrivals['columns']['group']"
                )
            # the hash as a uniform number in [0, 1), mapped through the home weights
            u = (trace.group_hash >> np.uint64(11)).astype(np.float64) / float(1 << 53)
            fixed = np.minimum(
                np.searchsorted(np.cumsum(self.home_probs), u, side="right"),
                self.num_servers - 1,
            ).astype(np.int64)
        object.__setattr__(self, "_fixed_home", fixed)
        service = None
        if trace.service is not None:
            raw = (
                trace.service
                * {"slots": 1.0, "ms": 1.0 / self.slot_ms, "s": 1000.0 / self.slot_ms}[
                    self.service_unit
                ]
            )
            if sc == "mean":
                if raw.mean() <= 0:
                    raise ValueError(
                        f"arrival trace {path}: service_scale='mean' needs a positive mean "
                        "service time, but every service is 0"
                    )
                raw = raw / raw.mean() * self.service_mean
            else:
                raw = raw * float(sc)
            if not np.all(raw <= MAX_COUNT):
                raise ValueError(
                    f"arrival trace {path}: service times up to {raw.max():.3g} slots exceed "
                    f"{MAX_COUNT} slots; lower service_scale or use a larger slot_ms"
                )
            service = np.maximum(1, np.rint(raw)).astype(np.int64)
            service.setflags(write=False)
        object.__setattr__(self, "service_slots", service)
        if ts == "exact":
            slots = np.floor(trace.time_s * 1000.0 / self.slot_ms + 1e-9)
            longest = (
                float(service.max()) if service is not None else 32.0 * self.mean_service_slots
            )
            horizon = float(slots[-1]) + max(32.0 * self.mean_service_slots, longest) + 1
            check_alloc(
                f"arrivals (trace {path}) with slot_ms={self.slot_ms}",
                2 * 8.0 * (self.num_servers + 1) * horizon,
                f"the trace spans {trace.time_s[-1]:.6g} s = {slots[-1]:.3g} slots of "
                "slot_ms, and the departure calendar holds m + 1 8-byte entries per slot up "
                f"to the last departure (about {horizon:.3g} slots); use a larger slot_ms or "
                "time_scale='load'",
            )
        elif trace.time_s[-1] <= 0:
            raise ValueError(
                f"arrival trace {path}: time_scale={ts!r} needs two distinct arrival times"
            )

    @property
    def scaled(self) -> bool:
        """Windows of a time-compressed file (``time_scale`` "load" or a number)."""
        return self.time_scale != "exact"

    @property
    def mean_service_slots(self) -> float:
        if self.service_slots is not None:  # the realised mean defines λ, so ρ stays exact
            return float(self.service_slots.mean())
        return expected_service(self.service_time, self.service_mean)

    @property
    def _slot_s(self) -> float:
        """Trace seconds per slot of a scaled replay."""
        t = self.trace.time_s
        if self.time_scale == "load":
            return self.load * self.total_capacity / self.mean_service_slots * _period(t) / t.size
        return float(self.time_scale) * self.slot_ms / 1000.0

    @property
    def rate_per_slot(self) -> float:
        t = self.trace.time_s
        if self.time_scale == "exact":
            return t.size / (np.floor(t[-1] * 1000.0 / self.slot_ms + 1e-9) + 1)
        if self.time_scale == "load":
            return self.load * self.total_capacity / self.mean_service_slots
        return t.size / _period(t) * self._slot_s

    @property
    def expected_tasks(self) -> float:
        """Expected tasks per task set (the whole file when replayed exactly)."""
        if self.time_scale == "exact":
            return float(self.trace.time_s.size)
        return self.rate_per_slot * self.window_slots

    def sample(self, rng: np.random.Generator) -> TaskSet:
        t = self.trace.time_s
        if self.time_scale == "exact":
            rows = np.arange(t.size)
            arrival = np.floor(t * 1000.0 / self.slot_ms + 1e-9).astype(np.int64)
        else:
            rows, arrival = _cyclic_window(t, _period(t), self._slot_s, self.window_slots, rng)
        if self._fixed_home is not None:
            home = self._fixed_home[rows]
        else:
            home = rng.choice(self.num_servers, size=rows.size, p=self.home_probs)
        if self.service_slots is not None:
            service = self.service_slots[rows]
        else:
            service = sample_service(rng, rows.size, self.service_time, self.service_mean)
        return TaskSet(arrival, home, service)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)


def make_arrivals(
    arrivals: str | os.PathLike[str] | Mapping[str, Any],
    *,
    num_servers: int,
    load: float,
    total_capacity: int,
    home_probs: np.ndarray,
    num_users: int,
    window_slots: int,
    service_time: str,
    mean_service_slots: float,
    slot_ms: float,
) -> ArrivalProcess:
    """Build the arrival process named by the env's ``arrivals`` argument.

    ``"bernoulli"``; a CSV path (format from its header); or a mapping
    ``{"kind": "bernoulli"}`` / ``{"kind": "trace", "path": ..., "format": ..., ...}``.

    Trace formats: ``"azure"`` (``TIMESTAMP,ContextTokens,GeneratedTokens``, load-scaled
    windows; keys ``prefill_ms_per_token``, ``decode_ms_per_token``), ``"plain"``
    (``time_s,home,service``) and ``"csv"`` (any header, columns by name); ``"auto"``
    (default) picks azure or plain from the header, else csv. A plain file without further
    keys is replayed exactly (:class:`PlainTraceArrivals`); the keys below make a plain or
    csv file a :class:`CsvTraceArrivals` (see it for the details):

    - ``columns``: header names of the roles ``time_s``, ``home``, ``service``, ``group``
      (default: the role's name; no group column);
    - ``time_unit``: ``"s"`` (default), ``"ms"`` or ``"datetime"``;
    - ``time_scale``: ``"exact"`` (default: the whole file, as is), ``"load"`` (compressed
      to the env's ``load``, windows of ``window_slots``) or a compression factor c > 0
      (c trace seconds per simulated second);
    - ``service_unit``: ``"slots"`` (default), ``"ms"`` or ``"s"``; ``service_scale``: a
      factor (default 1) or ``"mean"`` (rescaled to ``mean_service_slots``); without a
      service column, service times are drawn from ``service_time``;
    - ``homes``: ``"column"`` (default), ``"hash"`` (of the group column, onto the servers
      by the home weights) or ``"skew"`` (drawn from the home weights).
    """
    if isinstance(arrivals, Mapping):
        spec = dict(arrivals)
        kind = spec.pop("kind", "trace" if "path" in spec else None)
        if not isinstance(kind, str):
            raise ValueError(
                f"arrivals['kind'] must be 'bernoulli', 'bursty' or 'trace', got {kind!r}"
            )
    elif isinstance(arrivals, str) and arrivals in ("bernoulli", "bursty"):
        kind, spec = arrivals, {}
    elif isinstance(arrivals, str | os.PathLike):
        kind, spec = "trace", {"path": arrivals}
    else:
        raise ValueError(
            f"arrivals must be 'bernoulli', 'bursty', a CSV path or a mapping with 'kind', got "
            f"{arrivals!r}"
        )
    if kind == "bernoulli":
        if spec:
            raise ValueError(
                f"arrivals: unknown keys for kind 'bernoulli': {sorted(spec, key=repr)}"
            )
        return BernoulliArrivals(
            num_servers, load, total_capacity, home_probs, num_users, window_slots,
            service_time, mean_service_slots,
        )  # fmt: skip
    if kind == "bursty":
        if unknown := set(spec) - set(BURSTY_KEYS):
            raise ValueError(
                f"arrivals: unknown keys for kind 'bursty': {sorted(unknown, key=repr)}; "
                f"allowed {list(BURSTY_KEYS)}"
            )
        return BurstyArrivals(
            num_servers, load, total_capacity, home_probs, num_users, window_slots,
            service_time, mean_service_slots, **{**DEFAULT_BURSTS, **spec},
        )  # fmt: skip
    if kind != "trace":
        raise ValueError(f"arrivals['kind'] must be 'bernoulli', 'bursty' or 'trace', got {kind!r}")
    costs = {"prefill_ms_per_token", "decode_ms_per_token"}
    allowed = {"path", "format", *costs, *CSV_OPTIONS}
    if unknown := set(spec) - allowed:
        raise ValueError(
            f"arrivals: unknown keys {sorted(unknown, key=repr)}; allowed {sorted(allowed)}"
        )
    if "path" not in spec:
        raise ValueError("arrivals: a trace needs a 'path'")
    fmt = spec.get("format", "auto")
    if not isinstance(fmt, str) or fmt not in TRACE_FORMATS:
        raise ValueError(f"arrivals['format'] must be one of {TRACE_FORMATS}, got {fmt!r}")
    if fmt == "auto":
        fmt = _sniff_format(spec["path"])
    csv_keys = set(CSV_OPTIONS) & set(spec)
    if fmt == "azure":
        if csv_keys:
            raise ValueError(
                f"arrivals: {sorted(csv_keys)} apply to plain/csv traces, not Azure traces "
                "(those are always load-scaled, homes drawn from home_skew)"
            )
    elif used := costs & set(spec):
        raise ValueError(f"arrivals: {sorted(used)} only apply to Azure traces, not {fmt} CSV")
    elif fmt == "plain" and not csv_keys:  # the v0 exact replay
        return PlainTraceArrivals(read_plain_trace(spec["path"]), num_servers, slot_ms)
    else:
        trace = read_csv_trace(spec["path"], spec.get("columns"), spec.get("time_unit", "s"))
        return CsvTraceArrivals(
            trace, num_servers, load, total_capacity, home_probs, window_slots, slot_ms,
            service_time, mean_service_slots,
            time_scale=spec.get("time_scale", "exact"),
            service_unit=spec.get("service_unit", "slots"),
            service_scale=spec.get("service_scale", 1.0),
            homes=spec.get("homes", "column"),
        )  # fmt: skip
    return AzureTraceArrivals(
        read_azure_trace(spec["path"]), num_servers, load, total_capacity, home_probs,
        window_slots, mean_service_slots,
        spec.get("prefill_ms_per_token", DEFAULT_PREFILL_MS_PER_TOKEN),
        spec.get("decode_ms_per_token", DEFAULT_DECODE_MS_PER_TOKEN),
    )  # fmt: skip
