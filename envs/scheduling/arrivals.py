"""Arrival processes: where task sets come from (SPEC §8; Huang et al. Sec. 3.3.1 and 4.5).

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
"""

from __future__ import annotations

import csv
import functools
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np

from envs.scheduling.tasks import TaskSet, expected_service, sample_service, validate_service

AZURE_HEADER: tuple[str, ...] = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")
PLAIN_HEADER: tuple[str, ...] = ("time_s", "home", "service")
TRACE_FORMATS: tuple[str, ...] = ("auto", "azure", "plain")
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
        w = np.asarray(home_skew, dtype=np.float64)
        if w.shape != (num_servers,) or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError(
                f"home_skew as weights must be {num_servers} finite non-negative numbers "
                f"with a positive sum, got {list(np.atleast_1d(w))}"
            )
    return w / w.sum()


def _largest_remainder(total: int, probs: np.ndarray) -> np.ndarray:
    """Integer split of ``total`` proportional to ``probs`` that sums exactly to ``total``."""
    raw = total * probs
    out = np.floor(raw).astype(np.int64)
    short = total - int(out.sum())
    out[np.argsort(-(raw - out), kind="stable")[:short]] += 1
    return out


@dataclass(frozen=True)
class BernoulliArrivals:
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
    def rate_per_slot(self) -> float:
        return self.load * self.total_capacity / self.mean_service_slots

    @property
    def users_per_region(self) -> np.ndarray:
        return _largest_remainder(self.num_users, self.home_probs)

    def sample(self, rng: np.random.Generator) -> TaskSet:
        m, w = self.num_servers, self.window_slots
        q = self.rate_per_slot / self.num_users
        counts = rng.binomial(self.users_per_region, q, size=(w, m)).ravel()
        arrival = np.repeat(np.repeat(np.arange(w), m), counts)
        home = np.repeat(np.tile(np.arange(m), w), counts)
        # Requests of one slot reach the queue in random order, not grouped by region.
        perm = rng.permutation(arrival.size)
        order = perm[np.argsort(arrival[perm], kind="stable")]
        service = sample_service(rng, arrival.size, self.service_time, self.service_mean)
        return TaskSet(arrival[order], home[order], service)


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


def _read_rows(path: str, header: tuple[str, ...]) -> list[list[str]]:
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
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


def _int_column(path: str, body: list[list[str]], col: int, name: str, minimum: int) -> np.ndarray:
    out = np.empty(len(body), dtype=np.int64)
    for i, row in enumerate(body):
        try:
            v = int(row[col].strip())
        except ValueError:
            raise _bad(path, i + 2, f"{name} must be an integer, got {row[col]!r}") from None
        if v < minimum:
            raise _bad(path, i + 2, f"{name} must be >= {minimum}, got {v}")
        out[i] = v
    return out


def _file_key(path: str | os.PathLike[str]) -> tuple[str, int, int]:
    p = Path(path).expanduser().resolve()
    if not p.is_file():
        raise ValueError(f"arrivals: trace file {p} does not exist")
    st = p.stat()
    return str(p), st.st_mtime_ns, st.st_size


@functools.lru_cache(maxsize=8)
def _read_azure_cached(path: str, mtime_ns: int, size: int) -> AzureTrace:
    body = _read_rows(path, AZURE_HEADER)
    stamps = [r[0].strip().replace(" ", "T") for r in body]
    try:
        t_ns = np.array(stamps, dtype="datetime64[ns]").astype(np.int64)
    except ValueError:
        for i, s in enumerate(stamps):  # find the offending line for the message
            try:
                np.datetime64(s, "ns")
            except ValueError:
                raise _bad(path, i + 2, f"TIMESTAMP is not a date-time: {body[i][0]!r}") from None
        raise
    ctx = _int_column(path, body, 1, "ContextTokens", 0)
    gen = _int_column(path, body, 2, "GeneratedTokens", 0)
    order = np.argsort(t_ns, kind="stable")
    time_s = (t_ns[order] - t_ns[order[0]]) / 1e9
    return _frozen(AzureTrace(path, time_s, ctx[order], gen[order]))


@functools.lru_cache(maxsize=8)
def _read_plain_cached(path: str, mtime_ns: int, size: int) -> PlainTrace:
    body = _read_rows(path, PLAIN_HEADER)
    t = np.empty(len(body), dtype=np.float64)
    for i, row in enumerate(body):
        try:
            t[i] = float(row[0].strip())
        except ValueError:
            raise _bad(path, i + 2, f"time_s must be a number, got {row[0]!r}") from None
        if not math.isfinite(t[i]):
            raise _bad(path, i + 2, f"time_s must be finite, got {row[0]!r}")
    home = _int_column(path, body, 1, "home", 0)
    service = _int_column(path, body, 2, "service", 1)
    order = np.argsort(t, kind="stable")
    return _frozen(PlainTrace(path, t[order] - t[order[0]], home[order], service[order]))


def detect_trace_format(path: str | os.PathLike[str]) -> str:
    """``"azure"`` or ``"plain"`` from the header line; ValueError otherwise."""
    key = _file_key(path)
    with open(key[0], newline="") as f:
        first = next(csv.reader(f), [])
    header = tuple(c.strip() for c in first)
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


def read_azure_trace(path: str | os.PathLike[str]) -> AzureTrace:
    """Parse an Azure LLM inference CSV (cached per file version). ValueError names file + line."""
    return _read_azure_cached(*_file_key(path))


def read_plain_trace(path: str | os.PathLike[str]) -> PlainTrace:
    """Parse a ``time_s,home,service`` CSV (cached per file version). ValueError names file + line."""
    return _read_plain_cached(*_file_key(path))


@dataclass(frozen=True)
class AzureTraceArrivals:
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
            if not is_num or not math.isfinite(v) or v < 0:
                raise ValueError(f"arrivals.{name} must be a finite number >= 0, got {v}")
        if self.trace.time_s.size < 2 or self.trace.time_s[-1] <= 0:
            raise ValueError(f"arrival trace {self.trace.path} needs two distinct timestamps")
        cost = (
            self.prefill_ms_per_token * self.trace.context_tokens
            + self.decode_ms_per_token * self.trace.generated_tokens
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

    @property
    def rate_per_slot(self) -> float:
        return self.load * self.total_capacity / self.mean_service_slots

    def sample(self, rng: np.random.Generator) -> TaskSet:
        t = self.trace.time_s
        n = t.size
        period = t[-1] * n / (n - 1)  # one mean gap after the last request closes the cycle
        slot_s = self.rate_per_slot * period / n  # trace seconds per slot: λ / (trace rate)
        start = rng.uniform(0.0, period)
        span = self.window_slots * slot_s
        cycles = int((start + span) // period) + 1
        times = (t[None, :] + period * np.arange(cycles)[:, None]).ravel()
        lo, hi = np.searchsorted(times, [start, start + span], side="left")
        rows = np.arange(lo, hi) % n
        arrival = np.minimum(
            ((times[lo:hi] - start) / slot_s).astype(np.int64), self.window_slots - 1
        )
        home = rng.choice(self.num_servers, size=rows.size, p=self.home_probs)
        return TaskSet(arrival, home, self.service_slots[rows])


@dataclass(frozen=True)
class PlainTraceArrivals:
    """Exact replay of a ``time_s,home,service`` file (the whole file is the task set)."""

    trace: PlainTrace
    num_servers: int
    slot_ms: float
    _tasks: TaskSet = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # The epsilon keeps e.g. 0.05 s / 10 ms on slot 5 despite float rounding.
        arrival = np.floor(self.trace.time_s * 1000.0 / self.slot_ms + 1e-9).astype(np.int64)
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

    def sample(self, rng: np.random.Generator) -> TaskSet:
        return self._tasks


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
    ``{"kind": "bernoulli"}`` / ``{"kind": "trace", "path": ..., "format": "auto"|"azure"|"plain",
    "prefill_ms_per_token": ..., "decode_ms_per_token": ...}``.
    """
    if isinstance(arrivals, Mapping):
        spec = dict(arrivals)
        kind = spec.pop("kind", "trace" if "path" in spec else None)
    elif isinstance(arrivals, str) and arrivals == "bernoulli":
        kind, spec = "bernoulli", {}
    elif isinstance(arrivals, str | os.PathLike):
        kind, spec = "trace", {"path": arrivals}
    else:
        raise ValueError(
            f"arrivals must be 'bernoulli', a CSV path or a mapping with 'kind', got {arrivals!r}"
        )
    if kind == "bernoulli":
        if spec:
            raise ValueError(f"arrivals: unknown keys for kind 'bernoulli': {sorted(spec)}")
        return BernoulliArrivals(
            num_servers, load, total_capacity, home_probs, num_users, window_slots,
            service_time, mean_service_slots,
        )  # fmt: skip
    if kind != "trace":
        raise ValueError(f"arrivals['kind'] must be 'bernoulli' or 'trace', got {kind!r}")
    allowed = {"path", "format", "prefill_ms_per_token", "decode_ms_per_token"}
    if unknown := set(spec) - allowed:
        raise ValueError(f"arrivals: unknown keys {sorted(unknown)}; allowed {sorted(allowed)}")
    if "path" not in spec:
        raise ValueError("arrivals: a trace needs a 'path'")
    fmt = spec.get("format", "auto")
    if fmt not in TRACE_FORMATS:
        raise ValueError(f"arrivals['format'] must be one of {TRACE_FORMATS}, got {fmt!r}")
    if fmt == "auto":
        fmt = detect_trace_format(spec["path"])
    if fmt == "plain":
        if costs := {"prefill_ms_per_token", "decode_ms_per_token"} & set(spec):
            raise ValueError(f"arrivals: {sorted(costs)} only apply to Azure traces, not plain CSV")
        return PlainTraceArrivals(read_plain_trace(spec["path"]), num_servers, slot_ms)
    return AzureTraceArrivals(
        read_azure_trace(spec["path"]), num_servers, load, total_capacity, home_probs,
        window_slots, mean_service_slots,
        spec.get("prefill_ms_per_token", DEFAULT_PREFILL_MS_PER_TOKEN),
        spec.get("decode_ms_per_token", DEFAULT_DECODE_MS_PER_TOKEN),
    )  # fmt: skip
