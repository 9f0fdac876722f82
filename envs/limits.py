"""Documented bounds on what one input may make the environments allocate or compute.

A leaf module (no imports from ``envs``) so that every reader and environment can share it.
Inputs beyond these bounds are refused up front with a ValueError that names the field and
the bound, instead of a ``MemoryError`` minutes later, an int64 wrap-around or an ``inf``.

* ``MAX_ALLOC_BYTES`` (2 GiB): the largest single data structure one argument may size
  (a task set, a departure calendar, a resampled trace table, a parsed file). Checked with
  :func:`check_alloc` from estimates written next to the allocation they guard.
* ``MAX_TRACE_TIME_S``: timestamps of network and arrival traces, in seconds (|t| <= 1e7 s,
  about 116 days; the shipped traces span at most ~1.5 h).
* ``MAX_BANDWIDTH_MBPS`` / ``MAX_LATENCY_MS``: trace values (10 Tbit/s, about 2.8 hours);
  beyond them ``8 G / B + L`` and the observation transforms lose all meaning.
  ``MIN_BANDWIDTH_MBPS`` (1 bit/s): the least constant link bandwidth (``8 G / B`` stays finite).
* ``MAX_DURATION_MS``: durations given as arguments (slot length, forwarding latency).
* ``MAX_WEIGHT``: reward weights, so a reward stays finite for any reachable state.
* ``MAX_COUNT``: counts given as arguments or in files (capacities, users, tokens, service
  slots, layer element counts); far beyond any real system, well inside float64's exact
  integers (2**53) and int64. ``MAX_TENSOR_KB`` is that many float32 elements, in KB.
"""

from __future__ import annotations

MAX_ALLOC_BYTES: int = 2 * 2**30
MAX_TRACE_TIME_S: float = 1e7
MAX_BANDWIDTH_MBPS: float = 1e7
MIN_BANDWIDTH_MBPS: float = 1e-6  # 1 bit/s: below it 8 G / B overflows to inf
MAX_LATENCY_MS: float = 1e7
MAX_DURATION_MS: float = 1e9
MAX_WEIGHT: float = 1e9
MAX_COUNT: int = 10**12
MAX_TENSOR_KB: float = 4.0 * MAX_COUNT / 1000  # MAX_COUNT float32 elements

__all__ = [
    "MAX_ALLOC_BYTES",
    "MAX_BANDWIDTH_MBPS",
    "MAX_COUNT",
    "MAX_DURATION_MS",
    "MAX_LATENCY_MS",
    "MAX_TENSOR_KB",
    "MAX_TRACE_TIME_S",
    "MAX_WEIGHT",
    "MIN_BANDWIDTH_MBPS",
    "check_alloc",
    "format_bytes",
]


def format_bytes(nbytes: float) -> str:
    """``1536`` -> ``"1.5 KiB"`` (for messages)."""
    size = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(size) < 1024 or unit == "PiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def check_alloc(field: str, nbytes: float, why: str) -> None:
    """Raise ValueError if ``nbytes`` (an estimate) exceeds :data:`MAX_ALLOC_BYTES`.

    Args:
        field: the argument (or file) responsible, e.g. ``"mean_service_slots"``.
        nbytes: estimated size of the structure it would make; may be a float (or ``inf``)
            so callers can estimate before any integer overflow.
        why: what would be allocated, e.g. ``"the departure calendar has (horizon, m + 1)
            int64 entries, horizon = window_slots + 32 * mean_service_slots"``.
    """
    if not nbytes <= MAX_ALLOC_BYTES:  # also catches NaN
        raise ValueError(
            f"{field}: would allocate about {format_bytes(nbytes)}, more than the "
            f"{format_bytes(MAX_ALLOC_BYTES)} bound (envs.limits.MAX_ALLOC_BYTES): {why}"
        )
